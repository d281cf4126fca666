"""gridready history: exact series on a small history, the same answer as report --as-of each day, schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gridready.cli import main
from tests.helpers import REPO
from tests.test_report_cli import grid, ingest, probe_result

SCHEMA = json.loads((REPO / "docs" / "history.schema.json").read_text(encoding="utf-8"))


@pytest.fixture()
def db(tmp_path: Path) -> tuple[str, Path, Path]:
    """RAL: PENDING on 06-07, COMPLIANT at the last second of 06-09, PENDING again at 06-10 00:00:00;
    CERN COMPLIANT from 06-08; pic never checked for xroot, COMPLIANT for fts from 06-07."""
    rules, inventory = grid(tmp_path)
    path = str(tmp_path / "h.db")
    ingest(tmp_path, path,
           probe_result("RAL-LCG2", "xrootd", "a:1094", "2010-06-07T08:00:00Z", ("xroot", "PENDING", "root", 115)),
           probe_result("RAL-LCG2", "xrootd", "a:1094", "2010-06-09T23:59:59Z", ("xroot", "COMPLIANT", "ok", 113)),
           probe_result("RAL-LCG2", "xrootd", "a:1094", "2010-06-10T00:00:00Z", ("xroot", "PENDING", "root", 112)),
           probe_result("CERN-PROD", "xrootd", "c:1094", "2010-06-08T12:00:00Z", ("xroot", "COMPLIANT", "ok", 114)),
           probe_result("pic", "fts_channels", "fts.pic.es", "2010-06-07T00:00:00Z", ("fts", "COMPLIANT", "ok", -68)))
    return path, rules, inventory


def history(capsys: pytest.CaptureFixture[str], db: tuple[str, Path, Path], *args: str) -> tuple[int, str, str]:
    path, rules, inventory = db
    capsys.readouterr()
    rc = main(["history", "--db", path, "--milestones", str(rules), "--inventory", str(inventory), *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_csv_exact(db: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = history(capsys, db, "--milestone", "xroot", "--from", "2010-06-07", "--to", "2010-06-10",
                           "--format", "csv")
    assert (rc, err) == (0, "")
    assert out == """\
date,milestone,site,compliance,compliant,applicable
2010-06-07,xroot,,,0,3
2010-06-07,xroot,CERN-PROD,UNKNOWN,,
2010-06-07,xroot,pic,UNKNOWN,,
2010-06-07,xroot,RAL-LCG2,PENDING,,
2010-06-08,xroot,,,1,3
2010-06-08,xroot,CERN-PROD,COMPLIANT,,
2010-06-08,xroot,pic,UNKNOWN,,
2010-06-08,xroot,RAL-LCG2,PENDING,,
2010-06-09,xroot,,,2,3
2010-06-09,xroot,CERN-PROD,COMPLIANT,,
2010-06-09,xroot,pic,UNKNOWN,,
2010-06-09,xroot,RAL-LCG2,COMPLIANT,,
2010-06-10,xroot,,,1,3
2010-06-10,xroot,CERN-PROD,COMPLIANT,,
2010-06-10,xroot,pic,UNKNOWN,,
2010-06-10,xroot,RAL-LCG2,PENDING,,
"""


def test_json_exact_with_site_filter(db: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = history(capsys, db, "--site", "pic", "--from", "2010-06-06", "--to", "2010-06-07")
    assert (rc, err) == (0, "")
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert doc == {
        "schema": "gridready.history/1", "from": "2010-06-06", "to": "2010-06-07",
        "milestones": [{"id": "xroot", "title": "xroot published", "deadline": "2010-09-30"},
                       {"id": "fts", "title": "FTS channels", "deadline": "2010-03-31"}],
        "sites": [{"name": "pic", "tier": 1}],
        "days": [
            {"date": "2010-06-06",
             "milestones": [{"id": "xroot", "compliant": 0, "applicable": 1},
                            {"id": "fts", "compliant": 0, "applicable": 1}],
             "sites": [{"name": "pic", "milestones": [{"id": "xroot", "compliance": "UNKNOWN"},
                                                      {"id": "fts", "compliance": "UNKNOWN"}]}]},
            {"date": "2010-06-07",
             "milestones": [{"id": "xroot", "compliant": 0, "applicable": 1},
                            {"id": "fts", "compliant": 1, "applicable": 1}],
             "sites": [{"name": "pic", "milestones": [{"id": "xroot", "compliance": "UNKNOWN"},
                                                      {"id": "fts", "compliance": "COMPLIANT"}]}]}]}


def test_each_day_is_the_report_as_of_that_day(db: tuple[str, Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path, rules, inventory = db
    rc, out, _ = history(capsys, db, "--from", "2010-06-06", "--to", "2010-06-11")
    assert rc == 0
    days = json.loads(out)["days"]
    assert [d["date"] for d in days] == [f"2010-06-{n:02d}" for n in range(6, 12)]
    for d in days:
        main(["report", "--db", path, "--milestones", str(rules), "--inventory", str(inventory),
              "--format", "json", "--as-of", d["date"]])
        rep = json.loads(capsys.readouterr().out)
        assert [{"name": s["name"], "milestones": [{"id": m["id"], "compliance": m["compliance"]}
                                                   for m in s["milestones"]]} for s in rep["sites"]] == d["sites"]
        assert [{"id": m["id"], "compliant": m["compliant"], "applicable": m["applicable"]}
                for m in rep["milestones"]] == d["milestones"]


def test_default_range_starts_at_the_first_result(db: tuple[str, Path, Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = history(capsys, db, "--to", "2010-06-08")
    assert rc == 0
    assert [d["date"] for d in json.loads(out)["days"]] == ["2010-06-07", "2010-06-08"]


@pytest.mark.parametrize("args, message", [
    (["--from", "2010-06-09", "--to", "2010-06-08"], "gridready: --from 2010-06-09 is later than --to 2010-06-08\n"),
    (["--from", "1990-01-01", "--to", "2010-06-08"],
     "gridready: 7464 days from 1990-01-01 to 2010-06-08: at most 3660 days per history\n"),
    (["--site", "NOPE"], None),
    (["--milestone", "nope"], None),
    (["--from", "2010-13-01"], None),
    (["--format", "xml"], None),
])
def test_bad_arguments_exit_3_with_one_line(db: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str],
                                            args: list[str], message: str | None) -> None:
    rc, out, err = history(capsys, db, *args)
    assert (rc, out) == (3, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    if message:
        assert err == message


def test_csv_names_cannot_become_formulas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, _ = grid(tmp_path)
    inventory = tmp_path / "evil.yaml"
    inventory.write_text('sites:\n  - {name: "=HYPERLINK(\\"http://x\\")", tier: 1}\n  - {name: "@SUM", tier: 1}\n',
                         encoding="utf-8")
    path = str(tmp_path / "e.db")
    ingest(tmp_path, path, probe_result("x", "xrootd", "x:1094", "2010-06-07T08:00:00Z",
                                        ("xroot", "PENDING", "root", 115)))
    capsys.readouterr()
    rc = main(["history", "--db", path, "--milestones", str(rules), "--inventory", str(inventory),
               "--milestone", "xroot", "--from", "2010-06-07", "--to", "2010-06-07", "--format", "csv"])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.splitlines()[2:] == ["2010-06-07,xroot,\"'=HYPERLINK(\"\"http://x\"\")\",UNKNOWN,,",
                                    "2010-06-07,xroot,'@SUM,UNKNOWN,,"]
