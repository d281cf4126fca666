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
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gridready import escape
from gridready.checks.interface import Assessment, Finding, Severity
from gridready.compliance import Compliance, Outcome, State
from gridready.errors import GridreadyError, SourceError
from gridready.result import MilestoneResult, ProbeResult, format_time, parse_time, utc_now

STORE_SCHEMA = "gridready.store/1"
#: Migrations applied within gridready.store/1, recorded as meta 'revision' (absent = 1).
#: 2: results are unique on (site_key, check_name, target, checked_at) (index results_once).
STORE_REVISION = 2
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
    # Exports read the whole history oldest first, a page at a time (Store.iter_results).
    """CREATE INDEX IF NOT EXISTS results_by_time ON results (checked_at)""",
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



def _newest_per_key(where: str = "") -> str:
    """SQL: the newest outcome per (site, milestone, target) among results matching ``where``.

    Columns ``site_key, milestone, target, id, checked_at``; newer check time
    wins, ties go to the later stored result: the same choice _UPSERT_LATEST
    makes one result at a time. Used to fill ``latest`` at once, to answer
    without it, and to find what ``prune`` must keep.
    """
    return f"""
        SELECT site_key, milestone, target, id, checked_at FROM (
            SELECT r.site_key, o.milestone, r.target, r.id, r.checked_at,
                   row_number() OVER (PARTITION BY r.site_key, o.milestone, r.target
                                      ORDER BY r.checked_at DESC, r.id DESC) AS rank
            FROM outcomes o JOIN results r ON r.id = o.result_id {where})
        WHERE rank = 1"""


#: The same choice as _UPSERT_LATEST, made over a whole history at once.
_BACKFILL_LATEST = """
    INSERT INTO latest (site_key, milestone, target, result_id, checked_at)""" + _newest_per_key()

_SELECT_RECORD = """
    SELECT r.site, r.check_name, r.host, r.target, r.checked_at, o.milestone, o.outcome, o.severity,
           o.message, o.remediation, o.compliance, o.deadline, o.days_left,
           r.id, r.milestones, r.metrics, r.details"""


def shift_day(day: date, days: int) -> date:
    """``day`` plus ``days`` (may be negative), held within date.min..date.max: a window
    around ``--as-of 0001-01-01`` or ``9999-12-31`` ends at the calendar's end, not in an OverflowError."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def end_of_day(day: date) -> datetime:
    """The last second of ``day``, UTC: an as-of report on ``day`` uses results checked up to it."""
    return datetime.combine(day, clock(23, 59, 59), tzinfo=timezone.utc)


def _open_readonly(path: str) -> sqlite3.Connection:
    """A connection that cannot write ``path`` and creates no file next to it.

    SQLite's ``mode=ro`` still creates the ``-wal``/``-shm`` files of a WAL
    database when they are absent (and fails where it cannot, e.g. in a
    read-only directory). They are absent only when no connection is open
    and the last one checkpointed the log, so the file alone is the whole
    database: it is opened ``immutable=1`` then. With a leftover ``-wal``
    (a writer crashed) and no ``-shm`` the log must be applied by a writer
    first; when this open cannot, the error says so.
    """
    absolute = os.path.abspath(path)
    uri = f"file:{quote(absolute)}?mode=ro"
    wal, shm = Path(absolute + "-wal"), Path(absolute + "-shm")
    if not shm.exists() and not (wal.exists() and wal.stat().st_size > 0):
        uri += "&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)


def _unapplied_log(path: str, exc: sqlite3.Error) -> str | None:
    """Why a read-only open failed when a crashed writer left a -wal and no -shm (else None)."""
    wal, shm = Path(path + "-wal"), Path(path + "-shm")
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY) \
            and wal.exists() and not shm.exists():
        return (f"its write-ahead log {wal.name} has not been applied and a read-only open cannot apply it "
                "(run gridready sweep or ingest once with write access to the directory)")
    return None


def _is_access_failure(exc: sqlite3.Error) -> bool:
    """The file could not be opened, locked or written (as opposed to not being a database)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL,
                    sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR)


