"""Hostile histories and report inputs: read-only databases, junk files, future dates, hostile names.

Each case runs the real ``gridready`` command in a fresh interpreter. The
tests run as root, which ignores file permissions; the read-only cases
therefore run the command as ``nobody``: the child imports gridready as
root, then drops to uid/gid 65534 before ``main`` (the interpreter under
/root is not readable by nobody, so it cannot be exec'ed as nobody).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from gridready import bundled
from gridready.compliance import Compliance, State
from gridready.result import MilestoneResult, ProbeResult
from gridready.store import Store
from tests.helpers import write
from tests.hostile.runner import Run, assert_clean, run

NOBODY = 65534
#: Everything the command may import, loaded while still root (nobody cannot read the
#: interpreter's tree under /root).
_PRELOAD = r"""
import importlib, locale, os, pkgutil, sys, _strptime, queue
from pathlib import Path
import gridready
for module in pkgutil.walk_packages(gridready.__path__, "gridready."):
    try:
        importlib.import_module(module.name)
    except Exception:
        pass
from gridready.cli import main
"""
_AS_NOBODY = _PRELOAD + r"""
os.setgroups([]); os.setgid(65534); os.setuid(65534)
sys.argv[0] = "gridready"
sys.exit(main(sys.argv[1:]))
"""


def as_nobody(*args: str, cwd: Path) -> Run:
    """Run ``gridready *args`` as nobody.

    An installed gridready keeps its bundled rules under the interpreter's
    site-packages, which nobody cannot read when the interpreter lives under
    /root (as in CI); a report is therefore given readable copies of the
    bundled rules and inventory.
    """
    rules_dir = Path(tempfile.mkdtemp(prefix="gridready-hostile-rules-"))
    try:
        rules_dir.chmod(0o755)
        if args and args[0] == "report":
            for option, bundled_file in (("--milestones", bundled.milestones_file()),
                                         ("--inventory", bundled.inventory_file())):
                copy = rules_dir / bundled_file.name
                shutil.copyfile(bundled_file, copy)
                copy.chmod(0o644)
                args = (*args, option, str(copy))
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", _AS_NOBODY, *args], capture_output=True, cwd=cwd, timeout=60,
                              stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(rules_dir)
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"),
               time.monotonic() - started)


@pytest.fixture()
def shared_dir() -> Iterator[Path]:
    """A directory nobody can reach (pytest's tmp_path lives under a 0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="gridready-hostile-store-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in (path, *path.rglob("*")):
            if p.is_dir():
                p.chmod(0o755)
        shutil.rmtree(path)


def xroot(message: str, compliance: Compliance = Compliance.PENDING) -> MilestoneResult:
    return MilestoneResult(id="xrootd-protocol-string", compliance=compliance, deadline=date(2010, 9, 30),
                           days_left=100, message=message)


def result(site: str, when: datetime, message: str, compliance: Compliance = Compliance.PENDING) -> ProbeResult:
    return ProbeResult(check="xrootd", site=site, host="door.example:1094", state=State.OK, summary="s",
                       checked_at=when, milestones=[xroot(message, compliance)])


def history(path: Path, *rows: tuple[datetime, str, Compliance]) -> Path:
    with Store(path) as store:
        for when, message, compliance in rows:
            store.add(result("FZK-LCG2", when, message, compliance))
    return path


MAY = datetime(2010, 5, 10, 10, 0, tzinfo=timezone.utc)
JUNE = datetime(2010, 6, 8, 10, 0, tzinfo=timezone.utc)


def fzk_cell(out: str) -> dict[str, object]:
    doc = json.loads(out)
    site = next(s for s in doc["sites"] if s["name"] == "FZK-LCG2")
    cell: dict[str, object] = next(m for m in site["milestones"] if m["id"] == "xrootd-protocol-string")
    return cell


# --- read-only history ------------------------------------------------------------------------------------

def test_report_on_a_read_only_database_in_a_read_only_directory(shared_dir: Path) -> None:
    # Bug: "attempt to write a readonly database".
    db = history(shared_dir / "h.db", (MAY, "published as 'root'", Compliance.PENDING))
    db.chmod(0o444)
    shared_dir.chmod(0o555)
    before = db.stat().st_mtime_ns
    done = as_nobody("report", "--db", str(db), "--format", "json", "--as-of", "2010-06-08", cwd=shared_dir)
    assert_clean(done, 0, within=30)
    assert fzk_cell(done.stdout)["message"] == "published as 'root'"
    assert sorted(p.name for p in shared_dir.iterdir()) == ["h.db"] and db.stat().st_mtime_ns == before


def test_report_on_a_read_only_file_in_a_writable_directory(shared_dir: Path) -> None:
    db = history(shared_dir / "h.db", (MAY, "published as 'root'", Compliance.PENDING))
    db.chmod(0o444)
    shared_dir.chmod(0o777)
    done = as_nobody("report", "--db", str(db), "--as-of", "2010-06-08", cwd=shared_dir)
    assert_clean(done, 0, within=30)
    assert "FZK-LCG2" in done.stdout and sorted(p.name for p in shared_dir.iterdir()) == ["h.db"]


def test_ingest_into_a_read_only_database_names_the_cause(shared_dir: Path) -> None:
    db = history(shared_dir / "h.db", (MAY, "published as 'root'", Compliance.PENDING))
    sent = shared_dir / "sent.json"
    sent.write_text(json.dumps({**result("FZK-LCG2", JUNE, "ok").to_json()}), encoding="utf-8")
    db.chmod(0o444)
    shared_dir.chmod(0o555)
    done = as_nobody("ingest", "--db", str(db), str(sent), cwd=shared_dir)
    assert_clean(done, 3, within=30, mentions=str(db))
    assert len(done.stderr.strip().splitlines()) == 1
    assert "read-only" in done.stderr and "attempt to write a readonly database" not in done.stderr


def test_read_only_directory_writable_file_names_the_directory(shared_dir: Path) -> None:
    db = history(shared_dir / "h.db", (MAY, "published as 'root'", Compliance.PENDING))
    sent = shared_dir / "sent.json"
    sent.write_text(json.dumps(result("FZK-LCG2", JUNE, "ok").to_json()), encoding="utf-8")
    db.chmod(0o666)
    shared_dir.chmod(0o555)
    done = as_nobody("ingest", "--db", str(db), str(sent), cwd=shared_dir)
    assert_clean(done, 3, within=30, mentions=str(db))
    assert f"its directory {shared_dir} is not writable" in done.stderr, done.stderr


def test_report_with_an_unapplied_log_in_a_read_only_directory(shared_dir: Path) -> None:
    # A writer that crashed leaves a -wal; without -shm a read-only open cannot apply it.
    src = shared_dir / "src"
    src.mkdir()
    writer = Store(src / "h.db")
    writer.add(result("FZK-LCG2", MAY, "in the log only"))
    ro = shared_dir / "ro"
    ro.mkdir()
    shutil.copy(src / "h.db", ro / "h.db")
    shutil.copy(src / "h.db-wal", ro / "h.db-wal")
    writer.close()
    ro.chmod(0o555)
    done = as_nobody("report", "--db", str(ro / "h.db"), "--as-of", "2010-06-08", cwd=shared_dir)
    assert_clean(done, 3, within=30, mentions=str(ro / "h.db"))
    assert "write-ahead log h.db-wal has not been applied" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


_BUNDLED_AS_NOBODY = _PRELOAD + r"""
from gridready import bundled
bundled._PACKAGE = Path(sys.argv[1])
os.setgroups([]); os.setgid(65534); os.setuid(65534)
sys.argv[0] = "gridready"
sys.exit(main(["rules", "validate"]))
"""


@pytest.mark.parametrize("mode", [0o700, 0o000])
def test_bundled_rules_that_nobody_can_read_are_named_in_one_line(shared_dir: Path, mode: int) -> None:
    # An installed gridready under a 0700 home (pyenv under /root): the bundled
    # tree exists but cannot be looked into. Before: "internal error ... PermissionError".
    config = shared_dir / "pkg" / "_config"
    config.mkdir(parents=True)
    rules = config / "milestones.yaml"
    shutil.copyfile(bundled.milestones_file(), rules)
    config.chmod(mode)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _BUNDLED_AS_NOBODY, str(shared_dir / "pkg")], capture_output=True,
                          cwd=shared_dir, timeout=60, stdin=subprocess.DEVNULL)
    done = Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode(), time.monotonic() - started)
    assert_clean(done, 3, within=30, mentions=str(rules))
    assert "internal error" not in done.stderr
    assert "Permission denied" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["directory", "junk", "empty-sqlite-other-schema"])
