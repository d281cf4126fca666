"""Hostile inputs of ``gridready publish`` and ``consume``: one line, exit 3, no traceback, no hang.

Result files, spool entries, credentials and options come from outside; none
needs a broker to be refused (no broker listens on port 1).
"""

from __future__ import annotations

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
    assert f"no broker answered ({DEAD}) after 1 attempts" in r.stderr


def test_consume_with_no_broker_is_one_line(tmp_path: Path) -> None:
    r = run("gridready", "consume", "--broker", DEAD, "--destination", "/queue/x", "--reconnects", "0",
            "--db", str(tmp_path / "h.db"), timeout=20)
    assert_clean(r, 3, within=10, mentions="no broker answered")
