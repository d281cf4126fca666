"""check_xrootd against servers that misbehave, and against no server at all.

Each case runs the real probe executable against a scripted loopback server
and asserts the exit code, a one-line reason and that it finished within
``-t`` + 1 s; the client's memory is measured in-process.
"""

from __future__ import annotations

import socket
import struct
import time
import tracemalloc
from pathlib import Path

import pytest

from gridready.deadline import Deadline
from gridready.errors import CheckTimeout
from gridready.xrootd import client
from gridready.xrootd import protocol as xp
from tests.helpers import REPO, run_py
from tests.servers.hostile import Close, Hold, Read, Reset, Send, Sleep, running_hostile
from tests.servers.xrootd import (LOGIN_SIZE, OPENING_SIZE, PROTOCOL_SID, QUERY_SID, error_reply, frame,
                                  handshake_reply, login_reply, protocol_reply, qconfig_reply)

PROBE = REPO / "probes" / "check_xrootd"
TIMEOUT = 2


def probe(port: int, *args: str, host: str = "127.0.0.1", timeout: int = TIMEOUT) -> tuple[int, list[str], float]:
    started = time.monotonic()
    done = run_py(PROBE, "-H", host, "-p", str(port), "-t", str(timeout), *args, timeout=timeout + 20)
    elapsed = time.monotonic() - started
    assert done.stderr == "", done.stderr
    return done.returncode, done.stdout.splitlines(), elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


QCONFIG_SIZE = 24 + len(b"version role")

#: A milestone only about the live door, so a good handshake alone is COMPLIANT
#: (the bundled one is about published strings: UNKNOWN without --bdii/--srr).
LIVE_ONLY = """milestones:
  - {id: xrootd-door, title: doors speak xrootd, source: test, deadline: 2010-09-30, warn_days: 30,
     scope: {tiers: [0, 1]}, check: xrootd, expect: {role: any}, remediation: run xrootd}
"""


@pytest.fixture
def live_only(tmp_path: Path) -> list[str]:
    rules = tmp_path / "live-only.yaml"
    rules.write_text(LIVE_ONLY, encoding="utf-8")
    return ["--milestones", str(rules)]


@pytest.mark.parametrize("script, reason", [
    pytest.param((Read(OPENING_SIZE), Send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), Close()),
                 "does not speak xrootd: reply header 48 54 54 50 2f 31 2e 31 has unknown status 21584",
                 id="garbage"),
    pytest.param((Read(OPENING_SIZE), Send(frame(b"\0\0", 0, dlen=0x7FFFFFF0)), Hold()),
                 "reply announces 2147483632 bytes, more than the 65536 accepted", id="huge-dlen"),
    pytest.param((Read(OPENING_SIZE), Send(handshake_reply() + frame(PROTOCOL_SID, 0, dlen=1 << 30)), Hold()),
                 "reply announces 1073741824 bytes, more than the 65536 accepted", id="huge-dlen-2nd"),
    pytest.param((Read(OPENING_SIZE), Send(handshake_reply() + error_reply(PROTOCOL_SID, 3013, "go away")),
                  Close()),
                 ": kXR_protocol failed: kXR_error 3013 kXR_Unsupported: go away", id="kxr-error"),
    pytest.param((Read(OPENING_SIZE), Send(handshake_reply()[:3]), Reset()), "dropped the connection",
                 id="bytes-then-reset"),
    pytest.param((Read(OPENING_SIZE), Send(handshake_reply() + protocol_reply()[:11]), Close()),
                 "closed the connection while we read the kXR_protocol reply", id="half-then-close"),
    pytest.param((Read(OPENING_SIZE), Send(handshake_reply() + frame(PROTOCOL_SID, 4000, b"x" * 60000) * 3),
                  Hold()),
                 "more than the 5536 accepted", id="endless-oksofar"),
])
def test_hostile_server_is_a_failing_finding(script: tuple[object, ...], reason: str) -> None:
    with running_hostile(*script) as server:  # type: ignore[arg-type]
        rc, lines, elapsed = probe(server.port, "--as-of", "2010-10-08")
    assert rc == 2, lines
    assert lines[0].startswith(f"XROOTD CRITICAL - 127.0.0.1:{server.port}: xrootd-protocol-string OVERDUE: ")
    assert any(part in lines[0] for part in reason.split("|")), lines[0]
    assert len(lines) == 2 and "Traceback" not in "".join(lines)
    assert elapsed < TIMEOUT + 1


