"""check_xrootd given doors, dumps and SRR files that lie, hang, are huge or say nothing.

Each case runs the probe as Nagios would (tests/hostile/runner.py) and asserts
the exit code, the one reason given and the time taken. The evidence rule is
the thread through most of them: what was not collected is UNKNOWN, never a
pass, and only a peer that answers but not as xrootd is a failing finding.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.hostile.runner import assert_clean, run
from tests.servers.hostile import Close, Hold, Read, Reset, Send, Sleep, running_hostile
from tests.servers.xrootd import OPENING_SIZE, handshake_reply, protocol_reply

EXAMPLE_LDIF = str(REPO / "config" / "example" / "bdii.ldif")
GOOD_DOOR = (Read(OPENING_SIZE), Send(handshake_reply(0x511, 1) + protocol_reply(0x511, 1)), Close())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status(output: str) -> str:
    return output.splitlines()[0]


def srr_file(tmp_path: Path, endpoints: list[dict[str, str]] | None, name: str = "srr.json") -> str:
    service: dict[str, object] = {"name": "se", "implementation": "dCache"}
    if endpoints is not None:
        service["storageendpoints"] = endpoints
    path = tmp_path / name
    path.write_text(json.dumps({"storageservice": service}), encoding="utf-8")
    return str(path)


def door_ldif(tmp_path: Path, door: str) -> str:
    """A dump publishing ``door`` correctly ('xroot', root://), so only the door itself is in question."""
    base = "GlueSEUniqueID=se.x.example,Mds-Vo-name=X-SITE,Mds-Vo-name=local,o=grid"
    path = tmp_path / "door.ldif"
    path.write_text(f"""dn: {base}
objectClass: GlueSE
GlueSEUniqueID: se.x.example
GlueForeignKey: GlueSiteUniqueID=X-SITE

dn: GlueSEAccessProtocolLocalID=xroot,{base}
objectClass: GlueSEAccessProtocol
GlueSEAccessProtocolType: xroot
GlueSEAccessProtocolEndpoint: root://{door}
GlueChunkKey: GlueSEUniqueID=se.x.example
""", encoding="utf-8")
    return str(path)


# --- no evidence, no verdict -----------------------------------------------------------


def test_handshake_alone_is_unknown_for_published_strings() -> None:
    with running_hostile(*GOOD_DOOR) as door:
        result = run("check_xrootd", "-H", "127.0.0.1", "-p", str(door.port), "--site", "pic", "-t", "3")
    assert_clean(result, 3, within=5, mentions="published strings not checked: give --bdii or --srr")
    assert status(result.stdout).startswith(f"XROOTD UNKNOWN - 127.0.0.1:{door.port}: xrootd-protocol-string UNKNOWN")
    assert "COMPLIANT" not in result.output


@pytest.mark.parametrize("option, value", [("--min-protocol", "3.0.0"), ("--role", "server")])
def test_published_only_mode_cannot_judge_the_door(option: str, value: str) -> None:
    # pic publishes 'xroot' correctly in the example: only the live part is missing.
    result = run("check_xrootd", "--site", "pic", "--bdii", EXAMPLE_LDIF, option, value, "-t", "5")
    assert_clean(result, 3, within=6, mentions="no xrootd handshake (published strings only)")
    assert f"{option.strip('-').replace('-', '_')} {value} needs -H HOST" in status(result.stdout)


def test_site_missing_from_the_dump_is_unknown_not_not_applicable() -> None:
    result = run("check_xrootd", "--site", "NO-SUCH-SITE", "--bdii", EXAMPLE_LDIF, "-t", "5")
    assert_clean(result, 3, within=6, mentions="describes no storage of NO-SUCH-SITE")
    assert "NOT_APPLICABLE" not in result.output


@pytest.mark.parametrize("endpoints", [None, []], ids=["no-endpoint-list", "empty-endpoint-list"])
def test_srr_that_lists_no_endpoints_is_unknown(tmp_path: Path, endpoints: list[dict[str, str]] | None) -> None:
    srr = srr_file(tmp_path, endpoints)
    result = run("check_xrootd", "--site", "pic", "--srr", srr, "-t", "5")
    assert_clean(result, 3, within=6, mentions=f"{srr} describes no storage of pic")
    with running_hostile(*GOOD_DOOR) as door:  # a door checked against it: unknown, not "not published"
        result = run("check_xrootd", "-H", f"127.0.0.1:{door.port}", "--srr", srr, "-t", "5",
                     "--as-of", "2010-10-08")
    assert_clean(result, 3, within=6, mentions=f"describes no storage of 127.0.0.1:{door.port}")
    assert "is not published" not in result.output


# --- unreachable is unknown, not-xrootd is a failure ---------------------------------------------


@pytest.mark.parametrize("as_of", ["2010-06-08", "2010-10-08"])
def test_refused_door_is_unknown_before_and_after_the_deadline(tmp_path: Path, as_of: str) -> None:
    # Was PENDING (green) before the deadline and OVERDUE after it.
    port = free_port()
    result = run("check_xrootd", "-H", "127.0.0.1", "-p", str(port), "--bdii",
                 door_ldif(tmp_path, f"127.0.0.1:{port}"), "--as-of", as_of, "-t", "3")
    assert_clean(result, 3, within=5, mentions=f"cannot connect to 127.0.0.1:{port}: connection refused")
    assert "PENDING" not in result.output and "OVERDUE" not in result.output


def test_unresolvable_door_is_unknown(tmp_path: Path) -> None:
    result = run("check_xrootd", "-H", "no-such-door.invalid", "--bdii",
                 door_ldif(tmp_path, "no-such-door.invalid:1094"), "--as-of", "2010-10-08", "-t", "3")
    assert_clean(result, 3, within=5, mentions="no-such-door.invalid")
    assert "OVERDUE" not in result.output


def test_silent_door_is_the_timeout_state_naming_the_stage() -> None:
    with running_hostile(Hold()) as door:
        result = run("check_xrootd", "-H", f"127.0.0.1:{door.port}", "--site", "pic", "--bdii", EXAMPLE_LDIF,
                     "-t", "1")
    assert_clean(result, 3, within=3,
                 mentions=f"timeout after 1s while reading kXR_protocol reply from 127.0.0.1:{door.port}")


@pytest.mark.parametrize("reply, why", [
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "does not speak xrootd"),
    (b"\0" * 4, "closed the connection"),
], ids=["http-server", "short-then-close"])
def test_peer_that_is_not_xrootd_is_a_failing_finding(reply: bytes, why: str) -> None:
    with running_hostile(Read(OPENING_SIZE), Send(reply), Close(), max_connections=2) as door:
        late = run("check_xrootd", "-H", f"127.0.0.1:{door.port}", "--as-of", "2010-10-08", "-t", "3")
        early = run("check_xrootd", "-H", f"127.0.0.1:{door.port}", "--as-of", "2010-06-08", "-t", "3")
    assert_clean(late, 2, within=5, mentions=why)
    assert "OVERDUE" in status(late.stdout)
    assert_clean(early, 0, within=5, mentions=why)
    assert "PENDING" in status(early.stdout)


