"""check_xrootd against Debian's real xrootd server (data server and manager) on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from gridready.deadline import Deadline
from gridready.xrootd import client
from tests.helpers import REPO, run_py
from tests.servers.xrootd import XrootdServer, running_xrootd, xrootd_fixture

PROBE = REPO / "probes" / "check_xrootd"
real_xrootd = xrootd_fixture()

#: A milestone only about the live door: judged on the handshake alone.
LIVE_ONLY = """milestones:
  - id: xrootd-door-role
    title: xrootd doors answer with their role
    source: test
    deadline: 2010-09-30
    warn_days: 30
    scope: {tiers: [0, 1]}
    check: xrootd
    expect: {role: any}
    remediation: run xrootd
"""


def live_only(tmp_path: Path) -> list[str]:
    rules = tmp_path / "live-only.yaml"
    rules.write_text(LIVE_ONLY, encoding="utf-8")
    return ["--milestones", str(rules)]


def installed_version() -> str:
    """The version the xrootd binary itself reports (e.g. v5.5.3)."""
    binary = subprocess.run(["xrootd", "-v"], capture_output=True, text=True, timeout=10, check=False)
    match = re.search(r"v\d+\.\d+\.\d+\S*", binary.stdout + binary.stderr)
    assert match, binary
    return match.group(0)


def log_protocol(server: XrootdServer) -> str:
    """The protocol version the server announces in its log ("xroot protocol 5.1.0 version v5.5.3")."""
    match = re.search(r"xroot protocol (\d+\.\d+\.\d+)", server.log_text())
    assert match, server.log_text()[-500:]
    return match.group(1)


def test_client_reads_the_real_server(real_xrootd: XrootdServer) -> None:
    info = client.probe(real_xrootd.host, real_xrootd.port, Deadline(10))
    assert info.hello.handshake is not None and info.hello.handshake.msgval == 1
    # The kXR_protocol version matches the major.minor the server logs at start.
    assert info.protocol.version.startswith(log_protocol(real_xrootd).rsplit(".", 1)[0] + ".")
    assert (info.role.kind, info.role.label) == ("server", "data server")
    assert (info.version, info.config_role) == (installed_version(), "server")
    assert info.notes == ()
    assert 0 < info.handshake_ms < 5000


def test_probe_reports_version_role_and_exits_0(real_xrootd: XrootdServer, tmp_path: Path) -> None:
    done = run_py(PROBE, "-H", real_xrootd.host, "-p", str(real_xrootd.port), "--role", "server", "-vv",
                  *live_only(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    info = client.probe(real_xrootd.host, real_xrootd.port, Deadline(10))
    # The status line carries no ";" (Nagios status text: ";" becomes ","); the long output keeps it.
    status = (f"XROOTD OK - {real_xrootd.door}: xrootd-door-role COMPLIANT: xrootd protocol "
              f"{info.protocol.version}, role server (data server), version {installed_version()}, "
              "published strings not checked (no --bdii/--srr) | handshake_ms=")
    assert lines[0].startswith(status)
    x, y, z = (int(p) for p in info.protocol.version.split("."))
    assert f" protocol_version={x * 10000 + y * 100 + z};;;0" in lines[0], lines[0]
    assert f"kXR_query config: version={installed_version()} role=server" in lines


def test_handshake_alone_does_not_prove_published_strings(real_xrootd: XrootdServer) -> None:
    # Was COMPLIANT: the bundled milestone is about published strings, none were read.
    done = run_py(PROBE, "-H", real_xrootd.door, "-vv")
    assert done.returncode == 3, done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"XROOTD UNKNOWN - {real_xrootd.door}: xrootd-protocol-string UNKNOWN: "
                               "published strings not checked: give --bdii or --srr | handshake_ms=")
    assert "kXR_query config: version=" in done.stdout and "role=server" in done.stdout  # still shown


def test_probe_json_and_url_form(real_xrootd: XrootdServer, tmp_path: Path) -> None:
    done = run_py(PROBE, "-H", real_xrootd.url, "--format", "json", *live_only(tmp_path))
    assert done.returncode == 0, done.stdout
    result = json.loads(done.stdout)
    assert result["host"] == real_xrootd.door and result["state"] == "OK"
    assert result["metrics"]["protocol_version"] >= 50000
    assert result["metrics"]["handshake_ms"] > 0


def test_role_and_min_protocol_requirements(real_xrootd: XrootdServer, tmp_path: Path) -> None:
    door = ["-H", real_xrootd.host, "-p", str(real_xrootd.port), "--as-of", "2010-10-08", *live_only(tmp_path)]
    done = run_py(PROBE, *door, "--role", "manager")
    assert done.returncode == 2
    assert f"{real_xrootd.door} is a data server, not a manager" in done.stdout.splitlines()[0]
    done = run_py(PROBE, *door, "--min-protocol", "99.0.0", "-v")
    assert done.returncode == 2
    assert "older than 99.0.0" in done.stdout and "remediation: upgrade the xrootd service" in done.stdout
    assert run_py(PROBE, *door, "--min-protocol", "2.9.0").returncode == 0


def test_real_manager_role(tmp_path: Path) -> None:
    with running_xrootd("manager") as manager:
        info = client.probe(manager.host, manager.port, Deadline(10))
        assert (info.role.kind, info.config_role) == ("manager", "manager")
        assert info.hello.handshake is not None and info.hello.handshake.msgval == 0
        done = run_py(PROBE, "-H", manager.door, "--role", "manager", *live_only(tmp_path))
        assert done.returncode == 0, done.stdout
        assert "role manager (manager)" in done.stdout.splitlines()[0]


def test_server_is_stopped_and_cleaned_up() -> None:
    with running_xrootd() as server:
        pid, workdir = server.pid, server.workdir
        assert Path(f"/proc/{pid}").exists()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert not workdir.exists()