def test_report_on_something_that_is_not_a_history(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "h.db"
    if kind == "directory":
        db.mkdir()
    elif kind == "junk":
        db.write_bytes(b"\x1b[2Jnot sqlite" * 100)
    else:
        sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    done = run("gridready", "report", "--db", str(db), "--as-of", "2010-06-08")
    assert_clean(done, 3, within=30, mentions=str(db))
    assert len(done.stderr.strip().splitlines()) == 1


def _snapshot(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(db.parent.iterdir()) if p.name.startswith(db.name)}


def _refused_unchanged(db: Path, command: tuple[str, ...], reason: str, cwd: Path) -> None:
    """``gridready COMMAND --db DB ...`` exits 3 with ``DB: reason`` and leaves the file as it was."""
    before = _snapshot(db)
    done = run("gridready", command[0], "--db", str(db), *command[1:], cwd=cwd)
    assert_clean(done, 3, within=30)
    assert done.stderr == f"gridready: {db}: {reason}\n"
    assert _snapshot(db) == before


@pytest.mark.parametrize("kind", ["other-application", "newer-schema"])
@pytest.mark.parametrize("command", [
    ("ingest", str(bundled.example_dir() / "glexec" / "pic.json")),
    ("sweep", "--inventory", str(bundled.example_dir() / "sites.yaml")),
    ("prune", "--before", "2010-06-01"),
], ids=["ingest", "sweep", "prune"])
def test_a_writer_leaves_a_database_that_is_not_its_own_unchanged(tmp_path: Path, command: tuple[str, ...],
                                                                   kind: str) -> None:
    # Bug: ingest/sweep --db their.db added gridready's tables, rows and WAL mode to any SQLite file.
    db = tmp_path / "their.db"
    if kind == "other-application":
        con = sqlite3.connect(db)
        con.executescript("CREATE TABLE accounts (name TEXT); INSERT INTO accounts VALUES ('x');")
        reason = "not a gridready history database (an SQLite database with other tables: accounts; left unchanged)"
    else:
        Store(db).close()
        con = sqlite3.connect(db)
        con.execute("UPDATE meta SET value = 'gridready.store/2' WHERE key = 'schema'")
        con.commit()
        con.execute("PRAGMA journal_mode = DELETE")
        reason = ("a history database of schema gridready.store/2, written by a newer gridready; this version "
                  "reads gridready.store/1 only (left unchanged)")
    con.commit()
    con.close()
    _refused_unchanged(db, command, reason, tmp_path)


@pytest.mark.parametrize("kind, reason", [
    # Bug: only tables counted as someone else's, so a file of views got gridready's tables and WAL mode.
    ("views-only", "not a gridready history database (an SQLite database with other tables: v; left unchanged)"),
    # Bug: a view named meta passed the schema check; the writer switched the file to WAL before failing.
    ("view-named-meta", "not a gridready history database (meta is a view, not a table; left unchanged)"),
    ("view-named-results", "not a gridready history database (results is a view, not a table; left unchanged)"),
], ids=["views-only", "view-named-meta", "view-named-results"])
@pytest.mark.parametrize("command", [
    ("ingest", str(bundled.example_dir() / "glexec" / "pic.json")),
    ("prune", "--before", "2010-06-01"),
], ids=["ingest", "prune"])
def test_a_writer_leaves_a_database_of_views_unchanged(tmp_path: Path, command: tuple[str, ...], kind: str,
                                                        reason: str) -> None:
    db = tmp_path / "their.db"
    con = sqlite3.connect(db)
    if kind == "views-only":
        con.execute("CREATE VIEW v AS SELECT 1 AS x")
    elif kind == "view-named-meta":
        con.execute("CREATE VIEW meta AS SELECT 'schema' AS key, 'gridready.store/1' AS value")
    else:
        con.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                          "INSERT INTO meta VALUES ('schema', 'gridready.store/1');"
                          "CREATE VIEW results AS SELECT 1 AS id;")
    con.commit()
    con.close()
    _refused_unchanged(db, command, reason, tmp_path)


