"""The SQLite history: outcomes, latest-per-target, durability and concurrent writers."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from gridready.checks.interface import Assessment, Finding, PerfValue, Severity
from gridready.compliance import Compliance, Outcome, State
from gridready.errors import SourceError
from gridready.result import MilestoneResult, ProbeResult, read_result
from gridready.store import Store, StoreError, StoredOutcome, outcome_from_compliance, outcomes_of
from tests.helpers import REPO, write


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)


def milestone(compliance: Compliance, message: str = "published as 'root'", days_left: int = -8,
              waiver: dict[str, str] | None = None, mid: str = "xrootd-protocol-string") -> MilestoneResult:
    return MilestoneResult(id=mid, compliance=compliance, deadline=date(2010, 9, 30), days_left=days_left,
                           message=message, waiver=waiver, remediation="publish xroot" if compliance in (
                               Compliance.DUE, Compliance.OVERDUE, Compliance.PENDING, Compliance.WAIVED) else "")


def result(site: str = "RAL-LCG2", host: str | None = "door.example:1094", when: str = "2010-06-08 10:00",
           *milestones: MilestoneResult, check: str = "xrootd") -> ProbeResult:
    ms = list(milestones) or [milestone(Compliance.COMPLIANT, "published as 'xroot'", 114)]
    return ProbeResult(check=check, site=site, host=host, state=max(m.state for m in ms), summary="summary",
                       checked_at=at(when), milestones=ms, perfdata=[PerfValue("handshake_ms", 4.2, "ms")],
                       details=["detail"])


@pytest.mark.parametrize("compliance, state_days, outcome, severity", [
    (Compliance.COMPLIANT, 5, Outcome.PASS, Severity.CRITICAL),
    (Compliance.PENDING, 50, Outcome.FAIL, Severity.CRITICAL),
    (Compliance.DUE, 5, Outcome.FAIL, Severity.CRITICAL),       # before the deadline: severity not visible
    (Compliance.DUE, -3, Outcome.FAIL, Severity.WARNING),       # DUE after the deadline: the degraded cap
    (Compliance.OVERDUE, -3, Outcome.FAIL, Severity.CRITICAL),
    (Compliance.WAIVED, -3, Outcome.FAIL, Severity.CRITICAL),
    (Compliance.NOT_APPLICABLE, 5, Outcome.NOT_APPLICABLE, Severity.CRITICAL),
    (Compliance.UNKNOWN, 5, Outcome.UNKNOWN, Severity.CRITICAL),
])
def test_outcome_derived_from_ingested_compliance(compliance: Compliance, state_days: int, outcome: Outcome,
                                                  severity: Severity) -> None:
    got = outcome_from_compliance(milestone(compliance, "why", state_days))
    assert (got.outcome, got.severity, got.message, got.compliance) == (outcome, severity, "why", compliance)


def test_waiver_notes_are_stripped_so_they_can_be_re_derived() -> None:
    waived = milestone(Compliance.WAIVED, "published as 'root'; waived until 2010-08-31: dCache upgrade",
                       waiver={"reason": "dCache upgrade", "expires": "2010-08-31"})
    assert outcome_from_compliance(waived).message == "published as 'root'"
    expired = milestone(Compliance.OVERDUE, "published as 'root'; waiver expired 2010-08-31")
    assert outcome_from_compliance(expired).message == "published as 'root'"
    plain = milestone(Compliance.OVERDUE, "published as 'root'; waiver expired soon, says the site")
    assert outcome_from_compliance(plain).message == plain.message


def test_known_outcome_gives_exact_severity_before_the_deadline() -> None:
    drained = MilestoneResult(id="fts", compliance=Compliance.PENDING, deadline=date(2010, 3, 31), days_left=58,
                              message="drained", remediation="set Active", outcome=Outcome.FAIL,
                              severity=Severity.WARNING)
    na = MilestoneResult(id="fts2", compliance=Compliance.NOT_APPLICABLE, deadline=date(2010, 3, 31),
                         days_left=58, message="no FTS", outcome=Outcome.NOT_APPLICABLE)
    r = result("FZK-LCG2", "fts", "2010-02-01 10:00", drained, na)
    # Through the JSON a site sends: outcome and severity survive ingest.
    r = ProbeResult.from_json(json.loads(json.dumps(r.to_json())), "sent.json")
    [o, n] = outcomes_of(r)
    assert (o.outcome, o.severity, o.message, o.remediation) == (Outcome.FAIL, Severity.WARNING, "drained",
                                                                 "set Active")
    assert (n.outcome, n.message) == (Outcome.NOT_APPLICABLE, "no FTS")


def test_latest_per_site_milestone_and_target(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        fail = milestone(Compliance.PENDING, "published as 'root'", 100)
        store.add(result("RAL-LCG2", "a:1094", "2010-06-01 10:00", fail))
        store.add(result("RAL-LCG2", "a:1094", "2010-06-08 10:00"))          # newer: replaces the failure
        store.add(result("RAL-LCG2", "b:1094", "2010-06-02 10:00", fail))    # another door: kept
        store.add(result("ral-lcg2", "b:1094", "2010-06-01 09:00"))          # older, site name in other case
        store.add(result("pic", "c:1094", "2010-06-03 10:00"))
        latest = store.latest()
        assert [(r.site, r.target, r.outcome.outcome, r.checked_at.day) for r in latest] == [
            ("RAL-LCG2", "a:1094", Outcome.PASS, 8), ("RAL-LCG2", "b:1094", Outcome.FAIL, 2),
            ("pic", "c:1094", Outcome.PASS, 3)]
        before = store.latest(before=at("2010-06-02 00:00"))
        assert [(r.site, r.target, r.outcome.outcome, r.checked_at.day) for r in before] == [
            ("RAL-LCG2", "a:1094", Outcome.FAIL, 1), ("ral-lcg2", "b:1094", Outcome.PASS, 1)]
        assert store.count() == 5


def test_a_repeated_result_is_stored_once_and_the_first_stays(tmp_path: Path) -> None:
    # Was "the later insert wins": a store unique on (site, check, target, checked_at) keeps the first.
    with Store(tmp_path / "h.db") as store:
        assert store.add(result("pic", "a", "2010-06-08 10:00", milestone(Compliance.PENDING, "x", 100))) is True
        assert store.add(result("pic", "a", "2010-06-08 10:00")) is False
        assert store.add(result("PIC", "a", "2010-06-08 10:00")) is False           # site name casefolded
        assert store.add(result("pic", "a", "2010-06-08 10:00", check="dcache_version")) is True
        assert store.add(result("pic", "b", "2010-06-08 10:00")) is True
        assert store.add(result("pic", "a", "2010-06-08 10:01")) is True
        assert store.count() == 4
        assert store._db.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 4
        assert store._db.execute(
            "SELECT o.outcome, o.message FROM outcomes o JOIN results r ON r.id = o.result_id"
            " WHERE r.check_name = 'xrootd' AND r.target = 'a' AND r.checked_at = '2010-06-08T10:00:00Z'"
        ).fetchall() == [("fail", "x")]


def test_results_round_trip_for_export(tmp_path: Path) -> None:
    original = result("RAL-LCG2", "a:1094", "2010-06-08 10:00", milestone(Compliance.OVERDUE))
    original.timeout = "reading the reply"
    with Store(tmp_path / "h.db") as store:
        store.add(original, origin="ingest", source="x.json")
        store.add(result("pic", "b", "2010-06-01 10:00"))
        [back] = store.results(since=at("2010-06-05 00:00"))
        assert len(store.results()) == 2
    assert back.to_json() == original.to_json()
    assert back.timeout == "reading the reply"


def test_a_result_without_site_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store, pytest.raises(StoreError, match="without a site"):
        store.add(result(site=""))


def test_bad_database_files_name_the_file(tmp_path: Path) -> None:
    junk = write(tmp_path / "junk.db", "this is not sqlite, " * 100)
    with pytest.raises(StoreError, match=f"^{junk}: not a gridready history database"):
        Store(junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match=r"other.db: not a gridready history database \(an SQLite database "
                                         r"with other tables: t; left unchanged\)"):
        Store(other, create=False)
    with pytest.raises(StoreError, match="missing.db: no such history database"):
        Store(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_wal_mode_and_schema(tmp_path: Path) -> None:
    Store(tmp_path / "h.db").close()
    db = sqlite3.connect(tmp_path / "h.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == "gridready.store/1"


def test_read_result_rejects_bad_files(tmp_path: Path) -> None:
    good = result().to_json()
    assert read_result(write(tmp_path / "ok.json", json.dumps(good))).site == "RAL-LCG2"
    cases = {
        "missing.json": None,
        "garbage.json": "{not json",
        "list.json": "[]",
        "nosite.json": json.dumps({**good, "site": None}),
        "badstate.json": json.dumps({**good, "state": "GREEN"}),
        "binary.json": b"\xff\xfe\x00",
        # the ingest range checks apply
        "future.json": json.dumps({**good, "checked_at": "2999-01-01T00:00:00Z"}),
        "huge.json": " " * (4 * 1024 * 1024 + 1),
    }
    messages = {}
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        with pytest.raises(SourceError) as info:
            read_result(path)
        messages[name] = str(info.value)
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
    assert "cannot read" in messages["missing.json"]
    assert "invalid JSON at line 1" in messages["garbage.json"]
    assert "expected a JSON object, got list" in messages["list.json"]
    assert "checked_at 2999-01-01T00:00:00Z is in the future" in messages["future.json"]
    assert "larger than" in messages["huge.json"]
    assert "'site' is missing" in messages["nosite.json"]
    assert "bad value" in messages["badstate.json"]
    assert "not UTF-8" in messages["binary.json"]


WRITER = """
import sys
from datetime import datetime, timezone
from gridready.compliance import Compliance
from gridready.result import MilestoneResult, ProbeResult
from gridready.store import Store
import time

