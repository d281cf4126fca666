"""nagiosplugin contexts for probe results.

A probe's ProbeResult becomes nagiosplugin metrics: one per milestone
(evaluated to the milestone's state) and one per perfdata value (evaluated
against its thresholds). nagiosplugin then derives the overall state and the
perfdata strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import nagiosplugin

from gridready.checks.interface import PerfValue
from gridready.compliance import State
from gridready.result import MilestoneResult, ProbeResult

NAGIOS_STATES: dict[State, nagiosplugin.state.ServiceState] = {
    State.OK: nagiosplugin.Ok, State.WARNING: nagiosplugin.Warn,
    State.CRITICAL: nagiosplugin.Critical, State.UNKNOWN: nagiosplugin.Unknown}


class ScalarContext(nagiosplugin.ScalarContext):  # type: ignore[misc]
    """ScalarContext where a missing threshold means "no threshold".

    Upstream turns ``warning=None`` into the range ``0:``, which alarms on
    every negative value (a clock offset, a days-left count). Here None
    becomes ``~:`` (anything) for evaluation and stays empty in perfdata.
    """

    def __init__(self, name: str, warning: str | None = None, critical: str | None = None) -> None:
        super().__init__(name, warning if warning is not None else "~:",
                         critical if critical is not None else "~:")
        self._specs = (warning or "", critical or "")

    def performance(self, metric: nagiosplugin.Metric, resource: Any) -> nagiosplugin.Performance:
        return nagiosplugin.Performance(metric.name, metric.value, metric.uom, self._specs[0],
                                        self._specs[1], metric.min, metric.max)


class MilestoneContext(nagiosplugin.Context):  # type: ignore[misc]
    """Evaluates a milestone metric to the state its compliance maps to."""

    def __init__(self) -> None:
        super().__init__("milestone")

    def evaluate(self, metric: nagiosplugin.Metric, resource: Any) -> nagiosplugin.Result:
        milestone: MilestoneResult = metric.value
        return nagiosplugin.Result(NAGIOS_STATES[milestone.state], milestone.message, metric)


class _ResultResource(nagiosplugin.Resource):  # type: ignore[misc]
    def __init__(self, result: ProbeResult) -> None:
        self.result = result

    @property
    def name(self) -> str:
        return self.result.check.upper()

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        for milestone in self.result.milestones:
            yield nagiosplugin.Metric(milestone.id, milestone, context="milestone")
        for perf in self.result.perfdata:
            yield nagiosplugin.Metric(perf.label, perf.value, perf.uom, perf.min, perf.max,
                                      context=f"perf:{perf.label}")


def _perf_context(perf: PerfValue) -> ScalarContext:
    return ScalarContext(f"perf:{perf.label}", perf.warn, perf.crit)


def evaluate(result: ProbeResult) -> nagiosplugin.Check:
    """Run nagiosplugin's evaluation over a result; returns the evaluated Check."""
    check = nagiosplugin.Check(_ResultResource(result), MilestoneContext(),
                               *(_perf_context(p) for p in result.perfdata))
    check()
    return check