@pytest.mark.parametrize("command", ["ingest", "report", "prune"])
@pytest.mark.parametrize("kind", ["long-table-name", "long-schema-value", "long-blob-schema"])
def test_a_foreign_name_or_schema_value_is_cut_in_the_error_line(tmp_path: Path, command: str, kind: str) -> None:
    # Bug: another application's table name or meta value went whole into the one error line.
    db = tmp_path / "their.db"
    con = sqlite3.connect(db)
    if kind == "long-table-name":
        con.execute(f'CREATE TABLE "{"t" * 100000}" (x)')
    else:
        con.execute("CREATE TABLE meta (key TEXT, value)")
        value: object = "\x1b[2J" + "x" * 100000 if kind == "long-schema-value" else b"\x1b" * 100000
        con.execute("INSERT INTO meta VALUES ('schema', ?)", (value,))
    con.commit()
    con.close()
    args = {"ingest": ("ingest", str(bundled.example_dir() / "glexec" / "pic.json")),
            "report": ("report", "--as-of", "2010-06-08"), "prune": ("prune", "--before", "2010-06-01")}[command]
    done = run("gridready", args[0], "--db", str(db), *args[1:], cwd=tmp_path)
    assert_clean(done, 3, within=30, mentions=str(db))
    assert len(done.stderr.splitlines()) == 1
    assert len(done.stderr) < 400, done.stderr


