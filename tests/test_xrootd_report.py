"""Reports re-judge stored xrootd results: a pass on evidence never collected is UNKNOWN.

Results written by older check_xrootd versions said COMPLIANT with "published
strings not checked", COMPLIANT in published-only mode whatever min_protocol
asked, and failed a door that merely refused. ``gridready ingest`` +
``gridready report --format json`` run as a user runs them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from tests.hostile.runner import run

MILESTONE = "xrootd-protocol-string"


def legacy(message: str, outcome: str | None, compliance: str, *, host: str = "xrd.pic.example:1094",
           milestone: str = MILESTONE) -> dict[str, Any]:
    """A result as an older probe wrote it (``outcome`` None: before that field existed)."""
    entry: dict[str, Any] = {"id": milestone, "compliance": compliance,
                             "state": {"COMPLIANT": "OK", "PENDING": "OK", "OVERDUE": "CRITICAL"}[compliance],
                             "deadline": "2010-09-30", "days_left": 114, "message": message, "waiver": None}
    if outcome is not None:
        entry["outcome"] = outcome
    return {"schema": "gridready.result/1", "check": "xrootd", "site": "pic", "host": host,
            "state": entry["state"], "summary": f"{host}: {milestone} {compliance}: {message}",
            "checked_at": "2010-06-08T10:00:00Z", "milestones": [entry], "metrics": {}, "details": []}


def report_cell(tmp_path: Path, result: dict[str, Any], *extra: str, as_of: str = "2010-06-08",
                milestone: str = MILESTONE) -> tuple[str, str]:
    # A fresh history per call: the results of one test share site, check, host and checked_at,
    # and the history stores such a repeat once (the first one would be judged again).
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    source = work / "result.json"
    source.write_text(json.dumps(result), encoding="utf-8")
    db = str(work / "history.db")
    done = run("gridready", "ingest", "--db", db, str(source))
    assert done.code == 0, done.output
    done = run("gridready", "report", "--db", db, "--format", "json", "--as-of", as_of, *extra)
    assert done.code in (0, 1, 2), done.output
    report = json.loads(done.stdout)
    [site] = [s for s in report["sites"] if s["name"] == "pic"]
    [cell] = [m for m in site["milestones"] if m["id"] == milestone]
    return cell["compliance"], cell["message"]


def test_stored_pass_without_published_strings_is_unknown(tmp_path: Path) -> None:
    message = ("xrootd protocol 5.1.1, role server (data server); "
               "published strings not checked (no --bdii/--srr)")
    assert report_cell(tmp_path, legacy(message, "pass", "COMPLIANT")) == (
        "UNKNOWN", "published strings not checked: give --bdii or --srr")


def test_stored_pass_from_before_the_outcome_field_is_unknown(tmp_path: Path) -> None:
    message = "xrootd protocol 2.9.0, role manager (redirector); published strings not checked (no --bdii/--srr)"
    assert report_cell(tmp_path, legacy(message, None, "COMPLIANT"))[0] == "UNKNOWN"


def test_stored_refused_door_is_unknown_not_pending(tmp_path: Path) -> None:
    message = "cannot connect to xrd.pic.example:1094: connection refused"
    assert report_cell(tmp_path, legacy(message, "fail", "PENDING")) == ("UNKNOWN", message)
    dns = "cannot resolve host xrd.pic.example: Name or service not known"
    assert report_cell(tmp_path, legacy(dns, "fail", "PENDING"), as_of="2010-10-08") == ("UNKNOWN", dns)


def test_stored_published_only_pass_with_min_protocol_is_unknown(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("""milestones:
  - {id: xrootd-v3, title: doors speak protocol 3, source: test, deadline: 2010-09-30, warn_days: 30,
     scope: {tiers: [0, 1]}, check: xrootd, expect: {protocol: xroot, min_protocol: "3.0.0"}, remediation: x}
""", encoding="utf-8")
    stored = legacy("published as 'xroot' in GLUE 2 (1 record)", "pass", "COMPLIANT",
                    host="pic (published)", milestone="xrootd-v3")
    assert report_cell(tmp_path, stored, "--milestones", str(rules), milestone="xrootd-v3") == (
        "UNKNOWN", "no xrootd handshake (published strings only): min_protocol 3.0.0 needs -H HOST")


def test_stored_results_with_evidence_stand(tmp_path: Path) -> None:
    good = legacy("xrootd protocol 5.1.1, role server (data server); published as 'xroot' in GLUE 2 (1 record)",
                  "pass", "COMPLIANT")
    assert report_cell(tmp_path, good)[0] == "COMPLIANT"
    published = legacy("published as 'xroot' in GLUE 1.3, SRR (2 records)", "pass", "COMPLIANT",
                       host="pic (published)")
    assert report_cell(tmp_path, published)[0] == "COMPLIANT"
    # A refused door next to a wrong published string: the string is a known failure.
    both = legacy("cannot connect to xrd.pic.example:1094: connection refused; GLUE 1.3 se/root publishes "
                  "GlueSEAccessProtocolType 'root', not 'xroot'", "fail", "PENDING")
    assert report_cell(tmp_path, both, as_of="2010-10-08")[0] == "OVERDUE"
    garbage = legacy("xrd.pic.example:1094 does not speak xrootd: reply header 48 54 54 50 2f 31 2e 31 has "
                     "unknown status 21584", "fail", "PENDING")
    assert report_cell(tmp_path, garbage, as_of="2010-10-08")[0] == "OVERDUE"