def explain(exc: sqlite3.Error, path: str) -> str:
    """The real cause of an SQLite error on the database ``path``, for one error line.

    SQLite says "attempt to write a readonly database" whether the file,
    its directory (where the -wal/-shm/journal files go) or the connection
    is read-only, and "database is locked" after the busy wait; this names
    which. Other errors keep SQLite's own words.
    """
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_READONLY:
        where = os.path.dirname(os.path.abspath(path))
        if path != ":memory:" and os.path.exists(path) and not os.access(path, os.W_OK):
            return "read-only: the database file is not writable by this user"
        if path != ":memory:" and not os.access(where, os.W_OK | os.X_OK):
            return f"read-only: its directory {where} is not writable (SQLite writes its -wal/-shm files there)"
        if path != ":memory:" and _read_only_mount(where):
            return f"read-only: {where} is on a read-only file system"
        return "read-only: the database was opened for reading only, or the file or directory is not writable"
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return (f"locked: another process held the database for more than {BUSY_TIMEOUT_MS / 1000:g} s "
                "(a sweep or ingest still running?)")
    if code == sqlite3.SQLITE_FULL:
        return "disk full: no space left for the database or its -wal file"
    if code == sqlite3.SQLITE_CANTOPEN:
        return f"cannot open the file or its -wal/-shm files ({exc})"
    if code == sqlite3.SQLITE_IOERR:
        return f"I/O error ({exc})"
    return str(exc)


def _read_only_mount(directory: str) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