path, name, count, crash_after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with Store(path) as store:
    for i in range(count):
        if i == crash_after:
            print("crashing", flush=True)
            time.sleep(60)   # killed here, mid-sweep
        m = MilestoneResult("m", Compliance.COMPLIANT, datetime(2010, 9, 30).date(), 10, "ok")
        r = ProbeResult("xrootd", name, f"door{i}", m.state, "ok",
                        datetime(2010, 6, 8, 10, 0, tzinfo=timezone.utc), [m])
        store.add(r)
print("done", flush=True)
"""


def _writer(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    script = write(tmp_path / "writer.py", WRITER)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True, env=env)


def test_two_writers_at_once_do_not_corrupt(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    writers = [_writer(tmp_path, db, f"SITE{n}", "150", "-1") for n in range(2)]
    try:
        outs = [w.communicate(timeout=60)[0] for w in writers]
    finally:
        for w in writers:
            w.kill()
    assert [w.returncode for w in writers] == [0, 0] and outs == ["done\n", "done\n"]
    with Store(db) as store:
        assert store.count() == 300
        assert len(store.latest()) == 300
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_crash_loses_no_committed_result(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    writer = _writer(tmp_path, db, "SITE", "10", "7")
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "crashing\n"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        writer.kill()
    assert writer.returncode == -signal.SIGKILL
    with Store(db) as store:
        assert store.count() == 7
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_stored_outcome_assessment_reconstruction() -> None:
    assert StoredOutcome("m", Outcome.PASS, "fine").assessment() == Assessment(
        (Finding(True, "fine"),), summary="fine")
    failed = StoredOutcome("m", Outcome.FAIL, "bad", Severity.WARNING, "fix it").assessment()
    assert isinstance(failed, Assessment) and (failed.passed, failed.severity, failed.message,
                                               failed.remediation) == (False, Severity.WARNING, "bad", "fix it")
    assert StoredOutcome("m", Outcome.UNKNOWN, "timeout after 2s while connecting").assessment() == \
        "timeout after 2s while connecting"
    na = StoredOutcome("m", Outcome.NOT_APPLICABLE, "no door").assessment()
    assert isinstance(na, Assessment) and not na.applicable and na.message == "no door"


def test_state_names_stored(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        store.add(result("pic", "a", "2010-06-08 10:00", milestone(Compliance.OVERDUE)))
    row = sqlite3.connect(tmp_path / "h.db").execute("SELECT state, target FROM results").fetchone()
    assert row == (State.CRITICAL.name, "a")



def test_history_from_before_the_latest_index_is_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    fail = milestone(Compliance.PENDING, "published as 'root'", 100)
    with Store(path) as store:
        store.add(result("RAL-LCG2", "a:1094", "2010-06-01 10:00", fail))
        store.add(result("RAL-LCG2", "a:1094", "2010-06-08 10:00"))
        store.add(result("pic", "c:1094", "2010-06-03 10:00", fail))
        expected = [(r.site, r.target, r.outcome.outcome, r.checked_at) for r in store.latest()]
        before = [(r.site, r.outcome.outcome) for r in store.latest(before=at("2010-06-05 00:00"))]
    assert before == [("RAL-LCG2", Outcome.FAIL), ("pic", Outcome.FAIL)]
    db = sqlite3.connect(path)
    with db:
        db.execute("DROP TABLE latest")   # as a database written before the index existed
    db.close()
    with Store(path) as store:
        assert [(r.site, r.target, r.outcome.outcome, r.checked_at) for r in store.latest()] == expected
        assert [(r.site, r.outcome.outcome) for r in store.latest(before=at("2010-06-05 00:00"))] == before


# --- as of a past date: only what was known then -------------------------------------------------------

def xroot(compliance: Compliance, message: str) -> MilestoneResult:
    return milestone(compliance, message, 100)


def as_of_history(tmp_path: Path, *dated: tuple[str, Compliance, str]) -> Store:
    store = Store(tmp_path / "h.db")
    for when, compliance, message in dated:
        store.add(result("FZK-LCG2", "door.fzk:1094", when, xroot(compliance, message)))
    return store


def picked(store: Store, day: str) -> list[tuple[str, str]]:
    return [(r.outcome.message, f"{r.checked_at:%Y-%m-%d %H:%M:%S}") for r in store.as_of(date.fromisoformat(day))]


def test_as_of_a_past_date_uses_the_result_known_then(tmp_path: Path) -> None:
    # Bug: --as-of 2010-05-15 showed FZK compliant in May from a June result.
    with as_of_history(tmp_path, ("2010-05-10 10:00", Compliance.PENDING, "published as 'root' (May)"),
                       ("2010-06-08 10:00", Compliance.COMPLIANT, "published as 'xroot' (June)")) as store:
        assert picked(store, "2010-05-15") == [("published as 'root' (May)", "2010-05-10 10:00:00")]
        assert picked(store, "2010-06-08") == [("published as 'xroot' (June)", "2010-06-08 10:00:00")]
        assert picked(store, "2010-06-07") == [("published as 'root' (May)", "2010-05-10 10:00:00")]
        assert picked(store, "2010-05-09") == []                 # nothing known yet: no record, UNKNOWN later
        assert picked(store, "2011-01-01") == [("published as 'xroot' (June)", "2010-06-08 10:00:00")]


def test_as_of_includes_the_whole_day_utc_and_nothing_after(tmp_path: Path) -> None:
    with as_of_history(tmp_path, ("2010-05-10 10:00", Compliance.PENDING, "old")) as store:
        for when, message in ((datetime(2010, 5, 15, 23, 59, 59, tzinfo=timezone.utc), "last second of the day"),
                              (datetime(2010, 5, 16, 0, 0, 0, tzinfo=timezone.utc), "first second of the next")):
            store.add(ProbeResult(check="xrootd", site="FZK-LCG2", host="door.fzk:1094", state=State.OK,
                                  summary="s", checked_at=when, milestones=[xroot(Compliance.COMPLIANT, message)]))
        assert picked(store, "2010-05-15") == [("last second of the day", "2010-05-15 23:59:59")]
        assert picked(store, "2010-05-16") == [("first second of the next", "2010-05-16 00:00:00")]
        assert picked(store, "2010-05-14") == [("old", "2010-05-10 10:00:00")]
        # --since's "before" side is the same question asked for the since day.
        since = store.latest(until=datetime(2010, 5, 15, 23, 59, 59, tzinfo=timezone.utc))
        assert [r.outcome.message for r in since] == ["last second of the day"]
        assert [r.outcome.message for r in store.latest(before=datetime(2010, 5, 16, tzinfo=timezone.utc))] == [
            "last second of the day"]


def test_a_future_dated_result_does_not_mask_later_ones(tmp_path: Path) -> None:
    # The latest-result index points at the 2030 row; an as-of query must look past it.
    with as_of_history(tmp_path, ("2010-05-10 10:00", Compliance.PENDING, "May"),
                       ("2030-01-01 00:00", Compliance.COMPLIANT, "from the future"),
                       ("2010-06-08 10:00", Compliance.PENDING, "June")) as store:
        assert [r.outcome.message for r in store.latest()] == ["from the future"]
        assert picked(store, "2010-06-08") == [("June", "2010-06-08 10:00:00")]
        assert picked(store, "2010-05-20") == [("May", "2010-05-10 10:00:00")]
        today = datetime.now(timezone.utc).date()
        assert picked(store, today.isoformat()) == [("June", "2010-06-08 10:00:00")]


def test_as_of_keeps_each_target_and_milestone_apart(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        store.add(result("RAL-LCG2", "a:1094", "2010-05-10 10:00", xroot(Compliance.PENDING, "a in May")))
        store.add(result("RAL-LCG2", "b:1094", "2010-06-01 10:00", xroot(Compliance.PENDING, "b in June")))
        store.add(result("RAL-LCG2", "a:1094", "2010-06-02 10:00", xroot(Compliance.COMPLIANT, "a in June")))
        store.add(result("RAL-LCG2", "a:1094", "2010-06-03 10:00",
                         milestone(Compliance.COMPLIANT, "other milestone only", 100, mid="other")))
        got = {(r.target, r.outcome.milestone): r.outcome.message for r in store.as_of(date(2010, 6, 3))}
        assert got == {("a:1094", "xrootd-protocol-string"): "a in June", ("b:1094", "xrootd-protocol-string"):
                       "b in June", ("a:1094", "other"): "other milestone only"}
        got = {(r.target, r.outcome.milestone): r.outcome.message for r in store.as_of(date(2010, 5, 31))}
        assert got == {("a:1094", "xrootd-protocol-string"): "a in May"}


def test_as_of_uses_an_index_not_a_scan(tmp_path: Path) -> None:
    with as_of_history(tmp_path, ("2010-05-10 10:00", Compliance.PENDING, "May")):
        pass
    db = sqlite3.connect(tmp_path / "h.db")
    plan = " ".join(str(row[-1]) for row in db.execute(
        "EXPLAIN QUERY PLAN SELECT r2.id FROM results r2 JOIN outcomes o2 ON o2.result_id = r2.id"
        " AND o2.milestone = 'm' WHERE r2.site_key = 'k' AND r2.target = 't'"
        " AND r2.checked_at <= '2010-05-15T23:59:59Z' ORDER BY r2.checked_at DESC, r2.id DESC LIMIT 1"))
    assert "results_by_target" in plan and "TEMP B-TREE" not in plan, plan


# --- reading without writing -----------------------------------------------------------------------------

def test_a_read_only_open_creates_nothing_and_changes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "h.db") as store:
        store.add(result())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db"]        # the last close checkpointed
    before = (tmp_path / "h.db").stat()
    with Store(tmp_path / "h.db", readonly=True) as reader:
        assert reader.count() == 1 and len(reader.as_of(date(2010, 6, 8))) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db"]    # no -wal, no -shm
        with pytest.raises(StoreError) as err:
            reader.add(result(when="2010-06-09 10:00"))
    after = (tmp_path / "h.db").stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert str(err.value).startswith(f"{tmp_path / 'h.db'}: cannot store the xrootd result of RAL-LCG2: read-only")
    assert "\n" not in str(err.value)


def test_a_read_only_open_next_to_a_live_writer_sees_its_commits(tmp_path: Path) -> None:
    writer = Store(tmp_path / "h.db")
    writer.add(result())
    with Store(tmp_path / "h.db", readonly=True) as reader:      # -shm present: shared, not immutable
        writer.add(result(when="2010-06-09 10:00"))
        assert reader.count() == 2
    writer.close()


def test_a_read_only_open_of_a_missing_database_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="missing.db: no such history database"):
        Store(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_a_history_without_the_latest_table_is_read_by_scan(tmp_path: Path) -> None:
    with as_of_history(tmp_path, ("2010-05-10 10:00", Compliance.PENDING, "May"),
                       ("2010-06-08 10:00", Compliance.COMPLIANT, "June")):
        pass
    sqlite3.connect(tmp_path / "h.db", isolation_level=None).execute("DELETE FROM latest")
    with Store(tmp_path / "h.db", readonly=True) as reader:    # cannot backfill: scans instead
        assert picked(reader, "2010-05-15") == [("May", "2010-05-10 10:00:00")]
        assert [r.outcome.message for r in reader.latest()] == ["June"]


@pytest.mark.parametrize("code, name, words", [
    (sqlite3.SQLITE_READONLY, "SQLITE_READONLY", "read-only"),
    (sqlite3.SQLITE_BUSY, "SQLITE_BUSY", "locked: another process held the database for more than 30 s"),
    (sqlite3.SQLITE_FULL, "SQLITE_FULL", "disk full"),
])
def test_write_errors_name_the_cause(tmp_path: Path, code: int, name: str, words: str) -> None:
    from gridready.store import explain
    exc = sqlite3.OperationalError("sqlite says something")
    exc.sqlite_errorcode, exc.sqlite_errorname = code, name   # as the sqlite3 module sets them
    assert explain(exc, str(tmp_path / "h.db")).startswith(words)


def test_a_real_lock_is_named_after_the_busy_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gridready.store as store_module
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "h.db"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(path, create=False) as store, pytest.raises(StoreError) as err:
            store.add(result())
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked: another process held the database" in str(err.value) and str(path) in str(err.value)


def _old_history(path: Path) -> None:
    """A revision-1 history (no unique index, no 'revision' in meta) holding repeated results."""
    with Store(path) as store:
        store.add(result("pic", "a", "2010-06-01 10:00", milestone(Compliance.PENDING, "first", 100)))
        store.add(result("pic", "b", "2010-06-01 10:00"))
        store._db.execute("DROP INDEX results_once")
        store._db.execute("DELETE FROM meta WHERE key = 'revision'")
        # add() needs the index for ON CONFLICT: insert the repeats as an old writer did.
        rows = store._db.execute("SELECT origin, source, check_name, site, site_key, host, target, state, summary,"
                                 " checked_at, stored_at, timeout, metrics, details, milestones FROM results"
                                 " ORDER BY id").fetchall()
        for row in [rows[0], rows[0], rows[1]]:
            rid = store._db.execute("INSERT INTO results (origin, source, check_name, site, site_key, host, target,"
                                    " state, summary, checked_at, stored_at, timeout, metrics, details, milestones)"
                                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row).lastrowid
            store._db.execute("INSERT INTO outcomes SELECT ?, milestone, outcome, severity, 'repeat', remediation,"
                              " compliance, deadline, days_left FROM outcomes WHERE result_id = 1", (rid,))
            store._db.execute("INSERT OR REPLACE INTO latest SELECT site_key, milestone, target, ?, checked_at"
                              " FROM latest WHERE result_id = ?", (rid, 1 if row is rows[0] else 2))
        assert store.count() == 5


def test_migration_keeps_the_first_of_repeated_results_and_records_the_revision(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_history(path)
    with Store(path, readonly=True) as store:      # a report on the old history still reads it, unchanged
        assert store.count() == 5
    with Store(path) as store:
        assert store.count() == 2
        assert [tuple(r) for r in store._db.execute("SELECT id, target FROM results ORDER BY id")] == \
            [(1, "a"), (2, "b")]
        assert store._db.execute("SELECT count(*) FROM outcomes").fetchone()[0] == 2
        assert store._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0] == "2"
        assert sorted(tuple(r) for r in store._db.execute("SELECT target, result_id FROM latest")) == \
            [("a", 1), ("b", 2)]
        [a, b] = sorted(store.latest(), key=lambda r: r.target)
        assert (a.outcome.message, b.outcome.outcome) == ("first", Outcome.PASS)
        assert store.add(result("pic", "a", "2010-06-01 10:00")) is False
    with Store(path) as store:                     # opening again changes nothing
        assert store.count() == 2


def test_two_writers_store_a_result_once(tmp_path: Path) -> None:
    """Processes racing to store the same results: each stored exactly once, no error."""
    db = tmp_path / "h.db"
    Store(db).close()
    code = ("import sys\n"
            "from tests.test_store import result\n"
            "from gridready.store import Store\n"
            "with Store(sys.argv[1]) as s:\n"
            "    print(sum(s.add(result('pic', 'a', f'2010-06-01 10:{m:02d}')) for m in range(60)))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], cwd=REPO, stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    stored = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sum(stored) == 60
    with Store(db, readonly=True) as store:
        assert store.count() == 60


def test_ingest_names_a_result_already_stored_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gridready.cli import main
    db = str(tmp_path / "h.db")
    first = write(tmp_path / "r.json", json.dumps(result("pic", "a", "2010-06-01 10:00").to_json()))
    again = write(tmp_path / "again.json", json.dumps(result("pic", "a", "2010-06-01 10:00").to_json()))
    assert main(["ingest", "--db", db, str(first)]) == 0
    capsys.readouterr()
    assert main(["ingest", "--db", db, str(first), str(again)]) == 0
    out, err = capsys.readouterr()
    assert out == f"ingested 0 results into {db}, 2 already stored\n"
    assert err == (f"gridready ingest: {first}: already stored (xrootd result of pic, a, checked at 2010-06-01T10:00:00Z)\n"
                   f"gridready ingest: {again}: already stored (xrootd result of pic, a, checked at 2010-06-01T10:00:00Z)\n")
    with Store(db, readonly=True) as store:
        assert store.count() == 1


# --- corrupt stored rows: UNKNOWN naming the row, never dropped, never a pass -------------------

def _one_stored(tmp_path: Path) -> str:
    db = str(tmp_path / "h.db")
    result = ProbeResult(check="xrootd", site="pic", host="d.pic.es:1094", state=State.OK, summary="ok",
                         checked_at=at("2010-06-08 10:00"),
                         milestones=[MilestoneResult(id="xroot", compliance=Compliance.COMPLIANT,
                                                     deadline=date(2010, 9, 30), days_left=20, message="ok")])
    with Store(db) as store:
        store.add(result)
    return db


@pytest.mark.parametrize("sql, reason", [
    ("UPDATE results SET milestones = 'not json'", "milestones is not JSON"),
    ("UPDATE results SET milestones = '{\"a\": 1}'", "milestones is not a JSON list"),
    ("UPDATE results SET milestones = '[1]'", "milestones holds an entry without an id"),
    ("UPDATE results SET milestones = 7", "milestones is not a JSON list"),   # TEXT affinity: '7'
    ("UPDATE results SET metrics = '[]'", "metrics is not a JSON object"),
    ("UPDATE results SET details = 'x'", "details is not JSON"),
    ("UPDATE outcomes SET days_left = 'x'", "days_left 'x' is not a number"),
    ("UPDATE outcomes SET deadline = 'soon'", "deadline 'soon' is not a date"),
    ("UPDATE outcomes SET compliance = 'GREAT'", "compliance 'GREAT' is not one gridready writes"),
    ("UPDATE outcomes SET message = x'00ff'", "message or remediation is not text"),
])
def test_corrupt_row_reads_unknown_and_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    sql: str, reason: str) -> None:
    db = _one_stored(tmp_path)
    with sqlite3.connect(db) as raw:
        raw.execute(sql)
    with Store(db, readonly=True) as store:
        first = store.as_of(date(2010, 6, 8))
        again = store.latest()
        assert store.corrupt == {1}
    assert len(first) == 1 and len(again) == 1
    out = first[0].outcome
    assert out.outcome is Outcome.UNKNOWN and out.milestone == "xroot" and out.compliance is Compliance.UNKNOWN
    assert out.message.startswith("corrupt stored result 1: ") and reason in out.message
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"gridready: {db}: corrupt stored result 1 (pic xrootd 2010-06-08T10:00:00Z): ")
    assert err.rstrip().endswith("its milestones are shown as UNKNOWN")


def test_row_that_cannot_be_placed_is_an_error_naming_it(tmp_path: Path) -> None:
    db = _one_stored(tmp_path)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE results SET checked_at = 'yesterday'")
        raw.execute("UPDATE latest SET checked_at = '2010-06-08T10:00:00Z'")
    with Store(db, readonly=True) as store, pytest.raises(StoreError, match=f"{db}: corrupt stored result 1: "):
        store.latest()


def test_intact_row_is_not_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _one_stored(tmp_path)
    with Store(db, readonly=True) as store:
        rows = store.latest()
        assert store.corrupt == set()
    assert rows[0].outcome.outcome is Outcome.PASS and capsys.readouterr().err == ""


# --- a writer leaves a database that is not its own as it was ----------------------------------------------

def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir()) if p.name.startswith(path.name)}


def test_a_writer_refuses_another_applications_database_and_leaves_it_unchanged(tmp_path: Path) -> None:
    # Bug: `gridready ingest --db their.db` added gridready's tables (and WAL mode) to any SQLite file.
    other = tmp_path / "their.db"
    con = sqlite3.connect(other)
    con.executescript("CREATE TABLE accounts (x); CREATE TABLE b (y); CREATE TABLE c (z); CREATE TABLE d (w);"
                      "INSERT INTO accounts VALUES (1);")
    con.close()
    before = _files(other)
    for create in (True, False):
        with pytest.raises(StoreError, match=r"their.db: not a gridready history database \(an SQLite database "
                                             r"with other tables: accounts, b, c, \.\.\.; left unchanged\)"):
            Store(other, create=create)
    assert _files(other) == before        # no table, no WAL header, no -wal/-shm file


@pytest.mark.parametrize("schema, by", [("gridready.store/2", "a newer"), ("gridready.store/0", "another"),
                                        ("gridready.store/" + "9" * 5000, "a newer")],
                         ids=["newer", "older", "5000-digit-version"])
def test_a_history_of_another_schema_is_refused_unchanged_for_reading_and_writing(
        tmp_path: Path, schema: str, by: str) -> None:
    db = tmp_path / "h.db"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (schema,))
    con.execute("DROP INDEX results_by_time")           # a newer layout: must not be put back
    con.commit()
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()
    before = _files(db)
    for kwargs in ({}, {"create": False}, {"readonly": True}):
        with pytest.raises(StoreError, match=rf"h.db: a history database of schema {schema[:40]}, written by {by} "
                                             r"gridready; this version reads gridready.store/1 only"):
            Store(db, **kwargs)       # type: ignore[arg-type]
    assert _files(db) == before


def test_an_empty_file_becomes_a_history_for_a_writer_but_not_for_prune(tmp_path: Path) -> None:
    empty = write(tmp_path / "e.db", "")
    with pytest.raises(StoreError, match=r"e.db: not a gridready history database \(no gridready schema"):
        Store(empty, create=False)
    assert _files(empty) == {"e.db": b""}
    with Store(empty) as store:             # `touch gridready.db && gridready ingest ...`
        assert store.count() == 0


@pytest.mark.parametrize("moment, text", [
    (datetime(999, 6, 8, 10, 0, tzinfo=timezone.utc), "0999-06-08T10:00:00Z"),
    (datetime(1, 1, 1, tzinfo=timezone.utc), "0001-01-01T00:00:00Z"),
    (datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc), "9999-12-31T23:59:59Z"),
])
def test_check_times_are_written_with_a_four_digit_year(moment: datetime, text: str) -> None:
    # Stored check times are compared as text: '999-...' sorted after '2010-...'.
    from gridready.result import format_time, parse_time
    assert format_time(moment) == text and parse_time(text) == moment


def test_shift_day_stops_at_the_ends_of_the_calendar() -> None:
    from gridready.store import shift_day
    assert shift_day(date(2010, 6, 8), -365) == date(2009, 6, 8)
    assert shift_day(date(1, 1, 5), -3659) == date.min
    assert shift_day(date(9999, 12, 31), 30) == date.max
