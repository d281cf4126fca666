"""The result of one probe run and its JSON form (``gridready.result/1``).

Probes print it with ``--format json``, sites send it to ``gridready
ingest``, the sweep stores it. ``from_json`` validates what it reads, since
ingested files come from outside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from gridready.checks.interface import PerfValue, Severity
from gridready.compliance import Compliance, Outcome, State, nagios_state
from gridready.errors import SourceError
from gridready.models import CHECKS

SCHEMA = "gridready.result/1"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class MilestoneResult:
    id: str
    compliance: Compliance
    deadline: date
    days_left: int
    message: str
    waiver: Mapping[str, str] | None = None
    title: str = ""
    remediation: str = ""
    #: The check's own conclusion; None when read from a result that predates it.
    outcome: Outcome | None = None
    severity: Severity | None = None

    @property
    def state(self) -> State:
        """CRITICAL for OVERDUE, WARNING when the failure is degraded (compliance.nagios_state)."""
        return nagios_state(self.compliance, self.severity)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "compliance": self.compliance.value, "state": self.state.name,
                "deadline": self.deadline.isoformat(), "days_left": self.days_left,
                "message": self.message, "waiver": dict(self.waiver) if self.waiver else None,
                "title": self.title, "remediation": self.remediation,
                "outcome": self.outcome.value if self.outcome else None,
                "severity": self.severity.name.lower() if self.severity else None}


@dataclass
class ProbeResult:
    check: str
    site: str | None
    host: str | None
    state: State
    summary: str
    checked_at: datetime
    milestones: list[MilestoneResult] = field(default_factory=list)
    perfdata: list[PerfValue] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    #: Set when the check ran out of time, naming the stage that hung.
    timeout: str | None = None

    @property
    def metrics(self) -> dict[str, float]:
        return {p.label: p.value for p in self.perfdata}

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "check": self.check, "site": self.site, "host": self.host,
                "state": self.state.name, "summary": self.summary,
                "checked_at": format_time(self.checked_at),
                "milestones": [m.to_json() for m in self.milestones],
                "metrics": self.metrics, "details": list(self.details)}

    @classmethod
    def from_json(cls, data: Any, origin: str) -> ProbeResult:
        """Validate and read a ``gridready.result/1`` object; ``origin`` names it in errors."""
        def bad(what: str) -> SourceError:
            return SourceError(f"{origin}: not a gridready result: {what}")

        def text(obj: Mapping[str, Any], key: str, optional: bool = False) -> Any:
            value = obj.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise bad(f"'{key}' must be a string, got {value!r}")
            return value

        if not isinstance(data, dict):
            raise bad(f"expected a JSON object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise bad(f"schema is {data.get('schema')!r}, expected '{SCHEMA}'")
        check = text(data, "check")
        if check not in CHECKS:
            raise bad(f"unknown check '{check}'")
        try:
            state = State[text(data, "state")]
            checked_at = parse_time(text(data, "checked_at"))
            milestones = []
            raw_ms = data.get("milestones")
            if not isinstance(raw_ms, list):
                raise bad("'milestones' must be a list")
            for m in raw_ms:
                if not isinstance(m, dict):
                    raise bad("each milestone must be an object")
                waiver = m.get("waiver")
                if waiver is not None and not isinstance(waiver, dict):
                    raise bad("'waiver' must be an object or null")
                days = m.get("days_left")
                if isinstance(days, bool) or not isinstance(days, int):
                    raise bad(f"'days_left' must be a whole number, got {days!r}")
                outcome = text(m, "outcome", optional=True)
                severity = text(m, "severity", optional=True)
                if severity is None and m.get("compliance") == "OVERDUE" and m.get("state") == "WARNING":
                    severity = "warning"    # a degraded OVERDUE from a result without 'severity'
                milestones.append(MilestoneResult(
                    id=text(m, "id"), compliance=Compliance(text(m, "compliance")),
                    deadline=date.fromisoformat(text(m, "deadline")), days_left=days,
                    message=text(m, "message"), waiver=waiver,
                    title=text(m, "title", optional=True) or "",
                    remediation=text(m, "remediation", optional=True) or "",
                    outcome=Outcome(outcome) if outcome else None,
                    severity=Severity[severity.upper()] if severity else None))
            metrics = data.get("metrics") or {}
            if not isinstance(metrics, dict) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in metrics.values()):
                raise bad("'metrics' must map names to numbers")
            details = data.get("details") or []
            if not isinstance(details, list) or not all(isinstance(d, str) for d in details):
                raise bad("'details' must be a list of strings")
        except (KeyError, ValueError) as exc:
            raise bad(f"bad value {exc}") from None
        return cls(check=check, site=text(data, "site", optional=True),
                   host=text(data, "host", optional=True), state=state,
                   summary=text(data, "summary"), checked_at=checked_at, milestones=milestones,
                   perfdata=[PerfValue(str(k), float(v)) for k, v in metrics.items()],
                   details=list(details))