@pytest.mark.parametrize("script, how", [
    pytest.param((Close(),), "closed|reset", id="closes-at-once"),
    pytest.param((Read(OPENING_SIZE), Close()), "closed", id="reads-then-closes"),
    # The RST may also reach connect() first: "cannot connect to ...: connection reset", UNKNOWN too.
    pytest.param((Reset(),), "reset|closed|cannot connect", id="resets-at-once"),
    pytest.param((Read(OPENING_SIZE), Reset()), "reset", id="reads-then-resets"),
    pytest.param((Read(OPENING_SIZE), Sleep(0.3), Close()), "closed", id="waits-then-closes"),
])
def test_door_that_closes_before_a_byte_of_reply_is_unknown(script: tuple[object, ...], how: str,
                                                             live_only: list[str]) -> None:
    # Was CRITICAL/OVERDUE: a door that closes without answering (as xrootd does to a
    # host its xrd.allow does not admit) refused us; it showed nothing of what it speaks.
    for extra in ([], live_only):
        with running_hostile(*script) as server:  # type: ignore[arg-type]
            rc, lines, elapsed = probe(server.port, "--as-of", "2010-10-08", "-v", *extra)
        assert rc == 3, lines
        milestone = "xrootd-door" if extra else "xrootd-protocol-string"
        assert lines[0].startswith(f"XROOTD UNKNOWN - 127.0.0.1:{server.port}: {milestone} UNKNOWN: "), lines
        said = [f"127.0.0.1:{server.port} accepted the connection but {word} it without a byte of reply: it "
                "does not admit this host (xrd.allow, a TCP wrapper or a firewall)" for word in how.split("|")]
        if "cannot connect" in how:
            said.append(f"cannot connect to 127.0.0.1:{server.port}: connection reset")
        assert any(text in lines[0] for text in said), lines
        assert "OVERDUE" not in "".join(lines) and "overdue" not in "".join(lines)
        assert "remediation" not in "".join(lines)
        assert elapsed < TIMEOUT + 1


@pytest.mark.parametrize("script, stage", [
    pytest.param((Read(OPENING_SIZE), Send(handshake_reply() + protocol_reply()[:5]), Hold()),
                 "reading kXR_protocol reply from 127.0.0.1:{port}", id="half-then-silence"),
    pytest.param((Hold(),), "reading kXR_protocol reply from 127.0.0.1:{port}", id="silent"),
    pytest.param((Read(OPENING_SIZE), Send(handshake_reply() + frame(PROTOCOL_SID, 4005, struct.pack(">i", 60))),
                  Hold()),
                 "waiting 60s before retrying kXR_protocol as 127.0.0.1:{port} asked (kXR_wait)", id="kxr-wait"),
])
def test_silence_is_the_timeout_state_naming_the_stage(script: tuple[object, ...], stage: str) -> None:
    with running_hostile(*script) as server:  # type: ignore[arg-type]
        rc, lines, elapsed = probe(server.port, timeout=1)
        rc_crit, lines_crit, _ = probe(server.port, "--timeout-state", "critical", timeout=1)
    reason = f"timeout after 1s while {stage.format(port=server.port)}"
    assert rc == 3
    assert lines[0] == f"XROOTD UNKNOWN - 127.0.0.1:{server.port}: xrootd-protocol-string UNKNOWN: {reason}"
    assert lines[1].startswith(f"[UNKNOWN] xrootd-protocol-string: {reason} (deadline 2010-09-30")
    assert elapsed < 1 + 1
    assert rc_crit == 2 and lines_crit[0].startswith("XROOTD CRITICAL - ") and reason in lines_crit[0]


def test_login_that_hangs_still_reports_the_handshake(live_only: list[str]) -> None:
    script = (Read(OPENING_SIZE), Send(handshake_reply() + protocol_reply(0x511, 1)), Hold())
    with running_hostile(*script) as server:
        rc, lines, elapsed = probe(server.port, "-vv", *live_only)
    assert rc == 0, lines
    assert "xrootd protocol 5.1.1, role server (data server)" in lines[0]
    assert any(line.startswith("Qconfig not read: no answer within") and "reading kXR_login reply" in line
               for line in lines), lines
    assert elapsed < TIMEOUT + 1


def test_2010_redirector_that_echoes_unknown_qconfig_keys(live_only: list[str]) -> None:
    script = (Read(OPENING_SIZE), Send(handshake_reply(0x290, 0) + protocol_reply(0x290, 0)),
              Read(LOGIN_SIZE), Send(login_reply()),
              Read(QCONFIG_SIZE), Send(qconfig_reply("version\nmanager\n")), Close())
    with running_hostile(*script) as server:
        rc, lines, _ = probe(server.port, "-vv", "--role", "manager", *live_only)
    assert rc == 0, lines
    assert lines[0].startswith(f"XROOTD OK - 127.0.0.1:{server.port}: xrootd-door COMPLIANT: "
                               "xrootd protocol 2.9.0, role manager (redirector),")   # no ';' in the status text
    assert "protocol_version=20900;;;0" in lines[0]
    assert "Qconfig keys not supported by the server: version" in lines
    assert "kXR_query config: version=? role=manager" in lines
    assert bytes(server.received[0][OPENING_SIZE + LOGIN_SIZE + 24:]) == b"version role"


def test_server_requiring_authentication_is_not_queried(live_only: list[str]) -> None:
    script = (Read(OPENING_SIZE), Send(handshake_reply() + protocol_reply()),
              Read(LOGIN_SIZE), Send(login_reply("&P=gsi,v:10400,c:ssl&P=unix\0")), Hold())
    with running_hostile(*script) as server:
        rc, lines, elapsed = probe(server.port, "-vv", *live_only)
    assert rc == 0
    assert "server requires authentication (gsi, unix): Qconfig not queried" in lines
    assert elapsed < 1.5


