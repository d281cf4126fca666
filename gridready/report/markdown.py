"""The Markdown report for slides: a GitHub table, a legend and the changes. Pure."""

from __future__ import annotations

from tabulate import tabulate

from gridready.compliance import Compliance
from gridready.report.matrix import Report
from gridready.report.words import MEANING, cell_word, change_line, tally


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render(report: Report) -> str:
    matrix = report.matrix
    headers = ["Site", "Tier"] + [f"{c.milestone.id}<br>due {c.milestone.deadline}" for c in matrix.columns]
    rows = [[_escape(row.site.name), str(row.site.tier)] + [cell_word(c) for c in row.cells]
            for row in matrix.rows]
    rows.append(["**compliant**", ""] + [f"**{tally(c)}**" for c in matrix.columns])
    lines = [f"## GDB milestone compliance as of {matrix.as_of}", ""]
    if report.data_source:
        lines += [f"Results: {_escape(report.data_source)}", ""]
    lines.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    lines += ["", "Milestones:", ""]
    lines += [f"- **{c.milestone.id}**: {_escape(c.milestone.title)} ({_escape(c.milestone.source)}, "
              f"due {c.milestone.deadline})" for c in matrix.columns]
    lines += ["", "Legend:", ""]
    lines += [f"- **{c.value}**: {MEANING[c]}" for c in Compliance]
    if report.changes is not None:
        lines += ["", f"### Changes since {report.since}", ""]
        lines += [f"- {_escape(change_line(c))}" for c in report.changes] or ["- none"]
    return "\n".join(lines) + "\n"
