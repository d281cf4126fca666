"""Hostile inputs for the generic checks: sources that are devices, FIFOs, garbage, floods; bad templates."""

from __future__ import annotations

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
