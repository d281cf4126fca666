"""Hostile inputs for the generic checks: sources that are devices, FIFOs, garbage, floods; bad templates."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from tests.checks_support import rules_file
from tests.hostile import runner
from tests.hostile.runner import assert_clean, run

# runner knows the four named probes; check_gridready is this area's.
runner._ENTRY.setdefault("check_gridready", "gridready.nagios.entry:check_gridready")


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "dir", "garbage"])
def test_dns_hosts_file_hostile(tmp_path: Path, source: str) -> None:
    path = {"/dev/zero": "/dev/zero", "fifo": str(tmp_path / "fifo"), "dir": str(tmp_path),
            "garbage": str(tmp_path / "garbage")}[source]
    if source == "fifo":
        os.mkfifo(path)
    if source == "garbage":
        Path(path).write_bytes(b"\x00\xff not an address \x1b[31m\n" * 1000)
    rules = rules_file(tmp_path, "dns", "{records: [A, AAAA]}")
    result = run("check_gridready", "--check", "dns", "--milestones", str(rules), "-H", "a.example.org",
                 "--hosts-file", path, "-t", "5")
    assert_clean(result, 3, within=10, mentions=path)


@pytest.mark.parametrize("content", [b"", b"[]", b"{" * 100000, b'{"storageservice": {"storageendpoints": 7}}',
                                     b"\xff\xfe garbage"])
def test_srr_file_hostile(tmp_path: Path, content: bytes) -> None:
    srr = tmp_path / "srr.json"
    srr.write_bytes(content)
    rules = rules_file(tmp_path, "srr", "{object: endpoint, min_count: 1}")
    result = run("check_gridready", "--check", "srr", "--milestones", str(rules), "--srr", str(srr), "-t", "5")
    assert_clean(result, 3, within=10, mentions=str(srr))


def test_glue_ldif_truncated_binary(tmp_path: Path) -> None:
    ldif = tmp_path / "b.ldif"
    ldif.write_bytes(b"dn: GLUE2EndpointID=x,o=glue\nobjectClass: GLUE2Endpoint\nGLUE2EndpointID:: !!!\x00\n")
    rules = rules_file(tmp_path, "glue", "{object: GLUE2Endpoint, min_count: 1}")
    result = run("check_gridready", "--check", "glue", "--milestones", str(rules), "--site", "S",
                 "--bdii", str(ldif), "-t", "5")
    assert_clean(result, 3, within=10, mentions=str(ldif))


def test_plugin_output_with_escape_sequences_is_shown_escaped(tmp_path: Path) -> None:
    script = tmp_path / "check_evil"
    script.write_text("#!/bin/sh\nprintf 'CRITICAL \\033[31mred\\033]0;title\\007 | x=1\\n'; exit 2\n")
    script.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{script}', '{{host}}']}}")
    result = run("check_gridready", "--check", "plugin", "--milestones", str(rules), "-H", "h1", "-t", "5")
    assert_clean(result, 2, within=10, mentions="CRITICAL \\x1b[31mred")
    assert "|" not in result.stdout  # the plugin's perfdata never becomes ours


@pytest.mark.parametrize("argv", [["--check"], ["--check", "../../etc"], ["--check", "glue", "--check", "dns"],
                                  ["--check", "x" * 5000], []])
def test_check_gridready_bad_arguments(argv: list[str]) -> None:
    assert_clean(run("check_gridready", *argv), 3, within=10, mentions="GRIDREADY UNKNOWN")


@pytest.mark.parametrize("check", ["http", "dns", "plugin"])
@pytest.mark.parametrize("host, hint", [("se.example.org:2880", True), ("https://se.example.org/", True),
                                        ("se.example.org/path", True), ("bad host", False), ("", False),
                                        ("a..b", False), ("\x1b[31mred", False), ("x" * 300, False)])
def test_host_option_takes_a_host_alone(check: str, host: str, hint: bool) -> None:
    # Before: -H host:port reached the URL template as an IPv6 literal, "[host:port]:2880".
    result = run("check_gridready", "--check", check, "--site", "S", "-H", host)
    assert_clean(result, 3, within=10, mentions="is not a host name or IP address")
    assert result.stdout.count("\n") == 1 and "\x1b" not in result.stdout
    assert ("the port and scheme come from the milestone" in result.stdout) is hint


@pytest.mark.parametrize("host, kept", [("se.example.org", "se.example.org"), ("se.example.org.", "se.example.org."),
                                        ("[2001:db8::1]", "2001:db8::1"), ("2001:DB8:0::1", "2001:db8::1"),
                                        ("192.0.2.7", "192.0.2.7"), ("_srv.example.org", "_srv.example.org")])
def test_host_option_accepts_names_and_addresses(host: str, kept: str) -> None:
    from gridready.checks.hosts import host_argument
    assert host_argument(host) == kept


@pytest.mark.parametrize("check", ["http", "dns", "plugin"])
@pytest.mark.parametrize("host, hint", [
    # inet_aton reads these as 1.2.0.3, 127.0.0.1, 127.0.0.1, 15.0.0.1, 0.0.0.1, 0.0.202.254: another host, silently.
    ("1.2.3", "four decimal numbers"), ("0x7f.1", "four decimal numbers"), ("127.1", "four decimal numbers"),
    ("017.0.0.1", "four decimal numbers"), ("1", "four decimal numbers"), ("0xcafe", "four decimal numbers"),
    ("1.2.3.4.", "four decimal numbers"), ("se.example.123", "four decimal numbers"),
    ("bücher.example", "xn-- form"), ("::1%\x1b[31m", "a zone after %"), ("fe80::1% eth0", "a zone after %"),
    ("fe80::1%" + "e" * 16, "a zone after %"), ("[::1]:80", "the port and scheme"),
    ("-lead.example", ""), ("trail-.example", ""), ("a" * 64 + ".example", ""), ("se.example\x7f", ""),
    ("\u202eelpmaxe.es", ""), (" se.example", ""), ("se.example\n", ""), ("y" * 100000, "")])
def test_host_option_refuses_numeric_idn_zone_and_malformed_names(check: str, host: str, hint: str) -> None:
    result = run("check_gridready", "--check", check, "--site", "S", f"--host={host}")
    assert_clean(result, 3, within=10, mentions="is not a host name or IP address" + (" (" if hint else ""))
    assert hint in result.stdout
    assert result.stdout.count("\n") == 1 and len(result.stdout) < 400, result.stdout
    assert "\u202e" not in result.output and "\x00" not in result.output


@pytest.mark.parametrize("host, kept", [("xn--bcher-kva.example", "xn--bcher-kva.example"),
                                        (".".join(["a" * 63] * 4)[:253] + ".", ".".join(["a" * 63] * 4)[:253] + "."),
                                        ("[fe80::1%eth0]", "fe80::1%eth0"), ("fe80::1%2", "fe80::1%2"),
                                        ("1e3.example", "1e3.example"), ("a" * 63 + ".example", "a" * 63 + ".example")])
def test_host_option_accepts_punycode_full_length_and_zones(host: str, kept: str) -> None:
    from gridready.checks.hosts import host_argument
    assert host_argument(host) == kept


def test_host_option_refuses_nul() -> None:
    # A NUL cannot reach argv; a config-built argument list could carry one.
    from gridready.checks.hosts import host_argument
    with pytest.raises(argparse.ArgumentTypeError, match=r"'se.example\\x00' is not a host name"):
        host_argument("se.example\x00")


def test_http_refuses_a_zone_id_it_could_never_request(tmp_path: Path) -> None:
    # Before: "cannot resolve host fe80::1%eth0" (urllib3 resolves "fe80::1%25eth0" as a name).
    rules = rules_file(tmp_path, "http", "{url: 'https://{host}:2880/'}")
    result = run("check_gridready", "--check", "http", "--milestones", str(rules), "-H", "fe80::1%eth0", "-t", "5")
    assert_clean(result, 3, within=10, mentions="-H fe80::1%eth0: an address with a zone id cannot be requested")
    assert result.stdout.count("\n") == 1


@pytest.mark.parametrize("check, expect", [("http", "{url: 'https://{host}:1/'}"), ("dns", "{records: [A]}"),
                                           ("plugin", "{command: ['/bin/echo', 'OK {host}']}")])
def test_ten_thousand_hosts_make_a_short_status_line(tmp_path: Path, check: str, expect: str) -> None:
    # Before (http): the refused run named all 10,000 hosts on the status line (149 kB).
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("192.0.2.1 a.example\n")
    rules = rules_file(tmp_path, check, expect)
    many = [a for i in range(10000) for a in ("-H", f"h{i}.example")]
    extra = ["--hosts-file", str(hosts_file)] if check == "dns" else []
    result = run("check_gridready", "--check", check, "--milestones", str(rules), *extra, *many, "-t", "5")
    assert_clean(result, 3, within=20)
    status = result.stdout.splitlines()[0]
    assert len(status) < 600, status
    assert "h9999.example" not in status
