"""nagiosplugin contexts for probe results, without nagiosplugin's package start-up.

A probe's ProbeResult becomes nagiosplugin metrics: one per milestone
(evaluated to the milestone's state) and one per perfdata value (evaluated
against its thresholds by nagiosplugin's ScalarContext and Range). The
overall state is the most significant one (nagiosplugin's ``Results``) and
the perfdata strings are nagiosplugin's ``Performance``, sorted, as
``nagiosplugin.Check.__call__`` makes them.

Why not ``import nagiosplugin``: its package ``__init__`` imports every
submodule, and ``check``/``runtime``/``cookie`` pull in logging, traceback
and tempfile (~10 ms of every probe start, bench/RESULTS.md). The probe
needs only ``context``, ``metric``, ``result``, ``state``, ``performance``
and ``range``, which import nothing but the stdlib and each other (relative
imports; the same in nagiosplugin 1.3.2, 1.3.3 and 1.4.0). ``_core`` loads
those six files from the installed nagiosplugin as submodules of a private
package name, so the real ``nagiosplugin`` in ``sys.modules`` is never a
half-initialised package; when nagiosplugin is already imported, or the
private load fails for any reason, the real package is used.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

from gridready.checks.interface import PerfValue
from gridready.compliance import State
from gridready.result import MilestoneResult, ProbeResult

#: The private package name the needed nagiosplugin submodules are loaded under.
ALIAS = "gridready._nagiosplugin_core"
#: ``context`` first: its own imports load the rest, and those show in ``-X importtime``
#: (tests/test_import_set.py), which does not list modules importlib.import_module loads.
_NEEDED = ("context", "metric", "state", "result", "performance", "range")


def _load_private() -> SimpleNamespace:
    from importlib import import_module
    from importlib.machinery import ModuleSpec

    spec = None
    for finder in sys.meta_path:      # what importlib.util.find_spec does, without importing it (~1-5 ms)
        find = getattr(finder, "find_spec", None)
        spec = find("nagiosplugin", None) if find is not None else None
        if spec is not None:
            break
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nagiosplugin is not an importable package")
    package = ModuleType(ALIAS)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = ModuleSpec(ALIAS, None, is_package=True)
    package.__spec__.submodule_search_locations = package.__path__
    package.__package__ = ALIAS
    sys.modules[ALIAS] = package
    try:
        return SimpleNamespace(**{name: import_module(f"{ALIAS}.{name}") for name in _NEEDED})
    except BaseException:
        for name in [m for m in sys.modules if m == ALIAS or m.startswith(ALIAS + ".")]:
            del sys.modules[name]
        raise


def _core() -> SimpleNamespace:
    """The nagiosplugin submodules the probe uses, as attributes named like the submodules."""
    if "nagiosplugin" not in sys.modules:
        try:
            return _load_private()
        except Exception:  # any surprise in a future layout: pay for the whole package instead
            pass
    import nagiosplugin.context
    import nagiosplugin.metric
    import nagiosplugin.performance
    import nagiosplugin.result
    import nagiosplugin.state
    return SimpleNamespace(**{name: getattr(nagiosplugin, name) for name in _NEEDED})


_np = _core()

NAGIOS_STATES: dict[State, Any] = {
    State.OK: _np.state.Ok, State.WARNING: _np.state.Warn,
    State.CRITICAL: _np.state.Critical, State.UNKNOWN: _np.state.Unknown}


_ScalarContext: Any = _np.context.ScalarContext
_Context: Any = _np.context.Context


class ScalarContext(_ScalarContext):  # type: ignore[misc]
    """ScalarContext where a missing threshold means "no threshold".

    Upstream turns ``warning=None`` into the range ``0:``, which alarms on
    every negative value (a clock offset, a days-left count). Here None
    becomes ``~:`` (anything) for evaluation and stays empty in perfdata.
    """

    def __init__(self, name: str, warning: str | None = None, critical: str | None = None) -> None:
        super().__init__(name, warning if warning is not None else "~:",
                         critical if critical is not None else "~:")
        self._specs = (warning or "", critical or "")

    def performance(self, metric: Any, resource: Any) -> Any:
        return _np.performance.Performance(metric.name, metric.value, metric.uom, self._specs[0],
                                           self._specs[1], metric.min, metric.max)


class MilestoneContext(_Context):  # type: ignore[misc]
    """Evaluates a milestone metric to the state its compliance maps to."""

    def __init__(self) -> None:
        super().__init__("milestone")

    def evaluate(self, metric: Any, resource: Any) -> Any:
        milestone: MilestoneResult = metric.value
        return _np.result.Result(NAGIOS_STATES[milestone.state], milestone.message, metric)


class Evaluated:
    """The outcome of ``evaluate``: ``state`` (a nagiosplugin ServiceState; ``.code`` is the exit
    code), ``results`` (nagiosplugin Results) and ``perfdata`` (sorted non-empty strings)."""

    def __init__(self, state: Any, results: Any, perfdata: list[str]) -> None:
        self.state = state
        self.results = results
        self.perfdata = perfdata


def _metrics(result: ProbeResult) -> Iterator[Any]:
    for milestone in result.milestones:
        yield _np.metric.Metric(milestone.id, milestone, context="milestone")
    for perf in result.perfdata:
        yield _np.metric.Metric(perf.label, perf.value, perf.uom, perf.min, perf.max,
                                context=f"perf:{perf.label}")


def _perf_context(perf: PerfValue) -> ScalarContext:
    return ScalarContext(f"perf:{perf.label}", perf.warn, perf.crit)


def evaluate(result: ProbeResult) -> Evaluated:
    """Evaluate every metric in its context as ``nagiosplugin.Check.__call__`` does (its own
    ``Resource``/``Check`` classes are not used: they bring nagiosplugin's logging and runtime).
    The state is the most significant one, UNKNOWN when there is no metric."""
    contexts: dict[str, Any] = {"milestone": MilestoneContext()}
    contexts.update((f"perf:{p.label}", _perf_context(p)) for p in result.perfdata)
    results = _np.result.Results()
    perfdata: list[str] = []
    for metric in _metrics(result):
        metric = metric.replace(contextobj=contexts[metric.context], resource=None)
        outcome = metric.evaluate()
        if not isinstance(outcome, _np.result.Result):
            outcome = _np.result.Result(outcome, metric=metric)
        results.add(outcome)
        perfdata.append(str(metric.performance() or ""))
    state = results.most_significant_state if results else _np.state.Unknown
    return Evaluated(state, results, sorted(p for p in perfdata if p))
