"""``gridready report`` on a fresh machine: the bundled example grid snapshot, without network."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gridready.cli import main
from gridready.report.schema import json_schema
from gridready.store import Store

MILESTONES = ("glexec-scas-argus-t1", "dcache-supported-release", "xrootd-protocol-string", "fts-t1-channels")
#: The example grid as README.md in config/example describes it, on 2010-06-08.
EXPECTED = {
    "CERN-PROD":      ("NOT_APPLICABLE", "NOT_APPLICABLE", "COMPLIANT",      "COMPLIANT"),
    "BNL-ATLAS":      ("OVERDUE",        "COMPLIANT",      "WAIVED",         "COMPLIANT"),
    "FZK-LCG2":       ("COMPLIANT",      "COMPLIANT",      "PENDING",        "OVERDUE"),   # drained: WARNING
    "IN2P3-CC":       ("COMPLIANT",      "DUE",            "COMPLIANT",      "OVERDUE"),
    "INFN-T1":        ("COMPLIANT",      "NOT_APPLICABLE", "NOT_APPLICABLE", "OVERDUE"),
    "NDGF-T1":        ("WAIVED",         "COMPLIANT",      "PENDING",        "COMPLIANT"),
    "pic":            ("COMPLIANT",      "COMPLIANT",      "COMPLIANT",      "OVERDUE"),
    "RAL-LCG2":       ("COMPLIANT",      "NOT_APPLICABLE", "PENDING",        "COMPLIANT"),
    "SARA-MATRIX":    ("COMPLIANT",      "COMPLIANT",      "PENDING",        "OVERDUE"),
    "Taiwan-LCG2":    ("COMPLIANT",      "NOT_APPLICABLE", "NOT_APPLICABLE", "COMPLIANT"),
    "TRIUMF-LCG2":    ("OVERDUE",        "UNKNOWN",        "PENDING",        "COMPLIANT"),
    "USCMS-FNAL-WC1": ("UNKNOWN",        "DUE",            "NOT_APPLICABLE", "COMPLIANT"),
}


def matrix(doc: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {s["name"]: tuple(m["compliance"] for m in s["milestones"]) for s in doc["sites"]}


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"the example snapshot must not use the network: {args!r}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


NOTE = ("showing the bundled example grid snapshot of 2010-06-08, not a sweep of yours: no --db given and "
        "./gridready.db does not exist\n")


def test_fresh_machine_report_is_the_example_snapshot(tmp_path: Path, no_network: None,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "gridready.db"
    monkeypatch.chdir(tmp_path)
    rc = main(["report", "--format", "json", "--as-of", "2010-06-08"])
    out, err = capsys.readouterr()
    assert err == NOTE
    doc = json.loads(out)
    jsonschema.validate(doc, json_schema())
    assert matrix(doc) == EXPECTED
    assert [m["id"] for m in doc["milestones"]] == list(MILESTONES)
    assert {m["id"]: f"{m['compliant']}/{m['applicable']}" for m in doc["milestones"]} == {
        "glexec-scas-argus-t1": "7/11", "dcache-supported-release": "5/8", "xrootd-protocol-string": "3/9",
        "fts-t1-channels": "7/12"}
    assert doc["data_source"] == "bundled example grid snapshot of 2010-06-08"
    # FZK's drained channel is past its deadline: OVERDUE (was DUE, the bug), degraded so WARNING.
    fzk_fts = doc["sites"][2]["milestones"][3]
    assert (fzk_fts["compliance"], fzk_fts["state"], fzk_fts["days_left"]) == ("OVERDUE", "WARNING", -69)
    assert rc == 2
    swept = {m["checked_at"] for s in doc["sites"] for m in s["milestones"][1:] if m["checked_at"]}
    assert swept == {"2010-06-08T10:00:00Z"}
    uscms = doc["sites"][-1]["milestones"][0]
    assert (uscms["message"], uscms["checked_at"]) == ("no result for this check", None)
    assert not db.exists()                      # looking does not create a database


def test_the_example_inventory_named_is_swept_as_at_the_end_of_the_as_of_day(
        tmp_path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # --inventory config/example/sites.yaml is swept "as of" the day: its gLExec result files, checked at
    # 06:00 that day, used to be refused as "in the future" (the sweep ran as at 00:00), leaving every
    # gLExec cell UNKNOWN; the matrix is now the bundled snapshot's.
    inventory = Path(__file__).resolve().parent.parent / "config" / "example" / "sites.yaml"
    monkeypatch.chdir(tmp_path)
    rc = main(["report", "--format", "json", "--as-of", "2010-06-08", "--inventory", str(inventory)])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert matrix(doc) == EXPECTED and rc == 2
    fzk_glexec = doc["sites"][2]["milestones"][0]
    assert (fzk_glexec["checked_at"], fzk_glexec["compliance"]) == ("2010-06-08T06:00:00Z", "COMPLIANT")
    swept = {m["checked_at"] for s in doc["sites"] for m in s["milestones"][1:] if m["checked_at"]}
    assert swept == {"2010-06-08T23:59:59Z"}
    assert err.startswith("showing a sweep of the example grid ") and not (tmp_path / "gridready.db").exists()


def test_a_named_database_is_reported_even_empty_never_the_example(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # The example is shown only when no --db is named and ./gridready.db does not exist.
    db = tmp_path / "empty.db"
    Store(db).close()
    rc = main(["report", "--db", str(db), "--as-of", "2010-06-08", "--milestone", "fts-t1-channels",
               "--format", "json"])
    out, err = capsys.readouterr()
    assert err == f"{db} holds no results yet: every milestone is UNKNOWN (gridready sweep or ingest fill it)\n"
    doc = json.loads(out)
    assert doc["data_source"] == str(db) and rc == 0
    assert {m["compliance"] for s in doc["sites"] for m in s["milestones"]} == {"UNKNOWN"}
    assert main(["report", "--db", str(tmp_path / "typo.db"), "--as-of", "2010-06-08"]) == 3
    assert capsys.readouterr() == ("", f"gridready: {tmp_path / 'typo.db'}: no such history database (--db)\n")
    assert not (tmp_path / "typo.db").exists()


def test_default_as_of_is_today_and_runs_as_a_process(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gridready.cli", "report", "--format", "json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    doc = json.loads(done.stdout)
    assert doc["as_of"] == datetime.now(timezone.utc).date().isoformat()
    assert done.returncode == 2 and done.stderr == NOTE
    # Years later every failure is overdue, the degraded FTS channel too (it alarms WARNING).
    assert matrix(doc)["IN2P3-CC"][1] == "OVERDUE" and matrix(doc)["FZK-LCG2"][3] == "OVERDUE"
    assert doc["sites"][2]["milestones"][3]["state"] == "WARNING"
