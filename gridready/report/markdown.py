"""The Markdown report for slides: a GitHub table, a legend and the changes. Pure.

Every value from files or ingested results (site names, milestone titles and
sources, the data source) is escaped by ``_escape`` for Markdown.
"""

from __future__ import annotations

import re

from tabulate import tabulate

from gridready.compliance import Compliance
from gridready.escape import terminal
from gridready.report.matrix import Report
from gridready.report.words import MEANING, cell_word, change_line, tally


#: Characters with a meaning in (GitHub) Markdown inline text and tables: a backslash makes each literal.
_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _escape(text: str) -> str:
    """``text`` (a site name, title, path from files or ingest) as literal Markdown on one line.

    Table cells end at ``|`` and at a newline; backticks, brackets, emphasis
    and HTML tags would format, link or inject markup. Whitespace runs
    become one space, other control characters show as ``\\xNN``.
    """
    text = terminal(" ".join(text.split()))
    text = "".join(_HTML.get(ch, ch) for ch in text)
    return _SPECIAL.sub(r"\\\1", text)


def render(report: Report) -> str:
    matrix = report.matrix
    headers = ["Site", "Tier"] + [f"{_escape(c.milestone.id)}<br>due {c.milestone.deadline}" for c in matrix.columns]
    rows = [[_escape(row.site.name), str(row.site.tier)] + [cell_word(c) for c in row.cells]
            for row in matrix.rows]
    rows.append(["**compliant**", ""] + [f"**{tally(c)}**" for c in matrix.columns])
    lines = [f"## GDB milestone compliance as of {matrix.as_of}", ""]
    if report.data_source:
        lines += [f"Results: {_escape(report.data_source)}", ""]
    lines.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    lines += ["", "Milestones:", ""]
    lines += [f"- **{_escape(c.milestone.id)}**: {_escape(c.milestone.title)} ({_escape(c.milestone.source)}, "
              f"due {c.milestone.deadline})" for c in matrix.columns]
    lines += ["", "Legend:", ""]
    lines += [f"- **{c.value}**: {MEANING[c]}" for c in Compliance]
    if report.changes is not None:
        lines += ["", f"### Changes since {report.since}", ""]
        lines += [f"- {change_line(c, _escape)}" for c in report.changes] or ["- none"]
    return "\n".join(lines) + "\n"
