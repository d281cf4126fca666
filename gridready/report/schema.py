"""The ``gridready.report/1`` document as pydantic models, and its published JSON Schema.

These models are the definition dashboards code against; ``jsonout`` builds
the same document as plain data (fast, no pydantic), and the tests validate
real reports against the schema generated here. The committed copy is
``docs/report.schema.json``; ``gridready report --schema`` prints it.
Additional properties are allowed: the format grows only by adding fields.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ComplianceWord = Literal["COMPLIANT", "PENDING", "DUE", "OVERDUE", "WAIVED", "NOT_APPLICABLE", "UNKNOWN"]
NagiosState = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class MilestoneSummary(_Model):
    """One milestone (a column) with its tally over the report's sites."""

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str
    deadline: date = Field(description="compliant by the end of this day, UTC")
    compliant: int = Field(ge=0, description="sites whose compliance is COMPLIANT")
    applicable: int = Field(ge=0, description="sites whose compliance is not NOT_APPLICABLE")
    check: str
    source: str = Field(description="where the milestone was agreed, e.g. 'GDB 2010-06'")
    warn_days: int = Field(ge=0)
    counts: dict[ComplianceWord, int] = Field(description="number of sites per compliance")


class Waiver(_Model):
    reason: str
    expires: date


class SiteMilestone(_Model):
    """The compliance of one site with one milestone (a cell)."""

    id: str
    compliance: ComplianceWord
    state: NagiosState
    checked_at: datetime | None = Field(description="when the result used was checked; null without one")
    message: str
    days_left: int = Field(description="days to the deadline from as_of; negative once overdue")
    host: str | None = Field(description="the service the result is about, when known")
    waiver: Waiver | None
    remediation: str


class Site(_Model):
    name: str
    tier: int = Field(ge=0)
    wlcg_name: str
    milestones: list[SiteMilestone]


class Change(_Model):
    """A cell whose compliance differs from what it was on the ``since`` date."""

    site: str
    milestone: str
    from_: ComplianceWord = Field(alias="from")
    to: ComplianceWord
    kind: Literal["newly-compliant", "regression", "other"]


class Report(_Model):
    """A GDB compliance report: sites x milestones on one evaluation date."""

    schema_: Literal["gridready.report/1"] = Field(alias="schema")
    generated_at: datetime
    as_of: date = Field(description="the evaluation date")
    data_source: str = Field(description="where the results came from (database or bundled snapshot)")
    milestones: list[MilestoneSummary]
    sites: list[Site]
    since: date | None = Field(default=None, description="only with --since")
    changes: list[Change] | None = Field(default=None, description="only with --since")


def json_schema() -> dict[str, Any]:
    schema = Report.model_json_schema(by_alias=True, mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": "gridready.report/1", **schema}
    schema["title"] = "gridready.report/1"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
