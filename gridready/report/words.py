"""Words and colours shared by the human-readable report formats. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gridready.compliance import Compliance
from gridready.escape import terminal
from gridready.report.matrix import Cell, Change, Column

#: Dashboard colour of each compliance (SSB colours; the terminal uses the same).
COLOUR: Mapping[Compliance, str] = {
    Compliance.COMPLIANT: "green", Compliance.PENDING: "green", Compliance.WAIVED: "green",
    Compliance.NOT_APPLICABLE: "green", Compliance.DUE: "yellow", Compliance.OVERDUE: "red",
    Compliance.UNKNOWN: "grey"}

#: Terminal colour of each compliance: unlike the SSB's four colours, one per state, so a PENDING,
#: WAIVED or NOT_APPLICABLE cell never reads as a COMPLIANT one.
_ANSI: Mapping[Compliance, str] = {
    Compliance.COMPLIANT: "\x1b[32m", Compliance.PENDING: "\x1b[36m", Compliance.WAIVED: "\x1b[35m",
    Compliance.NOT_APPLICABLE: "\x1b[2m", Compliance.DUE: "\x1b[33m", Compliance.OVERDUE: "\x1b[1;31m",
    Compliance.UNKNOWN: "\x1b[1;90m"}
_RESET = "\x1b[0m"

#: What each word means, for legends.
MEANING: Mapping[Compliance, str] = {
    Compliance.COMPLIANT: "the check passes",
    Compliance.PENDING: "fails, deadline more than warn_days away",
    Compliance.DUE: "fails, deadline within warn_days",
    Compliance.OVERDUE: "fails after the deadline (N days overdue)",
    Compliance.WAIVED: "fails but a waiver agreed at the GDB covers it",
    Compliance.NOT_APPLICABLE: "the milestone does not apply to the site",
    Compliance.UNKNOWN: "the check could not run or there is no result",
}


def cell_word(cell: Cell) -> str:
    """The compliance word, with the days overdue for OVERDUE: ``OVERDUE (8d)``."""
    word = cell.compliance.value
    return f"{word} ({cell.overdue_days}d)" if cell.compliance is Compliance.OVERDUE else word


def paint(text: str, compliance: Compliance, colour: bool) -> str:
    """``text`` in the compliance's ANSI colour when ``colour`` (stdout is a terminal)."""
    return f"{_ANSI[compliance]}{text}{_RESET}" if colour else text


def use_colour(stream: object) -> bool:
    """Colour on a terminal unless ``NO_COLOR`` is set to a non-empty value (no-color.org)."""
    import os
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def tally(column: Column) -> str:
    return f"{column.compliant}/{column.applicable} compliant"


def change_line(change: Change, safe: Callable[[str], str] = terminal) -> str:
    """``site milestone: BEFORE -> AFTER (kind)``; ``safe`` escapes the untrusted names for the output."""
    return (f"{safe(change.site)} {safe(change.milestone)}: {change.before.value} -> {change.after.value} "
            f"({change.kind})")
