"""check_xrootd ``expect: {tls: required|offered|any}``: flag parsing, the rule, real xrootd with TLS.

The live cases run Debian's xrootd 5 with ``xrd.tls`` (an openssl-made
self-signed loopback certificate, ``xrd.tlsca noverify``) and with or without
``xrootd.tls ...``; the flags they answer were first read off that server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gridready.checks.interface import Observation, Request
from gridready.checks.xrootd import CHECK, Live, XrootdFacts
from gridready.deadline import Deadline
from gridready.xrootd import client
from gridready.xrootd import protocol as xp
from gridready.xrootd.client import ServerInfo
from gridready.xrootd.published import GLUE2, Door, Publication
from tests.helpers import REPO, run_py
from tests.servers.hostile import Hold, Read, Send, running_hostile
from tests.servers.xrootd import OPENING_SIZE, handshake_reply, protocol_reply, running_xrootd

PROBE = REPO / "probes" / "check_xrootd"
DOOR = Door("xrd.example", 1094)

# What xrootd 5.5.3 answers a kXR_ableTLS client (read off the real server).
NO_TLS = 0x00300001                 # no xrd.tls
OFFERED = 0x80300001                # xrd.tls only
CAPABLE_ALL = 0xD7300001            # xrootd.tls capable all: gotoTLS + login, data, gpf, tpc
CAPABLE_ALL_NOT_ABLE = 0x97300001   # the same server to a client without kXR_ableTLS
SESSION = 0x88300001                # xrootd.tls capable session: no gotoTLS, tlsSess
DATA_ONLY = 0x81300001              # a requirement only for data (tlsData)


@pytest.mark.parametrize("flags, offered, required, covers, goto", [
    (NO_TLS, False, False, (), False),
    (OFFERED, True, False, (), False),
    (CAPABLE_ALL, True, True, ("login", "data", "gpfile", "tpc"), True),
    (CAPABLE_ALL_NOT_ABLE, True, True, ("login", "data", "gpfile", "tpc"), False),
    (SESSION, True, True, ("session",), False),
    (DATA_ONLY, True, False, ("data",), False),
    (0x90000000, True, False, ("tpc",), False),
    # gotoTLS without haveTLS: a server demanding TLS has it.
    (0x40000001, True, True, (), True),
    # Bits outside 32 (a signed read gone wrong) are ignored.
    (-0x7FCFFFFF & 0xFFFFFFFF, True, False, (), False),
])
def test_tls_state_from_flags(flags: int, offered: bool, required: bool, covers: tuple[str, ...],
                              goto: bool) -> None:
    state = xp.tls_state(flags)
    assert (state.offered, state.required, state.covers, state.goto) == (offered, required, covers, goto)


def test_tls_describe_and_flag_names() -> None:
    assert xp.tls_state(CAPABLE_ALL).describe() == "TLS required (kXR_gotoTLS; login, data, gpfile, tpc)"
    assert xp.tls_state(SESSION).describe() == "TLS required (session)"
    assert xp.tls_state(OFFERED).describe() == "TLS offered, not required for login or session"
    assert xp.tls_state(DATA_ONLY).describe() == "TLS offered, not required for login or session (only for data)"
    assert xp.tls_state(NO_TLS).describe() == "no TLS (kXR_haveTLS not set)"
    assert xp.flag_names(CAPABLE_ALL) == ["isServer", "supposc", "suppgrw", "tlsData", "tlsGPF", "tlsLogin",
                                          "tlsTPC", "gotoTLS", "haveTLS"]


def test_protocol_reply_flags_with_the_sign_bit_parse_unsigned() -> None:
    reply = xp.parse_protocol_reply(bytes.fromhex("00000511d7300001"))
    assert reply.flags == CAPABLE_ALL and reply.tls.required


def test_request_says_kxr_able_tls() -> None:
    # Byte 8 of kXR_protocol is the flags byte: kXR_ableTLS (0x02); byte 9 kXR_ExpLogin.
    request = xp.protocol_request(b"\0\1", xp.KXR_ABLE_TLS)
    assert request[8:10] == b"\x02\x03"


@pytest.mark.parametrize("value, ok", [("required", True), ("offered", True), ("any", True),
                                       ("mandatory", False), (True, False), ("REQUIRED", False)])
def test_validate_expect_tls(value: Any, ok: bool) -> None:
    problems = list(CHECK.validate_expect({"tls": value}))
    assert problems == ([] if ok else [f"tls: expected one of required, offered, any, got {value!r}"])


def test_bad_tls_value_is_named_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "tls.yaml"
    rules.write_text(MILESTONE.format(tls="mandatory"), encoding="utf-8")
    done = run_py(REPO / "probes" / "check_xrootd", "-H", "127.0.0.1", "--milestones", str(rules), timeout=30)
    assert done.returncode == 3
    assert f"{rules}:9:" in done.stdout + done.stderr
    assert "tls: expected one of required, offered, any, got 'mandatory'" in done.stdout + done.stderr


# --- the rule, on collected facts -------------------------------------------------


def server_info(flags: int) -> ServerInfo:
    return ServerInfo(address=str(DOOR), peer="192.0.2.7:1094",
                      hello=xp.Hello(xp.HandshakeReply(0x511, 1), xp.ProtocolReply(0x511, flags)),
                      handshake_ms=2.0)


def judge(facts: XrootdFacts, expect: dict[str, Any]) -> tuple[bool, str, str, str]:
    result = CHECK.assess(Observation(target=str(DOOR), data=facts), expect, Request(options={}, site="pic"))
    return result.passed, result.message, result.unknown, result.remediation


def live(flags: int) -> XrootdFacts:
    return XrootdFacts(door=DOOR, site="pic", live=Live(DOOR, info=server_info(flags)))


def test_required_passes_only_when_the_door_demands_tls() -> None:
    passed, message, unknown, _ = judge(live(CAPABLE_ALL), {"tls": "required"})
    assert (passed, unknown) == (True, "")
    assert message == ("xrootd protocol 5.1.1, role server (data server), "
                       "TLS required (kXR_gotoTLS; login, data, gpfile, tpc); "
                       "published strings not checked (no --bdii/--srr)")
    assert judge(live(SESSION), {"tls": "required"})[0] is True


@pytest.mark.parametrize("flags, wanted, message, remedy", [
    (NO_TLS, "required", "xrd.example:1094: no TLS (kXR_haveTLS not set), kXR_protocol flags 0x00300001; TLS required",
     "configure TLS on xrd.example:1094: 'xrd.tls <cert> <key>'"),
    (NO_TLS, "offered", "xrd.example:1094: no TLS (kXR_haveTLS not set), kXR_protocol flags 0x00300001; TLS offered",
     "configure TLS on xrd.example:1094: 'xrd.tls <cert> <key>'"),
    (OFFERED, "required", "xrd.example:1094: TLS offered, not required for login or session, kXR_protocol flags "
                          "0x80300001; TLS required for login or session",
     "make xrd.example:1094 demand TLS: 'xrootd.tls capable all'"),
    (DATA_ONLY, "required", "xrd.example:1094: TLS offered, not required for login or session (only for data), "
                            "kXR_protocol flags 0x81300001; TLS required for login or session",
     "make xrd.example:1094 demand TLS: 'xrootd.tls capable all'"),
])
def test_door_without_the_tls_flags_fails(flags: int, wanted: str, message: str, remedy: str) -> None:
    passed, text, unknown, remediation = judge(live(flags), {"tls": wanted})
    assert (passed, unknown) == (False, "")
    assert message in text
    assert remedy in remediation
    if wanted == "required" and flags == NO_TLS:
        assert "'xrootd.tls capable all'" in remediation


def test_offered_and_any() -> None:
    assert judge(live(OFFERED), {"tls": "offered"})[0] is True
    assert judge(live(CAPABLE_ALL), {"tls": "offered"})[0] is True
    # any (the default) does not judge TLS at all.
    for expect in ({"tls": "any"}, {"role": "any"}):
        passed, message, _, _ = judge(live(NO_TLS), expect)
        assert passed and "TLS" not in message


def test_published_only_is_unknown_whatever_is_published() -> None:
    # roots:// is a claim, not the door's configuration; its absence proves nothing either.
    for urls, count in ((("roots://xrd.example:1094",), "1 published roots:// endpoint"),
                        (("root://xrd.example:1094", "xroots://xrd.example:1095"), "1 published roots:// endpoint"),
                        (("root://xrd.example:1094",), "0 published roots:// endpoints")):
        records = tuple(Publication(GLUE2, "src", f"ep{i}", "GLUE2EndpointInterfaceName", "xroot",
                                    "GLUE2EndpointURL", url) for i, url in enumerate(urls))
        facts = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif",), described=("bdii.ldif",),
                            publications=records)
        passed, _, unknown, _ = judge(facts, {"tls": "required"})
        assert passed is True  # nothing failed ...
        assert unknown == ("no xrootd handshake (published strings only): tls required needs -H HOST "
                           f"(TLS is judged from the door's kXR_protocol reply; {count} not taken as proof)")


def test_tls_milestone_accepts_roots_endpoints_unless_schemes_are_given() -> None:
    records = (Publication(GLUE2, "src", "ep", "GLUE2EndpointInterfaceName", "xroot", "GLUE2EndpointURL",
                           "roots://xrd.example:1094"),)
    facts = XrootdFacts(door=DOOR, site="pic", live=Live(DOOR, info=server_info(CAPABLE_ALL)),
                        sources=("bdii.ldif",), described=("bdii.ldif",), publications=records)
    assert judge(facts, {"tls": "required"})[0] is True
    passed, message, _, _ = judge(facts, {"tls": "required", "schemes": ["root", "xroot"]})
    assert not passed and "'roots://xrd.example:1094' is not a root:// or xroot:// URL" in message


@pytest.mark.parametrize("outcome, message, why", [
    ("pass", "pic (published): published as 'xroot' in GLUE 2 (1 record)",
     "no xrootd handshake (published strings only): tls required needs -H HOST"),
    ("pass", "xrd.example:1094 speaks xrootd protocol 5.1.1, role server (data server)",
     "TLS not judged by the probe that stored this result: tls required needs a newer check_xrootd"),
    ("pass", "xrd.example:1094 speaks xrootd protocol 5.1.1, role server; xrd.example:1094: TLS required (session)",
     None),
    ("fail", "xrd.example:1094: no TLS (kXR_haveTLS not set), kXR_protocol flags 0x00300001; TLS required", None),
])
def test_unproven_stored_results(outcome: str, message: str, why: str | None) -> None:
    got = CHECK.unproven({"tls": "required"}, outcome, message)
    if why is None:
        assert got is None
    else:
        assert got is not None and got.startswith(why)


# --- a scripted server: flags the Debian build cannot be made to send ------------


def test_scripted_data_only_door_fails_and_goto_tls_skips_qconfig() -> None:
    script = (Read(OPENING_SIZE), Send(handshake_reply() + protocol_reply(0x511, DATA_ONLY)), Hold())
    with running_hostile(*script) as server:
        info = client.probe("127.0.0.1", server.port, Deadline(3), query=False)
    assert info.protocol.tls.covers == ("data",) and not info.protocol.tls.required
    # The client asked with kXR_ableTLS.
    assert bytes(server.received[0][OPENING_SIZE - 16:OPENING_SIZE - 14]) == b"\x02\x03"
    script = (Read(OPENING_SIZE), Send(handshake_reply() + protocol_reply(0x511, CAPABLE_ALL)), Hold())
    with running_hostile(*script) as server:
        info = client.probe("127.0.0.1", server.port, Deadline(3))
    assert info.notes == ("server requires TLS now (kXR_gotoTLS): Qconfig not queried",)
    assert info.protocol.tls.goto


# --- the real xrootd ----------------------------------------------------------------

MILESTONE = """milestones:
  - id: xrootd-tls
    title: xrootd doors demand TLS
    source: test
    deadline: 2027-06-30
    warn_days: 90
    scope: {{tiers: [0, 1]}}
    check: xrootd
    expect: {{tls: {tls}}}
    remediation: configure TLS on the door
