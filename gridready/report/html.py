"""The HTML report: one self-contained page for a GDB chair or a dashboard. Pure.

Inline CSS and SVG only: no script, no external resource, and a
Content-Security-Policy that forbids both, so the file can be mailed,
attached to an agenda or served as it is. It holds the coloured matrix
(each cell's message and check time in its ``title`` and a ``<details>``),
the per-milestone summary, a chart per milestone of compliant sites per day
(from ``gridready.history``), the waivers expiring within
``WAIVER_WINDOW_DAYS`` of the report date and the ``--since`` changes.

Every value from files or ingested results goes through ``_e``
(``html.escape`` with ``quote=True``, control characters shown as ``\\xNN``),
in text and in attributes alike.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, datetime, timezone

from gridready.compliance import Compliance
from gridready.escape import terminal
from gridready.history import History, Point
from gridready.models import Milestone, Waiver
from gridready.report.matrix import Cell, Report
from gridready.report.words import MEANING, cell_word
from gridready.result import format_time
from gridready.store import shift_day

#: Waivers expiring this many days after the report date (or sooner) are listed.
WAIVER_WINDOW_DAYS = 30

#: CSS class per compliance; each has its own colour (see _CSS).
CSS_CLASS = {c: "c-" + c.value.lower().replace("_", "-") for c in Compliance}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1f2328;background:#fff}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.4em 0 .5em}
.meta{color:#59636e;margin:0 0 1em}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid #d1d9e0;padding:.3em .55em;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}
td.cell{min-width:7.5em;font-weight:600}
td.cell details summary{cursor:pointer;list-style:none}
td.cell details p{font-weight:400;margin:.3em 0 0;max-width:24em}
td.cell .when{color:#59636e;font-size:.85em}
tfoot td{font-weight:600;background:#f6f8fa}
.c-compliant{background:#2da44e;color:#fff}
.c-pending{background:#ddf4ff;color:#0550ae}
.c-waived{background:#e8d8ff;color:#5a2d9c}
.c-not-applicable{background:#fff;color:#818b98;font-style:italic}
.c-due{background:#f5d90a;color:#3b2300}
.c-overdue{background:#cf222e;color:#fff}
.c-unknown{background:#6e7781;color:#fff}
.legend span{display:inline-block;padding:.15em .5em;margin:0 .4em .3em 0;border:1px solid #d1d9e0;font-size:.85em}
.charts{display:flex;flex-wrap:wrap;gap:1em}
.chart{border:1px solid #d1d9e0;padding:.5em;margin:0}
#summary th{white-space:nowrap}
.chart h3{font-size:.95em;margin:0 0 .3em}
svg text{font-size:11px;fill:#59636e}
ul{margin:.2em 0}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _e(value: object) -> str:
    """An untrusted value as HTML text or attribute value: control characters visible, markup escaped."""
    return html.escape(terminal(str(value)), quote=True)


def _when(moment: datetime | None) -> str:
    return format_time(moment) if moment else "never checked"


def _cell(cell: Cell) -> str:
    checked = f"checked {_when(cell.checked_at)}" + (f" on {cell.host}" if cell.host else "")
    title = f"{cell.compliance.value}: {cell.message} ({checked})"
    return (f'<td class="cell {CSS_CLASS[cell.compliance]}" title="{_e(title)}">'
            f"<details><summary>{_e(cell_word(cell))}</summary><p>{_e(cell.message)}</p>"
            f'<p class="when">{_e(checked)}</p></details></td>')


def _matrix(report: Report) -> list[str]:
    m = report.matrix
    head = "".join(f'<th scope="col">{_e(c.milestone.id)}<br><small>due {c.milestone.deadline}</small></th>'
                   for c in m.columns)
    out = ['<table id="matrix">', f'<thead><tr><th scope="col">Site</th><th scope="col">Tier</th>{head}</tr></thead>',
           "<tbody>"]
    for row in m.rows:
        out.append(f'<tr class="site"><th scope="row">{_e(row.site.name)}</th><td>{row.site.tier}</td>'
                   + "".join(_cell(c) for c in row.cells) + "</tr>")
    out.append("</tbody><tfoot><tr><td>compliant</td><td></td>"
               + "".join(f"<td>{c.compliant}/{c.applicable}</td>" for c in m.columns) + "</tr></tfoot></table>")
    return out


def _legend() -> str:
    return '<p class="legend">' + "".join(
        f'<span class="{CSS_CLASS[c]}" title="{_e(MEANING[c])}">{c.value}</span>' for c in Compliance) + "</p>"


def _summary(report: Report) -> list[str]:
    states = list(Compliance)
    out = ['<table id="summary"><thead><tr><th>Milestone</th><th>Title</th><th>Agreed</th><th>Deadline</th>'
           "<th>Compliant</th>" + "".join(f'<th class="{CSS_CLASS[c]}">{c.value}</th>' for c in states)
           + "</tr></thead><tbody>"]
    for col in report.matrix.columns:
        m = col.milestone
        out.append(f"<tr><th>{_e(m.id)}</th><td>{_e(m.title)}</td><td>{_e(m.source)}</td><td>{m.deadline}</td>"
                   f"<td>{col.compliant}/{col.applicable}</td>"
                   + "".join(f"<td>{col.counts.get(c, 0)}</td>" for c in states) + "</tr>")
    out.append("</tbody></table>")
    return out


def chart(milestone: Milestone, points: Sequence[Point], width: int = 380, height: int = 170) -> str:
    """An inline SVG line chart: compliant sites per day (solid), applicable sites (dashed), the deadline
    as a red vertical line when it falls inside the series."""
    left, right, top, bottom = 34, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    label = f"{milestone.id}: compliant sites per day"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>']
    if not points:
        parts.append(f'<text x="{left}" y="{height // 2}">no history</text></svg>')
        return "".join(parts)
    first, last = points[0].day, points[-1].day
    span = max((last - first).days, 1)
    top_value = max(max(p.applicable for p in points), 1)

    def x(day: date) -> float:
        if first == last:
            return left + plot_w / 2
        return left + plot_w * (day - first).days / span

    def y(value: int) -> float:
        return top + plot_h * (1 - value / top_value)

    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#8c959f"/>'
                 f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#8c959f"/>'
                 f'<text x="{left - 4}" y="{y(top_value) + 4:.1f}" text-anchor="end">{top_value}</text>'
                 f'<text x="{left - 4}" y="{y(0) + 4:.1f}" text-anchor="end">0</text>'
                 f'<text x="{left}" y="{height - 6}">{first}</text>')
    if last != first:
        parts.append(f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end">{last}</text>')
    if first <= milestone.deadline <= last:
        dx = x(milestone.deadline)
        # In the right part of the chart the label goes left of the line, else it is cut off at the edge.
        tx, anchor = (dx - 3, ' text-anchor="end"') if dx > left + plot_w * 0.6 else (dx + 3, "")
        parts.append(f'<line x1="{dx:.1f}" y1="{top}" x2="{dx:.1f}" y2="{top + plot_h}" stroke="#cf222e" '
                     f'stroke-dasharray="4 3"/><text x="{tx:.1f}" y="{top + 10}"{anchor} fill="#cf222e" '
                     f'style="fill:#cf222e">deadline {milestone.deadline}</text>')
    applicable = " ".join(f"{x(p.day):.1f},{y(p.applicable):.1f}" for p in points)
    compliant = " ".join(f"{x(p.day):.1f},{y(p.compliant):.1f}" for p in points)
    parts.append(f'<polyline points="{applicable}" fill="none" stroke="#8c959f" stroke-dasharray="3 3"/>'
                 f'<polyline points="{compliant}" fill="none" stroke="#1a7f37" stroke-width="2"/>')
    if len(points) == 1:
        p = points[0]
        parts.append(f'<circle cx="{x(p.day):.1f}" cy="{y(p.compliant):.1f}" r="3" fill="#1a7f37"/>')
    parts.append("</svg>")
    return "".join(parts)


def _charts(report: Report, history: History | None) -> list[str]:
    if history is None:
        return ["<p>No history to chart.</p>"]
    out = ['<div class="charts">']
    for col in report.matrix.columns:
        m = col.milestone
        points = history.series(m.id)
        where = "" if points and points[0].day <= m.deadline <= points[-1].day else \
            f" (deadline {m.deadline} outside {history.first} to {history.last})"
        out.append(f'<figure class="chart"><h3>{_e(m.id)}</h3>{chart(m, points)}'
                   f"<figcaption>compliant (solid) of applicable (dashed) sites per day{_e(where)}"
                   "</figcaption></figure>")
    out.append("</div>")
    return out


def expiring(waivers: Sequence[Waiver], as_of: date, days: int = WAIVER_WINDOW_DAYS) -> list[Waiver]:
    """Waivers still valid on ``as_of`` that expire within ``days`` after it, soonest first."""
    until = shift_day(as_of, days)
    return sorted((w for w in waivers if as_of <= w.expires <= until),
                  key=lambda w: (w.expires, w.milestone, w.site.casefold()))


def _waivers(report: Report, waivers: Sequence[Waiver]) -> list[str]:
    soon = expiring(waivers, report.matrix.as_of)
    if not soon:
        return [f"<p>None within {WAIVER_WINDOW_DAYS} days of {report.matrix.as_of}.</p>"]
    return ['<ul id="waivers">'] + [
        f"<li><strong>{_e(w.site)}</strong> {_e(w.milestone)}: expires {w.expires} "
        f"({(w.expires - report.matrix.as_of).days} days) &mdash; {_e(w.reason)}</li>" for w in soon] + ["</ul>"]


def _changes(report: Report) -> list[str]:
    if report.changes is None:
        return []
    out = [f"<h2>Changes since {report.since}</h2>"]
    if not report.changes:
        return out + ["<p>none</p>"]
    out.append('<ul id="changes">')
    for c in report.changes:
        out.append(f'<li>{_e(c.site)} {_e(c.milestone)}: <span class="{CSS_CLASS[c.before]}">{c.before.value}</span>'
                   f' &rarr; <span class="{CSS_CLASS[c.after]}">{c.after.value}</span> ({_e(c.kind)})</li>')
    out.append("</ul>")
    return out


def render(report: Report, history: History | None = None, waivers: Sequence[Waiver] = ()) -> str:
    """The whole page as one string (UTF-8 when written)."""
    as_of = report.matrix.as_of
    source = f" from {_e(report.data_source)}" if report.data_source else ""
    generated = report.generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    body = [f"<h1>GDB milestone compliance as of {as_of}</h1>",
            f'<p class="meta">Results{source}; generated {generated}. Hover or open a cell for its message '
            "and check time.</p>", _legend(), *_matrix(report),
            "<h2>Milestones</h2>", *_summary(report),
            "<h2>Compliant sites over time</h2>", *_charts(report, history),
            f"<h2>Waivers expiring within {WAIVER_WINDOW_DAYS} days</h2>", *_waivers(report, waivers),
            *_changes(report)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>GDB milestone compliance as of {as_of}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
