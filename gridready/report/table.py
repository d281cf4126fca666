"""The terminal table: sites x milestones, one compliance word per cell. Pure.

Site names, milestone ids and the data source come from files and ingested
results: every one goes through ``escape.terminal``, so an ESC or a newline
in a name shows as ``\\x1b``/``\\x0a`` instead of driving the terminal or
breaking the table's rows.
"""

from __future__ import annotations

from tabulate import tabulate

from gridready.escape import terminal
from gridready.report.matrix import Report
from gridready.report.words import cell_word, change_line, paint, tally


def render(report: Report, colour: bool = False) -> str:
    """The table, a "compliant" tally row, then the changes when ``--since`` was given."""
    matrix = report.matrix
    headers = ["site", "tier"] + [f"{terminal(c.milestone.id)}\ndue {c.milestone.deadline}" for c in matrix.columns]
    rows = [[terminal(row.site.name), str(row.site.tier)]
            + [paint(cell_word(c), c.compliance, colour) for c in row.cells] for row in matrix.rows]
    rows.append(["compliant", ""] + [tally(c) for c in matrix.columns])
    source = f" ({terminal(report.data_source)})" if report.data_source else ""
    lines = [f"GDB milestone compliance as of {matrix.as_of}{source}", "",
             tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)]
    if report.changes is not None:
        lines += ["", f"Changes since {report.since}:"]
        lines += [f"  {change_line(c)}" for c in report.changes] or ["  none"]
    return "\n".join(lines) + "\n"
