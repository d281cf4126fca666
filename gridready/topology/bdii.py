"""Site topology from GLUE 1.3 and GLUE 2 in a top or site BDII (live ``ldap://`` or an LDIF dump).

GLUE 1.3 (``o=grid``): ``GlueSite`` (``GlueSiteUniqueID``, ``GlueSiteOtherInfo``
``GRID=``, ``WLCG_TIER=``, ``WLCG_NAME=``), ``GlueSE`` (``GlueSEUniqueID``,
``GlueSEImplementationName``, ``GlueForeignKey: GlueSiteUniqueID=<site>``),
``GlueSEAccessProtocol`` of an xrootd type (``GlueSEAccessProtocolEndpoint``,
``GlueChunkKey: GlueSEUniqueID=<se>``) and ``GlueService`` of type
``org.glite.FileTransfer`` (FTS). GLUE 2 (``o=glue``): ``GLUE2AdminDomain``
(``GLUE2EntityOtherInfo`` as above), ``GLUE2Service``
(``GLUE2ServiceAdminDomainForeignKey``) and its ``GLUE2Endpoint`` entries
(``GLUE2EndpointURL``, ``GLUE2EndpointInterfaceName``,
``GLUE2EndpointImplementationName``). Entries are read through
``gridready.sources.bdii``, so a dump and a live BDII give the same facts.
"""

from __future__ import annotations

from collections.abc import Iterable

from gridready.deadline import Deadline
from gridready.errors import SourceError
from gridready.sources.bdii import Entry, dn_parts, open_bdii
from gridready.topology import records as rec

#: xrootd access spellings seen in GLUE (the 2010 GDB issue), compared case-insensitively.
XROOTD_NAMES = frozenset({"xroot", "root", "xrootd", "xroots", "roots"})
#: GLUE service types of an FTS (GLUE 1.3 GlueServiceType, GLUE 2 GLUE2ServiceType).
FTS_TYPES = frozenset({"org.glite.filetransfer", "fts", "fts3", "org.glite.fts"})


def read_bdii(uri: str, deadline: Deadline) -> rec.SourceFacts:
    """Sites and services published in the BDII at ``uri``. Raises SourceError/CheckTimeout."""
    facts = rec.SourceFacts("BDII", rec.label(uri))
    bdii = open_bdii(uri, deadline)
    where = facts.label
    sites = bdii.find("GlueSite", suffix="o=grid")
    domains = bdii.find("GLUE2AdminDomain", suffix="o=glue")
    ses = bdii.find("GlueSE", suffix="o=grid")
    protocols = bdii.find("GlueSEAccessProtocol", suffix="o=grid")
    services13 = bdii.find("GlueService", suffix="o=grid")
    services2 = bdii.find("GLUE2Service", suffix="o=glue")
    endpoints = bdii.find("GLUE2Endpoint", suffix="o=glue")
    if not (sites or domains):
        raise SourceError(f"{uri}: no GlueSite or GLUE2AdminDomain entries: not a BDII with site topology")
    for entry in sites:
        _site(entry, entry.first("GlueSiteUniqueID") or entry.first("GlueSiteName"), "GlueSiteOtherInfo",
              where, facts)
    for entry in domains:
        _site(entry, entry.first("GLUE2DomainID"), "GLUE2EntityOtherInfo", where, facts)
    se_site = _storage(ses, where, facts)
    _access(protocols, se_site, where, facts)
    _services13(services13, where, facts)
    _services2(services2, endpoints, where, facts)
    for entry in (*services2, *endpoints):
        facts.note_stamp(entry.first("GLUE2EntityCreationTime"))
    return facts


def _other_info(entry: Entry, attribute: str) -> dict[str, list[str]]:
    info: dict[str, list[str]] = {}
    for value in entry.get(attribute):
        key, sep, rest = value.partition("=")
        if sep:
            info.setdefault(key.strip().upper(), []).append(rest.strip())
    return info


def _site(entry: Entry, name: str | None, attribute: str, where: str, facts: rec.SourceFacts) -> None:
    name = " ".join((name or "").split())
    if not name:
        facts.problems.append(f"{where}: {entry.dn[:120]}: no site name; left out")
        return
    info = _other_info(entry, attribute)
    tier: int | None = None
    for text in info.get("WLCG_TIER", [])[:1]:
        if text.isdigit() and len(text) <= 2:
            tier = int(text)
        else:
            facts.problems.append(f"{where}: {name}: WLCG_TIER={text[:20]!r} is not a tier number; ignored")
    tags = frozenset(g.lower() for g in info.get("GRID", []) if g)
    wlcg = info.get("WLCG_NAME", [""])[0]
    facts.sites.append(rec.SiteFact(name=name, source="BDII", tier=tier, wlcg_name=wlcg, tags=tags))


def _dn_site(dn: str) -> str:
    """The site of a GLUE 1.3 entry from its DN (``Mds-Vo-name=<SITE>`` other than ``local``)."""
    for attribute, value in dn_parts(dn):
        if attribute.lower() == "mds-vo-name" and value.lower() != "local":
            return value
    return ""


