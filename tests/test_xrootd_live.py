"""check_xrootd against Debian's real xrootd server (data server and manager) on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

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


def test_real_server_that_does_not_admit_this_host_is_unknown(tmp_path: Path) -> None:
    # xrootd closes, at accept, the connection of a host its xrd.allow does not admit
    # (its log: "Unable to accept TCP connection from ...; permission denied"). Was
    # CRITICAL/OVERDUE "closed the connection while we read the handshake reply header".
    with running_xrootd(allow="192.0.2.7") as server:
        for extra in ([], live_only(tmp_path), ["--role", "server", *live_only(tmp_path)]):
            done = run_py(PROBE, "-H", server.door, "--as-of", "2010-10-08", "-v", *extra)
            lines = done.stdout.splitlines()
            assert done.returncode == 3, lines
            # Closed or reset, depending on whether our request arrived before the close.
            assert any(f"{server.door} accepted the connection but {how} it without a byte of reply: it does "
                       "not admit this host (xrd.allow, a TCP wrapper or a firewall)" in lines[1]
                       for how in ("closed", "reset")), lines
            assert "overdue" not in done.stdout and "remediation" not in done.stdout
        assert "permission denied" in server.log_text()


#: One milestone about the door only, one about the published string, one about both.
SPLIT = """milestones:
  - {id: door-version, title: t, source: test, deadline: 2010-09-30, warn_days: 30, scope: {tiers: [0, 1]},
     check: xrootd, expect: {min_protocol: "4.0.0"}, remediation: r}
  - {id: door-any, title: t, source: test, deadline: 2010-09-30, warn_days: 30, scope: {tiers: [0, 1]},
     check: xrootd, expect: {role: any}, remediation: r}
  - {id: string, title: t, source: test, deadline: 2010-09-30, warn_days: 30, scope: {tiers: [0, 1]},
     check: xrootd, expect: {protocol: xroot}, remediation: r}
  - {id: both, title: t, source: test, deadline: 2010-09-30, warn_days: 30, scope: {tiers: [0, 1]},
     check: xrootd, expect: {protocol: xroot, min_protocol: "4.0.0"}, remediation: r}
"""


def _split_run(tmp_path: Path, *args: str) -> dict[str, tuple[str, str]]:
    rules = tmp_path / "split.yaml"
    rules.write_text(SPLIT, encoding="utf-8")
    done = run_py(PROBE, *args, "--milestones", str(rules), "--as-of", "2010-10-08", "--format", "json")
    return {m["id"]: (m["compliance"], m["message"]) for m in json.loads(done.stdout)["milestones"]}


@pytest.mark.parametrize("published, field", [
    ("GlueSEAccessProtocolType: root\nGlueSEAccessProtocolEndpoint: root://{door}", "'root', not 'xroot'"),
    ("GlueSEAccessProtocolType: xrootd\nGlueSEAccessProtocolEndpoint: root://{door}", "'xrootd', not 'xroot'"),
    # No endpoint: tied to its SE host only, which is not the door.
    ("GlueSEAccessProtocolType: xroot", "is not published as an xrootd access protocol"),
    ("GlueSEAccessProtocolType: XROOT\nGlueSEAccessProtocolEndpoint: https://{door}", "'XROOT', not 'xroot'"),
], ids=["root", "xrootd", "no-endpoint", "case-and-scheme"])
def test_published_strings_do_not_decide_a_door_only_milestone(real_xrootd: XrootdServer, tmp_path: Path,
                                                               published: str, field: str) -> None:
    # Was OVERDUE: a milestone about the door's protocol version (or its answering
    # at all) failed on the protocol string the site publishes for it.
    ldif = tmp_path / "door.ldif"
    base = "GlueSEUniqueID=se.x.example,Mds-Vo-name=X-SITE,Mds-Vo-name=local,o=grid"
    record = published.replace("\\n", "\n").format(door=real_xrootd.door)
    ldif.write_text(f"dn: {base}\nobjectClass: GlueSE\nGlueSEUniqueID: se.x.example\n"
                    "GlueForeignKey: GlueSiteUniqueID=X-SITE\n\n"
                    f"dn: GlueSEAccessProtocolLocalID=x,{base}\nobjectClass: GlueSEAccessProtocol\n"
                    f"GlueSEAccessProtocolLocalID: x\n{record}\nGlueChunkKey: GlueSEUniqueID=se.x.example\n",
                    encoding="utf-8")
    live = _split_run(tmp_path, "-H", real_xrootd.door, "--bdii", str(ldif))
    assert live["door-version"][0] == "COMPLIANT" and field not in live["door-version"][1]
    assert live["door-any"][0] == "COMPLIANT"
    assert live["string"][0] == live["both"][0] == "OVERDUE"
    assert field in live["string"][1] and field in live["both"][1]
    # Published-only mode: no handshake, so the door milestones are UNKNOWN, never judged on the records.
    published_only = _split_run(tmp_path, "--site", "X-SITE", "--bdii", str(ldif))
    for milestone in ("door-version", "door-any"):
        compliance, message = published_only[milestone]
        assert compliance == "UNKNOWN" and message.startswith("no xrootd handshake (published strings only): ")
    assert published_only["string"][0] == published_only["both"][0] == "OVERDUE"


def test_server_is_stopped_and_cleaned_up() -> None:
    with running_xrootd() as server:
        pid, workdir = server.pid, server.workdir
        assert Path(f"/proc/{pid}").exists()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert not workdir.exists()
