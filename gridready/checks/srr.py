"""The ``srr`` check: require values of a site's WLCG Storage Resource Reporting (SRR) records.

The SRR document (``{"storageservice": {..., "storageendpoints": [...],
"storageshares": [...]}}``, read from an ``https://`` URL with the grid TLS
rules or from a saved file) is the site's own description of its storage.
A milestone selects records of one kind and states what each must carry.
``expect`` grammar::

    expect:
      object: endpoint                 # endpoint (storageendpoints) | share (storageshares) | service
      where:                           # optional filters, every one must hold
        interfacetype: [https, davs]   # a list: any of these (case-insensitive); a scalar: equal
      require:                         # optional; every selected record must satisfy each
        capabilities: {equals: "authn.token"}
        interfaceversion: {version_at_least: "2"}
      min_count: 1                     # optional: as in the glue check
      missing: fail                    # fail (default) | unknown: a record lacking a required field

Requirements are the glue check's (``equals``, ``one_of``, ``matches``,
``version_at_least``; a scalar means ``equals``), met when any value of the
field meets them. A field holding a list (``assignedshares``, ``vos``,
``capabilities``) has each element as a value; booleans read ``true``/``false``;
objects, null and blank strings are not values. Field names compare case-insensitively.

Evidence rule: a document without the selected list (no ``storageendpoints``
key at all) says nothing and is UNKNOWN; an empty selection is UNKNOWN unless
the milestone states ``min_count`` (``min_count: 0`` accepts it). Records are
named by ``endpointurl`` (endpoints) or ``name``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from gridready.checks.glue import filter_text, judge_selection, parse_count, parse_filters, passes, requirements
from gridready.checks.interface import Assessment, Observation, Request, unknown_keys
from gridready.deadline import Deadline
from gridready.errors import CheckError, SourceError, UsageError
from gridready.escape import terminal
from gridready.models import Site

EXPECT_KEYS = ("object", "where", "require", "min_count", "missing")
#: ``object`` -> the key of its list in ``storageservice`` (None: the service itself).
OBJECTS: Mapping[str, str | None] = {"endpoint": "storageendpoints", "share": "storageshares", "service": None}


@dataclass(frozen=True)
class SrrFacts:
    source: str
    #: object kind -> its records (None: the document has no such list).
    records: Mapping[str, tuple[Mapping[str, Any], ...] | None]


def values_of(record: Mapping[str, Any], field: str) -> tuple[str, ...]:
    """The values of ``field`` (any case) in an SRR record, as strings (see module docstring)."""
    key = field.casefold()
    for name, value in record.items():
        if str(name).casefold() == key:
            items = value if isinstance(value, list) else [value]
            # A blank string is no value, as null is: it must not meet ``matches: ".*"``.
            return tuple("true" if v is True else "false" if v is False else str(v)
                         for v in items if isinstance(v, (str, int, float)) and not (isinstance(v, str) and not v.strip()))
    return ()


def read_document(uri: str, request: Request, deadline: Deadline) -> Any:
    """The SRR JSON at an http(s) URL (grid TLS rules) or in a saved file (bounded, through localfile)."""
    from gridready.sources import http

    return http.fetch_json(uri, deadline, http.TLSOptions(capath=request.opt("capath")), what="SRR file")


def records_of(document: Any, source: str) -> dict[str, tuple[Mapping[str, Any], ...] | None]:
    service = document.get("storageservice") if isinstance(document, Mapping) else None
    if not isinstance(service, Mapping):
        raise SourceError(f"{source}: not an SRR document (no 'storageservice' object)")
    out: dict[str, tuple[Mapping[str, Any], ...] | None] = {"service": (service,)}
    for kind, key in OBJECTS.items():
        if key is None:
            continue
        items = service.get(key)
        if items is None:
            out[kind] = None
            continue
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise SourceError(f"{source}: SRR 'storageservice.{key}' is not a list of objects")
        out[kind] = tuple(items)
    return out


class SrrCheck:
    name = "srr"
    description = ("Selects a site's SRR storage endpoints, shares or service (JSON over HTTPS or a file) "
                   "by field filters and requires field values or a minimum count.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("srr options")
        group.add_argument("--srr", metavar="URI", help="SRR JSON: https:// URL or a file (default: the "
                                                        "site's srr in the inventory)")
        group.add_argument("--capath", metavar="DIR|FILE", help="CA certificates for an https:// --srr")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = unknown_keys(expect, EXPECT_KEYS)
        if expect.get("object") not in OBJECTS:
            problems.append(f"object: expected one of {', '.join(OBJECTS)}, got {expect.get('object')!r}")
        problems += parse_filters(expect.get("where"), "where")[1]
        problems += requirements(expect.get("require"), "require")[1]
        parse_count(expect, problems)
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        if not site.srr:
            raise CheckError(f"no srr for {site.name} in the inventory: cannot read its storage report")
        return [{"srr": site.srr}]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        uri = request.opt("srr")
        if not uri and request.inventory is not None and request.site:
            known = request.inventory.site(request.site)
            uri = known.srr if known else None
        if not uri:
            raise UsageError("give --srr URI (or --site with an srr in the inventory)")
        with deadline.during(f"reading SRR {uri}"):
            records = records_of(read_document(str(uri), request, deadline), str(uri))
        details = [f"{kind}: {'no list' if items is None else len(items)}" for kind, items in records.items()]
        return Observation(target=str(uri), data=SrrFacts(str(uri), records), details=details)

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        facts: SrrFacts = observation.data
        kind = str(expect["object"])
        items = facts.records.get(kind)
        key = OBJECTS[kind]
        if items is None:
            return Assessment(unknown=f"{facts.source} has no storageservice.{key} list: "
                                      f"it says nothing about {kind}s")
        filters, _ = parse_filters(expect.get("where"), "where")
        required, _ = requirements(expect.get("require"), "require")
        selected = [r for r in items if passes(partial(values_of, r), filters)]
        who = f" of {request.site}" if request.site else ""
        tail = who + filter_text(filters)
        what = (f"SRR {kind}{tail}", f"SRR {kind}s{tail}")
        records = [(_name(r, kind, i), partial(values_of, r)) for i, r in enumerate(selected)]
        return judge_selection(records, required, expect, what, facts.source, verb="has")


def _name(record: Mapping[str, Any], kind: str, index: int) -> str:
    for field in (("endpointurl", "name") if kind == "endpoint" else ("name",)):
        values = values_of(record, field)
        if values:
            return terminal(values[0][:200])
    return f"{OBJECTS[kind] or 'storageservice'}[{index}]"


CHECK = SrrCheck()
