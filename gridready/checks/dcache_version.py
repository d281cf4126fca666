"""check_dcache_version: does a site's dCache storage run an accepted release?

The version comes from one source: a BDII (``--bdii``, live LDAP or an LDIF
dump; GLUE 1.3 and GLUE 2 are both read, and both versions are reported when
they disagree), an SRR document (``--srr``) or the dCache info service
(``--info``). With ``--se HOST`` one storage element is checked; with ``--site``
and a BDII, every storage element of the site, and the result is the worst of
them. Non-dCache storage (CASTOR, StoRM) makes the milestone NOT_APPLICABLE.

``collect`` reads the source and parses every version string: a missing or
unparseable version makes the result UNKNOWN naming the SE, the attribute and
the string. ``assess`` applies one milestone's rules (gridready.dcache.rules)
with the series support table (config/dcache_series.yaml) on the evaluation
date.

Only light modules are imported here; the LDAP and HTTP clients come in with
the sources, inside ``collect``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from gridready.checks.interface import Assessment, Observation, PerfValue, Request
from gridready.dcache import rules
from gridready.dcache.observed import DcacheObservation, StorageElement
from gridready.dcache.series import SeriesTable
from gridready.dcache.version import VersionError
from gridready.deadline import Deadline
from gridready.errors import CheckError, SourceError, UsageError
from gridready.models import Site
from gridready.tlsoptions import add_tls_options

#: A full info service dump of a large instance (every pool) runs to megabytes.
INFO_MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class DcacheData:
    """Observation data: what was seen plus the series table to judge it with."""

    seen: DcacheObservation
    table: SeriesTable


class DcacheVersionCheck:
    name = "dcache_version"
    description = ("Checks that dCache storage runs an accepted release (minimum, denied releases, "
                   "supported golden/feature series), read from a BDII (GLUE 1.3 and 2), an SRR "
                   "document or the dCache info service.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("dCache options")
        source = group.add_mutually_exclusive_group()
        source.add_argument("--bdii", metavar="URI",
                            help="BDII to read GLUE 1.3/2 from: ldap://host:2170 or an LDIF dump file")
        source.add_argument("--srr", metavar="URI",
                            help="storage resource reporting JSON: https://... or a saved file")
        source.add_argument("--info", metavar="URL",
                            help="dCache info service, e.g. http://host:2288/info (XML or JSON), "
                                 "or a saved copy")
        group.add_argument("--se", metavar="HOST",
                           help="storage element to check (GlueSEUniqueID, usually the SRM host); "
                                "with --bdii and without --se, every SE of --site")
        group.add_argument("--min", metavar="VERSION",
                           help="lowest acceptable release, e.g. 1.9.5-0 (replaces the milestone's min)")
        group.add_argument("--deny", metavar="PATTERN", action="append",
                           help="deny a release or pattern, e.g. 1.9.5-20, 1.9.6-*, 2.10.* "
                                "(repeatable; added to the milestone's deny list)")
        add_tls_options(group, "to verify an https server")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        return rules.validate_expect(expect)

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        source = {"bdii": site.bdii} if site.bdii else {"srr": site.srr} if site.srr else None
        if source is None:
            return []
        hosts: list[str] = []
        if site.storage:
            dcache = [s.host for s in site.storage if s.implementation.strip().lower() == "dcache"]
            unset = [s.host for s in site.storage if not s.implementation.strip()]
            hosts = dcache or unset
            if not hosts:
                return []  # only other implementations (CASTOR, StoRM): nothing to check
        options: dict[str, Any] = dict(source, site=site.name)
        if len(hosts) == 1 or (hosts and "srr" in source):
            options["se"] = hosts[0]
        # Several SEs (or none listed) with a BDII: the site mode reads every SE
        # of the site and reports the worst, in one result.
        return [options]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        bdii, srr, info = (request.opt(n) for n in ("bdii", "srr", "info"))
        if len([s for s in (bdii, srr, info) if s]) != 1:
            raise UsageError("give one of --bdii URI, --srr URI or --info URL")
        cert, key, proxy, capath = (request.opt(n) for n in ("cert", "key", "proxy", "capath"))
        if bdii and (cert or key or proxy or capath):
            raise UsageError("--capath, --cert, --key and --proxy apply only to --srr and --info")
        if proxy and (cert or key):
            raise UsageError("give either --cert and --key, or --proxy")
        if key and not cert:
            raise UsageError("--key needs --cert")
        try:
            rules.rules_from({}, request.opt("min"), request.opt("deny", ()))
        except VersionError as exc:
            raise UsageError(f"--{exc}") from None
        se: str | None = request.opt("se")
        site: str | None = request.site or request.opt("site")

        if bdii:
            if not se and not site:
                raise UsageError("--bdii needs --se HOST or --site NAME")
            where = str(bdii)
            elements = _from_bdii(where, se, site, deadline)
            target = se or str(site)
        else:
            from gridready.sources.http import TLSOptions

            tls = TLSOptions(capath=capath, cert=cert, key=key, proxy=proxy)
            where = str(srr or info)
            element = _from_srr(where, se, tls, deadline) if srr else _from_info(where, se, tls, deadline)
            elements = [element]
            target = element.name

        _raise_problems(elements)
        with deadline.during("reading the dCache series table"):
            from gridready.dcache.series import bundled_table

            table = bundled_table()
        seen = DcacheObservation(where, tuple(elements))
        as_of = request.as_of or _today()
        dcache = seen.dcache
        supported = sum(1 for e in dcache if table.support(e.version.series, as_of).supported)
        metrics = [PerfValue("dcache_ses", len(dcache), min=0),
                   PerfValue("dcache_ses_supported", supported, min=0, max=len(dcache))]
        details = [note for e in elements for note in e.notes]
        details.append(f"series table: {table.path}")
        return Observation(target=target, data=DcacheData(seen, table), metrics=metrics, details=details)

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        data: DcacheData = observation.data
        version_rules = rules.rules_from(expect, request.opt("min"), request.opt("deny", ()))
        return rules.assess(data.seen, version_rules, data.table, request.as_of or _today())


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _from_bdii(where: str, se: str | None, site: str | None, deadline: Deadline) -> list[StorageElement]:
    from gridready.dcache import glue
    from gridready.sources.bdii import open_bdii

    source = open_bdii(where, deadline)
    if se:
        elements = glue.read_se(source, se, site)
        if not elements:
            *first, last = glue.service_ids_for(se)
            ids = f"{', '.join(first)} or {last}"
            raise SourceError(f"{where}: storage element {se} is not published (no GlueSE with "
                              f"GlueSEUniqueID={se}, no GLUE2Service with GLUE2ServiceID {ids}"
                              f"{f' or an endpoint on {se} among the storage services of {site}' if site else ''})")
        return elements
    assert site is not None
    elements = glue.read_site(source, site)
    if not elements:
        raise SourceError(f"{where}: no storage element published for site {site} (no GlueSE with "
                          f"GlueForeignKey=GlueSiteUniqueID={site}, no GLUE 2 storage service)")
    return elements


def _from_srr(where: str, se: str | None, tls: Any, deadline: Deadline) -> StorageElement:
    from gridready.dcache.srr import read_srr
    from gridready.sources.http import fetch_json

    # fetch_json bounds the file (localfile) and turns too deep nesting into a SourceError.
    return read_srr(fetch_json(where, deadline, tls, what="SRR file"), where, se)


def _from_info(where: str, se: str | None, tls: Any, deadline: Deadline) -> StorageElement:
    from gridready.dcache import infoservice
    from gridready.dcache.observed import storage_element
    from gridready.sources.http import fetch, is_url, read_local

    if is_url(where):
        content_type, body = fetch(where, deadline, tls, accept=infoservice.ACCEPT,
                                   max_bytes=INFO_MAX_BYTES)
        name = se or urlsplit(where).hostname or where
    else:
        content_type = ""
        body = read_local(where, deadline, INFO_MAX_BYTES, "dCache info service file")
        name = se or where
    with deadline.during(f"parsing the dCache info service answer from {where}"):
        found = infoservice.releases(content_type, body, where, deadline)
    notes = [f"{name}: {source} release {text!r}" for source, text in found]
    return storage_element(name, "dCache", found, f"{name}: no release in {where}", notes)


def _raise_problems(elements: Sequence[StorageElement]) -> None:
    """UNKNOWN when any dCache (or unidentifiable) SE has no usable version, naming each."""
    problems = [p for e in elements for p in e.problems]
    if not problems:
        return
    fine = [e.describe() for e in elements if e.is_dcache and not e.problems]
    also = f" (other SEs: {'; '.join(fine)})" if fine else ""
    raise CheckError("; ".join(problems) + also)


CHECK = DcacheVersionCheck()
