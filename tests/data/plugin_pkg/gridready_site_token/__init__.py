"""A check installed from another package: is the site's WLCG name in the agreed form?

``expect: {prefix: "DE-"}``: the inventory's wlcg_name must start with ``prefix``.
No I/O, so tests of the entry-point path need no server.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from gridready.checks.interface import Assessment, Finding, Observation, Request
from gridready.deadline import Deadline
from gridready.errors import UsageError
from gridready.models import Site

EXPECT_KEYS = ("prefix",)


class SiteTokenCheck:
    name = "site_token"
    description = "Checks that a site's WLCG name starts with the agreed prefix (test plugin)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--wlcg-name", metavar="NAME", help="the WLCG name (default: from the inventory)")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = [f"unknown key '{k}' (known: prefix)" for k in expect if k not in EXPECT_KEYS]
        if not isinstance(expect.get("prefix"), str):
            problems.append(f"prefix: expected a string, got {expect.get('prefix')!r}")
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        return [{"wlcg_name": site.wlcg_name}]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        name = request.opt("wlcg_name")
        if not name:
            raise UsageError("give --wlcg-name NAME")
        return Observation(target=str(name), data=str(name))

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        name: str = observation.data
        prefix = str(expect["prefix"])
        ok = name.startswith(prefix)
        return Assessment(findings=(Finding(ok, f"WLCG name {name}" + ("" if ok else f" does not start with {prefix}"),
                                            "" if ok else f"rename to {prefix}..."),))


CHECK = SiteTokenCheck()
