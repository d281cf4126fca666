"""Reading storage elements and their dCache versions from a BDII (GLUE 1.3 and GLUE 2).

GLUE 1.3 (under ``o=grid``) has one GlueSE per storage element with
``GlueSEImplementationName``/``GlueSEImplementationVersion`` and the site in
``GlueForeignKey: GlueSiteUniqueID=<site>``. GLUE 2 (under ``o=glue``) has a
GLUE2Service (``GLUE2ServiceID``, usually the SE host; type
``org.dcache.storage``) whose GLUE2Endpoints each carry
``GLUE2EndpointImplementationVersion``. Both are read so that a site whose two
publications disagree is reported with both versions.

GLUE 2 string attributes match case-exactly in a real BDII, so lookups use
values as the BDII itself published them (the GlueSE's ID, the site key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gridready.dcache.observed import StorageElement, storage_element
from gridready.sources.bdii import Bdii, Entry

GLUE1 = "GLUE 1.3"
GLUE2 = "GLUE 2"
DCACHE_SERVICE_TYPE = "org.dcache.storage"
_SITE_KEY = "gluesiteuniqueid="


@dataclass
class _Glue2Service:
    service_id: str
    endpoints: list[Entry] = field(default_factory=list)

    def hosts(self) -> set[str]:
        found = {self.service_id.lower()}
        for endpoint in self.endpoints:
            host = _url_host(endpoint.first("GLUE2EndpointURL"))
            if host:
                found.add(host)
        return found


def _url_host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _site_of(entry: Entry) -> str | None:
    """The site name from ``GlueForeignKey: GlueSiteUniqueID=<site>``, as published."""
    for key in entry.get("GlueForeignKey"):
        if key.lower().startswith(_SITE_KEY):
            return key[len(_SITE_KEY):].strip() or None
    return None


def read_site(bdii: Bdii, site: str) -> list[StorageElement]:
    """Every storage element the BDII publishes for ``site``."""
    glue1 = bdii.find("GlueSE", {"GlueForeignKey": f"GlueSiteUniqueID={site}"}, suffix="o=grid")
    # Use the site key as the BDII spells it: GLUE 2 matches case-exactly.
    published_site = next((s for s in map(_site_of, glue1) if s), site)
    services = _site_services(bdii, published_site)
    return _combine(bdii, glue1, services, only=None)


def read_se(bdii: Bdii, se: str) -> list[StorageElement]:
    """The storage element ``se`` (its GlueSEUniqueID / GLUE2ServiceID, usually the host)."""
    glue1 = bdii.find("GlueSE", {"GlueSEUniqueID": se}, suffix="o=grid")
    se_id = glue1[0].first("GlueSEUniqueID") or se if glue1 else se
    services = [_Glue2Service(sid) for sid in _service_ids(
        bdii.find("GLUE2Service", {"GLUE2ServiceID": se_id}, suffix="o=glue"))]
    site = next((s for s in map(_site_of, glue1) if s), None)
    if not services and site:
        # The GLUE 2 service may have an ID other than the host: look among
        # the site's dCache services for one with an endpoint on this host.
        services = _site_services(bdii, site)
    for service in services:
        _load_endpoints(bdii, service)
    return _combine(bdii, glue1, services, only=se.lower(), loaded=True)


def _service_ids(entries: Sequence[Entry]) -> list[str]:
    return [sid for sid in (e.first("GLUE2ServiceID") for e in entries) if sid]


def _site_services(bdii: Bdii, site: str) -> list[_Glue2Service]:
    entries = bdii.find("GLUE2Service", {"GLUE2ServiceAdminDomainForeignKey": site}, suffix="o=glue")
    # A site's GLUE 2 services include its computing elements: keep storage.
    storage = [e for e in entries
               if any(t.lower() == DCACHE_SERVICE_TYPE for t in e.get("GLUE2ServiceType"))
               or "glue2storageservice" in e.object_classes]
    return [_Glue2Service(sid) for sid in _service_ids(storage)]


def _load_endpoints(bdii: Bdii, service: _Glue2Service) -> None:
    service.endpoints = bdii.find("GLUE2Endpoint", {"GLUE2EndpointServiceForeignKey": service.service_id},
                                  suffix="o=glue")


def _combine(bdii: Bdii, glue1: Sequence[Entry], services: list[_Glue2Service], *,
             only: str | None, loaded: bool = False) -> list[StorageElement]:
    if not loaded:
        for service in services:
            _load_endpoints(bdii, service)
    elements: list[StorageElement] = []
    claimed: set[int] = set()
    for entry in glue1:
        name = entry.first("GlueSEUniqueID") or entry.dn
        mine = [i for i, s in enumerate(services) if name.lower() in s.hosts()]
        claimed.update(mine)
        elements.append(_element(name, entry, [services[i] for i in mine]))
    for index, service in enumerate(services):
        if index in claimed:
            continue
        # Published in GLUE 2 only.
        if only is not None and only not in service.hosts():
            continue
        elements.append(_element(service.service_id, None, [service]))
    return elements


def _element(name: str, glue1: Entry | None, services: Sequence[_Glue2Service]) -> StorageElement:
    candidates: list[tuple[str, str]] = []
    notes: list[str] = []
    implementation: str | None = None
    if glue1 is not None:
        implementation = glue1.first("GlueSEImplementationName")
        text = glue1.first("GlueSEImplementationVersion")
        if text is not None:
            candidates.append((GLUE1, text))
            notes.append(f"{name}: {GLUE1} GlueSEImplementationVersion {text!r}")
    endpoints = [e for s in services for e in s.endpoints]
    glue2_names = {n for e in endpoints for n in e.get("GLUE2EndpointImplementationName")}
    if implementation is None:
        if glue2_names:
            implementation = sorted(glue2_names)[0]
        elif services and endpoints:
            implementation = "dCache"  # an org.dcache.storage service
    dcache_endpoints = [e for e in endpoints
                        if all(n.lower() == "dcache" for n in e.get("GLUE2EndpointImplementationName"))]
    seen: set[str] = set()
    for endpoint in dcache_endpoints:
        text = endpoint.first("GLUE2EndpointImplementationVersion")
        ident = endpoint.first("GLUE2EndpointID") or endpoint.dn
        if text is None:
            notes.append(f"{name}: {GLUE2} endpoint {ident} publishes no GLUE2EndpointImplementationVersion")
            continue
        notes.append(f"{name}: {GLUE2} endpoint {ident} GLUE2EndpointImplementationVersion {text!r}")
        if text.strip() not in seen:
            seen.add(text.strip())
            candidates.append((GLUE2, text))
    if implementation is not None and implementation.strip().lower() != "dcache":
        version = glue1.first("GlueSEImplementationVersion") if glue1 is not None else None
        notes = [f"{name}: runs {implementation}{' ' + version if version else ''}, not dCache"]
    looked_for = ("GlueSEImplementationVersion (GLUE 1.3)" if glue1 is not None else "")
    if services:
        looked_for += (" or " if looked_for else "") + "GLUE2EndpointImplementationVersion (GLUE 2)"
    elif glue1 is not None:
        looked_for += " and has no GLUE 2 service"
    missing = f"{name} publishes no dCache version: no {looked_for}"
    return storage_element(name, implementation, candidates, missing, notes)
