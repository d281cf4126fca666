"""The terminal table: sites x milestones, one compliance word per cell. Pure."""

from __future__ import annotations

from tabulate import tabulate

from gridready.report.matrix import Report
from gridready.report.words import cell_word, change_line, paint, tally


def render(report: Report, colour: bool = False) -> str:
    """The table, a "compliant" tally row, then the changes when ``--since`` was given."""
    matrix = report.matrix
    headers = ["site", "tier"] + [f"{c.milestone.id}\ndue {c.milestone.deadline}" for c in matrix.columns]
    rows = [[row.site.name, str(row.site.tier)] + [paint(cell_word(c), c.compliance, colour) for c in row.cells]
            for row in matrix.rows]
    rows.append(["compliant", ""] + [tally(c) for c in matrix.columns])
    source = f" ({report.data_source})" if report.data_source else ""
    lines = [f"GDB milestone compliance as of {matrix.as_of}{source}", "",
             tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)]
    if report.changes is not None:
        lines += ["", f"Changes since {report.since}:"]
        lines += [f"  {change_line(c)}" for c in report.changes] or ["  none"]
    return "\n".join(lines) + "\n"
