"""A probe hands its result to the publisher with no shell: check_* --spool DIR, then
`gridready publish --flush` to a real ActiveMQ, then `gridready consume` stores it exactly once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gridready.cli import main
from tests.helpers import REPO, run_py
from tests.servers.activemq import ActiveMQ, activemq_fixture
from tests.test_broker_e2e import consumer, finish

amq = activemq_fixture()
PROBE = REPO / "probes" / "check_fts_channels"
EXAMPLES = REPO / "config" / "example" / "fts"


def flush(broker: ActiveMQ, spool: Path, *args: str) -> int:
    return main(["publish", "--flush", "--spool", str(spool), "--broker", broker.address, "--retries", "1",
                 "--backoff", "0", "--timeout", "5", *args])


def fts_probe(site: str, spool: Path) -> tuple[int, str]:
    done = run_py(PROBE, "--channel-list", str(EXAMPLES / f"{site}.txt"), "--site", site, "--as-of", "2010-06-08",
                  "--spool", str(spool))
    assert done.stderr == ""
    return done.returncode, done.stdout


def test_probe_spool_publish_consume_exactly_once(amq: ActiveMQ, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    spool = tmp_path / "spool"
    assert fts_probe("FZK-LCG2", spool)[0] == 1          # WARNING: the drained channel, overdue
    assert fts_probe("RAL-LCG2", spool)[0] == 0
    [fzk_entry, _] = sorted(spool.glob("*.msg"))
    handed = json.loads(json.loads(fzk_entry.read_text())["body"])
    # The same result handed off twice (a probe re-run by hand, a restored backup): stored once.
    (spool / "0000000000000003.msg").write_bytes(fzk_entry.read_bytes())
    db = tmp_path / "h.db"
    proc = consumer(amq, "/queue/t.probe", db, "--idle-exit", "3")
    capsys.readouterr()
    assert flush(amq, spool, "--destination", "/queue/t.probe") == 0
    assert capsys.readouterr().out == f"published 3 messages to {amq.address}\n"
    assert list(spool.glob("*.msg")) == []
    code, out, err = finish(proc)
    assert (code, err) == (0, "")
    assert out == "consumed 3 messages: 2 stored, 1 already stored, 0 rejected\n"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT site, check_name, host, state, checked_at, origin FROM results ORDER BY site")
        assert rows.fetchall() == [
            ("FZK-LCG2", "fts_channels", str(EXAMPLES / "FZK-LCG2.txt"), "WARNING", handed["checked_at"], "consume"),
            ("RAL-LCG2", "fts_channels", str(EXAMPLES / "RAL-LCG2.txt"), "OK", rows_checked(db, "RAL-LCG2"),
             "consume")]
    # Nothing left: a second flush sends nothing.
    assert flush(amq, spool, "--destination", "/queue/t.probe") == 0
    assert capsys.readouterr().out == f"published 0 messages to {amq.address}\n"


def rows_checked(db: Path, site: str) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT checked_at FROM results WHERE site = ?", (site,)).fetchone()[0])


def test_a_handed_off_result_goes_to_both_destinations_and_waits_for_both(amq: ActiveMQ, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    spool = tmp_path / "spool"
    assert fts_probe("FZK-LCG2", spool)[0] == 1
    capsys.readouterr()
    # No broker: the entry stays as it was, addressed by nobody, for the next flush.
    assert main(["publish", "--flush", "--spool", str(spool), "--broker", "127.0.0.1:1", "--retries", "1",
                 "--backoff", "0", "--timeout", "2", "--destination", "/queue/t.both",
                 "--metric-destination", "/queue/t.metric"]) == 1
    [entry] = spool.glob("*.msg")
    assert json.loads(entry.read_text())["destination"] == ""
    capsys.readouterr()
    db = tmp_path / "h.db"
    proc = consumer(amq, "/queue/t.both", db, "--idle-exit", "3")
    assert flush(amq, spool, "--destination", "/queue/t.both", "--metric-destination", "/queue/t.metric",
                 "--vo", "ops") == 0
    assert capsys.readouterr().out == f"published 2 messages to {amq.address}\n"
    assert list(spool.glob("*.msg")) == []
    code, out, err = finish(proc)
    assert (code, out, err) == (0, "consumed 1 message: 1 stored, 0 already stored, 0 rejected\n", "")
    metric = consumer(amq, "/queue/t.metric", tmp_path / "m.db", "--idle-exit", "3")
    code, out, err = finish(metric)
    # metricOutput is not gridready.result/1: the JSON consumer rejects it, which shows it arrived as metricOutput.
    assert code == 0 and out == "consumed 1 message: 0 stored, 0 already stored, 1 rejected\n"
    assert "/queue/t.metric message" in err


def test_a_corrupt_handed_off_entry_is_named(amq: ActiveMQ, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    (spool / "0000000000000001.msg").write_text(json.dumps({"destination": "", "headers": {}, "body": "{\"a\": 1}"}))
    assert flush(amq, spool, "--destination", "/queue/t.bad") == 3
    err = capsys.readouterr().err
    assert err.startswith(f"gridready: unreadable spooled message: {spool}/0000000000000001.msg: ")
    assert len(err.splitlines()) == 1
    assert (spool / "0000000000000001.msg").exists()