@pytest.mark.parametrize("script", [
    (Close(),), (Read(OPENING_SIZE), Close()), (Read(OPENING_SIZE), Reset()), (Read(OPENING_SIZE), Sleep(0.2), Close()),
], ids=["close-at-once", "read-then-close", "read-then-reset", "wait-then-close"])
def test_door_that_closes_without_a_byte_is_unknown(tmp_path: Path, script: tuple[object, ...]) -> None:
    # Was OVERDUE: xrootd closes at accept a host its xrd.allow does not admit; nothing was answered.
    with running_hostile(*script) as door:  # type: ignore[arg-type]
        result = run("check_xrootd", "-H", f"127.0.0.1:{door.port}", "--bdii",
                     door_ldif(tmp_path, f"127.0.0.1:{door.port}"), "--as-of", "2010-10-08", "-t", "3")
    assert_clean(result, 3, within=5, mentions="without a byte of reply: it does not admit this host")
    assert "OVERDUE" not in result.output and "overdue" not in result.output


DOOR_ONLY = """milestones:
  - {id: door-version, title: t, source: s, deadline: 2010-09-30, warn_days: 30, scope: {tiers: [0, 1]},
     check: xrootd, expect: {min_protocol: "4.0.0"}, remediation: r}
  - {id: door-any, title: t, source: s, deadline: 2010-09-30, warn_days: 30, scope: {tiers: [0, 1]},
     check: xrootd, expect: {role: any}, remediation: r}
"""


