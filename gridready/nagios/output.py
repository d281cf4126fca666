"""Pure formatters for probe output: Nagios text and JSON.

Nagios text is one status line ``NAME STATE - summary | perfdata`` then
one line per milestone ``[STATE] id: message (deadline D, N days left)`` (``overdue
N days`` only when OVERDUE; just ``deadline D`` past it otherwise);
``-v`` adds remediation, ``-vv`` the check's details.

The status line is what the Nagios and Icinga web UIs and most
notifications show, so it stays short (``short_summary``): with one
milestone its compliance and the start of its message, with several
``2 of 3 milestones failing: a OVERDUE, b DUE`` and the messages only in the
long output. A ``|`` in any text would start perfdata (Nagios plugin API),
so it becomes ``/``; ``;`` separates fields in passive-result and
perfdata syntax, so the status text carries none (``,``); control
characters show as ``\\xNN``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gridready.compliance import State
from gridready.compliance import deadline_note as compliance_deadline_note
from gridready.escape import terminal
from gridready.result import MilestoneResult, ProbeResult

#: Characters of a single milestone's message kept in the status line; the whole message is in the long output.
STATUS_MESSAGE_CHARS = 160
#: Milestone ids named in a several-milestone status line; the rest are counted.
STATUS_IDS = 3


def clean(text: str) -> str:
    """One line, no perfdata separator, control characters visible."""
    return terminal(" ".join(text.replace("|", "/").split()))


def status_text(text: str) -> str:
    """``clean`` and no ``;`` (the status text of a passive result or a perfdata-less line)."""
    return clean(text).replace(";", ",")


def _shorten(text: str, limit: int = STATUS_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 3].rstrip() + "..."


_ORDER = {State.CRITICAL: 0, State.WARNING: 1, State.UNKNOWN: 2, State.OK: 3}


def short_summary(result: ProbeResult) -> str:
    """The status-line summary: ``[target: ]`` then, with one milestone, ``id COMPLIANCE: message``
    (cut to STATUS_MESSAGE_CHARS); with several all OK, the counts per compliance; else
    ``N of M milestones failing: id COMPLIANCE, ...`` (worst first) and ``K unknown: id, ...``."""
    prefix = f"{result.host}: " if result.host else ""
    ms = result.milestones
    if len(ms) <= 1:
        if not ms or ms[0].compliance.value == "NOT_APPLICABLE":
            return result.summary
        return f"{prefix}{ms[0].id} {ms[0].compliance.value}: {_shorten(clean(ms[0].message))}"
    failing = sorted((m for m in ms if m.state in (State.WARNING, State.CRITICAL)), key=lambda m: _ORDER[m.state])
    unknown = [m for m in ms if m.state is State.UNKNOWN]
    if not failing and not unknown:
        return result.summary

    def named(chosen: list[MilestoneResult], word: bool) -> str:
        ids = [f"{m.id} {m.compliance.value}" if word else m.id for m in chosen[:STATUS_IDS]]
        more = f" +{len(chosen) - STATUS_IDS} more" if len(chosen) > STATUS_IDS else ""
        return ", ".join(ids) + more

    parts = []
    if failing:
        parts.append(f"{len(failing)} of {len(ms)} milestones failing: {named(failing, True)}")
    if unknown:
        parts.append(f"{len(unknown)} {'unknown' if failing else f'of {len(ms)} milestones unknown'}: "
                     f"{named(unknown, False)}")
    return prefix + " / ".join(parts)


def deadline_note(m: MilestoneResult) -> str:
    """``deadline D, overdue N days`` only when OVERDUE (compliance.deadline_note)."""
    return compliance_deadline_note(m.compliance, m.deadline, m.days_left)


def milestone_line(m: MilestoneResult) -> str:
    return f"[{m.state.name}] {clean(m.id)}: {clean(m.message)} ({deadline_note(m)})"


def status_line(name: str, state: State, summary: str, perfdata: Sequence[str] = ()) -> str:
    line = f"{name} {state.name} - {status_text(summary)}"
    return f"{line} | {' '.join(perfdata)}" if perfdata else line


def nagios_text(result: ProbeResult, state: State, perfdata: Sequence[str], verbose: int = 0) -> str:
    lines = [status_line(result.check.upper(), state, short_summary(result), perfdata)]
    for m in result.milestones:
        lines.append(milestone_line(m))
        if verbose >= 1 and m.remediation and m.state is not State.OK:
            lines.append(f"    remediation: {clean(m.remediation)}")
    if verbose >= 2:
        lines.extend(clean(d) for d in result.details)
    return "\n".join(lines) + "\n"


def json_text(result: ProbeResult) -> str:
    return json.dumps(result.to_json(), indent=2, sort_keys=False) + "\n"