"""


def run_probe(tmp_path: Path, port: int, tls: str, *args: str) -> tuple[int, list[str], dict[str, Any]]:
    rules = tmp_path / f"tls-{tls}.yaml"
    rules.write_text(MILESTONE.format(tls=tls), encoding="utf-8")
    common = ["-H", "127.0.0.1", "-p", str(port), "--milestones", str(rules), "--as-of", "2027-08-01", *args]
    done = run_py(PROBE, *common, "-v", timeout=30)
    as_json = run_py(PROBE, *common, "--format", "json", timeout=30)
    assert done.stderr == "" and as_json.stderr == ""
    return done.returncode, done.stdout.splitlines(), json.loads(as_json.stdout)


@pytest.mark.parametrize("config, wanted, rc, compliance, text", [
    (None, "required", 2, "OVERDUE", "no TLS (kXR_haveTLS not set), kXR_protocol flags 0x00300001; TLS required"),
    (None, "offered", 2, "OVERDUE", "no TLS (kXR_haveTLS not set), kXR_protocol flags 0x00300001; TLS offered"),
    ("", "offered", 0, "COMPLIANT", "role server (data server), version v5.5.3, "
     "TLS offered, not required for login or session;"),
    ("", "required", 2, "OVERDUE", "TLS required for login or session"),
    ("capable all", "required", 0, "COMPLIANT", "role server (data server), "
     "TLS required (kXR_gotoTLS; login, data, gpfile, tpc)"),
    # The session switches to TLS after login, so Qconfig (and the version) is not read.
    ("capable session", "required", 0, "COMPLIANT", "role server (data server), TLS required (session);"),
])
def test_real_xrootd(tmp_path: Path, config: str | None, wanted: str, rc: int, compliance: str, text: str) -> None:
    with running_xrootd(tls=config) as server:
        code, lines, result = run_probe(tmp_path, server.port, wanted)
    assert code == rc, lines
    [milestone] = result["milestones"]
    assert milestone["compliance"] == compliance
    assert text in milestone["message"]
    if compliance == "OVERDUE":
        remedy = "\n".join(lines)
        assert ("'xrd.tls <cert> <key>'" if config is None else "'xrootd.tls capable all'") in remedy


def test_real_xrootd_published_only_is_unknown(tmp_path: Path) -> None:
    # Missing data: no handshake, only the bundled example's published records.
    rules = tmp_path / "tls.yaml"
    rules.write_text(MILESTONE.format(tls="required"), encoding="utf-8")
    done = run_py(PROBE, "--site", "pic", "--bdii", str(REPO / "config" / "example" / "bdii.ldif"),
                  "--milestones", str(rules), "--as-of", "2027-08-01", "--format", "json", timeout=30)
    assert done.returncode == 3, done.stdout + done.stderr
    [milestone] = json.loads(done.stdout)["milestones"]
    assert milestone["compliance"] == "UNKNOWN"
    assert "tls required needs -H HOST" in milestone["message"]
