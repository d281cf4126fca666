"""``gridready report`` end to end in-process: exact JSON, --since, exit codes, errors, snapshot.

Also holds the small grid and probe-result builders the ingest and export tests share.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gridready.cli import main
from gridready.report.schema import json_schema
from tests.helpers import REPO, write

RULES = """
milestones:
  - id: xroot
    title: xroot published
    source: GDB 2010-06
    deadline: 2010-09-30
    warn_days: 30
    scope: {tiers: [0, 1]}
    check: xrootd
    remediation: publish xroot
  - id: fts
    title: FTS channels
    source: GDB 2010-02
    deadline: 2010-03-31
    warn_days: 30
    scope: {tiers: [1]}
    check: fts_channels
waivers:
  - {milestone: xroot, site: pic, reason: agreed at the GDB, expires: 2010-12-31}
"""

INVENTORY = """
sites:
  - {name: RAL-LCG2, tier: 1, wlcg_name: UK-T1-RAL}
  - {name: CERN-PROD, tier: 0, wlcg_name: CH-CERN}
  - {name: pic, tier: 1, wlcg_name: ES-PIC}
  - {name: T2-SITE, tier: 2}
"""

STATE = {"COMPLIANT": "OK", "PENDING": "OK", "DUE": "WARNING", "OVERDUE": "CRITICAL", "WAIVED": "OK",
         "NOT_APPLICABLE": "OK", "UNKNOWN": "UNKNOWN"}


def probe_result(site: str, check: str, host: str, checked_at: str,
                 *milestones: tuple[str, str, str, int]) -> dict[str, Any]:
    """A ``gridready.result/1`` object; milestones are (id, compliance, message, days_left)."""
    ms = [{"id": mid, "compliance": c, "state": STATE[c], "deadline": "2010-09-30", "days_left": days,
           "message": message, "waiver": None} for mid, c, message, days in milestones]
    order = ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
    worst = max((str(m["state"]) for m in ms), key=order.index)
    return {"schema": "gridready.result/1", "check": check, "site": site, "host": host, "state": worst,
            "summary": f"{host}: summary", "checked_at": checked_at, "milestones": ms,
            "metrics": {"handshake_ms": 4.2}, "details": ["a detail"]}


def grid(tmp: Path) -> tuple[Path, Path]:
    return write(tmp / "milestones.yaml", RULES), write(tmp / "sites.yaml", INVENTORY)


def save(tmp: Path, name: str, data: Any) -> str:
    return str(write(tmp / name, json.dumps(data)))


def ingest(tmp: Path, db: str, *results: dict[str, Any]) -> None:
    paths = [save(tmp, f"r{i}.json", r) for i, r in enumerate(results)]
    assert main(["ingest", "--db", db, *paths]) == 0


def report(capsys: pytest.CaptureFixture[str], db: str, rules: Path, inventory: Path,
           *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["report", "--db", db, "--milestones", str(rules), "--inventory", str(inventory), *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture()
def history(tmp_path: Path) -> tuple[str, Path, Path]:
    """RAL fails xroot on one of two doors; pic fails xroot (waived) and has a drained FTS channel."""
    rules, inventory = grid(tmp_path)
    db = str(tmp_path / "h.db")
    ingest(tmp_path, db,
           probe_result("RAL-LCG2", "xrootd", "a.rl.ac.uk:1094", "2010-06-08T10:00:00Z",
                        ("xroot", "COMPLIANT", "published as 'xroot'", 114)),
           probe_result("RAL-LCG2", "xrootd", "b.rl.ac.uk:1094", "2010-06-08T10:05:00Z",
                        ("xroot", "PENDING", "published as 'root'", 114)),
           probe_result("ral-lcg2", "fts_channels", "fts.rl.ac.uk", "2010-06-08T10:00:00Z",
                        ("fts", "COMPLIANT", "11/11 channels Active", -69)),
           probe_result("CERN-PROD", "xrootd", "castor.cern.ch:1094", "2010-06-08T10:00:00Z",
                        ("xroot", "COMPLIANT", "published as 'xroot'", 114)),
           probe_result("pic", "xrootd", "srm.pic.es:1094", "2010-06-08T10:00:00Z",
                        ("xroot", "PENDING", "published as 'xrootd'", 114)),
           probe_result("pic", "fts_channels", "fts.pic.es", "2010-06-08T10:00:00Z",
                        ("fts", "DUE", "channel STAR-PIC is Drain", -69)),
           probe_result("T2-SITE", "xrootd", "t2:1094", "2010-06-08T10:00:00Z",
                        ("xroot", "PENDING", "published as 'root'", 114)))
    return db, rules, inventory


def cell(compliance: str, state: str, checked_at: str | None, message: str, days_left: int, host: str | None,
         remediation: str = "", waiver: dict[str, str] | None = None, mid: str = "xroot") -> dict[str, Any]:
    return {"id": mid, "compliance": compliance, "state": state, "checked_at": checked_at, "message": message,
            "days_left": days_left, "host": host, "waiver": waiver, "remediation": remediation}


def test_json_report_is_exactly_the_matrix(history: tuple[str, Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db, rules, inventory = history
    rc, out, err = report(capsys, db, rules, inventory, "--format", "json", "--as-of", "2010-10-08")
    doc = json.loads(out)
    jsonschema.validate(doc, json_schema())
    assert doc.pop("generated_at").endswith("Z")
    at = "2010-06-08T10:00:00Z"
    assert doc == {
        "schema": "gridready.report/1", "as_of": "2010-10-08", "data_source": db,
        "milestones": [
            {"id": "xroot", "title": "xroot published", "deadline": "2010-09-30", "compliant": 1, "applicable": 3,
             "check": "xrootd", "source": "GDB 2010-06", "warn_days": 30,
             "counts": {"COMPLIANT": 1, "OVERDUE": 1, "WAIVED": 1}},
            {"id": "fts", "title": "FTS channels", "deadline": "2010-03-31", "compliant": 1, "applicable": 2,
             "check": "fts_channels", "source": "GDB 2010-02", "warn_days": 30,
             "counts": {"COMPLIANT": 1, "NOT_APPLICABLE": 1, "OVERDUE": 1}}],
        "sites": [
            {"name": "CERN-PROD", "tier": 0, "wlcg_name": "CH-CERN", "milestones": [
                cell("COMPLIANT", "OK", at, "published as 'xroot'", -8, "castor.cern.ch:1094"),
                cell("NOT_APPLICABLE", "OK", None, "site CERN-PROD (tier 0) is out of scope", -191, None,
                     mid="fts")]},
            {"name": "pic", "tier": 1, "wlcg_name": "ES-PIC", "milestones": [
                cell("WAIVED", "OK", at, "published as 'xrootd'; waived until 2010-12-31: agreed at the GDB", -8,
                     "srm.pic.es:1094", "publish xroot", {"reason": "agreed at the GDB", "expires": "2010-12-31"}),
                # Ingested DUE after its deadline: a degraded failure, OVERDUE but alarming WARNING.
                cell("OVERDUE", "WARNING", at, "channel STAR-PIC is Drain", -191, "fts.pic.es", mid="fts")]},
            {"name": "RAL-LCG2", "tier": 1, "wlcg_name": "UK-T1-RAL", "milestones": [
                cell("OVERDUE", "CRITICAL", "2010-06-08T10:05:00Z", "published as 'root'", -8, "b.rl.ac.uk:1094",
                     "publish xroot"),
                cell("COMPLIANT", "OK", at, "11/11 channels Active", -191, "fts.rl.ac.uk", mid="fts")]}]}
    assert rc == 2 and err == ""


@pytest.mark.parametrize("args, code", [
    (["--milestone", "xroot", "--as-of", "2010-06-08"], 0),    # RAL pending, pic waived
    (["--milestone", "xroot", "--as-of", "2010-09-15"], 1),    # RAL due
    (["--as-of", "2010-06-08"], 2),                            # pic's drained FTS channel is overdue
    (["--as-of", "2010-10-01"], 2),                            # RAL overdue
])
def test_exit_code(history: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str], args: list[str],
                   code: int) -> None:
    rc, out, _ = report(capsys, *history, *args)
    assert rc == code
    assert out.startswith("GDB milestone compliance as of ")


def test_since_lists_newly_compliant_and_regressions(history: tuple[str, Path, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    db, rules, inventory = history
    ingest(tmp_path / "later", db,
           probe_result("RAL-LCG2", "xrootd", "b.rl.ac.uk:1094", "2010-06-20T09:00:00Z",
                        ("xroot", "COMPLIANT", "published as 'xroot'", 102)),
           probe_result("CERN-PROD", "xrootd", "castor.cern.ch:1094", "2010-06-21T09:00:00Z",
                        ("xroot", "PENDING", "published as 'root'", 101)))
    rc, out, _ = report(capsys, db, rules, inventory, "--format", "json", "--as-of", "2010-06-22",
                        "--since", "2010-06-15")
    doc = json.loads(out)
    jsonschema.validate(doc, json_schema())
    assert doc["since"] == "2010-06-15"
    assert doc["changes"] == [
        {"site": "CERN-PROD", "milestone": "xroot", "from": "COMPLIANT", "to": "PENDING", "kind": "regression"},
        {"site": "RAL-LCG2", "milestone": "xroot", "from": "PENDING", "to": "COMPLIANT", "kind": "newly-compliant"}]
    assert rc == 2                                              # pic's drained FTS channel is overdue
    rc, out, _ = report(capsys, db, rules, inventory, "--as-of", "2010-06-22", "--since", "2010-06-15")
    assert out.endswith("Changes since 2010-06-15:\n"
                        "  CERN-PROD xroot: COMPLIANT -> PENDING (regression)\n"
                        "  RAL-LCG2 xroot: PENDING -> COMPLIANT (newly-compliant)\n")
    # Before any result: everything that now has a result changed from UNKNOWN.
    rc, out, _ = report(capsys, db, rules, inventory, "--format", "json", "--as-of", "2010-06-22",
                        "--since", "2010-06-01")
    assert [(c["site"], c["milestone"], c["from"], c["kind"]) for c in json.loads(out)["changes"]] == [
        ("CERN-PROD", "xroot", "UNKNOWN", "other"), ("pic", "xroot", "UNKNOWN", "other"),
        ("pic", "fts", "UNKNOWN", "other"), ("RAL-LCG2", "xroot", "UNKNOWN", "newly-compliant"),
        ("RAL-LCG2", "fts", "UNKNOWN", "newly-compliant")]
    # Nothing changed since yesterday.
    rc, out, _ = report(capsys, db, rules, inventory, "--format", "json", "--as-of", "2010-06-22",
                        "--since", "2010-06-22")
    assert json.loads(out)["changes"] == []


def test_markdown_and_ssb_through_the_cli(history: tuple[str, Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = report(capsys, *history, "--format", "markdown", "--as-of", "2010-10-08")
    assert rc == 2 and out.startswith("## GDB milestone compliance as of 2010-10-08\n")
    assert "| RAL-LCG2      | 1      | OVERDUE (8d)" in out
    rc, out, _ = report(capsys, *history, "--format", "ssb", "--as-of", "2010-10-08",
                        "--ssb-url", "https://ssb.example/{site}")
    lines = [line.split("\t") for line in out.splitlines()]
    assert [fields[1:] for fields in lines] == [
        ["CERN-PROD", "xroot:COMPLIANT", "green", "https://ssb.example/CERN-PROD"],
        ["CERN-PROD", "fts:NOT_APPLICABLE", "green", "https://ssb.example/CERN-PROD"],
        ["pic", "xroot:WAIVED", "green", "https://ssb.example/pic"],
        ["pic", "fts:OVERDUE", "red", "https://ssb.example/pic"],
        ["RAL-LCG2", "xroot:OVERDUE", "red", "https://ssb.example/RAL-LCG2"],
        ["RAL-LCG2", "fts:COMPLIANT", "green", "https://ssb.example/RAL-LCG2"]]
    assert all(len(fields[0]) == 19 and fields[0][10] == " " for fields in lines)
    assert rc == 2


@pytest.mark.parametrize("args, message", [
    (["--milestone", "nope"], "gridready: no milestone 'nope' in "),
    (["--ssb-url", "https://x/{host}"], "gridready: bad --ssb-url template 'https://x/{host}'"),
    (["--as-of", "2010-06-08", "--since", "2010-06-09"],
     "gridready: --since 2010-06-09 is later than --as-of 2010-06-08"),
    (["--as-of", "2010-06-31"], "gridready report: argument --as-of: bad date '2010-06-31', expected YYYY-MM-DD"),
    # date.fromisoformat alone reads these as 2010-10-08: only YYYY-MM-DD is a date here.
    (["--as-of", "20101008"], "gridready report: argument --as-of: bad date '20101008', expected YYYY-MM-DD"),
    (["--since", "2010-W40-5"], "gridready report: argument --since: bad date '2010-W40-5', expected YYYY-MM-DD"),
    (["--format", "xml"], "gridready report: argument --format: invalid choice: 'xml'"),
])
def test_bad_options_exit_3(history: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str],
                            args: list[str], message: str) -> None:
    rc, out, err = report(capsys, *history, *args)
    assert (rc, out) == (3, "") and err.startswith(message) and len(err.splitlines()) == 1


def test_bad_database_and_rules_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, inventory = grid(tmp_path)
    junk = write(tmp_path / "junk.db", "not sqlite at all\n" * 100)
    rc, out, err = report(capsys, str(junk), rules, inventory)
    assert (rc, out) == (3, "") and err == f"gridready: {junk}: not a gridready history database: " \
                                           "file is not a database\n"
    bad_rules = write(tmp_path / "bad.yaml", RULES.replace("deadline: 2010-09-30", "deadline: 2010-09-31"))
    rc, out, err = report(capsys, str(tmp_path / "none.db"), bad_rules, inventory)
    assert (rc, out) == (3, "")
    assert err.startswith(f"gridready: {bad_rules}:5: milestones[0].deadline: bad date '2010-09-31'")


def test_schema_option_prints_the_published_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--schema"]) == 0
    assert capsys.readouterr().out == (REPO / "docs" / "report.schema.json").read_text(encoding="utf-8")


def test_help_documents_since_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "newly-compliant (now COMPLIANT), regression (was COMPLIANT, now fails)" in text
    assert "Exit codes: 0 all compliant, pending, waived, not applicable or unknown; 1 some DUE; 2 some OVERDUE; " \
           "3 an error" in text
