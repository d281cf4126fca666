"""Round 3 of the hostile suite: what the last attack before the held-back suite found.

Each test runs the command as a user would (tests.hostile.runner) and asserts
the exact one-line error (or the exact stderr note), the exit code and the
time bound.
"""

from __future__ import annotations

import json
import re
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


# --- dates: one strict reading (ASCII YYYY-MM-DD, a real day) for --date and a source's stamps


@pytest.mark.parametrize(("value", "why"), [("2010-13-01", "is not a real date"), ("2010-02-30", "is not a real date"),
                                            ("0000-01-01", "is not a real date"),
                                            ("\uff12\uff10\uff11\uff10-06-08", "is not YYYY-MM-DD"),
                                            ("2010-6-8", "is not YYYY-MM-DD")])
def test_inventory_import_date_must_be_a_real_day(tmp_path: Path, value: str, why: str) -> None:
    result = run("gridready", "inventory", "import", "--gocdb", GOCDB, "--date", value, timeout=20)
    assert_clean(result, 3, within=10)
    assert one_error_line(result.stderr) == f"gridready: inventory import: --date {value!r} {why}"


@pytest.mark.parametrize("stamp", ["2010-13-45T00:00:00", "0000-01-01T00:00:00",
                                   "\uff12\uff10\uff11\uff10-06-08T00:00:00"])
def test_a_source_stamp_that_is_no_real_day_is_not_written(tmp_path: Path, stamp: str) -> None:
    text = (DATA / "topology" / "cric.json").read_text()    # a site document, then the services
    cric = tmp_path / "cric.json"
    cric.write_text(re.sub(r'"last_modified": "[^"]*"', f'"last_modified": "{stamp}"', text))
    result = run("gridready", "inventory", "import", "--cric", str(cric), timeout=20)
    assert_clean(result, 0, within=10)
    comments = [line for line in result.stdout.splitlines() if "CRIC cric.json;" in line]
    assert comments and all(line.endswith("; undated") for line in comments), result.stdout


# --- a NUL byte in a path read from a configuration file: UNKNOWN naming it, not ValueError


@pytest.mark.parametrize("root", [True, False])
def test_lcmaps_db_path_with_a_nul_byte_is_unknown_naming_it(tmp_path: Path, root: bool) -> None:
    from tests.test_glexec_install import CONF, RULES, make_node

    node = make_node(tmp_path / "node", conf=CONF.replace("/etc/lcmaps/lcmaps-glexec.db", "/etc/lcmaps/x\x00y.db"))
    (tmp_path / "rules.yaml").write_text(RULES)
    where = ["--root", str(node)] if root else ["--conf", str(node / "etc" / "glexec.conf")]
    result = run("check_glexec", "--milestones", str(tmp_path / "rules.yaml"), "--milestone", "scas-argus",
                 "--as-of", "2010-06-08", "--host", "wn", *where, "-t", "5", timeout=30)
    assert_clean(result, 3, within=20)
    assert result.stdout.splitlines()[0] == \
        "GLEXEC UNKNOWN - wn: scas-argus UNKNOWN: '/etc/lcmaps/x\\x00y.db': the name holds a NUL byte"


def test_local_read_of_a_name_with_a_nul_byte_is_a_source_error() -> None:
    from gridready.errors import SourceError
    from gridready.localfile import read_bytes

    with pytest.raises(SourceError) as caught:
        read_bytes("/etc/x\x00y", what="LCMAPS database")
    assert str(caught.value) == "'/etc/x\\x00y': cannot read LCMAPS database: the name holds a NUL byte"
