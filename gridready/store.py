"""The SQLite history of probe results: what the sweep and ``ingest`` write, what reports read.

Per probe result it keeps the result itself (for the metricOutput export) and,
per milestone, the OUTCOME of the check (pass / fail / not-applicable /
unknown, with message and severity) next to the compliance it had when it was
checked. Reports re-evaluate outcomes against the current rules, waivers and
date, so a failure stored in April reads DUE or OVERDUE depending on the
report date, and a waiver added later applies.

Concurrency and durability: WAL journal, ``synchronous=FULL``, a busy timeout
and one short ``BEGIN IMMEDIATE`` transaction per result, so two sweeps can
write at once and a crash loses nothing already committed. One Store object
is used by one thread (the sweep's main thread is the single writer).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from gridready.checks.interface import Assessment, Finding, Severity
from gridready.compliance import Compliance, Outcome, State
from gridready.errors import GridreadyError, SourceError
from gridready.result import MilestoneResult, ProbeResult, format_time, parse_time, utc_now

STORE_SCHEMA = "gridready.store/1"
#: Milliseconds a writer waits for another process's transaction before failing.
BUSY_TIMEOUT_MS = 30_000


class StoreError(GridreadyError):
    """The history database cannot be opened, read or written (message names the file)."""


@dataclass(frozen=True)
class StoredOutcome:
    """One milestone of one stored result: the outcome plus the verdict at check time."""

    milestone: str
    outcome: Outcome
    message: str
    severity: Severity = Severity.CRITICAL
    remediation: str = ""
    compliance: Compliance = Compliance.UNKNOWN
    deadline: date | None = None
    days_left: int | None = None

    def assessment(self) -> Assessment | str:
        """What ``gridready.compliance.evaluate`` needs to decide again (a string = UNKNOWN)."""
        if self.outcome is Outcome.PASS:
            return Assessment((Finding(True, self.message),), summary=self.message)
        if self.outcome is Outcome.FAIL:
            return Assessment((Finding(False, self.message, self.remediation, self.severity),))
        if self.outcome is Outcome.NOT_APPLICABLE:
            return Assessment(applicable=False, summary=self.message)
        return self.message


@dataclass(frozen=True)
class Record:
    """A stored outcome with the result it belongs to, as reports read it."""

    site: str
    check: str
    host: str | None
    #: Identifies the thing checked within a site (a door, an SE, a file); see Store.add.
    target: str
    checked_at: datetime
    outcome: StoredOutcome


def outcome_from_compliance(m: MilestoneResult) -> StoredOutcome:
    """The outcome of a milestone, from the check's own conclusion where the result has it.

    Results written before ``outcome``/``severity`` were part of the JSON are
    known only by their verdict. There a failure's severity shows only after
    the deadline: a degraded (Severity.WARNING) failure was written as
    DUE/WARNING (older evaluators capped it there) or OVERDUE/WARNING, where
    a CRITICAL one is OVERDUE/CRITICAL; before it, CRITICAL is assumed.
    """
    c = m.compliance
    kind = m.outcome or {Compliance.COMPLIANT: Outcome.PASS, Compliance.NOT_APPLICABLE: Outcome.NOT_APPLICABLE,
                         Compliance.UNKNOWN: Outcome.UNKNOWN}.get(c, Outcome.FAIL)
    if kind is not Outcome.FAIL:
        return StoredOutcome(m.id, kind, m.message, compliance=c, deadline=m.deadline, days_left=m.days_left)
    severity = m.severity or (Severity.WARNING if m.state is State.WARNING and m.days_left < 0
                              else Severity.CRITICAL)
    return StoredOutcome(m.id, Outcome.FAIL, _check_message(m), severity, m.remediation, c,
                         m.deadline, m.days_left)


def _check_message(m: MilestoneResult) -> str:
    """The check's own message: the evaluator appends waiver notes, which are re-derived later."""
    message = m.message
    if m.waiver and m.compliance is Compliance.WAIVED:
        note = f"; waived until {m.waiver.get('expires')}: {m.waiver.get('reason')}"
        if message.endswith(note):
            return message[:-len(note)]
    cut = message.rfind("; waiver expired ")
    if cut >= 0 and len(message) - cut == len("; waiver expired YYYY-MM-DD"):
        return message[:cut]
    return message


def outcomes_of(result: ProbeResult) -> list[StoredOutcome]:
    """The stored outcomes of a result, one per milestone."""
    return [outcome_from_compliance(m) for m in result.milestones]


