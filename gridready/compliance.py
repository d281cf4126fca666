"""The compliance evaluator: one pure function from a check's outcome to a state.

Given what a check found, the milestone, the site and the evaluation date, it
decides COMPLIANT, PENDING, DUE, OVERDUE, WAIVED, NOT_APPLICABLE or UNKNOWN
(the state table of docs/README.md) and the Nagios state that goes with it. Deadlines and waiver
expiry dates are inclusive: compliant by the end of that day, UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gridready.checks.interface import Assessment, Severity
from gridready.models import Milestone, Waiver


class State(enum.IntEnum):
    """Nagios service states; the value is the plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def worst(states: Sequence[State]) -> State:
    """The highest exit code, as nagiosplugin ranks states; nothing checked is UNKNOWN."""
    return max(states) if states else State.UNKNOWN


class Outcome(enum.Enum):
    """What a check concluded for one milestone, independent of dates and waivers."""

    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not-applicable"
    UNKNOWN = "unknown"


class Compliance(enum.Enum):
    COMPLIANT = "COMPLIANT"
    PENDING = "PENDING"
    DUE = "DUE"
    OVERDUE = "OVERDUE"
    WAIVED = "WAIVED"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    UNKNOWN = "UNKNOWN"

    @property
    def state(self) -> State:
        """The Nagios state of a failure of CRITICAL severity (see ``nagios_state``)."""
        return _STATE[self]


def nagios_state(compliance: Compliance, severity: Severity | None) -> State:
    """The Nagios state of a verdict: OVERDUE is CRITICAL, WARNING for a degraded finding.

    docs/README.md: a failure after the deadline is OVERDUE whatever its severity,
    but a degraded finding (Severity.WARNING, e.g. a drained FTS channel)
    alarms as WARNING, not CRITICAL.
    """
    if compliance is Compliance.OVERDUE and severity is Severity.WARNING:
        return State.WARNING
    return compliance.state


def deadline_note(compliance: Compliance, deadline: date, days_left: int) -> str:
    """The deadline part of a finding line (docs/probes.md): ``deadline D, overdue N days`` only for OVERDUE.

    Up to the deadline day any line says ``deadline D, N days left``; after
    it, a line that is not OVERDUE (COMPLIANT, WAIVED, NOT_APPLICABLE,
    UNKNOWN) says only ``deadline D``: nothing not overdue reads "overdue".
    """
    if compliance is Compliance.OVERDUE:
        return f"deadline {deadline}, overdue {-days_left} day{'s' if days_left != -1 else ''}"
    if days_left >= 0:
        return f"deadline {deadline}, {days_left} day{'s' if days_left != 1 else ''} left"
    return f"deadline {deadline}"


_STATE = {Compliance.COMPLIANT: State.OK, Compliance.PENDING: State.OK,
          Compliance.DUE: State.WARNING, Compliance.OVERDUE: State.CRITICAL,
          Compliance.WAIVED: State.OK, Compliance.NOT_APPLICABLE: State.OK,
          Compliance.UNKNOWN: State.UNKNOWN}


@dataclass(frozen=True)
class Verdict:
    """The evaluation of one milestone for one site."""

    milestone: Milestone
    compliance: Compliance
    message: str
    days_left: int
    waiver: Waiver | None = None
    remediation: str = ""
    #: The check's conclusion before deadlines and waivers: what a later
    #: re-evaluation (a report on another date) starts from.
    outcome: Outcome = Outcome.UNKNOWN
    #: For a failure, how bad it is once overdue (WARNING: degraded, OVERDUE alarms as WARNING).
    severity: Severity | None = None

    @property
    def state(self) -> State:
        return nagios_state(self.compliance, self.severity)


def days_left(deadline: date, as_of: date) -> int:
    """Whole days until the deadline; 0 on the day itself, negative once overdue."""
    return (deadline - as_of).days


def evaluate(milestone: Milestone, site: str | None, tier: int,
             outcome: Assessment | str | None, as_of: date,
             waivers: Sequence[Waiver] = ()) -> Verdict:
    """Decide the compliance of ``site`` with ``milestone`` on ``as_of``.

    ``outcome`` is the check's assessment, or a string saying why the check
    could not run (or None: no data), which makes the result UNKNOWN.
    """
    left = days_left(milestone.deadline, as_of)

    def verdict(compliance: Compliance, message: str, waiver: Waiver | None = None,
                remediation: str = "", kind: Outcome = Outcome.FAIL) -> Verdict:
        severity = outcome.severity if kind is Outcome.FAIL and isinstance(outcome, Assessment) else None
        return Verdict(milestone, compliance, message, left, waiver, remediation, kind, severity)

    if not milestone.scope.applies(site, tier):
        return verdict(Compliance.NOT_APPLICABLE, f"site {site or '(unnamed)'} (tier {tier}) is out of scope",
                       kind=Outcome.NOT_APPLICABLE)
    if outcome is None:
        return verdict(Compliance.UNKNOWN, "no result for this check", kind=Outcome.UNKNOWN)
    if isinstance(outcome, str):
        return verdict(Compliance.UNKNOWN, outcome, kind=Outcome.UNKNOWN)
    if not outcome.applicable:
        return verdict(Compliance.NOT_APPLICABLE, outcome.message, kind=Outcome.NOT_APPLICABLE)
    if outcome.passed and outcome.unknown:
        return verdict(Compliance.UNKNOWN, outcome.unknown, kind=Outcome.UNKNOWN)
    if outcome.passed:
        return verdict(Compliance.COMPLIANT, outcome.message, kind=Outcome.PASS)

    remediation = outcome.remediation or milestone.remediation
    mine = [w for w in waivers if w.milestone == milestone.id and site is not None
            and w.site.casefold() == site.casefold()]
    valid = [w for w in mine if w.expires >= as_of]
    if valid:
        waiver = max(valid, key=lambda w: w.expires)
        return verdict(Compliance.WAIVED, f"{outcome.message}; waived until {waiver.expires}: {waiver.reason}",
                       waiver, remediation)
    message = outcome.message
    if mine:
        expired = max(mine, key=lambda w: w.expires)
        message += f"; waiver expired {expired.expires}"
    if left < 0:
        return verdict(Compliance.OVERDUE, message, remediation=remediation)
    if left <= milestone.warn_days:
        return verdict(Compliance.DUE, message, remediation=remediation)
    return verdict(Compliance.PENDING, message, remediation=remediation)
