"""The compliance matrix: sites x milestones, re-evaluated from stored outcomes. Pure.

Every cell is decided by ``gridready.compliance.evaluate`` with today's rules,
waivers and the report date, from the stored outcome of the check (not the
compliance stored at check time). With several results for one site and
milestone (several xrootd doors or SEs) the latest per target counts, then
the worst across targets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from gridready.checks import load_check
from gridready.checks.interface import Assessment, ReviewsStored, Severity
from gridready.compliance import Compliance, Outcome, State, Verdict, evaluate, nagios_state
from gridready.models import Milestone, Rules, Site, Waiver
from gridready.result import format_time
from gridready.store import Record

#: How bad a compliance is when picking the worst of several targets: a
#: known failure outranks not knowing, which outranks a pending failure.
_RANK: Mapping[Compliance, int] = {
    Compliance.NOT_APPLICABLE: 0, Compliance.COMPLIANT: 1, Compliance.WAIVED: 2, Compliance.PENDING: 3,
    Compliance.UNKNOWN: 4, Compliance.DUE: 5, Compliance.OVERDUE: 6}

#: The tiers a GDB report covers: the Tier-0 and the Tier-1s.
REPORT_TIERS = (0, 1)


@dataclass(frozen=True)
class Cell:
    """The compliance of one site with one milestone on the report date."""

    milestone: Milestone
    compliance: Compliance
    message: str
    days_left: int
    checked_at: datetime | None = None
    host: str | None = None
    waiver: Waiver | None = None
    remediation: str = ""
    #: The failure's severity (None unless failing): a degraded OVERDUE is WARNING.
    severity: Severity | None = None

    @property
    def state(self) -> State:
        return nagios_state(self.compliance, self.severity)

    @property
    def overdue_days(self) -> int:
        return -self.days_left if self.compliance is Compliance.OVERDUE else 0


@dataclass(frozen=True)
class Row:
    site: Site
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Column:
    """One milestone with its tally over the report's sites."""

    milestone: Milestone
    counts: Mapping[Compliance, int] = field(default_factory=dict)

    @property
    def compliant(self) -> int:
        return self.counts.get(Compliance.COMPLIANT, 0)

    @property
    def applicable(self) -> int:
        return sum(n for c, n in self.counts.items() if c is not Compliance.NOT_APPLICABLE)


@dataclass(frozen=True)
class Matrix:
    as_of: date
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    def cell(self, site: str, milestone: str) -> Cell | None:
        key = site.casefold()
        for row in self.rows:
            if row.site.name.casefold() == key:
                return next((c for c in row.cells if c.milestone.id == milestone), None)
        return None

    @property
    def cells(self) -> Iterable[Cell]:
        return (c for row in self.rows for c in row.cells)


@dataclass(frozen=True)
class Change:
    """A cell whose compliance differs between two matrices."""

    site: str
    milestone: str
    before: Compliance
    after: Compliance

    @property
    def kind(self) -> str:
        if self.after is Compliance.COMPLIANT:
            return "newly-compliant"
        if self.before is Compliance.COMPLIANT and self.after in _FAILING:
            return "regression"
        return "other"


_FAILING = (Compliance.PENDING, Compliance.DUE, Compliance.OVERDUE)


@dataclass(frozen=True)
class Report:
    """What the formatters render: the matrix plus where it came from and what changed."""

    matrix: Matrix
    generated_at: datetime
    #: Where the results came from, for humans: a database path or the bundled snapshot.
    data_source: str = ""
    since: date | None = None
    #: Set (possibly empty) only when a ``--since`` date was given.
    changes: tuple[Change, ...] | None = None


def report_sites(sites: Iterable[Site]) -> list[Site]:
    """The rows of a GDB report: Tier-0 and Tier-1 sites, by tier then name."""
    return sorted((s for s in sites if s.tier in REPORT_TIERS), key=lambda s: (s.tier, s.name.casefold(), s.name))


def _cell(v: Verdict, record: Record | None) -> Cell:
    return Cell(milestone=v.milestone, compliance=v.compliance, message=v.message, days_left=v.days_left,
                checked_at=record.checked_at if record else None, host=record.host if record else None,
                waiver=v.waiver, remediation=v.remediation, severity=v.severity)