def _key(entry: Entry, attribute: str, name: str) -> str:
    prefix = name.lower() + "="
    for value in entry.get(attribute):
        if value.lower().startswith(prefix):
            return value[len(prefix):].strip()
    return ""


def _storage(ses: Iterable[Entry], where: str, facts: rec.SourceFacts) -> dict[str, str]:
    se_site: dict[str, str] = {}
    for entry in ses:
        host = (entry.first("GlueSEUniqueID") or "").strip().lower()
        site = _key(entry, "GlueForeignKey", "GlueSiteUniqueID") or _dn_site(entry.dn)
        if not host or not site:
            facts.problems.append(f"{where}: {entry.dn[:120]}: GlueSE without "
                                  f"{'GlueSEUniqueID' if not host else 'site'}; left out")
            continue
        se_site[host] = site
        facts.services.append(rec.ServiceFact(site=site, kind=rec.STORAGE, address=host, source="BDII",
                                              implementation=(entry.first("GlueSEImplementationName") or "").strip()))
    return se_site


def _access(protocols: Iterable[Entry], se_site: dict[str, str], where: str, facts: rec.SourceFacts) -> None:
    for entry in protocols:
        kind = (entry.first("GlueSEAccessProtocolType") or "").strip().lower()
        if kind not in XROOTD_NAMES:
            continue
        se = _key(entry, "GlueChunkKey", "GlueSEUniqueID").lower()
        site = se_site.get(se) or _dn_site(entry.dn)
        endpoint = (entry.first("GlueSEAccessProtocolEndpoint") or "").strip()
        if not endpoint:
            # StoRM publishes xroot access with no endpoint: no door to list.
            continue
        door = rec.door(endpoint)
        if not door or not site:
            facts.problems.append(f"{where}: {entry.dn[:120]}: xrootd access "
                                  f"{'endpoint ' + repr(endpoint[:80]) + ' names no host' if not door else 'of no known site'}"
                                  "; left out")
            continue
        facts.services.append(rec.ServiceFact(site=site, kind=rec.XROOTD, address=door, source="BDII"))


def _services13(services: Iterable[Entry], where: str, facts: rec.SourceFacts) -> None:
    for entry in services:
        if (entry.first("GlueServiceType") or "").strip().lower() not in FTS_TYPES:
            continue
        url = (entry.first("GlueServiceEndpoint") or "").strip()
        site = _key(entry, "GlueForeignKey", "GlueSiteUniqueID") or _dn_site(entry.dn)
        if not rec.url_host(url) or not site:
            facts.problems.append(f"{where}: {entry.dn[:120]}: FTS service without "
                                  f"{'an endpoint URL with a host' if site else 'site'}; left out")
            continue
        facts.services.append(rec.ServiceFact(site=site, kind=rec.FTS, address=url, source="BDII"))


def _services2(services: Iterable[Entry], endpoints: Iterable[Entry], where: str,
               facts: rec.SourceFacts) -> None:
    by_service: dict[str, list[Entry]] = {}
    for entry in endpoints:
        key = (entry.first("GLUE2EndpointServiceForeignKey") or "").strip().lower()
        by_service.setdefault(key, []).append(entry)
    for service in services:
        ident = (service.first("GLUE2ServiceID") or "").strip()
        site = (service.first("GLUE2ServiceAdminDomainForeignKey") or "").strip()
        if not site:
            for attribute, value in dn_parts(service.dn):
                if attribute.lower() == "glue2domainid":
                    site = value
                    break
        if not site:
            facts.problems.append(f"{where}: {service.dn[:120]}: GLUE2Service of no known site; left out")
            continue
        kind = (service.first("GLUE2ServiceType") or "").strip().lower()
        storage = "glue2storageservice" in service.object_classes or kind.endswith(".storage")
        fts = kind in FTS_TYPES
        own = sorted(by_service.get(ident.lower(), []), key=lambda e: e.dn.lower())
        storage_hosts: list[tuple[str, str]] = []
        for endpoint in own:
            url = (endpoint.first("GLUE2EndpointURL") or "").strip()
            interface = (endpoint.first("GLUE2EndpointInterfaceName") or "").strip().lower()
            if not url:
                continue
            if interface in XROOTD_NAMES:
                door = rec.door(url)
                if not door:
                    facts.problems.append(f"{where}: {endpoint.dn[:120]}: xrootd endpoint URL "
                                          f"{url[:80]!r} names no host; left out")
                    continue
                facts.services.append(rec.ServiceFact(site=site, kind=rec.XROOTD, address=door, source="BDII"))
            elif fts or interface in FTS_TYPES:
                if rec.url_host(url):
                    facts.services.append(rec.ServiceFact(site=site, kind=rec.FTS, address=url, source="BDII"))
            elif storage and interface == "srm" and rec.url_host(url):
                # The SE is its SRM host; GridFTP and other doors may sit elsewhere.
                implementation = (endpoint.first("GLUE2EndpointImplementationName") or "").strip()
                storage_hosts.append((rec.url_host(url), implementation))
        for host, implementation in dict.fromkeys(storage_hosts):
            facts.services.append(rec.ServiceFact(site=site, kind=rec.STORAGE, address=host, source="BDII",
                                                  implementation=implementation))
