"""The result of one probe run and its JSON form (``gridready.result/1``).

Probes print it with ``--format json``, sites send it to ``gridready
ingest``, the sweep stores it. ``from_json`` validates what it reads, since
ingested files come from outside.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
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
    """``moment`` as TIME_FORMAT, the year always 4 digits: glibc's ``%Y`` writes 999 for 0999,
    which parse_time refuses and which sorts after 2010 as text (the history compares times as text)."""
    utc = moment.astimezone(timezone.utc)
    return f"{utc.year:04d}{utc:-%m-%dT%H:%M:%SZ}"


#: The one notation of a check time (docs/result.schema.json ``checked_at``): UTC, whole
#: seconds, upper-case ``T`` and ``Z``. strptime alone also takes ``z``, ``t`` and
#: one-digit fields, which the schema (and other consumers of the JSON) refuse.
_TIME_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


_DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str, what: str = "date") -> date:
    """``YYYY-MM-DD`` only; ValueError naming ``what`` otherwise. ``date.fromisoformat``
    alone also takes ``20100930`` and ``2010-W39-4``, which the schema refuses."""
    if not _DAY_PATTERN.fullmatch(text):
        raise ValueError(f"{what} {text[:40]!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a real date") from None


def parse_time(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SSZ`` as an aware UTC datetime; ValueError naming the value otherwise
    (``+00:00``, fractional seconds, a lower-case ``z`` or a missing zone are refused, as the schema does)."""
    if not _TIME_PATTERN.fullmatch(text):
        raise ValueError(f"checked_at {text[:40]!r} is not YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValueError(f"checked_at {text!r} is not a real date and time") from None


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

        def text(obj: Mapping[str, Any], key: str, optional: bool = False, name: bool = False) -> Any:
            """A string field; ``name``: an identifier (short, no control characters)."""
            value = obj.get(key)
            if value is None and optional:
                return None
            if not isinstance(value, str):
                raise bad(f"'{key}' must be a string, got {_shown(value)}")
            _bounded_text(value, key, name, bad)
            return value

        if not isinstance(data, dict):
            raise bad(f"expected a JSON object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA:
            raise bad(f"schema is {_shown(data.get('schema'))}, expected '{SCHEMA}'")
        check = text(data, "check", name=True)
        if check not in CHECKS:
            raise bad(f"unknown check {check!r}")
        try:
            state = State[text(data, "state")]
            checked_at = parse_time(text(data, "checked_at"))
            milestones = []
            raw_ms = data.get("milestones")
            if not isinstance(raw_ms, list):
                raise bad("'milestones' must be a list")
            if len(raw_ms) > MAX_ITEMS:
                raise bad(f"more than {MAX_ITEMS} milestones")
            for m in raw_ms:
                if not isinstance(m, dict):
                    raise bad("each milestone must be an object")
                waiver = m.get("waiver")
                if waiver is not None and not (isinstance(waiver, dict) and len(waiver) <= MAX_ITEMS and all(
                        isinstance(v, str) and _bounded_text(k, "waiver", True, bad)
                        and _bounded_text(v, "waiver", False, bad) for k, v in waiver.items())):
                    raise bad("'waiver' must be an object of strings or null")
                days = m.get("days_left")
                if isinstance(days, bool) or not isinstance(days, int):
                    raise bad(f"'days_left' must be a whole number, got {_shown(days)}")
                if abs(days) > MAX_DAYS:
                    raise bad(f"'days_left' {_shown(days)} is out of range: two dates are at most "
                              f"{MAX_DAYS} days apart")
                outcome = text(m, "outcome", optional=True)
                severity = text(m, "severity", optional=True)
                if severity is None and m.get("compliance") == "OVERDUE" and m.get("state") == "WARNING":
                    severity = "warning"    # a degraded OVERDUE from a result without 'severity'
                milestones.append(MilestoneResult(
                    id=text(m, "id", name=True), compliance=Compliance(text(m, "compliance")),
                    deadline=parse_day(text(m, "deadline"), "deadline"), days_left=days,
                    message=text(m, "message"), waiver=waiver,
                    title=text(m, "title", optional=True) or "",
                    remediation=text(m, "remediation", optional=True) or "",
                    outcome=Outcome(outcome) if outcome else None,
                    severity=Severity[severity.upper()] if severity else None))
            metrics = data.get("metrics") or {}
            if not isinstance(metrics, dict) or len(metrics) > MAX_ITEMS or not all(
                    _bounded_text(k, "metrics", True, bad) and _finite_number(v)
                    for k, v in metrics.items()):
                raise bad(f"'metrics' must map at most {MAX_ITEMS} names to finite numbers "
                          f"of at most {MAX_NUMBER:g} in size")
            details = data.get("details") or []
            if not isinstance(details, list) or len(details) > MAX_DETAILS or not all(
                    isinstance(d, str) and _bounded_text(d, "details", False, bad) for d in details):
                raise bad(f"'details' must be a list of at most {MAX_DETAILS} strings")
        except (KeyError, ValueError) as exc:
            raise bad(f"bad value {exc}") from None
        return cls(check=check, site=text(data, "site", optional=True, name=True),
                   host=text(data, "host", optional=True, name=True), state=state,
                   summary=text(data, "summary"), checked_at=checked_at, milestones=milestones,
                   perfdata=[PerfValue(str(k), float(v)) for k, v in metrics.items()],
                   details=list(details))


#: Bounds of what ``from_json`` accepts: results come from outside (ingest).
#: Identifiers (check, site, host, milestone id, metric names): characters.
MAX_NAME = 1024
#: Free text (summary, message, title, remediation, one detail line): characters.
MAX_TEXT = 64 * 1024
#: Milestones, metrics, waiver fields per result.
MAX_ITEMS = 1000
MAX_DETAILS = 10_000
#: ``days_left`` is a difference of two dates (years 1..9999): never more apart than this.
MAX_DAYS = (date.max - date.min).days
#: Metric values: finite, and small enough for a float and an SQLite REAL.
MAX_NUMBER = 1e300


def _shown(value: Any) -> str:
    """A value quoted in an error message, cut short (it may be megabytes or a 5000-digit number)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 30:
        return f"a {len(str(abs(value)))}-digit number" if abs(value) < 10 ** 4000 else "a huge number"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bounded_text(value: Any, key: str, name: bool, bad: Callable[[str], SourceError]) -> bool:
    """True, or raise ``bad(...)``: ``value`` must be a string within bounds; identifiers hold no control characters."""
    from gridready.escape import has_control
    if not isinstance(value, str):
        raise bad(f"'{key}' must hold strings, got {_shown(value)}")
    limit = MAX_NAME if name else MAX_TEXT
    if len(value) > limit:
        raise bad(f"'{key}' is longer than {limit} characters")
    if name and has_control(value):
        raise bad(f"'{key}' {_shown(value)} holds control characters")
    return True


def _finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_NUMBER
    return math.isfinite(value) and abs(value) <= MAX_NUMBER


#: Largest result file ingested: a result is a few KiB; a whole FTS matrix is far below this.
MAX_RESULT_BYTES = 4 * 1024 * 1024
#: Deepest JSON nesting a result has (result > milestones > milestone > waiver) is 4.
MAX_DEPTH = 8
#: Longest integer literal read (int64 has 19 digits); Python's own limit is 4300.
MAX_DIGITS = 20
#: How far in the future a result may be dated (clock skew between a site and the reporter).
CLOCK_SKEW = timedelta(hours=1)


class _Refused(ValueError):
    """A JSON literal refused while parsing (huge integer, NaN, Infinity, overflowing float)."""


def _json_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"an integer of {len(literal.lstrip('-'))} digits")
    return int(literal)


def _json_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Refused(f"the number {literal[:40]} does not fit a float")
    return value


def _json_constant(literal: str) -> float:
    raise _Refused(f"{literal} is not a number JSON allows")


def _depth(data: Any) -> int:
    """The nesting depth of parsed JSON, without recursion."""
    deepest, todo = 0, [(data, 1)]
    while todo:
        node, level = todo.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            todo.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def parse_json(raw: bytes, origin: str) -> Any:
    """``raw`` as JSON, guarded: SourceError (``ORIGIN: not a gridready result: ...``) for text that
    is not UTF-8, not JSON, nested deeper than MAX_DEPTH, or holds NaN, Infinity, an overflowing
    float or an integer longer than MAX_DIGITS."""
    def bad(what: str) -> SourceError:
        return SourceError(f"{origin}: not a gridready result: {what}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    try:
        data = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise bad(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except _Refused as exc:
        raise bad(f"{exc}") from None
    except RecursionError:
        raise bad(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:   # any other literal Python will not convert
        raise bad(f"invalid JSON: {exc}") from None
    if _depth(data) > MAX_DEPTH:
        raise bad(f"JSON nested deeper than {MAX_DEPTH} levels")
    return data


def parse_result(raw: bytes, origin: str, now: datetime | None = None) -> ProbeResult:
    """One ``gridready.result/1`` document sent by a site, validated as ingest must.

    Besides :meth:`ProbeResult.from_json`: ``site`` is required, and a result
    dated after ``now`` (default: the clock) plus CLOCK_SKEW is refused, since
    as the latest result it would mask every real one until that date.
    Raises SourceError naming ``origin``.
    """
    result = ProbeResult.from_json(parse_json(raw, origin), origin)
    if not result.site:
        raise SourceError(f"{origin}: not a gridready result: 'site' is missing")
    now = now or utc_now()
    if result.checked_at > now + CLOCK_SKEW:
        raise SourceError(f"{origin}: checked_at {format_time(result.checked_at)} is in the future "
                          f"(now {format_time(now)}, more than {CLOCK_SKEW.seconds // 3600} h of clock skew): "
                          "refused, it would mask later results")
    return result


def read_result(path: str | os.PathLike[str], now: datetime | None = None) -> ProbeResult:
    """:func:`parse_result` of the regular file ``path`` (read through gridready.localfile, at most
    MAX_RESULT_BYTES); SourceError names the file."""
    from gridready.localfile import read_bytes
    name = os.fspath(path)
    return parse_result(read_bytes(name, max_bytes=MAX_RESULT_BYTES, what="result file"), name, now)
