"""The SSB (Site Status Board) feed: one line per site and milestone. Pure.

``YYYY-MM-DD HH:MM:SS<TAB>site<TAB>value<TAB>colour<TAB>url`` with the time
the cell's result was checked, UTC (the report time for a cell never checked). One feed holds every milestone, so the value names it:
``<milestone-id>:<COMPLIANCE>``. ``url`` is a template that may use
``{site}`` and ``{milestone}`` (filled in URL-quoted); empty by default.
Every field is one line without tabs or control characters.
"""

from __future__ import annotations

from datetime import timezone
from urllib.parse import quote

from gridready.escape import terminal
from gridready.report.matrix import Report
from gridready.report.words import COLOUR


def render(report: Report, url: str = "") -> str:
    lines = []
    for row in report.matrix.rows:
        for cell in row.cells:
            # The year written with 4 digits whatever the C library's %Y does with years before 1000.
            when = (cell.checked_at or report.generated_at).astimezone(timezone.utc)
            stamp = f"{when.year:04d}{when:-%m-%d %H:%M:%S}"
            link = url.format(site=quote(row.site.name, safe=""), milestone=quote(cell.milestone.id, safe="")) \
                if url else ""
            value = f"{cell.milestone.id}:{cell.compliance.value}"
            lines.append("\t".join((stamp, _clean(row.site.name), _clean(value), COLOUR[cell.compliance],
                                    _clean(link))))
    return "".join(line + "\n" for line in lines)


def _clean(text: str) -> str:
    """A field may hold neither tab nor newline (they would break the line format) nor other control
    characters (shown as ``\\xNN``); runs of whitespace become one space."""
    return terminal(" ".join(text.split()))
