"""``gridready ingest``: good files stored, each bad one named on stderr, exit 3 if any was bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridready.cli import main
from gridready.compliance import Outcome
from gridready.store import Store
from tests.test_report_cli import probe_result, save


def test_good_and_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "h.db")
    good = save(tmp_path, "good.json", probe_result("RAL-LCG2", "glexec", "wn1.rl.ac.uk", "2010-06-08T10:00:00Z",
                                                     ("glexec", "OVERDUE", "no SCAS or Argus", -8)))
    good2 = save(tmp_path, "good2.json", probe_result("pic", "glexec", "wn1.pic.es", "2010-06-08T10:00:00Z",
                                                       ("glexec", "COMPLIANT", "Argus", -8)))
    wrong_schema = save(tmp_path, "other.json", {"schema": "something/2"})
    no_json = str(tmp_path / "trunc.json")
    Path(no_json).write_text('{"schema": "gridready.result/1", ')
    missing = str(tmp_path / "missing.json")
    rc = main(["ingest", "--db", db, good, wrong_schema, no_json, good2, missing])
    out, err = capsys.readouterr()
    assert rc == 3
    assert err.splitlines() == [
        f"gridready ingest: rejected {wrong_schema}: not a gridready result: schema is 'something/2', "
        "expected 'gridready.result/1'",
        f"gridready ingest: rejected {no_json}: not a gridready result: invalid JSON at line 1: "
        "Expecting property name enclosed in double quotes",
        f"gridready ingest: rejected {missing}: cannot read result file: No such file or directory"]
    assert out == f"ingested 2 results into {db}, rejected 3 files\n"
    with Store(db) as store:
        latest = {r.site: r for r in store.latest()}
    assert set(latest) == {"RAL-LCG2", "pic"}
    ral = latest["RAL-LCG2"]
    assert (ral.check, ral.host, ral.target, ral.outcome.outcome, ral.outcome.message) == (
        "glexec", "wn1.rl.ac.uk", "wn1.rl.ac.uk", Outcome.FAIL, "no SCAS or Argus")


def test_all_good_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save(tmp_path, "r.json", probe_result("pic", "xrootd", "door:1094", "2010-06-08T10:00:00Z",
                                                  ("xroot", "COMPLIANT", "ok", 114)))
    assert main(["ingest", "--db", str(tmp_path / "h.db"), path]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (f"ingested 1 result into {tmp_path / 'h.db'}\n", "")


def test_same_file_twice_is_stored_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Was "keeps history" (2 rows): the store is now idempotent on (site, check, target, checked_at).
    path = save(tmp_path, "r.json", probe_result("pic", "xrootd", "door:1094", "2010-06-08T10:00:00Z",
                                                  ("xroot", "COMPLIANT", "ok", 114)))
    db = str(tmp_path / "h.db")
    capsys.readouterr()
    assert main(["ingest", "--db", db, path, path]) == 0
    assert capsys.readouterr().out == f"ingested 1 result into {db}, 1 already stored\n"
    with Store(db) as store:
        assert store.count() == 1 and len(store.latest()) == 1


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit codes: 0 all files stored, 3 some file rejected" in text


def test_unusable_database_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not a database" * 100)
    path = save(tmp_path, "r.json", probe_result("pic", "xrootd", "d", "2010-06-08T10:00:00Z",
                                                  ("xroot", "COMPLIANT", "ok", 1)))
    assert main(["ingest", "--db", str(junk), path]) == 3
    assert capsys.readouterr().err.startswith(f"gridready: {junk}: not a gridready history database")


@pytest.mark.parametrize("stamp, why", [
    ("2010-06-08T10:00:00+00:00", "is not YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"),
    ("2010-06-08T10:00:00.250Z", "is not YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"),
    ("2010-06-08T10:00:00z", "is not YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"),
    ("2010-06-08t10:00:00Z", "is not YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"),
    ("2010-6-8T10:0:0Z", "is not YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"),
    ("2010-06-08T10:00:00", "is not YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)"),
    ("2010-06-31T10:00:00Z", "is not a real date and time"),
])
def test_checked_at_only_in_the_schema_notation(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                stamp: str, why: str) -> None:
    # docs/result.schema.json: ^YYYY-MM-DDTHH:MM:SSZ$. Before, strptime let a lower-case
    # z or t and one-digit fields through while +00:00 and fractions were refused.
    path = save(tmp_path, "r.json", probe_result("pic", "xrootd", "door:1094", stamp,
                                                  ("xroot", "COMPLIANT", "ok", 114)))
    assert main(["ingest", "--db", str(tmp_path / "h.db"), path]) == 3
    out, err = capsys.readouterr()
    assert err == f"gridready ingest: rejected {path}: not a gridready result: bad value checked_at {stamp!r} {why}\n"
    assert out == f"ingested 0 results into {tmp_path / 'h.db'}, rejected 1 file\n"


def test_deadline_only_as_yyyy_mm_dd(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = probe_result("pic", "xrootd", "door:1094", "2010-06-08T10:00:00Z", ("xroot", "COMPLIANT", "ok", 114))
    result["milestones"][0]["deadline"] = "20100930"
    path = save(tmp_path, "r.json", result)
    assert main(["ingest", "--db", str(tmp_path / "h.db"), path]) == 3
    assert capsys.readouterr().err == (f"gridready ingest: rejected {path}: not a gridready result: "
                                       "bad value deadline '20100930' is not YYYY-MM-DD\n")
