"""The compliance evaluator: every state and every date boundary."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gridready.checks.interface import Assessment, Finding, Severity
from gridready.compliance import Compliance, Outcome, State, deadline_note, evaluate, nagios_state, worst
from gridready.models import Milestone, Scope, Waiver

DEADLINE = date(2010, 5, 31)
M = Milestone(id="glexec-t1", title="t", source="GDB", deadline=DEADLINE, check="glexec",
              warn_days=30, scope=Scope(tiers=(1,)), remediation="install gLExec")
PASS = Assessment((Finding(True, "glexec setuid root, SCAS"),))
FAIL = Assessment((Finding(False, "no SCAS/Argus in LCMAPS", "add lcmaps_scas_client.mod"),))
DEGRADED = Assessment((Finding(False, "channel drained", severity=Severity.WARNING),))
DAY = timedelta(days=1)


def ev(outcome: Assessment | str | None, as_of: date, site: str = "RAL-LCG2", tier: int = 1,
       waivers: tuple[Waiver, ...] = ()) -> tuple[Compliance, State, int]:
    v = evaluate(M, site, tier, outcome, as_of, waivers)
    return v.compliance, v.state, v.days_left


def test_compliant_is_ok_whatever_the_date() -> None:
    assert ev(PASS, DEADLINE + 1000 * DAY) == (Compliance.COMPLIANT, State.OK, -1000)
    assert ev(PASS, DEADLINE - 100 * DAY)[0] is Compliance.COMPLIANT


@pytest.mark.parametrize("as_of, expected", [
    (DEADLINE - 31 * DAY, (Compliance.PENDING, State.OK, 31)),      # outside warn_days
    (DEADLINE - 30 * DAY, (Compliance.DUE, State.WARNING, 30)),     # first day within warn_days
    (DEADLINE - DAY, (Compliance.DUE, State.WARNING, 1)),           # the day before
    (DEADLINE, (Compliance.DUE, State.WARNING, 0)),                 # the day of: still until its end
    (DEADLINE + DAY, (Compliance.OVERDUE, State.CRITICAL, -1)),     # the day after
])
def test_failing_by_date(as_of: date, expected: tuple[Compliance, State, int]) -> None:
    assert ev(FAIL, as_of) == expected


def test_message_and_remediation_carried() -> None:
    v = evaluate(M, "RAL-LCG2", 1, FAIL, DEADLINE + DAY)
    assert v.message == "no SCAS/Argus in LCMAPS" and v.remediation == "add lcmaps_scas_client.mod"
    bare = Assessment((Finding(False, "no glexec"),))
    assert evaluate(M, "RAL-LCG2", 1, bare, DEADLINE).remediation == "install gLExec"


@pytest.mark.parametrize("as_of, expected", [
    (DEADLINE - 31 * DAY, (Compliance.PENDING, State.OK, 31)),
    (DEADLINE - DAY, (Compliance.DUE, State.WARNING, 1)),           # the day before
    (DEADLINE, (Compliance.DUE, State.WARNING, 0)),                 # the day of
    (DEADLINE + DAY, (Compliance.OVERDUE, State.WARNING, -1)),      # the day after: OVERDUE, alarms WARNING
    (DEADLINE + 5905 * DAY, (Compliance.OVERDUE, State.WARNING, -5905)),
])
def test_degraded_failure_is_overdue_after_the_deadline_but_stays_warning(
        as_of: date, expected: tuple[Compliance, State, int]) -> None:
    # Bug: a degraded failure (a drained channel, StoRM publishing xroot with no
    # endpoint) stayed DUE for years after the deadline.
    assert ev(DEGRADED, as_of) == expected


@pytest.mark.parametrize("compliance, severity, state", [
    (Compliance.OVERDUE, Severity.CRITICAL, State.CRITICAL),
    (Compliance.OVERDUE, Severity.WARNING, State.WARNING),
    (Compliance.OVERDUE, None, State.CRITICAL),
    (Compliance.DUE, Severity.WARNING, State.WARNING),
    (Compliance.DUE, Severity.CRITICAL, State.WARNING),
    (Compliance.PENDING, Severity.WARNING, State.OK),
    (Compliance.WAIVED, Severity.CRITICAL, State.OK),
    (Compliance.UNKNOWN, None, State.UNKNOWN),
])
def test_nagios_state_depends_on_severity_only_when_overdue(
        compliance: Compliance, severity: Severity | None, state: State) -> None:
    assert nagios_state(compliance, severity) is state


D = date(2010, 3, 31)


@pytest.mark.parametrize("compliance, days, note", [
    (Compliance.OVERDUE, -5905, "deadline 2010-03-31, overdue 5905 days"),
    (Compliance.OVERDUE, -1, "deadline 2010-03-31, overdue 1 day"),
    (Compliance.DUE, 0, "deadline 2010-03-31, 0 days left"),
    (Compliance.DUE, 1, "deadline 2010-03-31, 1 day left"),
    (Compliance.PENDING, 45, "deadline 2010-03-31, 45 days left"),
    # Not overdue after the deadline: the deadline alone, never "overdue".
    (Compliance.COMPLIANT, -5905, "deadline 2010-03-31"),
    (Compliance.COMPLIANT, 10, "deadline 2010-03-31, 10 days left"),
    (Compliance.UNKNOWN, 0, "deadline 2010-03-31, 0 days left"),
    (Compliance.WAIVED, -69, "deadline 2010-03-31"),
    (Compliance.NOT_APPLICABLE, -69, "deadline 2010-03-31"),
    (Compliance.UNKNOWN, -69, "deadline 2010-03-31"),
])
def test_deadline_note_says_overdue_only_for_overdue(compliance: Compliance, days: int, note: str) -> None:
    assert deadline_note(compliance, D, days) == note


EXPIRES = DEADLINE + 10 * DAY


@pytest.mark.parametrize("as_of, expected", [
    (EXPIRES - DAY, Compliance.WAIVED),     # the day before expiry
    (EXPIRES, Compliance.WAIVED),           # the day of expiry: valid until its end
    (EXPIRES + DAY, Compliance.OVERDUE),    # the day after: evaluated normally, noted
])
def test_waiver_expiry_boundaries(as_of: date, expected: Compliance) -> None:
    waiver = Waiver("glexec-t1", "ral-lcg2", "ARC site", EXPIRES)
    v = evaluate(M, "RAL-LCG2", 1, FAIL, as_of, (waiver,))
    assert v.compliance is expected
    if expected is Compliance.WAIVED:
        assert v.state is State.OK and v.waiver == waiver and "ARC site" in v.message
    else:
        assert v.state is State.CRITICAL and v.waiver is None
        assert v.message == f"no SCAS/Argus in LCMAPS; waiver expired {EXPIRES}"


def test_waiver_only_for_its_site_and_milestone() -> None:
    others = (Waiver("glexec-t1", "pic", "x", DEADLINE + 100 * DAY),
              Waiver("other-milestone", "RAL-LCG2", "x", DEADLINE + 100 * DAY))
    assert ev(FAIL, DEADLINE + DAY, waivers=others)[0] is Compliance.OVERDUE


def test_waiver_does_not_hide_compliance_or_unknown() -> None:
    w = (Waiver("glexec-t1", "RAL-LCG2", "x", DEADLINE + 100 * DAY),)
    assert ev(PASS, DEADLINE, waivers=w)[0] is Compliance.COMPLIANT
    assert ev("bdii.example: connection refused", DEADLINE, waivers=w)[0] is Compliance.UNKNOWN


def test_not_applicable_by_scope() -> None:
    assert ev(FAIL, DEADLINE + DAY, site="CERN-PROD", tier=0) == (Compliance.NOT_APPLICABLE, State.OK, -1)
    excluded = Milestone(**{**M.__dict__, "scope": Scope(tiers=(1,), exclude=("pic",))})
    assert evaluate(excluded, "PIC", 1, FAIL, DEADLINE).compliance is Compliance.NOT_APPLICABLE
    named = Milestone(**{**M.__dict__, "scope": Scope(tiers=(1,), sites=("CERN-PROD",))})
    assert evaluate(named, "CERN-PROD", 0, FAIL, DEADLINE).compliance is Compliance.DUE
    everyone = Milestone(**{**M.__dict__, "scope": Scope()})
    assert evaluate(everyone, None, 2, FAIL, DEADLINE).compliance is Compliance.DUE


def test_not_applicable_from_check() -> None:
    castor = Assessment(applicable=False, summary="srm.example runs CASTOR, not dCache")
    v = evaluate(M, "RAL-LCG2", 1, castor, DEADLINE + DAY)
    assert (v.compliance, v.message) == (Compliance.NOT_APPLICABLE, "srm.example runs CASTOR, not dCache")


def test_unknown_when_check_could_not_run() -> None:
    v = evaluate(M, "RAL-LCG2", 1, "bdii.example:2170: connection refused", DEADLINE + DAY)
    assert (v.compliance, v.state, v.message) == (Compliance.UNKNOWN, State.UNKNOWN,
                                                  "bdii.example:2170: connection refused")
    assert ev(None, DEADLINE)[:2] == (Compliance.UNKNOWN, State.UNKNOWN)


def test_worst_state() -> None:
    assert worst([State.OK, State.WARNING]) is State.WARNING
    assert worst([State.CRITICAL, State.OK]) is State.CRITICAL
    assert worst([State.CRITICAL, State.UNKNOWN]) is State.UNKNOWN
    assert worst([]) is State.UNKNOWN


def test_verdict_keeps_the_checks_outcome_and_severity_for_re_evaluation() -> None:
    def kind(outcome: Assessment | str | None, tier: int = 1) -> tuple[Outcome, Severity | None]:
        v = evaluate(M, "RAL-LCG2", tier, outcome, DEADLINE - 60 * DAY)
        return v.outcome, v.severity

    assert kind(PASS) == (Outcome.PASS, None)
    assert kind(FAIL) == (Outcome.FAIL, Severity.CRITICAL)
    assert kind(DEGRADED) == (Outcome.FAIL, Severity.WARNING)     # PENDING today, but degraded
    assert kind("refused") == (Outcome.UNKNOWN, None)
    assert kind(Assessment(applicable=False, summary="CASTOR")) == (Outcome.NOT_APPLICABLE, None)
    assert kind(FAIL, tier=0) == (Outcome.NOT_APPLICABLE, None)


@pytest.mark.parametrize("compliance, severity, days, line", [
    # The example: StoRM publishing xroot with no endpoint, a degraded finding, years late.
    (Compliance.OVERDUE, Severity.WARNING, -5905,
     "[WARNING] x: m (deadline 2010-03-31, overdue 5905 days)"),
    (Compliance.OVERDUE, Severity.CRITICAL, -1, "[CRITICAL] x: m (deadline 2010-03-31, overdue 1 day)"),
    (Compliance.DUE, Severity.WARNING, 0, "[WARNING] x: m (deadline 2010-03-31, 0 days left)"),
    (Compliance.COMPLIANT, None, -5905, "[OK] x: m (deadline 2010-03-31)"),
    (Compliance.WAIVED, Severity.CRITICAL, -69, "[OK] x: m (deadline 2010-03-31)"),
    (Compliance.NOT_APPLICABLE, None, -69, "[OK] x: m (deadline 2010-03-31)"),
    (Compliance.UNKNOWN, None, -69, "[UNKNOWN] x: m (deadline 2010-03-31)"),
])
def test_finding_lines_in_nagios_and_metric_output(compliance: Compliance, severity: Severity | None, days: int,
                                                   line: str) -> None:
    from datetime import datetime, timezone

    from gridready.metricoutput import details_lines
    from gridready.nagios.output import milestone_line
    from gridready.result import MilestoneResult, ProbeResult

    m = MilestoneResult(id="x", compliance=compliance, deadline=D, days_left=days, message="m", severity=severity)
    assert milestone_line(m) == line
    result = ProbeResult(check="xrootd", site="INFN-T1", host="h", state=m.state, summary="s",
                         checked_at=datetime(2026, 11, 30, tzinfo=timezone.utc), milestones=[m])
    assert details_lines(result) == [line]
    # The JSON a site sends keeps the degraded state, and reading it back gives the same line.
    again = ProbeResult.from_json(result.to_json(), "sent.json").milestones[0]
    assert milestone_line(again) == line


def test_a_degraded_overdue_without_severity_in_the_json_stays_warning() -> None:
    from datetime import datetime, timezone

    from gridready.result import MilestoneResult, ProbeResult
    from gridready.store import outcome_from_compliance

    m = MilestoneResult(id="x", compliance=Compliance.OVERDUE, deadline=D, days_left=-69, message="drained",
                        severity=Severity.WARNING)
    data = ProbeResult(check="fts_channels", site="FZK-LCG2", host="h", state=State.WARNING, summary="s",
                       checked_at=datetime(2010, 6, 8, tzinfo=timezone.utc), milestones=[m]).to_json()
    assert data["milestones"][0]["state"] == "WARNING"
    for key in ("severity", "outcome"):
        data["milestones"][0][key] = None                  # as a site's older probe writes it
    read = ProbeResult.from_json(data, "sent.json").milestones[0]
    assert (read.compliance, read.state, read.severity) == (Compliance.OVERDUE, State.WARNING, Severity.WARNING)
    assert outcome_from_compliance(read).severity is Severity.WARNING
    data["milestones"][0]["state"] = "CRITICAL"
    assert ProbeResult.from_json(data, "sent.json").milestones[0].state is State.CRITICAL
