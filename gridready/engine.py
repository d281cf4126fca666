"""Runs one check for one target and evaluates every milestone that uses it.

This is the single path from a Request to a ProbeResult, shared by the
Nagios probes and the sweep: collect once, assess per milestone, evaluate
deadlines and waivers, summarise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from gridready.checks.interface import Assessment, Check, Observation, Request
from gridready.compliance import Compliance, Verdict, evaluate, worst
from gridready.deadline import Deadline
from gridready.errors import CheckError, CheckTimeout
from gridready.models import Milestone, Waiver
from gridready.result import MilestoneResult, ProbeResult, utc_now


def run_check(check: Check, request: Request, milestones: Sequence[Milestone],
              waivers: Sequence[Waiver], as_of: date, deadline: Deadline,
              now: datetime | None = None) -> ProbeResult:
    """Collect with ``check`` and evaluate ``milestones`` (all of which use it)."""
    observation: Observation | None = None
    failure: str | None = None
    timeout: str | None = None
    if request.as_of is None:
        request = replace(request, as_of=as_of)
    in_scope = [m for m in milestones if m.scope.applies(request.site, request.tier)]
    if in_scope:
        request = replace(request, expects=tuple(m.expect for m in in_scope))
        try:
            observation = check.collect(request, deadline)
        except CheckTimeout as exc:
            failure, timeout = str(exc), exc.stage
        except CheckError as exc:
            failure = str(exc)

    verdicts: list[Verdict] = []
    for milestone in milestones:
        outcome: Assessment | str | None = failure
        if observation is not None and milestone in in_scope:
            outcome = check.assess(observation, milestone.expect, request)
        verdicts.append(evaluate(milestone, request.site, request.tier, outcome, as_of, waivers))

    results = [to_result(v) for v in verdicts]
    state = worst([r.state for r in results])
    target = observation.target if observation else _target_hint(request)
    return ProbeResult(
        check=check.name, site=request.site, host=target, state=state,
        summary=summarize(verdicts, target), checked_at=now or utc_now(), milestones=results,
        perfdata=list(observation.metrics) if observation else [],
        details=list(observation.details) if observation else [], timeout=timeout)


def to_result(v: Verdict) -> MilestoneResult:
    waiver = {"reason": v.waiver.reason, "expires": v.waiver.expires.isoformat()} if v.waiver else None
    return MilestoneResult(id=v.milestone.id, compliance=v.compliance, deadline=v.milestone.deadline,
                           days_left=v.days_left, message=v.message, waiver=waiver,
                           title=v.milestone.title, remediation=v.remediation, outcome=v.outcome,
                           severity=v.severity)


def _target_hint(request: Request) -> str | None:
    host = request.opt("host")
    if isinstance(host, (list, tuple)):
        # A repeatable -H (the generic kinds): the hosts as written, not a Python list's repr.
        # Named as the checks name theirs: the first three and a count (10,000 -H made a 150 kB line).
        hosts = list(dict.fromkeys(str(h) for h in host))
        host = ", ".join(hosts[:3]) + (f" (+{len(hosts) - 3})" if len(hosts) > 3 else "")
    if host:
        port = request.opt("port")
        return f"{host}:{port}" if port else str(host)
    return request.opt("se") or None


def summarize(verdicts: Sequence[Verdict], target: str | None) -> str:
    """The status-line text: the worst milestones with why, or a count when all is well."""
    prefix = f"{target}: " if target else ""
    if not verdicts:
        return f"{prefix}no milestone uses this check"
    bad = worst([v.state for v in verdicts])
    if bad.value == 0:
        counts: dict[str, int] = {}
        for v in verdicts:
            counts[v.compliance.value] = counts.get(v.compliance.value, 0) + 1
        listing = ", ".join(f"{n} {c}" for c, n in counts.items())
        only = verdicts[0]
        if len(verdicts) == 1 and only.compliance is not Compliance.NOT_APPLICABLE:
            return f"{prefix}{only.milestone.id} {only.compliance.value}: {only.message}"
        return f"{prefix}{len(verdicts)} milestone{'s' if len(verdicts) != 1 else ''}: {listing}"
    worst_ones = [v for v in verdicts if v.state == bad]
    first = worst_ones[0]
    more = f" (+{len(worst_ones) - 1} more)" if len(worst_ones) > 1 else ""
    return f"{prefix}{first.milestone.id} {first.compliance.value}: {first.message}{more}"