def read_result_file(path: str | Path) -> ProbeResult:
    """Read one probe JSON result (``gridready.result/1``); SourceError names the file."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(16 * 1024 * 1024 + 1)
    except OSError as exc:
        raise SourceError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > 16 * 1024 * 1024:
        raise SourceError(f"{name}: not a gridready result: larger than 16 MiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SourceError(f"{name}: not a gridready result: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{name}: not a gridready result: invalid JSON at line {exc.lineno}: "
                          f"{exc.msg}") from None
    result = ProbeResult.from_json(data, name)
    if not result.site:
        raise SourceError(f"{name}: not a gridready result: 'site' is missing")
    return result


_DDL = (
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS results (
        id INTEGER PRIMARY KEY,
        origin TEXT NOT NULL,            -- sweep | ingest
        source TEXT,                     -- the ingested file, if any
        check_name TEXT NOT NULL,
        site TEXT NOT NULL,
        site_key TEXT NOT NULL,          -- casefolded site name
        host TEXT,
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        summary TEXT NOT NULL,
        checked_at TEXT NOT NULL,        -- YYYY-MM-DDTHH:MM:SSZ, sorts as text
        stored_at TEXT NOT NULL,
        timeout TEXT,
        metrics TEXT NOT NULL,           -- JSON object
        details TEXT NOT NULL,           -- JSON list
        milestones TEXT NOT NULL         -- JSON list as in gridready.result/1
    )""",
    """CREATE TABLE IF NOT EXISTS outcomes (
        result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        milestone TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'not-applicable', 'unknown')),
        severity TEXT NOT NULL CHECK (severity IN ('WARNING', 'CRITICAL')),
        message TEXT NOT NULL,
        remediation TEXT NOT NULL,
        compliance TEXT NOT NULL,
        deadline TEXT,
        days_left INTEGER,
        PRIMARY KEY (result_id, milestone)
    )""",
    """CREATE INDEX IF NOT EXISTS results_by_site ON results (site_key, checked_at)""",
    """CREATE INDEX IF NOT EXISTS results_by_target ON results (site_key, target, checked_at)""",
    """CREATE INDEX IF NOT EXISTS outcomes_by_milestone ON outcomes (milestone)""",
    # The newest result per (site, milestone, target), kept by add() in the same
    # transaction, so a report reads a few hundred rows however long the history.
    """CREATE TABLE IF NOT EXISTS latest (
        site_key TEXT NOT NULL,
        milestone TEXT NOT NULL,
        target TEXT NOT NULL,
        result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        checked_at TEXT NOT NULL,
        PRIMARY KEY (site_key, milestone, target)
    )""",
)

#: Newer wins; for equal times the later stored result (the same order as before).
_UPSERT_LATEST = """
    INSERT INTO latest (site_key, milestone, target, result_id, checked_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (site_key, milestone, target) DO UPDATE
    SET result_id = excluded.result_id, checked_at = excluded.checked_at
    WHERE excluded.checked_at > latest.checked_at
       OR (excluded.checked_at = latest.checked_at AND excluded.result_id > latest.result_id)"""

#: The same choice as _UPSERT_LATEST, made over a whole history at once.
_BACKFILL_LATEST = """
    INSERT INTO latest (site_key, milestone, target, result_id, checked_at)
    SELECT site_key, milestone, target, id, checked_at FROM (
        SELECT r.site_key, o.milestone, r.target, r.id, r.checked_at,
               row_number() OVER (PARTITION BY r.site_key, o.milestone, r.target
                                  ORDER BY r.checked_at DESC, r.id DESC) AS rank
        FROM outcomes o JOIN results r ON r.id = o.result_id)
    WHERE rank = 1"""

_SELECT_RECORD = """
    SELECT r.site, r.check_name, r.host, r.target, r.checked_at, o.milestone, o.outcome, o.severity,
           o.message, o.remediation, o.compliance, o.deadline, o.days_left"""