class Store:
    """The history database. ``Store(":memory:")`` holds a throw-away history.

    ``readonly=True`` (what reports use) opens the file with SQLite's
    ``mode=ro``: nothing is created or written, so a report works on a
    read-only file, directory or mount and never changes the database's
    mtime. A write that fails says why in one line naming the file.
    """

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        #: Ids of corrupt stored results read so far (each said once on stderr; see _record).
        self.corrupt: set[int] = set()
        memory = self.path == ":memory:"
        if not memory and (readonly or not create) and not Path(self.path).exists():
            raise StoreError(f"{self.path}: no such history database")
        try:
            if readonly and not memory:
                self._db = _open_readonly(self.path)
            else:
                # Autocommit mode: transactions are opened explicitly, one per result.
                self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open history database: {explain(exc, self.path)}") from None
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not memory and not readonly:
                # Before WAL mode or any table is written: someone else's database stays as it was.
                self._check_ours(create)
                self._wal()
                self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            if create and not readonly:
                self._create()
            self._check_schema()
        except sqlite3.Error as exc:
            self._db.close()
            unapplied = _unapplied_log(self.path, exc) if readonly else None
            if unapplied:
                raise StoreError(f"{self.path}: cannot read the history database: {unapplied}") from None
            if _is_access_failure(exc):
                raise StoreError(f"{self.path}: cannot {'read' if readonly else 'write'} the history database: "
                                 f"{explain(exc, self.path)}") from None
            raise StoreError(f"{self.path}: not a gridready history database: {explain(exc, self.path)}") \
                from None
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
            schema = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if schema is not None and schema[0] == STORE_SCHEMA:   # never migrate someone else's database
                self._migrate()
            self._backfill_latest()

    def _migrate(self) -> None:
        """Bring a gridready.store/1 history up to STORE_REVISION, inside the caller's transaction.

        Revision 2 makes a result unique on (site_key, check_name, target,
        checked_at), so a redelivered or re-ingested result is stored once
        even by two writers at once. A history written before may hold such
        repeats: the first stored (lowest id) is kept, the others go with
        their outcomes, and ``latest`` is rebuilt if any did.
        """
        row = self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        # ASCII digits only and few of them: str.isdigit() also takes '²', which int() refuses,
        # and int() refuses thousands of digits.
        revision = int(row[0]) if row is not None and re.fullmatch(r"[0-9]{1,9}", str(row[0])) else 1
        if revision >= STORE_REVISION:
            return
        removed = self._db.execute("""
            DELETE FROM results WHERE id NOT IN (
                SELECT min(id) FROM results GROUP BY site_key, check_name, target, checked_at)""").rowcount
        self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS results_once"
                         " ON results (site_key, check_name, target, checked_at)")
        if removed:
            self._db.execute("DELETE FROM latest")     # refilled by _backfill_latest
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('revision', ?)",
                         (str(STORE_REVISION),))

    def _backfill_latest(self) -> None:
        """Fill ``latest`` once for a history written before that table existed (or bulk-loaded)."""
        if self._db.execute("SELECT 1 FROM latest LIMIT 1").fetchone() is not None or \
                self._db.execute("SELECT 1 FROM outcomes LIMIT 1").fetchone() is None:
            return
        self._db.execute(_BACKFILL_LATEST)

    def _check_ours(self, create: bool) -> None:
        """StoreError unless the file is a gridready history of STORE_SCHEMA, or empty (a new
        database) when ``create``: a writer must not add its tables, or WAL mode, to another
        application's SQLite file, to a history written by a newer gridready or, for ``prune``
        (create=False), to an empty file."""
        # Views too: a file of views only is someone's database as much as one of tables.
        tables = [r[0] for r in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name LIMIT 4")]
        if tables or not create:
            self._check_schema(tables)
        # A view standing where a table of ours belongs (the schema check reads a view named
        # meta as happily as the table) is no history of ours either.
        view = self._db.execute("SELECT name FROM sqlite_master WHERE type = 'view' AND name IN "
                                "('meta', 'results', 'outcomes', 'latest') LIMIT 1").fetchone()
        if view is not None:
            raise StoreError(f"{self.path}: not a gridready history database ({view[0]} is a view, "
                             "not a table; left unchanged)")

    def _check_schema(self, tables: Sequence[str] = ()) -> None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise       # could not read at all: the caller names why
            row = None
        if row is not None and row[0] == STORE_SCHEMA:
            return
        found = row[0] if row else None
        if isinstance(found, str) and found.startswith("gridready.store/"):
            version = found[:40].rpartition("/")[2]     # cut: int() refuses thousands of digits
            newer = re.fullmatch(r"[0-9]+", version) and int(version) > int(STORE_SCHEMA.rpartition("/")[2])
            by = "a newer" if newer else "another"
            raise StoreError(f"{self.path}: a history database of schema {found[:40]}, written by {by} "
                             f"gridready; this version reads {STORE_SCHEMA} only (left unchanged)")
        if found is None and tables:
            # Names cut: another application's table names are its own, of any length.
            listed = escape.listed([str(t) for t in tables], 3)
            raise StoreError(f"{self.path}: not a gridready history database (an SQLite database with other "
                             f"tables: {listed}; left unchanged)")
        shown = escape.shorten(str(found)) if found is not None else "no gridready schema"
        raise StoreError(f"{self.path}: not a gridready history database ({shown}; expected {STORE_SCHEMA})")

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
            stored_at: datetime | None = None) -> bool:
        """Store one result and its milestone outcomes in one committed transaction.

        ``target`` keys the result within its site for "latest per host":
        the sweep passes a stable description of the request, ingest the host.
        Idempotent: a result with the same (site, check, target, checked_at)
        as a stored one is not stored again (the first stays; unique index
        results_once, so two writers at once cannot both insert it). Returns
        True when it was stored, False when it was already there.
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
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (site_key, check_name, target, checked_at) DO NOTHING",
                    (origin, source, result.check, result.site, result.site.casefold(), result.host, key,
                     result.state.name, result.summary, format_time(result.checked_at),
                     format_time(stored_at or utc_now()), result.timeout,
                     json.dumps(result.metrics), json.dumps(result.details),
                     json.dumps([m.to_json() for m in result.milestones])))
                if cur.rowcount == 0:
                    return False        # already stored; the transaction commits nothing
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
            raise StoreError(f"{self.path}: cannot store the {result.check} result of {result.site}: "
                             f"{explain(exc, self.path)}") from None
        return True

    def count(self) -> int:
        """Number of stored results."""
        try:
            return int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read: {exc}") from None

    def latest(self, before: datetime | None = None, *, until: datetime | None = None) -> list[Record]:
        """The latest outcome per (site, milestone, target), by check time.

        ``until`` keeps results checked at or before that moment (inclusive),
        ``before`` those checked strictly before it; with neither, the newest
        stored. Ties in check time go to the later stored result.
        """
        if before is None and until is None:
            query = _SELECT_RECORD + """
                FROM latest l JOIN results r ON r.id = l.result_id
                JOIN outcomes o ON o.result_id = l.result_id AND o.milestone = l.milestone
                ORDER BY r.site, o.milestone, r.target"""
            params: tuple[str, ...] = ()
        else:
            if until is not None:
                cutoff, compare = format_time(until), "<="
            else:
                assert before is not None
                cutoff, compare = format_time(before), "<"
            # Every (site, milestone, target) ever stored has a row in latest.
            # When that newest result is within the cutoff (a report as of
            # today) it is the answer; otherwise (a past date, or a newer row
            # dated in the future) the newest result within the cutoff is found
            # through results_by_target: a short backwards walk per key.
            query = _SELECT_RECORD + f"""
                FROM latest l
                JOIN results r ON r.id = (CASE WHEN l.checked_at {compare} :cutoff THEN l.result_id ELSE (
                    SELECT r2.id FROM results r2
                    JOIN outcomes o2 ON o2.result_id = r2.id AND o2.milestone = l.milestone
                    WHERE r2.site_key = l.site_key AND r2.target = l.target AND r2.checked_at {compare} :cutoff
                    ORDER BY r2.checked_at DESC, r2.id DESC LIMIT 1) END)
                JOIN outcomes o ON o.result_id = r.id AND o.milestone = l.milestone
                ORDER BY r.site, o.milestone, r.target"""
            params = (cutoff,)
        try:
            if not self._has_latest_index():
                return self._latest_by_scan(params[0] if params else None, "<" if until is None else "<=")
            rows = self._db.execute(query, {"cutoff": params[0]} if params else {}).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read results: {explain(exc, self.path)}") from None
        return [self._record(row) for row in rows]

    def as_of(self, day: date) -> list[Record]:
        """What was known on ``day``: per (site, milestone, target), the latest result checked
        on or before the end of that day, UTC (docs/cli.md, report ``--as-of``). Results dated later,
        including ones dated in the future, are not used."""
        return self.latest(until=end_of_day(day))

    def _has_latest_index(self) -> bool:
        """False for a history whose latest table is missing or not filled (read-only, old schema)."""
        try:
            if self._db.execute("SELECT 1 FROM latest LIMIT 1").fetchone() is not None:
                return True
        except sqlite3.OperationalError:
            return False
        return self._db.execute("SELECT 1 FROM outcomes LIMIT 1").fetchone() is None

    def _latest_by_scan(self, cutoff: str | None, compare: str) -> list[Record]:
        """The same choice as ``latest`` without the index table: one pass over the history.

        Only for a database opened read-only that was never opened for writing
        since the latest table was added (it would have been filled then).
        """
        where = f"WHERE r.checked_at {compare} :cutoff" if cutoff is not None else ""
        rows = self._db.execute(_SELECT_RECORD + f"""
            FROM ({_newest_per_key(where)}) pick
            JOIN results r ON r.id = pick.id JOIN outcomes o ON o.result_id = pick.id AND o.milestone = pick.milestone
            ORDER BY r.site, o.milestone, r.target""", {"cutoff": cutoff} if cutoff is not None else {}).fetchall()
        return [self._record(row) for row in rows]

    def _record(self, row: Sequence[Any]) -> Record:
        """One outcome row as reports read it. A corrupt row does not vanish and does not pass:
        its outcome becomes UNKNOWN ``corrupt stored result ID: reason`` and one note naming
        the database and the row goes to stderr (once per result). A row that cannot even be
        placed (site, check, target or check time unreadable) is a StoreError naming it."""
        try:
            return _record(row, self.path)
        except _Corrupt as exc:
            rid = int(row[13]) if isinstance(row[13], int) else -1
            reason = str(exc)
            if rid not in self.corrupt:
                self.corrupt.add(rid)
                from gridready.escape import terminal
                import sys
                print(terminal(f"gridready: {self.path}: corrupt stored result {rid} ({row[0]} {row[1]} "
                               f"{row[4]}): {reason}; its milestones are shown as UNKNOWN"),
                      file=sys.stderr, flush=True)
            return Record(site=row[0], check=row[1], host=row[2] if isinstance(row[2], str) else None,
                          target=row[3], checked_at=parse_time(row[4]),
                          outcome=StoredOutcome(milestone=row[5], outcome=Outcome.UNKNOWN,
                                                message=f"corrupt stored result {rid}: {reason}"))

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

    def iter_results(self, since: datetime | None = None, *, page: int = 500) -> Iterator[ProbeResult]:
        """``results`` as a stream: oldest first, at most ``page`` rows in memory at a time.

        One query read ``page`` rows at a time: with the ``results_by_time``
        index SQLite walks it in order; on a history written before that index
        existed (and opened read-only, so it cannot be added) SQLite's sorter
        orders the rows, spilling to a temporary file beyond its cache, so
        memory stays bounded either way. The read sees one snapshot of the
        history (WAL), whatever is written meanwhile.
        """
        cutoff = format_time(since) if since is not None else ""
        try:
            cursor = self._db.execute(
                "SELECT check_name, site, host, state, summary, checked_at, timeout, metrics, details,"
                " milestones FROM results WHERE checked_at >= ? ORDER BY checked_at, id", (cutoff,))
            while True:
                rows = cursor.fetchmany(page)
                if not rows:
                    return
                for row in rows:
                    yield _result(row, self.path)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read results: {explain(exc, self.path)}") from None

    def span(self) -> tuple[date, date] | None:
        """The UTC days of the first and last stored check (None for an empty history)."""
        try:
            low, high = self._db.execute("SELECT min(checked_at), max(checked_at) FROM results").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read results: {explain(exc, self.path)}") from None
        if low is None or high is None:
            return None
        return parse_time(low).date(), parse_time(high).date()

    def prune(self, before: date) -> tuple[int, int]:
        """Forget what no report as of ``before`` or later can show; ``(results, outcomes)`` deleted.

        Per (site, milestone, target) the latest outcome checked before the
        start of ``before`` (UTC) is kept with everything checked from then
        on: an as-of query for any day >= ``before`` picks among exactly
        those. Results left with no outcome go; then VACUUM returns the
        space to the file system.
        """
        cut = format_time(datetime.combine(before, clock(0, 0, 0), tzinfo=timezone.utc))
        try:
            with self._transaction():
                self._db.execute("DROP TABLE IF EXISTS temp.keep")
                self._db.execute("""
                    CREATE TEMP TABLE keep (result_id INTEGER, milestone TEXT, PRIMARY KEY (result_id, milestone))
                    WITHOUT ROWID""")
                self._db.execute("INSERT INTO temp.keep SELECT id, milestone FROM ("
                                 + _newest_per_key("WHERE r.checked_at < ?") + ")", (cut,))
                outcomes = self._db.execute("""
                    DELETE FROM outcomes WHERE result_id IN (SELECT id FROM results WHERE checked_at < ?)
                    AND NOT EXISTS (SELECT 1 FROM temp.keep k
                                    WHERE k.result_id = outcomes.result_id AND k.milestone = outcomes.milestone)""",
                                            (cut,)).rowcount
                results = self._db.execute("""
                    DELETE FROM results WHERE checked_at < ?
                    AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.result_id = results.id)""", (cut,)).rowcount
                self._db.execute("DROP TABLE temp.keep")
            self._db.execute("VACUUM")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot prune: {explain(exc, self.path)}") from None
        return results, outcomes


class _Corrupt(ValueError):
    """A stored row's content is not what Store.add writes (the message says which field)."""


