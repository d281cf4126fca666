"""The compliance time series (``gridready.history/1``): one report matrix per day. Pure.

Day D is what ``gridready report --as-of D`` shows: per site, milestone and
target the latest result checked by the end of D (UTC), re-evaluated with
the current rules and waivers on D (``report.matrix.build_matrix``). The
caller supplies those records per day (``Store.as_of``); this module turns
them into the series, its JSON and CSV, and the per-milestone counts charts
and slides plot.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from gridready.compliance import Compliance
from gridready.models import Milestone, Rules, Site
from gridready.report.matrix import Matrix, build_matrix
from gridready.store import Record

SCHEMA = "gridready.history/1"
#: The longest series one command computes (days): ten years of daily matrices.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Point:
    """One milestone on one day: how many sites were COMPLIANT of how many it applies to."""

    day: date
    compliant: int
    applicable: int


@dataclass(frozen=True)
class History:
    """Daily matrices from ``first`` to ``last`` (inclusive), same sites and milestones each day."""

    first: date
    last: date
    sites: tuple[Site, ...]
    milestones: tuple[Milestone, ...]
    days: tuple[Matrix, ...]

    def series(self, milestone: str) -> list[Point]:
        """The compliant/applicable counts of ``milestone`` per day (empty if it is not in the history)."""
        out = []
        for matrix in self.days:
            for column in matrix.columns:
                if column.milestone.id == milestone:
                    out.append(Point(matrix.as_of, column.compliant, column.applicable))
        return out


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last`` inclusive; ValueError when reversed or longer than MAX_DAYS."""
    if last < first:
        raise ValueError(f"--from {first} is later than --to {last}")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"{count} days from {first} to {last}: at most {MAX_DAYS} days per history")
    return [first + timedelta(days=i) for i in range(count)]


def compute(sites: Sequence[Site], rules: Rules, days: Iterable[date],
            records_on: Callable[[date], Iterable[Record]]) -> History:
    """The series over ``days`` (ascending); ``records_on(D)`` gives the latest records as of D."""
    matrices = tuple(build_matrix(sites, rules, records_on(d), d) for d in days)
    if not matrices:
        raise ValueError("a history needs at least one day")
    return History(first=matrices[0].as_of, last=matrices[-1].as_of, sites=tuple(sites),
                   milestones=rules.milestones, days=matrices)


def to_json(history: History) -> dict[str, Any]:
    """The ``gridready.history/1`` document (docs/history.schema.json)."""
    return {
        "schema": SCHEMA,
        "from": history.first.isoformat(),
        "to": history.last.isoformat(),
        "milestones": [{"id": m.id, "title": m.title, "deadline": m.deadline.isoformat()}
                       for m in history.milestones],
        "sites": [{"name": s.name, "tier": s.tier} for s in history.sites],
        "days": [{
            "date": matrix.as_of.isoformat(),
            "milestones": [{"id": c.milestone.id, "compliant": c.compliant, "applicable": c.applicable}
                           for c in matrix.columns],
            "sites": [{"name": row.site.name,
                       "milestones": [{"id": cell.milestone.id, "compliance": cell.compliance.value}
                                      for cell in row.cells]}
                      for row in matrix.rows],
        } for matrix in history.days],
    }


def json_text(history: History) -> str:
    return json.dumps(to_json(history), indent=2) + "\n"


CSV_HEADER = ("date", "milestone", "site", "compliance", "compliant", "applicable")
#: A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A name from files or ingested results, inert in a spreadsheet: a leading formula character
    is preceded by ``'``; control characters other than those are kept for the csv quoting."""
    return "'" + text if text.startswith(_FORMULA) else text


def csv_text(history: History) -> str:
    """Per day and milestone one total row (site and compliance empty) then one row per site."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for matrix in history.days:
        for i, column in enumerate(matrix.columns):
            day, mid = matrix.as_of.isoformat(), _cell(column.milestone.id)
            writer.writerow((day, mid, "", "", column.compliant, column.applicable))
            for row in matrix.rows:
                writer.writerow((day, mid, _cell(row.site.name), row.cells[i].compliance.value, "", ""))
    return out.getvalue()


#: Compliance values, for the schema's enum.
COMPLIANCE_VALUES = tuple(c.value for c in Compliance)