#: The message ``compliance.evaluate`` gives a milestone whose scope left the site out: the
#: check was not run for it (engine.run_check assesses in-scope milestones only).
_OUT_OF_SCOPE = re.compile(r"site .* \(tier -?[0-9]+\) is out of scope")


def _out_of_scope(record: Record) -> bool:
    return record.outcome.outcome is Outcome.NOT_APPLICABLE and bool(_OUT_OF_SCOPE.fullmatch(record.outcome.message))


def _stored(milestone: Milestone, record: Record) -> Assessment | str:
    """The stored outcome to re-evaluate; UNKNOWN (a string) when its check says the
    evidence ``milestone.expect`` needs was never collected (results of older probes), or
    when the site was out of the milestone's scope when checked (the scope or the site's
    tier changed since: nothing was checked for it, so NOT_APPLICABLE no longer holds).
    Only called for a site in scope now (evaluate decides scope first)."""
    stored = record.outcome
    if _out_of_scope(record):
        return (f"not checked since the site came into scope (the result of {format_time(record.checked_at)} "
                f"says: {stored.message})")
    if stored.outcome in (Outcome.PASS, Outcome.FAIL):
        try:
            check = load_check(record.check)
        except KeyError:
            check = None
        if isinstance(check, ReviewsStored):
            why = check.unproven(milestone.expect, stored.outcome.value, stored.message)
            if why:
                return why
    return stored.assessment()


def decide(milestone: Milestone, site: Site, records: Sequence[Record], as_of: date,
           waivers: Sequence[Waiver]) -> Cell:
    """One cell: each target's latest outcome evaluated, the worst one kept. A target last
    seen while the site was out of scope counts (as UNKNOWN) only when no other target was
    checked: it says nothing about the milestone, as a target never checked."""
    checked = [r for r in records if not _out_of_scope(r)]
    records = checked or records
    if not records:
        return _cell(evaluate(milestone, site.name, site.tier, None, as_of, waivers), None)
    cells = [_cell(evaluate(milestone, site.name, site.tier, _stored(milestone, r), as_of, waivers), r)
             for r in records]
    # Worst first; among equals the most recent, then the target name, so the choice is stable.
    return max(cells, key=lambda c: (_RANK[c.compliance], c.checked_at.timestamp() if c.checked_at else 0.0,
                                    c.host or ""))


def build_matrix(sites: Iterable[Site], rules: Rules, records: Iterable[Record], as_of: date) -> Matrix:
    """The report matrix for ``sites`` (already chosen and ordered) on ``as_of``.

    ``records`` are the latest outcome per (site, milestone, target); ones for
    sites or milestones the report does not show are ignored, and so are ones of
    another check than the milestone's now (an id reused, or the rules changed
    the milestone's check): they are no evidence for it.
    """
    by_cell: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        by_cell.setdefault((r.site.casefold(), r.outcome.milestone), []).append(r)
    rows = []
    for site in sites:
        cells = tuple(decide(m, site, [r for r in by_cell.get((site.name.casefold(), m.id), []) if r.check == m.check],
                             as_of, rules.waivers_for(m.id, site.name))
                      for m in rules.milestones)
        rows.append(Row(site, cells))
    columns = []
    for i, m in enumerate(rules.milestones):
        counts: dict[Compliance, int] = {}
        for row in rows:
            compliance = row.cells[i].compliance
            counts[compliance] = counts.get(compliance, 0) + 1
        columns.append(Column(m, counts))
    return Matrix(as_of=as_of, columns=tuple(columns), rows=tuple(rows))


def changes(before: Matrix, after: Matrix) -> list[Change]:
    """Cells whose compliance differs, in the order of ``after`` (site, then milestone)."""
    out = []
    for row in after.rows:
        for cell in row.cells:
            old = before.cell(row.site.name, cell.milestone.id)
            if old is not None and old.compliance is not cell.compliance:
                out.append(Change(row.site.name, cell.milestone.id, old.compliance, cell.compliance))
    return out


def exit_code(matrix: Matrix) -> int:
    """docs/cli.md (report): 2 when any site is OVERDUE (a degraded one too), 1 when any is DUE, else 0."""
    found = {c.compliance for c in matrix.cells}
    if Compliance.OVERDUE in found:
        return 2
    if Compliance.DUE in found:
        return 1
    return 0
