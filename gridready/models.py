"""Configuration models: milestones, waivers, scopes, sites, inventory.

Plain frozen dataclasses rather than pydantic models: every Nagios probe
start loads the rules, and importing pydantic would more than double a
probe's start-up time. Validation lives in ``gridready.configfile``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

#: Longest a check may run, seconds (an hour: anything longer is a typo). Rules, the
#: sweep and every ``-t`` option use it: an infinite or huge timeout would overflow
#: thread, queue and socket waits (OverflowError) or never end.
MAX_TIMEOUT = 3600.0


def valid_timeout(value: Any) -> bool:
    """Whether ``value`` is a number of seconds gridready accepts: finite, more than 0, at most MAX_TIMEOUT
    (``True`` and ``nan`` are not)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0 < value <= MAX_TIMEOUT)


#: The checks built into gridready; each is a module in gridready.checks.
BUILTIN_CHECKS: tuple[str, ...] = ("glexec", "fts_channels", "dcache_version", "xrootd",
                                   "glue", "srr", "http", "dns", "plugin")


class CheckNames:
    """The checks a milestone may name: the built-in ones plus installed plugins.

    Plugins are Python entry points of the group ``gridready.checks`` (see
    ``gridready.checks``). ``name in CHECKS`` asks importlib.metadata only
    for a name that is not built in, and iterating lists the plugins too, so
    a probe whose milestones use built-in checks never scans the installed
    distributions (that costs tens of milliseconds per start).
    """

    def __contains__(self, name: object) -> bool:
        if name in BUILTIN_CHECKS:
            return True
        from gridready.checks import plugin_names
        return isinstance(name, str) and name in plugin_names()

    def __iter__(self) -> Iterator[str]:
        from gridready.checks import plugin_names
        return iter(BUILTIN_CHECKS + tuple(n for n in plugin_names() if n not in BUILTIN_CHECKS))

    def __len__(self) -> int:
        return len(tuple(iter(self)))

    def __repr__(self) -> str:
        return f"CheckNames({', '.join(self)})"


#: The checks a milestone may name (built-in and installed); see CheckNames.
CHECKS = CheckNames()


@dataclass(frozen=True)
class Scope:
    """Which sites a milestone applies to.

    A site is in scope when it is not excluded and either is named in
    ``sites`` or has a tier in ``tiers``; with both lists empty, every site.
    """

    tiers: tuple[int, ...] = ()
    sites: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def applies(self, site: str | None, tier: int) -> bool:
        name = (site or "").casefold()
        if name and name in {s.casefold() for s in self.exclude}:
            return False
        if not self.tiers and not self.sites:
            return True
        return tier in self.tiers or (bool(name) and name in {s.casefold() for s in self.sites})


@dataclass(frozen=True)
class Milestone:
    id: str
    title: str
    source: str
    deadline: date
    check: str
    warn_days: int = 30
    scope: Scope = field(default_factory=Scope)
    expect: Mapping[str, Any] = field(default_factory=dict)
    remediation: str = ""
    #: Seconds one run of the check may take in a sweep.
    timeout: float = 10.0


@dataclass(frozen=True)
class Waiver:
    milestone: str
    site: str
    reason: str
    expires: date


@dataclass(frozen=True)
class Rules:
    milestones: tuple[Milestone, ...]
    waivers: tuple[Waiver, ...] = ()
    path: str = ""

    def milestone(self, milestone_id: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == milestone_id), None)

    def for_check(self, check: str) -> tuple[Milestone, ...]:
        return tuple(m for m in self.milestones if m.check == check)

    def waivers_for(self, milestone: str, site: str | None) -> tuple[Waiver, ...]:
        return tuple(w for w in self.waivers if w.milestone == milestone and site is not None
                     and w.site.casefold() == site.casefold())


@dataclass(frozen=True)
class Storage:
    host: str
    implementation: str = ""


@dataclass(frozen=True)
class Site:
    """One site of the inventory; source URIs are absolute or relative to the inventory file."""

    name: str
    tier: int
    wlcg_name: str = ""
    bdii: str | None = None
    srr: str | None = None
    fts: str | None = None
    fts_channels: str | None = None
    storage: tuple[Storage, ...] = ()
    xrootd: tuple[str, ...] = ()
    glexec: str | None = None
    #: DNS for the dns check: ``dns://IP[:PORT]`` (a nameserver) or a hosts/zone file.
    dns: str | None = None


@dataclass(frozen=True)
class Inventory:
    sites: tuple[Site, ...]
    path: str = ""

    def site(self, name: str) -> Site | None:
        key = name.casefold()
        return next((s for s in self.sites if s.name.casefold() == key), None)

    def tier(self, tier: int) -> tuple[Site, ...]:
        return tuple(s for s in self.sites if s.tier == tier)
