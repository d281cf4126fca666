"""srr and http against a loopback HTTPS server, dns against dnsmasq, plugin against a script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridready.commands.rules import expect_problems
from gridready.configfile import load_rules
from gridready.errors import ConfigError
from tests.checks_support import probe, rules_file
from tests.servers.dns import running_dnsmasq
from tests.servers.https import Response, running_https

SRR = {"storageservice": {"name": "se", "storageendpoints": [
    {"name": "dav", "endpointurl": "https://dav.example.org:2880", "interfacetype": "davs"},
    {"name": "xr", "endpointurl": "root://xr.example.org:1094", "interfacetype": "root"}]}}
HTTPS_EP = "{object: endpoint, where: {interfacetype: [davs, https]}, min_count: 1}"
XROOT = "{object: endpoint, where: {interfacetype: [root, xroot]}, require: {interfacetype: xroot}}"


def test_srr_over_https(tmp_path: Path) -> None:
    routes = {"/srr": Response(body=json.dumps(SRR)), "/empty": Response(body='{"storageservice": {}}')}
    with running_https(routes) as server:
        base = ["--check", "srr", "--as-of", "2026-12-01", "--capath", server.ca_file, "--site", "S"]
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "srr", HTTPS_EP)), "--srr", server.url("/srr")])
        assert code == 0, out
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "srr", XROOT)), "--srr", server.url("/srr")])
        assert code == 2
        assert "root://xr.example.org:1094: interfacetype is 'root', expected 'xroot'" in out
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "srr", HTTPS_EP)), "--srr", server.url("/empty")])
        assert code == 3 and "has no storageservice.storageendpoints list" in out
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "srr", HTTPS_EP)), "--srr", server.url("/gone")])
        assert code == 3 and "HTTP 404" in out


def test_http_status_header_json(tmp_path: Path) -> None:
    routes = {"/info": Response(body='{"version": {"release": "10.2.18"}}', headers={"X-Storage": "dCache/10.2"}),
              "/old": Response(body='{"version": {"release": "9.2.1"}}', headers={"X-Storage": "dCache/9.2"})}
    with running_https(routes) as server:
        port = server.port
        expect = ("{url: 'https://{host}:%d/info', status: 200, headers: {X-Storage: {matches: 'dCache/.*'}}, "
                  "json: {version.release: {version_at_least: '10.2'}}}" % port)
        base = ["--check", "http", "--as-of", "2026-12-01", "--capath", server.ca_file, "-H", "127.0.0.1"]
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "http", expect))])
        assert code == 0, out
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "http", expect.replace("/info", "/old")))])
        assert code == 2 and f"https://127.0.0.1:{port}/old: JSON version.release is '9.2.1', expected version 10.2 or later" in out
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "http", expect.replace("/info", "/x")))])
        assert code == 2 and "HTTP 404, expected 200" in out
    code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "http", expect))])
    assert code == 3 and "127.0.0.1" in out  # nothing listening: UNKNOWN, not a failure


@pytest.mark.parametrize("body", [
    '{"storageservice": {"implementationversion": null}}',
    '{"storageservice": {"implementationversion": [null, null]}}',
    '{"storageservice": {"implementationversion": []}}',
    '{"storageservice": {}}',
    '{"storageservice": {"implementationversion": "  "}}',
], ids=["null", "list-of-nulls", "empty-list", "absent", "blank"])
def test_http_json_null_is_no_value(tmp_path: Path, body: str) -> None:
    # Was COMPLIANT for null: it was read as the string "null", which matches ".*".
    with running_https({"/srr": Response(body=body)}) as server:
        expect = "{url: 'https://{host}:%d/srr', json: {storageservice.implementationversion: {matches: '.*'}}}"
        rules = rules_file(tmp_path, "http", expect % server.port)
        code, out = probe(["--check", "http", "--as-of", "2026-12-01", "--capath", server.ca_file, "-H", "127.0.0.1",
                           "--milestones", str(rules)])
    assert code == 2, out
    assert f"https://127.0.0.1:{server.port}/srr has no JSON storageservice.implementationversion" in out


@pytest.mark.parametrize("value", [None, "", " ", [], [None, ""]], ids=["null", "empty", "blank", "[]", "[null,'']"])
def test_srr_blank_or_null_field_is_missing(tmp_path: Path, value: object) -> None:
    # Was COMPLIANT for "" and " ": a blank string met matches: '.*'.
    document = {"storageservice": {"name": "se", "implementationversion": value}}
    srr = tmp_path / "srr.json"
    srr.write_text(json.dumps(document), encoding="utf-8")
    base = ["--check", "srr", "--as-of", "2026-12-01", "--site", "S", "--srr", str(srr)]
    for missing, code_wanted in (("fail", 2), ("unknown", 3)):
        expect = "{object: service, require: {implementationversion: {matches: '.*'}}, missing: %s}" % missing
        code, out = probe([*base, "--milestones", str(rules_file(tmp_path, "srr", expect))])
        assert code == code_wanted, out
        assert "se has no implementationversion" in out


HOSTS = "192.0.2.1 dual.example.org\n2001:db8::1 dual.example.org\n192.0.2.2 v4only.example.org\n"


def test_dns_against_dnsmasq(tmp_path: Path) -> None:
    rules = str(rules_file(tmp_path, "dns", "{records: [A, AAAA]}"))
    with running_dnsmasq(HOSTS) as (ip, port):
        base = ["--check", "dns", "--milestones", rules, "--as-of", "2026-12-01", "--nameserver", f"{ip}:{port}"]
        assert probe([*base, "-H", "dual.example.org"])[0] == 0
        code, out = probe([*base, "-H", "v4only.example.org"])
        assert code == 2
        assert "[CRITICAL] m1: v4only.example.org has no AAAA record (A 192.0.2.2)" in out
        code, out = probe([*base, "-H", "missing.example.org"])
        # NXDOMAIN is the nameserver's answer that the host has no records at all: a failure, not UNKNOWN.
        assert code == 2 and "[CRITICAL] m1: missing.example.org does not exist (NXDOMAIN" in out
        code, out = probe([*base, "-H", "other.test"])
        assert code == 3 and "SERVFAIL/REFUSED" in out


def test_dns_offline_hosts_file(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(HOSTS)
    rules = str(rules_file(tmp_path, "dns", "{records: [A, AAAA]}"))
    base = ["--check", "dns", "--milestones", rules, "--as-of", "2026-12-01", "--hosts-file", str(hosts)]
    assert probe([*base, "-H", "dual.example.org"])[0] == 0
    assert probe([*base, "-H", "v4only.example.org"])[0] == 2
    code, out = probe([*base, "-H", "absent.example.org"])
    assert code == 3 and f"absent.example.org is not in {hosts}" in out


PLUGIN = """#!/bin/sh
case "$1" in
  good) echo "HTTP OK: 200 in 0.1 s | time=0.1"; exit 0;;
  warn) echo "HTTP WARNING: slow"; exit 1;;
  bad) echo "HTTP CRITICAL: connection refused"; exit 2;;
  flood) yes flood-line-of-output | head -c 10000000; exit 2;;
  hang) sleep 30;;
  *) echo "UNKNOWN: what"; exit 3;;