def _history_with_meta(db: Path, key: str, value: str) -> Path:
    """A fresh history whose ``meta`` row ``key`` holds ``value``."""
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
    con.commit()
    con.close()
    return db


@pytest.mark.parametrize("revision", ["9" * 6000, "\u00b2", "\u0663", "x", ""])
def test_a_damaged_revision_mark_is_read_as_the_first_revision(tmp_path: Path, revision: str) -> None:
    # Bug: a revision of thousands of digits was an internal error (int() refuses them); '²' passes
    # str.isdigit() and int() refuses it too. Such a mark is revision 1: the migration runs again.
    db = _history_with_meta(tmp_path / "h.db", "revision", revision)
    done = run("gridready", "ingest", "--db", str(db), str(bundled.example_dir() / "glexec" / "pic.json"))
    assert_clean(done, 0, within=30)
    assert sqlite3.connect(db).execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0] == "2"


@pytest.mark.parametrize("schema, by", [("gridready.store/\u00b2", "another"), ("gridready.store/" + "9" * 30, "a newer"),
                                        ("gridready.store/7", "a newer")])
def test_a_schema_mark_with_odd_digits_is_named_not_an_internal_error(tmp_path: Path, schema: str, by: str) -> None:
    db = _history_with_meta(tmp_path / "h.db", "schema", schema)
    done = run("gridready", "ingest", "--db", str(db), str(bundled.example_dir() / "glexec" / "pic.json"))
    assert_clean(done, 3, within=30)
    assert done.stderr == (f"gridready: {db}: a history database of schema {schema[:40]}, written by {by} gridready; "
                           "this version reads gridready.store/1 only (left unchanged)\n")


# --- as of a date: only what was known then ---------------------------------------------------------------