def _json(text: Any, kind: type, field: str) -> Any:
    if not isinstance(text, str):
        raise _Corrupt(f"{field} is not JSON text")
    try:
        value = json.loads(text)
    except ValueError:
        raise _Corrupt(f"{field} is not JSON") from None
    except RecursionError:
        # json recurses once per nesting level: a planted ``[[[[...`` is corrupt, not a crash.
        raise _Corrupt(f"{field} is JSON nested too deeply") from None
    if not isinstance(value, kind):
        raise _Corrupt(f"{field} is not a JSON {'list' if kind is list else 'object'}")
    return value


def _record(row: Sequence[Any], path: str) -> Record:
    """Raises StoreError when the row cannot be attributed (site, check, target, time), _Corrupt
    when its content is not what Store.add writes."""
    (site, check, host, target, checked_at, milestone, outcome, severity, message, remediation,
     compliance, deadline, days_left, rid, milestones, metrics, details) = row
    try:
        if not all(isinstance(v, str) and v for v in (site, check, milestone)) or not isinstance(target, str) \
                or not (host is None or isinstance(host, str)):
            raise ValueError("site, check, host or target is not text")
        when = parse_time(checked_at) if isinstance(checked_at, str) else None
        if when is None:
            raise ValueError("checked_at is not text")
    except (SourceError, ValueError) as exc:
        raise StoreError(f"{path}: corrupt stored result {rid}: {exc}") from None
    try:
        kind, level, verdict = Outcome(outcome), Severity[severity], Compliance(compliance)
    except (KeyError, ValueError, TypeError):
        raise _Corrupt(f"outcome {outcome!r}, severity {severity!r} or compliance {compliance!r} is not "
                       f"one gridready writes") from None
    if not isinstance(message, str) or not isinstance(remediation, str):
        raise _Corrupt("message or remediation is not text")
    if not (days_left is None or (isinstance(days_left, int) and not isinstance(days_left, bool))):
        raise _Corrupt(f"days_left {days_left!r} is not a number")
    try:
        due = date.fromisoformat(deadline) if deadline else None
    except (TypeError, ValueError):
        raise _Corrupt(f"deadline {deadline!r} is not a date") from None
    listed = _json(milestones, list, "milestones")
    if not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in listed):
        raise _Corrupt("milestones holds an entry without an id")
    _json(metrics, dict, "metrics")
    _json(details, list, "details")
    return Record(site=site, check=check, host=host, target=target, checked_at=when,
                  outcome=StoredOutcome(milestone=milestone, outcome=kind, message=message, severity=level,
                                        remediation=remediation, compliance=verdict, deadline=due,
                                        days_left=days_left))


def _result(row: Sequence[Any], path: str) -> ProbeResult:
    check, site, host, state, summary, checked_at, timeout, metrics, details, milestones = row
    try:
        data = {"schema": "gridready.result/1", "check": check, "site": site, "host": host, "state": state,
                "summary": summary, "checked_at": checked_at, "milestones": json.loads(milestones),
                "metrics": json.loads(metrics), "details": json.loads(details)}
        result = ProbeResult.from_json(data, f"{path}: {check} result of {site}")
    except (ValueError, SourceError) as exc:
        raise StoreError(f"{path}: corrupt result row: {exc}") from None
    except RecursionError:
        raise StoreError(f"{path}: corrupt result row: {check} result of {site}: JSON nested too deeply") from None
    result.timeout = timeout
    return result