class Store:
    """The history database. ``Store(":memory:")`` holds a throw-away history."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = str(path)
        memory = self.path == ":memory:"
        if not memory and not create and not Path(self.path).exists():
            raise StoreError(f"{self.path}: no such history database")
        try:
            # Autocommit mode: transactions are opened explicitly, one per result.
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open history database: {exc}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not memory:
                self._wal()
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            if create:
                self._create()
            self._check_schema()
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"{self.path}: not a gridready history database: {exc}") from None
        except StoreError:
            self._db.close()
            raise

    def _wal(self) -> None:
        # Switching to WAL needs a moment without other writers; the busy
        # handler does not cover every case of a database being created by
        # two processes at once, so retry briefly (bounded).
        for attempt in range(50):
            try:
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
                continue
            if mode and str(mode[0]).lower() != "wal":
                raise StoreError(f"{self.path}: cannot switch the database to WAL mode (got {mode[0]})")
            return

    def _create(self) -> None:
        with self._transaction():
            for statement in _DDL:
                self._db.execute(statement)
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (STORE_SCHEMA,))
            self._backfill_latest()

    def _backfill_latest(self) -> None:
        """Fill ``latest`` once for a history written before that table existed (or bulk-loaded)."""
        if self._db.execute("SELECT 1 FROM latest LIMIT 1").fetchone() is not None or \
                self._db.execute("SELECT 1 FROM outcomes LIMIT 1").fetchone() is None:
            return
        self._db.execute(_BACKFILL_LATEST)

    def _check_schema(self) -> None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None or row[0] != STORE_SCHEMA:
            found = row[0] if row else "no gridready schema"
            raise StoreError(f"{self.path}: not a gridready history database ({found}; "
                             f"expected {STORE_SCHEMA})")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, result: ProbeResult, outcomes: Sequence[StoredOutcome] | None = None, *,
            origin: str = "sweep", target: str | None = None, source: str | None = None,
            stored_at: datetime | None = None) -> int:
        """Store one result and its milestone outcomes in one committed transaction.

        ``target`` keys the result within its site for "latest per host":
        the sweep passes a stable description of the request, ingest the host.
        """
        if not result.site:
            raise StoreError(f"{self.path}: cannot store a result without a site ({result.check})")
        rows = outcomes if outcomes is not None else outcomes_of(result)
        key = target if target is not None else (result.host or "")
        try:
            with self._transaction():
                cur = self._db.execute(
                    "INSERT INTO results (origin, source, check_name, site, site_key, host, target, state,"
                    " summary, checked_at, stored_at, timeout, metrics, details, milestones)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (origin, source, result.check, result.site, result.site.casefold(), result.host, key,
                     result.state.name, result.summary, format_time(result.checked_at),
                     format_time(stored_at or utc_now()), result.timeout,
                     json.dumps(result.metrics), json.dumps(result.details),
                     json.dumps([m.to_json() for m in result.milestones])))
                result_id = int(cur.lastrowid or 0)
                self._db.executemany(
                    "INSERT INTO outcomes (result_id, milestone, outcome, severity, message, remediation,"
                    " compliance, deadline, days_left) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(result_id, o.milestone, o.outcome.value, o.severity.name, o.message, o.remediation,
                      o.compliance.value, o.deadline.isoformat() if o.deadline else None, o.days_left)
                     for o in rows])
                self._db.executemany(_UPSERT_LATEST, [
                    (result.site.casefold(), o.milestone, key, result_id, format_time(result.checked_at))
                    for o in rows])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot store the {result.check} result of {result.site}: {exc}") \
                from None
        return result_id

    def count(self) -> int:
        """Number of stored results."""
        try:
            return int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read: {exc}") from None

    def latest(self, before: datetime | None = None) -> list[Record]:
        """The latest outcome per (site, milestone, target), optionally checked before a moment."""
        if before is None:
            query = _SELECT_RECORD + """
                FROM latest l JOIN results r ON r.id = l.result_id
                JOIN outcomes o ON o.result_id = l.result_id AND o.milestone = l.milestone
                ORDER BY r.site, o.milestone, r.target"""
            params: tuple[str, ...] = ()
        else:
            # Every (site, milestone, target) ever stored has a row in latest;
            # for each, the newest result before the cutoff, found through
            # results_by_target (a short backwards walk per key).
            query = _SELECT_RECORD + """
                FROM latest l
                JOIN results r ON r.id = (
                    SELECT r2.id FROM results r2
                    JOIN outcomes o2 ON o2.result_id = r2.id AND o2.milestone = l.milestone
                    WHERE r2.site_key = l.site_key AND r2.target = l.target AND r2.checked_at < ?
                    ORDER BY r2.checked_at DESC, r2.id DESC LIMIT 1)
                JOIN outcomes o ON o.result_id = r.id AND o.milestone = l.milestone
                ORDER BY r.site, o.milestone, r.target"""
            params = (format_time(before),)
        try:
            rows = self._db.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read results: {exc}") from None
        return [_record(row, self.path) for row in rows]

    def results(self, since: datetime | None = None) -> list[ProbeResult]:
        """Stored probe results checked at or after ``since``, oldest first (for exports)."""
        cutoff = format_time(since) if since is not None else ""
        try:
            rows = self._db.execute(
                "SELECT check_name, site, host, state, summary, checked_at, timeout, metrics, details,"
                " milestones FROM results WHERE checked_at >= ? ORDER BY checked_at, id", (cutoff,)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read results: {exc}") from None
        return [_result(row, self.path) for row in rows]


def _record(row: Sequence[Any], path: str) -> Record:
    (site, check, host, target, checked_at, milestone, outcome, severity, message, remediation,
     compliance, deadline, days_left) = row
    try:
        return Record(site=site, check=check, host=host, target=target, checked_at=parse_time(checked_at),
                      outcome=StoredOutcome(
                          milestone=milestone, outcome=Outcome(outcome), message=message,
                          severity=Severity[severity], remediation=remediation,
                          compliance=Compliance(compliance),
                          deadline=date.fromisoformat(deadline) if deadline else None, days_left=days_left))
    except (KeyError, ValueError) as exc:
        raise StoreError(f"{path}: corrupt result row for {site} {milestone}: {exc}") from None


def _result(row: Sequence[Any], path: str) -> ProbeResult:
    check, site, host, state, summary, checked_at, timeout, metrics, details, milestones = row
    try:
        data = {"schema": "gridready.result/1", "check": check, "site": site, "host": host, "state": state,
                "summary": summary, "checked_at": checked_at, "milestones": json.loads(milestones),
                "metrics": json.loads(metrics), "details": json.loads(details)}
        result = ProbeResult.from_json(data, f"{path}: {check} result of {site}")
    except (ValueError, SourceError) as exc:
        raise StoreError(f"{path}: corrupt result row: {exc}") from None
    result.timeout = timeout
    return result
