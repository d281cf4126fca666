"""The ``gridready.report/1`` JSON document (docs/formats.md), as plain data. Pure.

Field names are public interface: add, never rename. ``schema.py`` defines
the same document as pydantic models and publishes its JSON Schema.
"""

from __future__ import annotations

import json
from typing import Any

from gridready.report.matrix import Cell, Column, Report, Row
from gridready.result import format_time

SCHEMA = "gridready.report/1"


def _column(c: Column) -> dict[str, Any]:
    m = c.milestone
    return {"id": m.id, "title": m.title, "deadline": m.deadline.isoformat(), "compliant": c.compliant,
            "applicable": c.applicable, "check": m.check, "source": m.source, "warn_days": m.warn_days,
            "counts": {k.value: n for k, n in sorted(c.counts.items(), key=lambda kv: kv[0].value)}}


def _cell(c: Cell) -> dict[str, Any]:
    waiver = {"reason": c.waiver.reason, "expires": c.waiver.expires.isoformat()} if c.waiver else None
    return {"id": c.milestone.id, "compliance": c.compliance.value, "state": c.state.name,
            "checked_at": format_time(c.checked_at) if c.checked_at else None, "message": c.message,
            "days_left": c.days_left, "host": c.host, "waiver": waiver, "remediation": c.remediation}


def _row(r: Row) -> dict[str, Any]:
    return {"name": r.site.name, "tier": r.site.tier, "wlcg_name": r.site.wlcg_name,
            "milestones": [_cell(c) for c in r.cells]}


def document(report: Report) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": SCHEMA, "generated_at": format_time(report.generated_at),
        "as_of": report.matrix.as_of.isoformat(), "data_source": report.data_source,
        "milestones": [_column(c) for c in report.matrix.columns],
        "sites": [_row(r) for r in report.matrix.rows]}
    if report.changes is not None:
        doc["since"] = report.since.isoformat() if report.since else None
        doc["changes"] = [{"site": c.site, "milestone": c.milestone, "from": c.before.value,
                           "to": c.after.value, "kind": c.kind} for c in report.changes]
    return doc


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2) + "\n"
