"""Pure formatters for probe output: Nagios text and JSON.

Nagios text is one status line ``NAME STATE - summary | perfdata`` then
one line per milestone ``[STATE] id: message (deadline D, N days left)`` (``overdue
N days`` only when OVERDUE; just ``deadline D`` past it otherwise);
``-v`` adds remediation, ``-vv`` the check's details. A ``|`` in any text
would start perfdata, so it is replaced.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gridready.compliance import State
from gridready.compliance import deadline_note as compliance_deadline_note
from gridready.result import MilestoneResult, ProbeResult


def clean(text: str) -> str:
    """One line, no perfdata separator."""
    return " ".join(text.replace("|", "/").split())


def deadline_note(m: MilestoneResult) -> str:
    """``deadline D, overdue N days`` only when OVERDUE (compliance.deadline_note)."""
    return compliance_deadline_note(m.compliance, m.deadline, m.days_left)


def milestone_line(m: MilestoneResult) -> str:
    return f"[{m.state.name}] {m.id}: {clean(m.message)} ({deadline_note(m)})"


def status_line(name: str, state: State, summary: str, perfdata: Sequence[str] = ()) -> str:
    line = f"{name} {state.name} - {clean(summary)}"
    return f"{line} | {' '.join(perfdata)}" if perfdata else line


def nagios_text(result: ProbeResult, state: State, perfdata: Sequence[str], verbose: int = 0) -> str:
    lines = [status_line(result.check.upper(), state, result.summary, perfdata)]
    for m in result.milestones:
        lines.append(milestone_line(m))
        if verbose >= 1 and m.remediation and m.state is not State.OK:
            lines.append(f"    remediation: {clean(m.remediation)}")
    if verbose >= 2:
        lines.extend(clean(d) for d in result.details)
    return "\n".join(lines) + "\n"


def json_text(result: ProbeResult) -> str:
    return json.dumps(result.to_json(), indent=2, sort_keys=False) + "\n"
