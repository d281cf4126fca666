"""gridready prune --before D: reports as of D or later are unchanged, older results go, the file shrinks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gridready.cli import main
from tests.test_report_cli import grid, ingest, probe_result

AS_OF_DATES = ["2010-06-05", "2010-06-06", "2010-06-09", "2010-06-20", "2010-10-08", "2011-01-01"]


def reports(capsys: pytest.CaptureFixture[str], db: str, rules: Path, inventory: Path) -> list[dict[str, object]]:
    out = []
    for day in AS_OF_DATES:
        capsys.readouterr()
        main(["report", "--db", db, "--milestones", str(rules), "--inventory", str(inventory), "--format", "json",
              "--as-of", day, "--since", "2010-06-05"])
        doc = json.loads(capsys.readouterr().out)
        doc.pop("generated_at")
        out.append(doc)
    return out


def test_reports_after_the_cut_are_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, inventory = grid(tmp_path)
    db = str(tmp_path / "h.db")
    results = []
    # Two RAL doors, one checked daily (alternating), one only once long before the cut; pic's FTS checked
    # once before the cut and never again; CERN only after it. Padded details make the file worth vacuuming.
    for day in range(1, 10):
        state = ("xroot", "COMPLIANT", "ok", 100) if day % 2 else ("xroot", "PENDING", "root", 100)
        r = probe_result("RAL-LCG2", "xrootd", "a:1094", f"2010-06-{day:02d}T10:00:00Z", state)
        r["details"] = ["x" * 20000]
        results.append(r)
    results.append(probe_result("RAL-LCG2", "xrootd", "b:1094", "2010-06-01T09:00:00Z",
                                ("xroot", "PENDING", "root", 100)))
    results.append(probe_result("pic", "fts_channels", "fts", "2010-06-02T00:00:00Z", ("fts", "DUE", "drain", -60)))
    results.append(probe_result("CERN-PROD", "xrootd", "c:1094", "2010-06-07T00:00:00Z",
                                ("xroot", "COMPLIANT", "ok", 100)))
    results.append(probe_result("RAL-LCG2", "xrootd", "a:1094", "2010-06-04T23:59:59Z",   # last before the cut
                                ("xroot", "DUE", "late evening", 100)))
    ingest(tmp_path, db, *results)
    before = reports(capsys, db, rules, inventory)
    size = Path(db).stat().st_size

    capsys.readouterr()
    assert main(["prune", "--db", db, "--before", "2010-06-05"]) == 0
    out = capsys.readouterr().out
    # Kept before the cut: RAL a (06-04 23:59:59), RAL b (06-01), pic fts (06-02); gone: RAL a 06-01..06-04 10:00.
    assert out.startswith(f"pruned {db}: 4 results and 4 milestone outcomes before 2010-06-05 removed, "
                          "9 results kept; ")
    assert reports(capsys, db, rules, inventory) == before
    with sqlite3.connect(db) as con:
        kept = con.execute("SELECT site, target, checked_at FROM results WHERE checked_at < '2010-06-05' "
                           "ORDER BY checked_at").fetchall()
    assert kept == [("RAL-LCG2", "b:1094", "2010-06-01T09:00:00Z"), ("pic", "fts", "2010-06-02T00:00:00Z"),
                    ("RAL-LCG2", "a:1094", "2010-06-04T23:59:59Z")]
    assert Path(db).stat().st_size < size - 3 * 20000      # VACUUM gave the space back

    # Pruning again at the same cut changes nothing; history is still readable.
    capsys.readouterr()
    assert main(["prune", "--db", db, "--before", "2010-06-05"]) == 0
    assert "0 results and 0 milestone outcomes" in capsys.readouterr().out
    assert reports(capsys, db, rules, inventory) == before


def test_a_before_date_after_tomorrow_is_refused_and_deletes_nothing(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # Bug: --before 2999-01-01 (a typo for 2009) deleted every result but the latest per site and milestone.
    from datetime import datetime, timedelta, timezone

    db = str(tmp_path / "h.db")
    ingest(tmp_path, db, *(probe_result("RAL-LCG2", "xrootd", "a:1094", f"2010-06-0{d}T10:00:00Z",
                                        ("xroot", "PENDING", "root", 100)) for d in (1, 2)))
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    for too_late in ("2999-01-01", str(tomorrow + timedelta(days=1))):
        capsys.readouterr()
        assert main(["prune", "--db", db, "--before", too_late]) == 3
        err = capsys.readouterr().err
        assert err == (f"gridready: --before {too_late} is in the future: nothing is checked after today, UTC "
                       f"(--before {tomorrow} already keeps only the latest result per site, milestone and "
                       "target)\n")
        assert sqlite3.connect(db).execute("SELECT count(*) FROM results").fetchone()[0] == 2
    assert main(["prune", "--db", db, "--before", str(tomorrow)]) == 0
    assert sqlite3.connect(db).execute("SELECT count(*) FROM results").fetchone()[0] == 1


def test_prune_with_no_db_named_and_no_default_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["prune", "--before", "2010-01-01"]) == 3
    assert capsys.readouterr() == ("", "gridready: ./gridready.db: no such history database (no --db given): "
                                       "nothing to prune (store results with `gridready sweep` or "
                                       "`gridready ingest`, or name one with --db)\n")
    assert not (tmp_path / "gridready.db").exists()