@pytest.mark.parametrize("as_of, message", [
    ("2010-05-15", "published as 'root' (May)"),
    ("2010-06-07", "published as 'root' (May)"),
    ("2010-06-08", "published as 'xroot' (June)"),
])
def test_report_as_of_a_past_date(tmp_path: Path, as_of: str, message: str) -> None:
    # Bug: --as-of 2010-05-15 showed FZK compliant in May from a June result.
    db = history(tmp_path / "h.db", (MAY, "published as 'root' (May)", Compliance.PENDING),
                 (JUNE, "published as 'xroot' (June)", Compliance.COMPLIANT))
    done = run("gridready", "report", "--db", str(db), "--format", "json", "--as-of", as_of)
    assert_clean(done, 0, within=30)
    cell = fzk_cell(done.stdout)
    assert cell["message"] == message
    assert cell["compliance"] == ("COMPLIANT" if "June" in message else "PENDING")


def test_since_uses_results_checked_by_the_end_of_the_since_day(tmp_path: Path) -> None:
    late = datetime(2010, 5, 15, 23, 59, 59, tzinfo=timezone.utc)
    db = history(tmp_path / "h.db", (MAY, "published as 'root'", Compliance.PENDING),
                 (late, "published as 'xroot'", Compliance.COMPLIANT))
    done = run("gridready", "report", "--db", str(db), "--format", "json", "--as-of", "2010-06-08",
               "--since", "2010-05-15")
    assert_clean(done, 0, within=30)
    assert json.loads(done.stdout)["changes"] == []           # known by the end of the since day
    done = run("gridready", "report", "--db", str(db), "--format", "json", "--as-of", "2010-06-08",
               "--since", "2010-05-14")
    assert [(c["site"], c["from"], c["to"]) for c in json.loads(done.stdout)["changes"]] == [
        ("FZK-LCG2", "PENDING", "COMPLIANT")]


def test_a_future_dated_row_in_the_history_masks_nothing(tmp_path: Path) -> None:
    # Ingest refuses such results; one written by an older version must still not hide later ones.
    db = history(tmp_path / "h.db", (MAY, "May", Compliance.PENDING),
                 (datetime(2099, 1, 1, tzinfo=timezone.utc), "from 2099", Compliance.COMPLIANT),
                 (JUNE, "June", Compliance.PENDING))
    for as_of, message in (("2010-06-08", "June"), ("2010-05-31", "May")):
        done = run("gridready", "report", "--db", str(db), "--format", "json", "--as-of", as_of)
        assert_clean(done, 0, within=30)
        assert fzk_cell(done.stdout)["message"] == message
    done = run("gridready", "report", "--db", str(db), "--format", "json")      # today
    assert_clean(done, 2, within=30)
    assert fzk_cell(done.stdout)["message"] == "June"


def test_a_result_dated_before_the_year_1000_masks_nothing_and_exports(tmp_path: Path) -> None:
    # Bug: glibc's %Y wrote 0999 as '999-...', which sorts after '2010-...' as text: the ingested
    # result became the "latest" for today's report, and export stopped at it (corrupt row).
    ancient = dict(json.loads((bundled.example_dir() / "glexec" / "pic.json").read_text()),
                   checked_at="0999-06-08T10:00:00Z", summary="ancient")
    path = write(tmp_path / "ancient.json", json.dumps(ancient))
    db = tmp_path / "h.db"
    history(db, (JUNE, "June", Compliance.PENDING))
    assert_clean(run("gridready", "ingest", "--db", str(db), str(path)), 0, within=30)
    assert sqlite3.connect(db).execute("SELECT min(checked_at) FROM results").fetchone()[0] == "0999-06-08T10:00:00Z"
    done = run("gridready", "report", "--db", str(db), "--format", "json", "--as-of", "2010-06-08")
    assert_clean(done, 0, within=30)
    pic = next(s for s in json.loads(done.stdout)["sites"] if s["name"] == "pic")
    assert [m["checked_at"] for m in pic["milestones"] if m["id"] == "glexec-scas-argus-t1"] == ["0999-06-08T10:00:00Z"]
    done = run("gridready", "export", "--db", str(db))
    assert_clean(done, 0, within=30)
    assert done.stdout.count("EOT\n") == 2


