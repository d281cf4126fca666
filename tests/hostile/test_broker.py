"""Hostile inputs of ``gridready publish`` and ``consume``: one line, exit 3, no traceback, no hang.

Result files, spool entries, credentials and options come from outside; none
needs a broker to be refused (no broker listens on port 1).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from tests.hostile.runner import assert_clean, run
from tests.test_report_cli import probe_result

DEAD = "127.0.0.1:1"


def good(tmp: Path) -> str:
    path = tmp / "good.json"
    path.write_text(json.dumps(probe_result("pic", "xrootd", "d.pic.es:1094", "2010-06-08T10:00:00Z",
                                            ("xroot-protocol", "COMPLIANT", "ok", 20))))
    return str(path)


def publish(*args: str) -> tuple[str, ...]:
    return ("publish", "--broker", DEAD, "--destination", "/queue/x", "--retries", "1", "--backoff", "0",
            "--timeout", "2", *args)


def test_fifo_result_file_is_rejected_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    r = run("gridready", *publish("--spool", str(tmp_path / "s"), str(fifo)), timeout=20)
    assert_clean(r, 3, within=10, mentions=f"{fifo}: cannot read result file")


def test_control_characters_in_result_file_are_refused_escaped(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(probe_result("pic\x1b[2J", "xrootd", "h", "2010-06-08T10:00:00Z",
                                           ("xroot-protocol", "COMPLIANT", "ok", 20))))
    r = run("gridready", *publish("--spool", str(tmp_path / "s"), str(bad)), timeout=20)
    assert_clean(r, 3, within=10, mentions="holds control characters")


def test_corrupt_spool_entry_names_the_file(tmp_path: Path) -> None:
    spool = tmp_path / "s"
    spool.mkdir()
    (spool / "0000000000000001.msg").write_text('{"destination": 1}')
    r = run("gridready", *publish("--spool", str(spool), "--flush"), timeout=20)
    assert_clean(r, 3, within=10, mentions=f"{spool}/0000000000000001.msg: unreadable spooled message")


@pytest.mark.parametrize("entry", [
    {"destination": "/topic/x\nevil:1", "body": "x", "headers": {}},
    {"destination": "/topic/\u001b[31mx", "body": "x", "headers": {}},
    {"destination": "/topic/x", "body": "x", "headers": {"a\nb": "c"}},
    {"destination": "/topic/x", "body": "x", "headers": {"receipt": "1\u0000"}},
])
def test_spool_entry_with_control_characters_in_its_frame_is_not_sent(tmp_path: Path,
                                                                       entry: dict[str, object]) -> None:
    # A header or destination line break would inject headers or end the STOMP frame early.
    spool = tmp_path / "s"
    spool.mkdir()
    (spool / "0000000000000001.msg").write_text(json.dumps(entry))
    r = run("gridready", *publish("--spool", str(spool), "--flush"), timeout=20)
    assert_clean(r, 3, within=10, mentions="control characters in its destination or headers")
    assert (spool / "0000000000000001.msg").exists()    # left for a person to look at


def test_spool_that_is_a_file_is_refused(tmp_path: Path) -> None:
    spool = tmp_path / "s"
    spool.write_text("x")
    r = run("gridready", *publish("--spool", str(spool), good(tmp_path)), timeout=20)
    assert_clean(r, 3, within=10, mentions=str(spool))


def test_full_spool_is_an_error_naming_it(tmp_path: Path) -> None:
    spool = tmp_path / "s"
    r = run("gridready", *publish("--spool", str(spool), "--spool-max-messages", "0", good(tmp_path)),
            timeout=20)
    assert_clean(r, 3, within=10, mentions=f"{spool}: spool full")


@pytest.mark.parametrize("flag", ["--proxy", "--cert", "--capath"])
def test_fifo_credentials_fail_at_once(tmp_path: Path, flag: str) -> None:
    fifo = tmp_path / "cred.pem"
    os.mkfifo(fifo)
    r = run("gridready", *publish("--spool", str(tmp_path / "s"), flag, str(fifo), good(tmp_path)),
            timeout=20)
    assert_clean(r, 3, within=10, mentions=str(fifo))


@pytest.mark.parametrize("broker", ["host", "host:0", "host:99999", "a b:61613", "-x:1", "[::1]"])
def test_bad_broker_address(tmp_path: Path, broker: str) -> None:
    r = run("gridready", "publish", "--broker", broker, "--destination", "/queue/x", good(tmp_path))
    assert_clean(r, 3, within=10, mentions="--broker")


@pytest.mark.parametrize("dest", ["queue", "/queue/", "/queue/a\nb", "/exchange/x", "/queue/" + "a" * 300])
def test_bad_destination(tmp_path: Path, dest: str) -> None:
    r = run("gridready", "consume", "--broker", DEAD, "--destination", dest, "--db", str(tmp_path / "h.db"))
    assert_clean(r, 3, within=10, mentions="--destination")


def test_no_broker_without_spool_says_nothing_was_kept(tmp_path: Path) -> None:
    r = run("gridready", *publish(good(tmp_path)), timeout=20)
    assert_clean(r, 3, within=10, mentions="no --spool to keep them")
    assert f"no broker answered within 2 s (1 round): {DEAD}: TCP connect: Connection refused" in r.stderr


def test_consume_with_no_broker_is_one_line(tmp_path: Path) -> None:
    r = run("gridready", "consume", "--broker", DEAD, "--destination", "/queue/x", "--reconnects", "0",
            "--db", str(tmp_path / "h.db"), timeout=20)
    assert_clean(r, 3, within=10, mentions="no broker answered")
    assert not (tmp_path / "h.db").exists()


def test_consume_with_no_broker_creates_no_default_history(tmp_path: Path) -> None:
    # Before: ./gridready.db was created (empty) before the broker was tried, and a later
    # `gridready report` in that directory showed it instead of the example.
    r = run("gridready", "consume", "--broker", DEAD, "--destination", "/queue/x", "--reconnects", "0",
            cwd=tmp_path, timeout=20)
    assert_clean(r, 3, within=10, mentions="no broker answered")
    assert list(tmp_path.iterdir()) == []


# --- brokers that accept TCP and then misbehave: every wait ends by --timeout --------------------

from tests.servers.hostile import Close, Hold, Read, Send, Sleep, running_hostile  # noqa: E402

TRICKLE = tuple(step for _ in range(400) for step in (Send(b"\x00"), Sleep(0.1)))
HTTP = (Read(200, timeout=0.5), Send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
                                    b"Content-Length: 100000\r\n\r\n<html>"), Hold())
BEHAVIOURS = {"silent": (Hold(),), "trickle": TRICKLE, "http": HTTP,
              "newlines": tuple(step for _ in range(400) for step in (Send(b"\n"), Sleep(0.1)))}


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_publish_to_a_mute_broker_spools_within_timeout(tmp_path: Path, behaviour: str) -> None:
    spool = tmp_path / "s"
    with running_hostile(*BEHAVIOURS[behaviour]) as server:
        r = run("gridready", "publish", "--broker", f"127.0.0.1:{server.port}", "--destination", "/topic/x",
                "--timeout", "3", "--spool", str(spool), good(tmp_path), timeout=30)
    assert_clean(r, 1, within=3 + 3, mentions=f"127.0.0.1:{server.port}: STOMP CONNECTED frame: none within 3 s")
    assert r.stderr == ""
    assert r.stdout.count("\n") == 1 and "1 waiting in" in r.stdout
    assert len(list(spool.glob("*.msg"))) == 1     # nothing lost


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_publish_to_a_mute_broker_without_spool_is_one_line(tmp_path: Path, behaviour: str) -> None:
    with running_hostile(*BEHAVIOURS[behaviour]) as server:
        r = run("gridready", "publish", "--broker", f"127.0.0.1:{server.port}", "--destination", "/topic/x",
                "--timeout", "3", good(tmp_path), timeout=30)
    assert_clean(r, 3, within=3 + 3, mentions="STOMP CONNECTED frame: none within 3 s")
    assert r.stderr.count("\n") == 1 and f"127.0.0.1:{server.port}" in r.stderr


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_consume_from_a_mute_broker_ends_within_timeout(tmp_path: Path, behaviour: str) -> None:
    with running_hostile(*BEHAVIOURS[behaviour]) as server:
        r = run("gridready", "consume", "--broker", f"127.0.0.1:{server.port}", "--destination", "/topic/x",
                "--timeout", "3", "--db", str(tmp_path / "h.db"), timeout=30)
    assert_clean(r, 3, within=3 + 3, mentions=f"127.0.0.1:{server.port}: STOMP CONNECTED frame: none within 3 s")
    assert r.stderr.count("\n") == 1 and r.stdout == ""


def test_publish_default_retries_all_fit_in_timeout(tmp_path: Path) -> None:
    # Default --retries 3 --backoff 1: the rounds share the one --timeout, not 3 x --timeout.
    with running_hostile(Hold(), max_connections=8) as server:
        r = run("gridready", "publish", "--broker", f"127.0.0.1:{server.port}", "--broker", DEAD,
                "--destination", "/topic/x", "--timeout", "2", "--spool", str(tmp_path / "s"), good(tmp_path),
                timeout=30)
    assert_clean(r, 1, within=2 + 3, mentions=f"127.0.0.1:{server.port}: STOMP CONNECTED frame")
    assert "(1 round)" in r.stdout   # the silent broker used the whole budget: no second round


def test_broker_that_closes_at_once_names_the_stage(tmp_path: Path) -> None:
    with running_hostile(Close()) as server:
        r = run("gridready", "publish", "--broker", f"127.0.0.1:{server.port}", "--destination", "/topic/x",
                "--timeout", "3", "--retries", "1", good(tmp_path), timeout=30)
    assert_clean(r, 3, within=3 + 3,
                 mentions=f"127.0.0.1:{server.port}: STOMP CONNECTED frame: the broker closed the connection")


def test_error_frame_names_the_broker_and_is_escaped(tmp_path: Path) -> None:
    frame = b"ERROR\nmessage:bad login \x1b[2J\n\nno\x00"
    with running_hostile(Read(500, timeout=0.5), Send(frame), Hold()) as server:
        r = run("gridready", "consume", "--broker", f"127.0.0.1:{server.port}", "--destination", "/topic/x",
                "--timeout", "3", "--reconnects", "0", "--db", str(tmp_path / "h.db"), timeout=30)
    assert_clean(r, 3, within=3 + 3, mentions="STOMP CONNECTED frame: broker refused: bad login \\x1b[2J")


def test_refused_broker_is_one_line_no_stomp_log(tmp_path: Path) -> None:
    r = run("gridready", "publish", "--broker", DEAD, "--destination", "/topic/x", "--timeout", "3",
            good(tmp_path), timeout=30)
    assert_clean(r, 3, within=3 + 3, mentions=f"{DEAD}: TCP connect: Connection refused")
    assert r.stderr.count("\n") == 1, r.stderr
    assert "could not connect" not in r.stderr


def test_stomp_log_shown_with_debug(tmp_path: Path) -> None:
    r = run("gridready", "--debug", "publish", "--broker", DEAD, "--destination", "/topic/x", "--timeout", "3",
            "--retries", "1", good(tmp_path), timeout=30)
    assert r.code == 3 and "stomp.py: could not connect to host 127.0.0.1, port 1" in r.stderr, r.output


@pytest.mark.parametrize("command", ["publish", "consume"])
def test_fifo_password_file_is_refused_before_any_connection(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "pw"
    os.mkfifo(fifo)
    with running_hostile(Hold()) as server:
        extra = (good(tmp_path),) if command == "publish" else ("--db", str(tmp_path / "h.db"))
        r = run("gridready", command, "--broker", f"127.0.0.1:{server.port}", "--destination", "/topic/x",
                "--user", "u", "--password-file", str(fifo), "--timeout", "3", *extra, timeout=30)
        connections = server.connections
    assert_clean(r, 3, within=3, mentions=f"{fifo}: cannot read password file: a FIFO")
    assert connections == 0


@pytest.mark.parametrize("flag", ["--proxy", "--cert", "--capath"])
def test_bad_tls_file_is_refused_before_any_connection(tmp_path: Path, flag: str) -> None:
    notpem = tmp_path / "cred.pem"
    notpem.write_text("hello\n")
    with running_hostile(Hold()) as server:
        r = run("gridready", "consume", "--broker", f"127.0.0.1:{server.port}", "--destination", "/topic/x",
                flag, str(notpem), "--timeout", "3", "--db", str(tmp_path / "h.db"), timeout=30)
        connections = server.connections
    assert_clean(r, 3, within=3, mentions=f"{notpem}")
    assert connections == 0


def _messages(count: int, ack_bytes: int) -> bytes:
    # Results no parser accepts, so each is rejected (no database write) and ACKed with an
    # ack id of ``ack_bytes``: the ACKs fill the socket buffers of a broker that stopped reading.
    return b"".join(b"MESSAGE\nsubscription:gridready\nmessage-id:m%d\ndestination:/queue/x\nack:%s%d\n"
                    b"content-length:3\n\nbad\x00" % (i, b"a" * ack_bytes, i) for i in range(count))


@pytest.mark.parametrize("reject", [(), ("--reject-destination", "/queue/dead")], ids=["ack", "reject-send"])
def test_consume_from_a_broker_that_stops_reading_acks_ends_within_timeout(tmp_path: Path,
                                                                          reject: tuple[str, ...]) -> None:
    # Before: the first ACK that found the socket buffer full blocked consume for good
    # (stomp.py leaves a plain socket without a timeout). Now the write times out after
    # --timeout, the link is cut, and the reconnect (refused here) ends the run.
    script = (Read(4096, timeout=0.5), Send(b"CONNECTED\nversion:1.2\n\n\x00"), Read(4096, timeout=0.5),
              Send(_messages(3000, 2000)), Hold())
    with running_hostile(*script, max_connections=1) as server:
        r = run("gridready", "consume", "--broker", f"127.0.0.1:{server.port}", "--destination", "/queue/x",
                "--timeout", "2", "--reconnects", "0", "--db", str(tmp_path / "h.db"), *reject, timeout=45)
    assert "Traceback" not in r.output
    assert r.seconds < 20, r.seconds
    assert r.code == 3, (r.code, r.stderr[-2000:])
    lines = r.stderr.splitlines()
    stalled = [line for line in lines if line.startswith(("gridready consume: could not acknowledge m",
                                                          "gridready consume: could not pass m"))]
    assert len(stalled) == 1 and stalled[0].endswith(f"[Errno {errno.EAGAIN}] {os.strerror(errno.EAGAIN)}"), \
        stalled[:3]
    # The frames prefetched behind the stalled ACK are left to redelivery, not worked through.
    assert r.stderr.count("gridready consume: rejected ") < 3000
    assert "connection to the broker lost; reconnecting" in r.stderr
    assert lines[-1].startswith("gridready: ") and f"127.0.0.1:{server.port}" in lines[-1], lines[-1]


@pytest.mark.parametrize("frame", [
    b"MESSAGE\nsubscription:gridready\ndestination:/queue/x\ncontent-length:3\n\nbad\x00",
    b"MESSAGE\nsubscription:gridready\ndestination:/queue/x\nack:\nmessage-id:\ncontent-length:3\n\nbad\x00",
], ids=["no-headers", "empty-headers"])
def test_a_message_without_an_ack_id_is_named_not_a_python_error(tmp_path: Path, frame: bytes) -> None:
    # Before: "could not acknowledge None: 'id' is required", then a pointless reconnect.
    script = (Read(4096, timeout=0.5), Send(b"CONNECTED\nversion:1.2\n\n\x00"), Read(4096, timeout=0.5),
              Send(frame), Hold())
    with running_hostile(*script, max_connections=1) as server:
        r = run("gridready", "consume", "--broker", f"127.0.0.1:{server.port}", "--destination", "/queue/x",
                "--timeout", "2", "--max-messages", "1", "--db", str(tmp_path / "h.db"), timeout=30)
    assert_clean(r, 0, within=10)
    assert "gridready consume: a message from /queue/x has no ack or message-id header: it cannot be " \
           "acknowledged" in r.stderr.splitlines()
    assert "None" not in r.stderr and "reconnecting" not in r.stderr
    assert r.stdout == "consumed 1 message: 0 stored, 0 already stored, 1 rejected\n"
