"""Round 3 of the hostile suite: what the last attack before the held-back suite found.

Each test runs the command as a user would (tests.hostile.runner) and asserts
the exact one-line error (or the exact stderr note), the exit code and the
time bound.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.hostile.runner import assert_clean, run

DATA = Path(__file__).resolve().parents[1] / "data"
GOCDB = str(DATA / "topology" / "gocdb.xml")
DEEP = "[" * 100_000 + "]" * 100_000


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def result_json(tmp_path: Path) -> Path:
    data = {"schema": "gridready.result/1", "check": "xrootd", "site": "RAL-LCG2", "host": "h:1094",
            "state": "OK", "summary": "s", "checked_at": "2010-06-08T10:00:00Z",
            "milestones": [{"id": "xrootd-protocol-string", "compliance": "COMPLIANT", "state": "OK",
                            "deadline": "2010-05-31", "days_left": -8, "message": "m", "waiver": None}],
            "metrics": {"handshake_ms": 4.2}, "details": ["d"]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    return path


def history_with(tmp_path: Path, column: str, value: str) -> Path:
    """A history of one ingested result whose ``column`` of ``results`` then holds ``value``."""
    db = tmp_path / "h.db"
    assert run("gridready", "ingest", "--db", str(db), str(result_json(tmp_path)), timeout=20).code == 0
    con = sqlite3.connect(db)
    con.execute(f"UPDATE results SET {column} = ?", (value,))
    con.commit()
    con.close()
    return db


# --- JSON nested too deeply in a stored row or a spool entry: corrupt, not an internal error


@pytest.mark.parametrize("column", ["details", "metrics", "milestones"])
@pytest.mark.parametrize("command", [["report", "--as-of", "2010-06-08"],
                                     ["history", "--from", "2010-06-01", "--to", "2010-06-09"]])
def test_deeply_nested_stored_json_reads_as_a_corrupt_row(tmp_path: Path, column: str, command: list[str]) -> None:
    db = history_with(tmp_path, column, DEEP)
    result = run("gridready", *command, "--db", str(db), timeout=30)
    assert_clean(result, 0, within=20)
    assert one_error_line(result.stderr) == (
        f"gridready: {db}: corrupt stored result 1 (RAL-LCG2 xrootd 2010-06-08T10:00:00Z): {column} is JSON "
        f"nested too deeply; its milestones are shown as UNKNOWN")


@pytest.mark.parametrize("column", ["details", "metrics", "milestones"])
def test_deeply_nested_stored_json_stops_an_export_with_one_line(tmp_path: Path, column: str) -> None:
    db = history_with(tmp_path, column, DEEP)
    result = run("gridready", "export", "--db", str(db), timeout=30)
    assert_clean(result, 3, within=20)
    assert one_error_line(result.stderr) == \
        f"gridready: {db}: corrupt result row: xrootd result of RAL-LCG2: JSON nested too deeply"


def test_deeply_nested_spool_entry_names_the_file(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    entry = spool / "0000000000000001.msg"
    entry.write_text(DEEP)
    result = run("gridready", "publish", "--flush", "--spool", str(spool), "--broker", "127.0.0.1:1",
                 "--destination", "/topic/x", "--timeout", "2", "--retries", "1", timeout=30)
    assert_clean(result, 3, within=20)
    assert one_error_line(result.stderr) == \
        f"gridready: {entry}: unreadable spooled message: JSON nested too deeply"
    assert entry.read_text() == DEEP        # left for a person to look at


# --- a finite but huge number of seconds: refused like inf, never an OverflowError


@pytest.mark.parametrize("value", ["99999999999999999999", "1e20", "3600.5"])
def test_inventory_import_timeout_is_bounded(tmp_path: Path, value: str) -> None:
    result = run("gridready", "inventory", "import", "--cric", "https://127.0.0.1:1/", "-t", value, timeout=20)
    assert_clean(result, 3, within=10)
    assert one_error_line(result.stderr) == (
        f"gridready: inventory import: -t must be more than 0 and at most 3600 seconds, got {float(value):g}")


def test_inventory_import_timeout_at_the_bound_is_accepted(tmp_path: Path) -> None:
    result = run("gridready", "inventory", "import", "--gocdb", GOCDB, "-t", "3600", timeout=20)
    assert result.code == 0, result.output
    assert "sites:" in result.stdout
