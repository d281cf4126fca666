"""Merging what each source knows into inventory entries, then applying the overlay.

Which source wins, per field (a field no winning source has comes from the next):

| field | order |
|---|---|
| name (spelling) | GOCDB, CRIC, BDII |
| tier | CRIC ``rc_tier_level``, GOCDB ``TIER``, BDII ``WLCG_TIER`` |
| wlcg_name | CRIC federation, BDII ``WLCG_NAME`` |
| bdii | the ``--bdii`` source that publishes the site, GOCDB ``GIIS_URL``, a Site-BDII service |
| fts | GOCDB, CRIC, BDII FTS service |
| storage | union by host; implementation from BDII, CRIC |
| xrootd | union of doors (``host:port``) |

Sites are matched by name case-insensitively. A site the selected sources
disagree on (tier) is noted with one line; a site no source gives a tier is
left out with one line, as is one GOCDB or CRIC marks as not in production.
The overlay then replaces fields per site (``defaults`` for every site first)
and may add sites of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gridready.topology import records as rec

#: Inventory keys in the order they are written (docs/inventory.md, Format).
FIELDS = ("name", "tier", "wlcg_name", "bdii", "srr", "fts", "fts_channels", "storage", "xrootd", "glexec")
_NAME_ORDER = ("GOCDB", "CRIC", "BDII")
_TIER_ORDER = ("CRIC", "GOCDB", "BDII")
_FTS_ORDER = ("GOCDB", "CRIC", "BDII")


@dataclass(frozen=True)
class Filters:
    """Which sites to keep: empty means any. ``tags`` must all be present (``--grid``, ``--vo``)."""

    tiers: frozenset[int] = frozenset()
    sites: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Overlay:
    """The hand-kept overlay: ``defaults`` for every site, then per-site entries (name -> fields)."""

    label: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    sites: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class SiteOut:
    """One merged site: ``fields`` in FIELDS order, ``sources`` the labels that contributed."""

    fields: dict[str, Any]
    sources: list[str]
    date: str | None

    @property
    def name(self) -> str:
        return str(self.fields["name"])


@dataclass
class _Site:
    facts: list[tuple[rec.SourceFacts, rec.SiteFact]] = field(default_factory=list)
    services: list[tuple[rec.SourceFacts, rec.ServiceFact]] = field(default_factory=list)


def _first(values: Iterable[tuple[str, Any]], order: Sequence[str]) -> Any:
    ranked = sorted(((order.index(kind), value) for kind, value in values if kind in order and value not in
                     (None, "")), key=lambda item: item[0])
    return ranked[0][1] if ranked else None


def merge(sources: Sequence[rec.SourceFacts], bdii_values: Mapping[str, str], filters: Filters,
          date: str | None, overlay: Overlay | None) -> tuple[list[SiteOut], list[str]]:
    """Merged, filtered, overlaid sites sorted by (tier, name), and one line per problem.

    ``bdii_values`` maps a BDII source's label to what its sites' ``bdii:``
    field should say (the URI, or the dump's path relative to the output).
    """
    problems: list[str] = []
    grouped: dict[str, _Site] = {}
    for source in sources:
        seen: dict[str, int] = {}
        for fact in source.sites:
            key = fact.name.casefold()
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 2 and source.kind != "BDII":
                problems.append(f"{source.kind} {source.label}: site '{fact.name}' is listed more than once; "
                                "the first entry is used")
            if seen[key] > 1 and source.kind != "BDII":
                continue
            grouped.setdefault(key, _Site()).facts.append((source, fact))
    aliases = _join_by_gocdb_key(grouped)
    for source in sources:
        for service in source.services:
            name_key = service.site.casefold()
            site = grouped.get(aliases.get(name_key, name_key))
            if site is not None:
                site.services.append((source, service))

    out: list[SiteOut] = []
    for key in sorted(grouped):
        merged = _merge_site(grouped[key], bdii_values, date, problems)
        if merged is None or not _wanted(merged[0], merged[1], filters):
            continue
        entry, _, excluded = merged
        if excluded:
            problems.append(f"{entry.name}: {excluded}; left out")
            continue
        unprintable = _unprintable(entry.fields)
        if unprintable:
            problems.append(f"{entry.name!r}: {unprintable} holds control characters; left out")
            continue
        if entry.fields.get("tier") is None:
            problems.append(f"{entry.name}: no source gives a tier "
                            f"({', '.join(entry.sources)}); left out")
            continue
        out.append(entry)
    if overlay is not None:
        out = _apply_overlay(out, overlay, filters, date, problems)
    out.sort(key=lambda s: (int(s.fields["tier"]), s.name.casefold(), s.name))
    return out, problems


def _join_by_gocdb_key(grouped: dict[str, _Site]) -> dict[str, str]:
    """Fold a site named otherwise elsewhere into the GOCDB site whose primary key it gives.

    CRIC's rcsite ``name`` is its own (often the GOCDB name, not always); its
    ``gocdb_pk`` says which GOCDB site it is. Returns folded name -> GOCDB name key,
    so services filed under the other name reach the merged site.
    """
    owners = {f.gocdb_key: key for key, site in grouped.items() for _, f in site.facts
              if f.source == "GOCDB" and f.gocdb_key}
    aliases: dict[str, str] = {}
    for key in sorted(grouped):
        site = grouped[key]
        if any(f.source == "GOCDB" for _, f in site.facts):
            continue
        targets = {owners[f.gocdb_key] for _, f in site.facts if f.gocdb_key in owners}
        if len(targets) == 1:
            target = targets.pop()
            grouped[target].facts.extend(site.facts)
            del grouped[key]
            aliases[key] = target
    return aliases


def _merge_site(site: _Site, bdii_values: Mapping[str, str], date: str | None,
                problems: list[str]) -> tuple[SiteOut, frozenset[str], str] | None:
    facts = site.facts
    name = _first(((f.source, f.name) for _, f in facts), _NAME_ORDER)
    tiers = {f.tier for _, f in facts if f.tier is not None}
    tier = _first(((f.source, f.tier) for _, f in facts), _TIER_ORDER)
    if len(tiers) > 1:
        said = ", ".join(f"{f.tier} from {s.kind} {s.label}" for s, f in facts if f.tier is not None)
        problems.append(f"{name}: sources disagree on the tier ({said}); using {tier}")
    wlcg = _first(((f.source, f.wlcg_name) for _, f in facts), ("CRIC", "BDII", "GOCDB"))
    tags = frozenset().union(*(f.tags for _, f in facts), *(s.tags for _, s in site.services))
    excluded = next((f.excluded for _, f in facts if f.excluded), "")

    bdii = next((bdii_values[s.label] for s, f in facts if s.kind == "BDII" and s.label in bdii_values), None)
    bdii = bdii or _first(((f.source, f.bdii) for _, f in facts), _NAME_ORDER)
    by_kind: dict[str, list[tuple[rec.SourceFacts, rec.ServiceFact]]] = {}
    for source, service in site.services:
        by_kind.setdefault(service.kind, []).append((source, service))
    if not bdii:
        bdii = _first(((s.source, s.address) for _, s in sorted(by_kind.get(rec.SITE_BDII, []),
                                                                  key=lambda p: p[1].address)), _NAME_ORDER)
    fts = None
    fts_found = sorted({(s.source, s.address) for _, s in by_kind.get(rec.FTS, [])},
                       key=lambda p: (_FTS_ORDER.index(p[0]), p[1]))
    if fts_found:
        fts = fts_found[0][1]
        others = sorted({a for k, a in fts_found if k == fts_found[0][0] and a != fts})
        if others:
            problems.append(f"{name}: {fts_found[0][0]} lists several FTS endpoints ({', '.join([fts, *others])}); "
                            f"using {fts}")
    storage: dict[str, dict[str, str]] = {}
    for source, service in sorted(by_kind.get(rec.STORAGE, []), key=lambda p: ("BDII", "CRIC", "GOCDB")
                                  .index(p[1].source)):
        held = storage.setdefault(service.address.casefold(), {"host": service.address, "implementation": ""})
        if not held["implementation"] and service.implementation:
            held["implementation"] = service.implementation
    doors = sorted({s.address for _, s in by_kind.get(rec.XROOTD, [])})

    used = {s.label: s for s, _ in facts}
    used.update({s.label: s for s, _ in site.services})
    labels = [f"{s.kind} {s.label}" for s in sorted(used.values(), key=lambda s: (_NAME_ORDER.index(s.kind),
                                                                                  s.label))]
    stamps = [s.stamp for s in used.values() if s.stamp]
    fields: dict[str, Any] = {"name": name, "tier": tier, "wlcg_name": wlcg or None, "bdii": bdii or None,
                              "fts": fts,
                              "storage": [{k: v for k, v in storage[h].items() if v} for h in sorted(storage)]
                              or None,
                              "xrootd": doors or None}
    entry = SiteOut(fields={k: fields[k] for k in FIELDS if fields.get(k) is not None}, sources=labels,
                    date=date or (max(stamps) if stamps else None))
    return entry, tags, excluded


def _unprintable(fields: Mapping[str, Any]) -> str:
    """The first field whose text has a control character (a remote source's garbage), or ""."""
    for key, value in fields.items():
        texts = [value] if isinstance(value, str) else \
            [str(v) for item in value for v in (item.values() if isinstance(item, dict) else [item])] \
            if isinstance(value, list) else []
        if any(not c.isprintable() for text in texts for c in text):
            return key
    return ""


def _wanted(site: SiteOut, tags: frozenset[str], filters: Filters) -> bool:
    if filters.sites and site.name.casefold() not in filters.sites:
        return False
    if filters.tags and not filters.tags <= tags:
        return False
    tier = site.fields.get("tier")
    return not filters.tiers or tier is None or tier in filters.tiers


def _apply_overlay(sites: list[SiteOut], overlay: Overlay, filters: Filters, date: str | None,
                   problems: list[str]) -> list[SiteOut]:
    by_name = {s.name.casefold(): s for s in sites}
    for site in sites:
        _override(site, overlay.defaults, overlay.label)
    for key in sorted(overlay.sites):
        values = overlay.sites[key]
        found = by_name.get(key)
        if found is None:
            if "tier" not in values:
                # A site of the overlay only that the import did not select: nothing to override.
                continue
            site = SiteOut(fields={"name": values["name"], "tier": values["tier"]}, sources=[], date=date)
            if not _wanted(site, filters.tags, Filters(filters.tiers, filters.sites)):
                continue
            _override(site, overlay.defaults, overlay.label)
            sites.append(site)
            by_name[key] = site
        else:
            site = found
        _override(site, values, overlay.label)
    return sites


def _override(site: SiteOut, values: Mapping[str, Any], label: str) -> None:
    changed = False
    for key, value in values.items():
        if key == "name":
            continue
        if value is None or value == []:
            changed |= site.fields.pop(key, None) is not None
        else:
            changed |= site.fields.get(key) != value
            site.fields[key] = value
    site.fields = {k: site.fields[k] for k in FIELDS if k in site.fields}
    if changed and f"overlay {label}" not in site.sources:
        site.sources.append(f"overlay {label}")