esac
"""


@pytest.mark.parametrize("mode,code,line", [
    ("good", 0, "[OK] m1: h1: HTTP OK: 200 in 0.1 s (deadline"),
    ("warn", 1, "[WARNING] m1: h1: HTTP WARNING: slow"),
    ("bad", 2, "[CRITICAL] m1: h1: HTTP CRITICAL: connection refused"),
    ("flood", 2, "[CRITICAL] m1: h1: flood-line-of-output"),
    ("other", 3, "[UNKNOWN] m1: h1: "),
])
def test_plugin_exit_codes(tmp_path: Path, mode: str, code: int, line: str) -> None:
    script = tmp_path / "check_fake"
    script.write_text(PLUGIN)
    script.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{script}', '{mode}', '{{host}}']}}", deadline="2026-01-01")
    got, out = probe(["--check", "plugin", "--milestones", str(rules), "--as-of", "2026-12-01", "-H", "h1"])
    assert got == code, out
    assert out.splitlines()[1].startswith(line)


def test_plugin_hang_is_bounded(tmp_path: Path) -> None:
    script = tmp_path / "check_fake"
    script.write_text(PLUGIN)
    script.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{script}', hang]}}")
    code, out = probe(["--check", "plugin", "--milestones", str(rules), "-t", "1", "-H", "h1"])
    assert code == 3 and "timeout after 1" in out


@pytest.mark.parametrize("check,expect,needle", [
    ("srr", "{object: disk}", "object: expected one of endpoint, share, service"),
    ("http", "{url: 'https://{hostname}/'}", "unknown placeholder {hostname}"),
    ("dns", "{records: [MX]}", "records: expected a non-empty list of A, AAAA"),
    ("dns", "{nameserver: 'ns.example.org'}", "is not an IP address"),
    ("plugin", "{command: 'check_http -H {host}'}", "command: expected a list of strings"),
    ("plugin", "{command: [x, '{host.__class__}']}", "unknown placeholder {host.__class__}"),
])
def test_bad_expect_names_file_and_line(tmp_path: Path, check: str, expect: str, needle: str) -> None:
    path = rules_file(tmp_path, check, expect)
    with pytest.raises(ConfigError) as err:
        load_rules(path, validate_expect=expect_problems)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(f"{path}:9: ") and needle in err.value.problems[0]
