"""publish -> real ActiveMQ -> consume: every result stored exactly once, whatever fails in between.

One broker per module (tests/servers/activemq.py); each test uses its own
queue. The consumer runs as its own process, as in production, so it can be
killed with SIGKILL mid-stream.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gridready.cli import main
from tests.servers.activemq import ActiveMQ, activemq_fixture
from tests.test_report_cli import probe_result

amq = activemq_fixture()
CONSUME_CODE = "import sys; from gridready.cli import main; sys.exit(main(sys.argv[1:]))"


def results(tmp: Path, count: int, prefix: str = "r") -> list[str]:
    """``count`` distinct result files (distinct host and second), returned in order."""
    folder = tmp / f"in-{prefix}"
    folder.mkdir()
    paths = []
    for i in range(count):
        data = probe_result(f"SITE-{i % 7}", "xrootd", f"{prefix}{i}.example:1094",
                            f"2010-06-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                            ("xroot-protocol", "COMPLIANT", "xroot published", 20))
        path = folder / f"{i:06d}.json"
        path.write_text(json.dumps(data))
        paths.append(str(path))
    return paths


def publish(broker: ActiveMQ, queue: str, *args: str) -> int:
    return main(["publish", "--broker", broker.address, "--destination", queue, "--retries", "1",
                 "--backoff", "0", "--timeout", "5", *args])


def consumer(broker: ActiveMQ, queue: str, db: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CONSUME_CODE, "consume", "--broker", broker.address,
                             "--destination", queue, "--db", str(db), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def stored_so_far(db: Path) -> list[tuple[str, str, str]]:
    """``stored`` while the consumer may still be creating the database (file there, tables not yet)."""
    try:
        return stored(db) if db.exists() else []
    except sqlite3.OperationalError:
        return []


def stored(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT site, host, checked_at FROM results ORDER BY host").fetchall()


def test_ten_thousand_results_stored_exactly_once(amq: ActiveMQ, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    paths = results(tmp_path, 10_000)
    db = tmp_path / "h.db"
    proc = consumer(amq, "/queue/t.bulk", db, "--idle-exit", "3")
    started = time.monotonic()
    assert publish(amq, "/queue/t.bulk", *paths) == 0
    assert capsys.readouterr().out == f"published 10000 messages to {amq.address}\n"
    code, out, err = finish(proc)
    assert (code, err) == (0, "")
    assert out == "consumed 10000 messages: 10000 stored, 0 already stored, 0 rejected\n"
    rows = stored(db)
    assert len(rows) == 10_000 and len(set(rows)) == 10_000
    assert time.monotonic() - started < 60


def test_consumer_killed_mid_stream_and_restarted_stores_each_once(amq: ActiveMQ, tmp_path: Path) -> None:
    paths = results(tmp_path, 2000)
    db = tmp_path / "h.db"
    assert publish(amq, "/queue/t.kill", *paths) == 0
    proc = consumer(amq, "/queue/t.kill", db)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(stored_so_far(db)) < 300:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    partial = len(stored(db))
    assert 300 <= partial < 2000
    code, out, err = finish(consumer(amq, "/queue/t.kill", db, "--idle-exit", "3"))
    assert code == 0, err
    rows = stored(db)
    assert len(rows) == 2000 and len(set(rows)) == 2000
    # What was stored but not yet acknowledged came back and was recognised.
    assert out.startswith("consumed ") and " 0 rejected" in out


def test_broker_down_results_spooled_then_delivered(amq: ActiveMQ, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    paths = results(tmp_path, 50)
    spool = tmp_path / "spool"
    db = tmp_path / "h.db"
    amq.stop()
    try:
        assert publish(amq, "/queue/t.spool", "--spool", str(spool), *paths[:30]) == 1
        err = capsys.readouterr()
        assert f"published 0 messages to {amq.address}; 30 waiting in {spool}" in err.out
        assert sorted(os.listdir(spool)) == [".lock"] + [f"{i:016d}.msg" for i in range(1, 31)]
    finally:
        amq.start()
    # The next run sends the spool first, then its own results.
    assert publish(amq, "/queue/t.spool", "--spool", str(spool), *paths[30:]) == 0
    assert capsys.readouterr().out == f"published 50 messages to {amq.address}\n"
    assert os.listdir(spool) == [".lock"]
    code, out, err = finish(consumer(amq, "/queue/t.spool", db, "--max-messages", "50"))
    assert (code, out) == (0, "consumed 50 messages: 50 stored, 0 already stored, 0 rejected\n"), err
    assert len(stored(db)) == 50


def test_flush_sends_the_spool(amq: ActiveMQ, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = results(tmp_path, 5)
    spool = tmp_path / "spool"
    amq.stop()
    try:
        assert publish(amq, "/queue/t.flush", "--spool", str(spool), *paths) == 1
    finally:
        amq.start()
    capsys.readouterr()
    assert publish(amq, "/queue/t.flush", "--spool", str(spool), "--flush") == 0
    assert capsys.readouterr().out == f"published 5 messages to {amq.address}\n"
    code, out, _ = finish(consumer(amq, "/queue/t.flush", tmp_path / "h.db", "--max-messages", "5"))
    assert out == "consumed 5 messages: 5 stored, 0 already stored, 0 rejected\n"


def send_raw(broker: ActiveMQ, queue: str, bodies: list[Any]) -> None:
    import stomp
    conn = stomp.Connection12([(broker.host, broker.port)])
    conn.connect(wait=True)
    for i, body in enumerate(bodies):
        conn.send(queue, body, headers={"persistent": "true", "receipt": f"x{i}"})
    time.sleep(0.5)
    conn.disconnect()


def test_malformed_and_hostile_messages_rejected_rest_delivered(amq: ActiveMQ, tmp_path: Path) -> None:
    good = [json.dumps(probe_result("pic", "xrootd", f"d{i}.pic.es:1094", "2010-06-08T10:00:00Z",
                                    ("xroot-protocol", "COMPLIANT", "ok", 20))) for i in range(3)]
    malformed = '{"schema": "gridready.result/1", '
    hostile = json.dumps(probe_result("pic\x1b[2J", "xrootd", "h", "2010-06-08T10:00:00Z",
                                      ("xroot-protocol", "COMPLIANT", "ok", 20)))
    deep = "[" * 100000 + "]" * 100000
    future = json.dumps(probe_result("pic", "xrootd", "f.pic.es", "2999-01-01T00:00:00Z",
                                     ("xroot-protocol", "COMPLIANT", "ok", 20)))
    send_raw(amq, "/queue/t.bad", [good[0], malformed, hostile, good[1], deep, future, good[2], good[1]])
    db = tmp_path / "h.db"
    code, out, err = finish(consumer(amq, "/queue/t.bad", db, "--max-messages", "8",
                                     "--reject-destination", "/queue/t.bad.dlq"))
    assert code == 0
    assert out == "consumed 8 messages: 3 stored, 1 already stored, 4 rejected\n"
    lines = err.splitlines()
    assert len(lines) == 4 and all(line.startswith("gridready consume: rejected /queue/t.bad message ")
                                   for line in lines), err
    assert "invalid JSON" in lines[0]
    assert "\x1b" not in err and "holds control characters" in lines[1]
    assert "nested deeper than" in lines[2]
    assert "in the future" in lines[3]
    assert sorted(h for _, h, _ in stored(db)) == ["d0.pic.es:1094", "d1.pic.es:1094", "d2.pic.es:1094"]
    # The rejected bodies wait in the dead-letter queue, the main queue is empty.
    code, out, _ = finish(consumer(amq, "/queue/t.bad.dlq", tmp_path / "dlq.db", "--max-messages", "4"))
    assert out == "consumed 4 messages: 0 stored, 0 already stored, 4 rejected\n"
    code, out, _ = finish(consumer(amq, "/queue/t.bad", tmp_path / "empty.db", "--idle-exit", "1"))
    assert out == "consumed 0 messages: 0 stored, 0 already stored, 0 rejected\n"


def test_sigterm_stops_cleanly(amq: ActiveMQ, tmp_path: Path) -> None:
    proc = consumer(amq, "/queue/t.term", tmp_path / "h.db")
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc, 15)
    assert (code, out, err) == (0, "consumed 0 messages: 0 stored, 0 already stored, 0 rejected\n", "")