def test_query_answered_with_kxr_error_is_a_note(live_only: list[str]) -> None:
    script = (Read(OPENING_SIZE), Send(handshake_reply() + protocol_reply()), Read(LOGIN_SIZE), Send(login_reply()),
              Read(QCONFIG_SIZE), Send(error_reply(QUERY_SID, 3010, "not allowed")), Close())
    with running_hostile(*script) as server:
        rc, lines, _ = probe(server.port, "-vv", *live_only)
    assert rc == 0
    assert "Qconfig not read: kXR_query failed: kXR_error 3010 kXR_NotAuthorized: not allowed" in lines


def test_connection_refused_is_unknown(live_only: list[str]) -> None:
    # Was CRITICAL (PENDING before the deadline): a refused door is an unreachable source.
    port = free_port()
    for extra in ([], ["--as-of", "2010-06-08"], live_only):
        rc, lines, elapsed = probe(port, "-v", *extra)
        assert rc == 3, lines
        milestone = "xrootd-door" if extra == live_only else "xrootd-protocol-string"
        assert lines[0].startswith(f"XROOTD UNKNOWN - 127.0.0.1:{port}: {milestone} UNKNOWN: "
                                   f"cannot connect to 127.0.0.1:{port}: connection refused"), lines
        assert "remediation" not in "".join(lines)
        assert elapsed < TIMEOUT + 1


def test_dns_failure_is_unknown(live_only: list[str]) -> None:
    rc, lines, elapsed = probe(1094, "--as-of", "2010-10-08", *live_only, host="no-such-door.invalid")
    assert rc == 3, lines
    # A resolver that does not answer at all is the timeout state (UNKNOWN too).
    assert (lines[0].startswith("XROOTD UNKNOWN - no-such-door.invalid:1094: xrootd-door UNKNOWN: "
                                "cannot resolve host no-such-door.invalid: ")
            or "timeout after 2s while resolving no-such-door.invalid" in lines[0]), lines
    assert elapsed < TIMEOUT + 1


def test_huge_reply_does_not_grow_memory() -> None:
    # The server announces 1 GiB and starts sending it; the client must stop at the header.
    flood = handshake_reply() + frame(PROTOCOL_SID, 0, dlen=1 << 30) + b"\xff" * (4 << 20)
    with running_hostile(Read(OPENING_SIZE), Send(flood), Close(), max_connections=2) as server:
        # A first run loads what name resolution imports (idna codecs) outside the measurement.
        with pytest.raises(xp.ProtocolError):
            client.probe("127.0.0.1", server.port, Deadline(5))
        tracemalloc.start()
        try:
            with pytest.raises(xp.ProtocolError, match="announces 1073741824 bytes"):
                client.probe("127.0.0.1", server.port, Deadline(5))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 64 * 1024


def test_trickling_server_cannot_outlive_the_deadline() -> None:
    # One byte every 0.2 s: each read succeeds, only the deadline stops the exchange.
    reply = handshake_reply() + protocol_reply()
    script = [Read(OPENING_SIZE)] + [step for byte in reply for step in (Send(bytes([byte])), Sleep(0.2))]
    with running_hostile(*script) as server:
        started = time.monotonic()
        with pytest.raises(CheckTimeout, match="reading kXR_protocol reply from 127.0.0.1"):
            client.probe("127.0.0.1", server.port, Deadline(1))
        assert time.monotonic() - started < 1.5


def test_short_kxr_wait_is_honoured_then_retried() -> None:
    wait = frame(PROTOCOL_SID, 4005, struct.pack(">i", 1) + b"starting up\0")
    script = (Read(OPENING_SIZE), Send(handshake_reply() + wait), Read(24), Send(protocol_reply(0x511, 2)), Hold())
    with running_hostile(*script) as server:
        started = time.monotonic()
        info = client.probe("127.0.0.1", server.port, Deadline(5), query=False)
        elapsed = time.monotonic() - started
    assert (info.protocol.version, info.role.kind) == ("5.1.1", "manager")
    assert 1 <= elapsed < 2.5
    # The retry is the kXR_protocol request alone, not another handshake; it says
    # kXR_ableTLS (flags byte 0x02) as the first one did.
    assert bytes(server.received[0][OPENING_SIZE:]) == xp.protocol_request(PROTOCOL_SID, 0x02)
    assert bytes(server.received[0][OPENING_SIZE - 24 + 8:OPENING_SIZE - 24 + 10]) == b"\x02\x03"


def test_redirect_of_kxr_protocol_is_a_failing_finding() -> None:
    redirect = frame(PROTOCOL_SID, 4004, struct.pack(">i", 1095) + b"elsewhere.example")
    with running_hostile(Read(OPENING_SIZE), Send(handshake_reply() + redirect), Close()) as server:
        rc, lines, _ = probe(server.port, "--as-of", "2010-10-08")
    assert rc == 2
    assert lines[0].endswith(f"OVERDUE: 127.0.0.1:{server.port}: redirected to elsewhere.example:1095 (kXR_redirect)")