# --- hostile names in every output format -----------------------------------------------------------------

#: Control characters are refused in inventories and rules (one clean line); the rest must be escaped.
EVIL = "EVIL|x <script>alert(1)</script>`x`[l](http://e) *b* _i_ ~s~ # h"


@pytest.mark.parametrize("fmt", ["table", "markdown", "ssb", "json"])
def test_hostile_site_names_and_titles_in_every_format(tmp_path: Path, fmt: str) -> None:
    inventory = write(tmp_path / "sites.yaml", f"""
        sites:
          - {{name: {json.dumps(EVIL)}, tier: 1}}
          - {{name: FZK-LCG2, tier: 1}}
        """)
    rules = write(tmp_path / "milestones.yaml", """
        milestones:
          - id: xrootd-protocol-string
            title: "xroot | published\\n<img src=x onerror=alert(1)> **b**"
            source: "GDB\\t2010-06 [m](http://evil)"
            deadline: 2010-09-30
            warn_days: 30
            scope: {tiers: [1]}
            check: xrootd
            expect: {}
        """)
    db = history(tmp_path / "h.db", (MAY, "published as 'root'\x1b[2J\n<script>", Compliance.PENDING))
    with Store(db) as store:
        store.add(result(EVIL, MAY, "door \x1b[2J | down\n<b>"))     # ingest-side values keep controls
    done = run("gridready", "report", "--db", str(db), "--inventory", str(inventory), "--milestones", str(rules),
               "--format", fmt, "--as-of", "2010-10-08", "--since", "2010-05-01",
               *(["--ssb-url", "https://ssb.example/{site}"] if fmt == "ssb" else []))
    assert_clean(done, 2, within=30)                       # assert_clean: no ESC anywhere in the output
    assert "\x07" not in done.output and "\x1b" not in done.output
    if fmt == "markdown":
        assert "<script>" not in done.stdout and "<img" not in done.stdout
        assert len([line for line in done.stdout.splitlines() if line.startswith("| EVIL")]) == 1
    if fmt == "table":
        assert len([line for line in done.stdout.splitlines() if line.startswith("EVIL")]) == 1
    if fmt == "ssb":
        assert all(len(line.split("\t")) == 5 for line in done.stdout.splitlines())
        assert len(done.stdout.splitlines()) == 2
    if fmt == "json":
        doc = json.loads(done.stdout)
        assert doc["sites"][0]["name"] == EVIL and doc["milestones"][0]["title"].startswith("xroot | published")
        fzk = fzk_cell(done.stdout)
        assert fzk["message"] == "published as 'root'\x1b[2J\n<script>"     # JSON-escaped as \u001b on the wire
        assert "\\u001b[2J" in done.stdout


def test_control_characters_in_an_inventory_name_are_refused_in_one_line(tmp_path: Path) -> None:
    inventory = write(tmp_path / "sites.yaml", f"""
        sites:
          - {{name: {json.dumps("EVIL" + chr(27) + "]0;pwned" + chr(7))}, tier: 1}}
        """)
    db = history(tmp_path / "h.db", (MAY, "m", Compliance.PENDING))
    done = run("gridready", "report", "--db", str(db), "--inventory", str(inventory), "--as-of", "2010-06-08")
    assert_clean(done, 3, within=30, mentions=str(inventory))
    assert len(done.stderr.strip().splitlines()) == 1 and "\x07" not in done.output


def test_the_bench_style_history_opens_without_writing(tmp_path: Path) -> None:
    # A history written by another process that is still open (-shm present): read-only but shared.
    db = history(tmp_path / "h.db", (MAY, "May", Compliance.PENDING))
    writer = Store(db)
    try:
        writer.add(result("FZK-LCG2", JUNE, "June"))
        done = run("gridready", "report", "--db", str(db), "--format", "json", "--as-of", "2010-06-08")
        assert_clean(done, 0, within=30)
        assert fzk_cell(done.stdout)["message"] == "June"
    finally:
        writer.close()
    assert not os.path.exists(str(db) + "-wal")
