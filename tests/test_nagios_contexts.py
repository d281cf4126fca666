"""gridready.nagios.contexts evaluates a probe result as nagiosplugin.Check does, whether it
loaded nagiosplugin's submodules privately (a probe process) or the real package was imported."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import nagiosplugin

from gridready.checks.interface import PerfValue
from gridready.compliance import Compliance
from gridready.result import MilestoneResult

REPO = Path(__file__).resolve().parent.parent

#: Builds one result with every state and thresholds that fire, evaluates it, prints JSON.
SCRIPT = r'''
import json, sys
from datetime import date, datetime, timezone
from gridready.checks.interface import PerfValue
from gridready.compliance import Compliance
from gridready.result import MilestoneResult, ProbeResult
from gridready.nagios import contexts

def make(compliances, perf):
    ms = [MilestoneResult(f"m{i}", Compliance[c], date(2010, 6, 1), -7, f"msg {i}")
          for i, c in enumerate(compliances)]
    return ProbeResult("x", None, None, contexts.State.UNKNOWN, "s", datetime(2010, 6, 8, tzinfo=timezone.utc),
                       ms, [PerfValue(*p) for p in perf])

cases = json.loads(sys.argv[1])
out = []
for compliances, perf in cases:
    ev = contexts.evaluate(make(compliances, perf))
    out.append([ev.state.code, ev.perfdata])
print(json.dumps({"out": out, "private": "nagiosplugin" not in sys.modules,
                  "module": contexts._np.context.__name__}))
'''

CASES = [
    [["COMPLIANT"], []],
    [["COMPLIANT", "DUE"], [["days", -3.0, "", None, None]]],
    [["OVERDUE", "COMPLIANT"], [["offset", 12.5, "s", "10", "20", 0.0, None]]],
    [["COMPLIANT"], [["offset", 25.0, "s", "10", "20"], ["size", 3.0, "B", "~:2", None, 0.0, 10.0]]],
    [["UNKNOWN"], [["a", 1.0]]],
    [[], []],
]


def _reference(compliances: list[str], perf: list[list[object]]) -> list[object]:
    """nagiosplugin's own Check over the same metrics and the same contexts."""
    from gridready.nagios.contexts import NAGIOS_STATES, MilestoneContext, ScalarContext

    ms = [MilestoneResult(f"m{i}", Compliance[c], date(2010, 6, 1), -7, f"msg {i}")
          for i, c in enumerate(compliances)]
    values = [PerfValue(*p) for p in perf]  # type: ignore[arg-type]

    class Resource(nagiosplugin.Resource):  # type: ignore[misc]
        name = "X"

        def probe(self) -> list[nagiosplugin.Metric]:
            return [nagiosplugin.Metric(m.id, m, context="milestone") for m in ms] + [
                nagiosplugin.Metric(p.label, p.value, p.uom, p.min, p.max, context=f"perf:{p.label}")
                for p in values]

    check = nagiosplugin.Check(Resource(), MilestoneContext(),
                               *(ScalarContext(f"perf:{p.label}", p.warn, p.crit) for p in values))
    check()
    assert set(NAGIOS_STATES.values()) == {nagiosplugin.Ok, nagiosplugin.Warn, nagiosplugin.Critical,
                                           nagiosplugin.Unknown}
    return [check.state.code, check.perfdata]


def test_private_load_matches_nagiosplugin_check_and_leaves_the_package_alone() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT + "\nimport nagiosplugin\n"
                           "assert callable(nagiosplugin.Check) and nagiosplugin.Check.__module__ == "
                           "'nagiosplugin.check'\n", json.dumps(CASES)],
                          capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["private"] is True
    assert got["module"] == "gridready._nagiosplugin_core.context"
    expected = [_reference(c, p) for c, p in CASES]
    assert got["out"] == expected
    # The expected values themselves (so a shared mistake cannot pass): states and perfdata strings.
    assert expected == [
        [0, []], [1, ["days=-3.0"]], [2, ["offset=12.5s;10;20;0.0"]],
        [2, ["offset=25.0s;10;20", "size=3.0B;~:2;;0.0;10.0"]], [3, ["a=1.0"]], [3, []]]


def test_with_nagiosplugin_imported_first_the_real_package_is_used() -> None:
    done = subprocess.run([sys.executable, "-c", "import nagiosplugin\n" + SCRIPT, json.dumps(CASES)],
                          capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["private"] is False and got["module"] == "nagiosplugin.context"
    assert got["out"] == [_reference(c, p) for c, p in CASES]


def test_a_broken_private_load_falls_back_to_the_package() -> None:
    # A finder that fails the first lookup of nagiosplugin (the private load) and then steps aside.
    script = ("import sys\nclass Bad:\n    calls = 0\n    def find_spec(self, name, path=None, target=None):\n"
              "        if name == 'nagiosplugin' and not Bad.calls:\n"
              "            Bad.calls += 1\n            raise RuntimeError('odd finder')\n"
              "sys.meta_path.insert(0, Bad())\n" + SCRIPT)
    done = subprocess.run([sys.executable, "-c", script, json.dumps(CASES[:3])],
                          capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["module"] == "nagiosplugin.context"
    assert "gridready._nagiosplugin_core" not in done.stdout
    assert got["out"] == [_reference(c, p) for c, p in CASES[:3]]
