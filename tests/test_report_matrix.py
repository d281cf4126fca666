"""The report matrix: stored outcomes re-evaluated against current rules, date and waivers."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from gridready.checks.interface import Severity
from gridready.compliance import Compliance, Outcome, State
from gridready.models import Milestone, Rules, Scope, Site, Waiver
from gridready.report.matrix import Change, build_matrix, changes, exit_code, report_sites
from gridready.store import Record, StoredOutcome

XROOT = Milestone(id="xroot", title="xroot published", source="GDB 2010-06", deadline=date(2010, 9, 30),
                  check="xrootd", warn_days=30, scope=Scope(tiers=(0, 1)))
FTS = Milestone(id="fts", title="FTS channels", source="GDB 2010-02", deadline=date(2010, 3, 31),
                check="fts_channels", warn_days=30, scope=Scope(tiers=(1,)))
RULES = Rules(milestones=(XROOT, FTS))
CERN, RAL, PIC = Site("CERN-PROD", 0), Site("RAL-LCG2", 1), Site("pic", 1)


def rec(site: str, mid: str, outcome: Outcome, message: str = "m", host: str = "h", when: str = "2010-04-12",
        severity: Severity = Severity.CRITICAL, check: str | None = None) -> Record:
    # The check that answers the milestone (a record of another check is no evidence for it).
    check = check or {"fts": "fts_channels"}.get(mid, "xrootd")
    return Record(site=site, check=check, host=host, target=host,
                  checked_at=datetime.fromisoformat(when).replace(hour=10, tzinfo=timezone.utc),
                  outcome=StoredOutcome(mid, outcome, message, severity, "fix" if outcome is Outcome.FAIL else ""))


def word(site: Site, records: list[Record], as_of: str, rules: Rules = RULES, mid: str = "xroot") -> str:
    cell = build_matrix([site], rules, records, date.fromisoformat(as_of)).cell(site.name, mid)
    assert cell is not None
    return cell.compliance.value + (f" {cell.overdue_days}" if cell.overdue_days else "")


@pytest.mark.parametrize("as_of, expected", [("2010-08-01", "PENDING"), ("2010-09-15", "DUE"),
                                             ("2010-09-30", "DUE"), ("2010-10-08", "OVERDUE 8")])
def test_a_failure_stored_in_april_is_judged_on_the_report_date(as_of: str, expected: str) -> None:
    assert word(RAL, [rec("RAL-LCG2", "xroot", Outcome.FAIL, "published as 'root'")], as_of) == expected


def test_a_waiver_added_after_the_check_applies() -> None:
    failing = [rec("RAL-LCG2", "xroot", Outcome.FAIL, "published as 'root'")]
    waived = Rules(RULES.milestones, (Waiver("xroot", "ral-lcg2", "agreed at the GDB", date(2010, 12, 31)),))
    matrix = build_matrix([RAL], waived, failing, date(2010, 10, 8))
    cell = matrix.cell("RAL-LCG2", "xroot")
    assert cell is not None and cell.compliance is Compliance.WAIVED
    assert cell.message == "published as 'root'; waived until 2010-12-31: agreed at the GDB"
    assert cell.waiver == waived.waivers[0] and cell.remediation == "fix"
    assert word(RAL, failing, "2011-01-01", waived) == "OVERDUE 93"


@pytest.mark.parametrize("severity", [Severity.CRITICAL, Severity.WARNING])
@pytest.mark.parametrize("as_of, expected, code", [
    ("2010-03-30", "DUE", 1), ("2010-03-31", "DUE", 1), ("2010-04-01", "OVERDUE 1", 2),
    ("2026-06-08", "OVERDUE 5913", 2)])
def test_a_failure_is_overdue_after_the_deadline_whatever_its_severity(
        severity: Severity, as_of: str, expected: str, code: int) -> None:
    # Bug: a degraded failure (a drained channel) stayed DUE after the deadline.
    failing = [rec("RAL-LCG2", "fts", Outcome.FAIL, "channel drained", severity=severity)]
    assert word(RAL, failing, as_of, mid="fts") == expected
    matrix = build_matrix([RAL], RULES, failing, date.fromisoformat(as_of))
    cell = matrix.cell("RAL-LCG2", "fts")
    assert cell is not None
    # A degraded finding alarms WARNING even when OVERDUE; the report still exits 2.
    overdue_state = State.CRITICAL if severity is Severity.CRITICAL else State.WARNING
    assert cell.state is (overdue_state if expected.startswith("OVERDUE") else State.WARNING)
    assert exit_code(matrix) == code


def test_latest_per_target_then_worst_across_targets() -> None:
    good_a = rec("RAL-LCG2", "xroot", Outcome.PASS, "ok", host="a")
    bad_b = rec("RAL-LCG2", "xroot", Outcome.FAIL, "root on b", host="b")
    unknown_c = rec("RAL-LCG2", "xroot", Outcome.UNKNOWN, "timeout after 2s while connecting", host="c")
    matrix = build_matrix([RAL], RULES, [good_a, bad_b, unknown_c], date(2010, 10, 8))
    cell = matrix.cell("ral-lcg2", "xroot")
    assert cell is not None and (cell.compliance, cell.host, cell.message) == (Compliance.OVERDUE, "b", "root on b")
    # Before the deadline a pending failure ranks below not knowing.
    assert word(RAL, [good_a, bad_b, unknown_c], "2010-06-08") == "UNKNOWN"
    assert word(RAL, [good_a, bad_b], "2010-06-08") == "PENDING"
    assert word(RAL, [good_a], "2010-06-08") == "COMPLIANT"


def test_scope_no_result_and_not_applicable() -> None:
    records = [rec("CERN-PROD", "fts", Outcome.FAIL), rec("pic", "xroot", Outcome.NOT_APPLICABLE, "no door")]
    matrix = build_matrix([CERN, PIC], RULES, records, date(2010, 6, 8))
    fts_cern, xroot_pic, fts_pic = (matrix.cell("CERN-PROD", "fts"), matrix.cell("pic", "xroot"),
                                    matrix.cell("pic", "fts"))
    assert fts_cern and fts_cern.compliance is Compliance.NOT_APPLICABLE   # tier 0 out of scope, result ignored
    assert xroot_pic and (xroot_pic.compliance, xroot_pic.message) == (Compliance.NOT_APPLICABLE, "no door")
    assert fts_pic and (fts_pic.compliance, fts_pic.message, fts_pic.checked_at) == (
        Compliance.UNKNOWN, "no result for this check", None)


def test_records_for_unknown_sites_and_milestones_are_ignored() -> None:
    records = [rec("Elsewhere", "xroot", Outcome.FAIL), rec("pic", "retired-milestone", Outcome.FAIL),
               rec("pic", "xroot", Outcome.PASS)]
    matrix = build_matrix([PIC], RULES, records, date(2010, 6, 8))
    assert [(r.site.name, [c.compliance for c in r.cells]) for r in matrix.rows] == [
        ("pic", [Compliance.COMPLIANT, Compliance.UNKNOWN])]


def test_tallies_and_exit_code() -> None:
    records = [rec("CERN-PROD", "xroot", Outcome.PASS), rec("RAL-LCG2", "xroot", Outcome.FAIL),
               rec("pic", "xroot", Outcome.PASS), rec("RAL-LCG2", "fts", Outcome.PASS),
               rec("pic", "fts", Outcome.FAIL, severity=Severity.WARNING)]
    matrix = build_matrix([CERN, RAL, PIC], RULES, records, date(2010, 6, 8))
    xroot, fts = matrix.columns
    assert (xroot.compliant, xroot.applicable, dict(xroot.counts)) == (
        2, 3, {Compliance.COMPLIANT: 2, Compliance.PENDING: 1})
    assert (fts.compliant, fts.applicable) == (1, 2)
    # pic's drained FTS is OVERDUE (degraded) since 2010-04-01 (was 1: the bug that kept it DUE).
    assert exit_code(matrix) == 2
    assert exit_code(build_matrix([CERN, RAL, PIC], RULES, records, date(2010, 3, 15))) == 1
    assert exit_code(build_matrix([CERN, RAL, PIC], RULES, records, date(2010, 10, 1))) == 2
    assert exit_code(build_matrix([CERN, RAL, PIC], RULES, records[:4], date(2010, 6, 8))) == 0


def test_changes_are_classified() -> None:
    before = build_matrix([RAL, PIC], RULES, [rec("RAL-LCG2", "xroot", Outcome.FAIL),
                                              rec("pic", "xroot", Outcome.PASS),
                                              rec("pic", "fts", Outcome.FAIL)], date(2010, 9, 15))
    after = build_matrix([RAL, PIC], RULES, [rec("RAL-LCG2", "xroot", Outcome.PASS),
                                             rec("pic", "xroot", Outcome.FAIL),
                                             rec("pic", "fts", Outcome.FAIL)], date(2010, 10, 8))
    found = changes(before, after)
    assert [(c.site, c.milestone, c.before.value, c.after.value, c.kind) for c in found] == [
        ("RAL-LCG2", "xroot", "DUE", "COMPLIANT", "newly-compliant"),
        ("pic", "xroot", "COMPLIANT", "OVERDUE", "regression")]   # pic fts: OVERDUE both times, no change
    assert Change("s", "m", Compliance.DUE, Compliance.OVERDUE).kind == "other"
    assert Change("s", "m", Compliance.COMPLIANT, Compliance.UNKNOWN).kind == "other"
    assert changes(after, after) == []


def test_report_rows_are_tier_0_and_1_by_tier_then_name() -> None:
    sites = [Site("pic", 1), Site("T2-SITE", 2), Site("RAL-LCG2", 1), Site("CERN-PROD", 0), Site("BNL-ATLAS", 1)]
    assert [s.name for s in report_sites(sites)] == ["CERN-PROD", "BNL-ATLAS", "pic", "RAL-LCG2"]


# --- scope or tier changed after the check ----------------------------------------------------------------

def _scope_message(site: str, tier: int) -> str:
    """What a probe stores for a milestone whose scope left the site out (compliance.evaluate's own words)."""
    from gridready.compliance import evaluate
    return evaluate(FTS, site, tier, None, date(2010, 6, 8)).message


def test_a_site_out_of_scope_when_checked_is_unknown_once_in_scope() -> None:
    # Bug: a probe run while CERN (tier 0) was outside the FTS milestone stored NOT_APPLICABLE
    # "out of scope"; after the scope was widened to tier 0 the report still said NOT_APPLICABLE.
    wider = Rules(milestones=(Milestone(id="fts", title="FTS channels", source="GDB 2010-02",
                                        deadline=date(2010, 3, 31), check="fts_channels", warn_days=30,
                                        scope=Scope(tiers=(0, 1))),))
    message = _scope_message("CERN-PROD", 0)
    assert message == "site CERN-PROD (tier 0) is out of scope"
    cell = build_matrix([CERN], wider, [rec("CERN-PROD", "fts", Outcome.NOT_APPLICABLE, message)],
                        date(2010, 6, 8)).cell("CERN-PROD", "fts")
    assert cell is not None and cell.compliance is Compliance.UNKNOWN
    assert cell.message == ("not checked since the site came into scope (the result of 2010-04-12T10:00:00Z "
                            "says: site CERN-PROD (tier 0) is out of scope)")
    assert cell.checked_at == datetime(2010, 4, 12, 10, tzinfo=timezone.utc)


def test_a_site_promoted_to_tier_1_after_its_check_is_unknown() -> None:
    # Sibling: the scope is the same, the site's tier in the inventory changed (2 -> 1).
    records = [rec("pic", "fts", Outcome.NOT_APPLICABLE, _scope_message("pic", 2))]
    assert word(PIC, records, "2010-06-08", mid="fts") == "UNKNOWN"


def test_the_checks_own_not_applicable_stays_not_applicable() -> None:
    # Only the scope's words mean "not checked"; a check that found nothing to judge is a finding.
    assert word(PIC, [rec("pic", "fts", Outcome.NOT_APPLICABLE, "site has no FTS server")], "2010-06-08",
                mid="fts") == "NOT_APPLICABLE"
    assert word(PIC, [rec("pic", "fts", Outcome.NOT_APPLICABLE, "the site is out of scope of FTS 2")],
                "2010-06-08", mid="fts") == "NOT_APPLICABLE"


@pytest.mark.parametrize("other, expected", [(Outcome.PASS, "COMPLIANT"), (Outcome.FAIL, "OVERDUE 69")])
def test_a_target_seen_only_out_of_scope_does_not_mask_one_checked_since(other: Outcome, expected: str) -> None:
    records = [rec("pic", "fts", Outcome.NOT_APPLICABLE, _scope_message("pic", 2), host="wn1", when="2010-04-01"),
               rec("pic", "fts", other, "checked", host="wn2", when="2010-05-01")]
    assert word(PIC, records, "2010-06-08", mid="fts") == expected


def test_out_of_scope_now_is_not_applicable_whatever_was_stored() -> None:
    # Scope narrowed after a failing result: the current rules decide.
    narrowed = Rules(milestones=(Milestone(id="fts", title="FTS channels", source="GDB 2010-02",
                                           deadline=date(2010, 3, 31), check="fts_channels", warn_days=30,
                                           scope=Scope(tiers=(1,), exclude=("pic",))),))
    assert word(PIC, [rec("pic", "fts", Outcome.FAIL)], "2010-06-08", narrowed, "fts") == "NOT_APPLICABLE"


def test_a_result_of_another_check_is_no_evidence_for_the_milestone() -> None:
    # Bug: with a milestone id reused for another check (glexec -> xrootd), the stored gLExec pass
    # made the xrootd milestone COMPLIANT.
    assert word(PIC, [rec("pic", "xroot", Outcome.PASS, check="glexec")], "2010-06-08") == "UNKNOWN"
    cell = build_matrix([PIC], RULES, [rec("pic", "xroot", Outcome.PASS, check="glexec", host="wn1"),
                                       rec("pic", "xroot", Outcome.FAIL, "published as 'root'", host="door:1094")],
                        date(2010, 6, 8)).cell("pic", "xroot")
    assert cell is not None and (cell.compliance, cell.host) == (Compliance.PENDING, "door:1094")