@pytest.mark.parametrize("interfacetype", ["root", "xrootd", "XRootD", None])
def test_published_strings_never_decide_a_door_only_milestone(tmp_path: Path, interfacetype: str | None) -> None:
    # Was OVERDUE (published-only mode, and with a working door): the door's milestones
    # failed on the SRR protocol string; without a handshake they are UNKNOWN.
    rules = tmp_path / "door-only.yaml"
    rules.write_text(DOOR_ONLY, encoding="utf-8")
    endpoint = {"name": "xr", "endpointurl": "root://127.0.0.1:1094"}
    if interfacetype is not None:
        endpoint["interfacetype"] = interfacetype
    srr = srr_file(tmp_path, [endpoint])
    result = run("check_xrootd", "--site", "pic", "--srr", srr, "--milestones", str(rules),
                 "--as-of", "2010-10-08", "-t", "3")
    assert_clean(result, 3, within=5, mentions="no xrootd handshake (published strings only)")
    assert "OVERDUE" not in result.output and "not 'xroot'" not in result.output
    with running_hostile(*GOOD_DOOR) as door:
        endpoint["endpointurl"] = f"root://127.0.0.1:{door.port}"
        srr = srr_file(tmp_path, [endpoint], "door.json")
        result = run("check_xrootd", "-H", f"127.0.0.1:{door.port}", "--srr", srr, "--milestones", str(rules),
                     "--as-of", "2010-10-08", "-t", "3")
    assert_clean(result, 0, within=5, mentions="xrootd protocol 5.1.1")
    assert "OVERDUE" not in result.output


# --- size: linear work, bounded output ----------------------------------------------------------


def test_60000_srr_endpoints_finish_well_within_the_timeout(tmp_path: Path) -> None:
    # 60,000 endpoints (~5 MB, under the 8 MiB cap) used to time out after 10 s "while starting".
    endpoints = [{"name": f"e{i}", "endpointurl": f"root://d{i}.ex:1094", "interfacetype": "xroot"}
                 for i in range(60_000)]
    srr = srr_file(tmp_path, endpoints)
    result = run("check_xrootd", "--site", "pic", "--srr", srr, "-t", "10")
    assert_clean(result, 0, within=5, mentions="published as 'xroot' in SRR (60000 records)")
    # The same size, every record wrong: the status line names 20 and counts the rest.
    for endpoint in endpoints:
        endpoint["interfacetype"] = "root"
    bad = srr_file(tmp_path, endpoints, "bad.json")
    result = run("check_xrootd", "--site", "pic", "--srr", bad, "-t", "10", "--as-of", "2010-10-08")
    assert_clean(result, 2, within=5, mentions="... and 59980 more failing published records")
    assert len(status(result.stdout)) < 10_000


def test_site_with_thousands_of_ses_in_the_dump(tmp_path: Path) -> None:
    parts = []
    for i in range(3000):
        base = f"GlueSEUniqueID=se{i}.big.example,Mds-Vo-name=BIG,Mds-Vo-name=local,o=grid"
        parts.append(f"dn: {base}\nobjectClass: GlueSE\nGlueSEUniqueID: se{i}.big.example\n"
                     "GlueForeignKey: GlueSiteUniqueID=BIG\n")
        parts.append(f"dn: GlueSEAccessProtocolLocalID=xroot,{base}\nobjectClass: GlueSEAccessProtocol\n"
                     "GlueSEAccessProtocolType: xroot\n"
                     f"GlueSEAccessProtocolEndpoint: root://se{i}.big.example:1094\n"
                     f"GlueChunkKey: GlueSEUniqueID=se{i}.big.example\n")
    ldif = tmp_path / "big.ldif"
    ldif.write_text("\n".join(parts), encoding="utf-8")
    result = run("check_xrootd", "--site", "BIG", "--bdii", str(ldif), "-t", "10")
    assert_clean(result, 0, within=6, mentions="published as 'xroot' in GLUE 1.3 (3000 records)")


# --- saved sources that are not files ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
@pytest.mark.parametrize("option", ["--srr", "--bdii"])
def test_saved_source_that_is_not_a_regular_file(tmp_path: Path, option: str, kind: str) -> None:
    if kind == "fifo":
        path = str(tmp_path / "pipe")
        os.mkfifo(path)
    else:
        path = "/dev/zero" if kind == "device" else str(tmp_path)
    result = run("check_xrootd", "-H", "127.0.0.1", "-p", str(free_port()), option, path, "-t", "3")
    assert_clean(result, 3, within=4, mentions=path)
    # The status line is a short summary (cut for the web UIs); the milestone's line says why.
    assert len(result.stdout.splitlines()) == 2, result.output  # the status line and the milestone's line
    assert "not a regular file" in result.stdout.splitlines()[1], result.output
