"""The plugin axis for checks: what every check module provides.

A check runs in two steps so that one collection serves every milestone
that uses it: ``collect`` does the I/O (bounded by a Deadline, raising
CheckError when it cannot get an answer) and returns an Observation;
``assess`` is pure and turns an Observation plus one milestone's ``expect``
into an Assessment made of Findings. The compliance evaluator then applies
deadlines and waivers. Probes build Requests from the command line, the
sweep from the inventory.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

from gridready.deadline import Deadline
from gridready.models import Inventory, Site


class Severity(enum.Enum):
    """How bad a failed finding is once its deadline has passed.

    WARNING marks a degraded-but-present state (a drained FTS channel): it
    never escalates beyond DUE/WARNING. CRITICAL failures become OVERDUE.
    """

    WARNING = 1
    CRITICAL = 2


def unknown_keys(expect: Mapping[str, Any], known: Sequence[str]) -> list[str]:
    """``validate_expect`` problems for the keys of ``expect`` not in ``known``, one each, in order."""
    return [f"unknown key '{k}' (known: {', '.join(known)})" for k in expect if k not in known]


@dataclass(frozen=True)
class Finding:
    """One fact a check established, good or bad, with the fix when bad."""

    ok: bool
    message: str
    remediation: str = ""
    severity: Severity = Severity.CRITICAL


@dataclass(frozen=True)
class Assessment:
    """What a check concludes about one milestone's expectations."""

    findings: tuple[Finding, ...] = ()
    applicable: bool = True
    #: Said when nothing failed (or when not applicable); defaults to the ok findings.
    summary: str = ""
    #: The evidence some expectation needs was not collected (a skipped stage,
    #: an absent field, an empty list): the reason. When nothing failed, the
    #: verdict is UNKNOWN with this reason, never COMPLIANT (evidence rule, docs/README.md).
    unknown: str = ""

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.ok)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def severity(self) -> Severity:
        return max((f.severity for f in self.failures), key=lambda s: s.value, default=Severity.WARNING)

    @property
    def message(self) -> str:
        failures = self.failures
        if failures:
            return "; ".join(f.message for f in failures)
        return self.summary or "; ".join(f.message for f in self.findings) or "ok"

    @property
    def remediation(self) -> str:
        return "; ".join(dict.fromkeys(f.remediation for f in self.failures if f.remediation))


@dataclass(frozen=True)
class PerfValue:
    """One perfdata item; thresholds are Nagios range strings or None (no threshold)."""

    label: str
    value: float
    uom: str = ""
    warn: str | None = None
    crit: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass
class Observation:
    """What ``collect`` saw: check-specific ``data`` plus output for humans and graphs."""

    target: str
    data: Any
    metrics: list[PerfValue] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """One run of a check: its own options plus the site it is for."""

    options: Mapping[str, Any]
    site: str | None = None
    tier: int = 1
    inventory: Inventory | None = None
    #: The ``expect`` of every in-scope milestone this collection serves (set by
    #: the engine), so ``collect`` can do costly extra work only when one asks.
    expects: tuple[Mapping[str, Any], ...] = ()
    #: The evaluation date (``--as-of``; set by the engine when left out), for
    #: checks whose verdict depends on the date (e.g. a release's end of support).
    as_of: date | None = None

    def opt(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value is None else value


@runtime_checkable
class ReviewsStored(Protocol):
    """Optional for a check: re-judges outcomes stored by older versions of its probe.

    A report re-evaluates stored outcomes; one recorded as a pass (or fail)
    on evidence that was never collected (e.g. xrootd "published strings not
    checked") must read UNKNOWN instead.
    """

    def unproven(self, expect: Mapping[str, Any], outcome: str, message: str) -> str | None:
        """Why a stored ``outcome`` ("pass"/"fail") with ``message`` lacks the evidence ``expect``
        needs (the UNKNOWN message), or None when it stands."""


class Check(Protocol):
    """What a module in gridready.checks exposes as ``CHECK``."""

    #: The name milestones use in ``check:`` and the probe is called after (check_<name>).
    name: str
    #: One sentence for the probe's --help.
    description: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the probe-specific options (docs/probes.md); ``parser.error`` exits 3."""

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        """Problems with a milestone's ``expect`` (unknown keys, bad values), one line each."""

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        """Option sets (argparse dests) to check ``site`` in a sweep.

        Empty when the site has no such service (NOT_APPLICABLE); raise
        CheckError when it must have one but the inventory lacks what is
        needed to check it (UNKNOWN, with that message).
        """

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        """Gather data; raise CheckError (e.g. SourceError) when no answer could be had."""

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        """Judge the observation against one milestone's expectations. Pure."""
