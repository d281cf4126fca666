"""The SSB (Site Status Board) feed: one line per site and milestone. Pure.

``YYYY-MM-DD HH:MM:SS<TAB>site<TAB>value<TAB>colour<TAB>url`` with the report
time in UTC. One feed holds every milestone, so the value names it:
``<milestone-id>:<COMPLIANCE>``. ``url`` is a template that may use
``{site}`` and ``{milestone}``; empty by default.
"""

from __future__ import annotations

from datetime import timezone

from gridready.report.matrix import Report
from gridready.report.words import COLOUR


def render(report: Report, url: str = "") -> str:
    stamp = report.generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    lines = []
    for row in report.matrix.rows:
        for cell in row.cells:
            link = url.format(site=row.site.name, milestone=cell.milestone.id) if url else ""
            lines.append("\t".join((stamp, row.site.name, f"{cell.milestone.id}:{cell.compliance.value}",
                                    COLOUR[cell.compliance], _clean(link))))
    return "".join(line + "\n" for line in lines)


def _clean(text: str) -> str:
    """A field may hold neither tab nor newline, which would break the line format."""
    return " ".join(text.split())
