"""Reading storage elements and their dCache versions from a BDII (GLUE 1.3 and GLUE 2).

GLUE 1.3 (under ``o=grid``) has one GlueSE per storage element with
``GlueSEImplementationName``/``GlueSEImplementationVersion`` and the site in
``GlueForeignKey: GlueSiteUniqueID=<site>``. GLUE 2 (under ``o=glue``) has a
GLUE2Service (type ``org.dcache.storage``) whose GLUE2Endpoints each carry
``GLUE2EndpointImplementationVersion``. Both are read so that a site whose two
publications disagree is reported with both versions.

Service and endpoint IDs come in the forms seen in real BDIIs:

- dCache's own info provider (skel/share/info-provider/glue-2.0-defn.xml in
  the dCache sources) publishes ``GLUE2ServiceID: glue:<se-unique-id>/data``
  and endpoints ``GLUE2EndpointID: glue:<se-unique-id>/data/ep/<door
  fqdn>/<protocol>/<version>`` whose ``GLUE2EndpointServiceForeignKey`` is the
  service ID; ``<se-unique-id>`` is the GLUE 1.3 ``GlueSEUniqueID``;
- StoRM's info provider publishes ``GLUE2ServiceID: <backend host>/storage``
  (type ``storm``) with a GLUE2StorageManager whose product is StoRM;
- hand-written or generic providers use the SE host itself as the service ID
  (``GLUE2ServiceID: srm.example.org``), or an unrelated ID (``urn:...``),
  found through the site and the endpoints' URL hosts.

An SE (``--se HOST``) is therefore looked up under each of these ID forms, and a
service is matched to an SE by every identity it carries: its ID, the SE id
inside a ``glue:<se>/data`` ID, its endpoints' URL hosts and the door hosts in
``glue:`` endpoint IDs.

A GLUE 2 SE's version is read from its dCache endpoints'
``GLUE2EndpointImplementationVersion`` (each door's release) and its
GLUE2StorageManager's ``GLUE2ManagerProductVersion`` (dCache's provider
writes the PoolManager's release there, as in GLUE 1.3); the oldest counts.
Without a GLUE 1.3 name, the implementation is what the endpoints and
managers name (see ``_glue2_implementation``).

GLUE 2 string attributes match case-exactly in a real BDII, so lookups use
values as the BDII itself published them (the GlueSE's ID, the site key).

The GLUE schemas make the implementation name and version SINGLE-VALUE. An
entry that repeats one with different values (a hand-merged dump, a server
without the schema) is judged on all of them: two versions, the older counts
and the message says the attribute was repeated; two implementation names
cannot be told apart and are a problem (UNKNOWN).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gridready.dcache.observed import StorageElement, storage_element
from gridready.sources.bdii import Bdii, Entry

GLUE1 = "GLUE 1.3"
GLUE2 = "GLUE 2"
#: Where a GLUE2ManagerProductVersion was read (the version messages name it apart from endpoints).
GLUE2_MANAGER = "GLUE 2 manager"
DCACHE_SERVICE_TYPE = "org.dcache.storage"
_SITE_KEY = "gluesiteuniqueid="
# dCache's info provider: "glue:<se-unique-id>/data" and ".../data/ep/<fqdn>/<proto>/<ver>".
_DCACHE_SERVICE_ID = re.compile(r"glue:(?P<se>[^/]+)/data\Z", re.IGNORECASE)
_DCACHE_ENDPOINT_ID = re.compile(r"glue:(?P<se>[^/]+)/data/ep/(?P<fqdn>[^/]+)(?:/.*)?\Z", re.IGNORECASE)


def service_ids_for(se: str) -> list[str]:
    """The GLUE2ServiceIDs an SE with GlueSEUniqueID ``se`` is published under.

    The bare ID (generic providers), dCache's ``glue:<se>/data`` and StoRM's
    ``<backend host>/storage`` (storm-info-provider), so that a StoRM SE asked
    for by host is found and reported as not dCache.
    """
    return [se, f"glue:{se}/data", f"{se}/storage"]


def se_of_service_id(service_id: str) -> str:
    """The SE a service ID names: ``<se>`` of ``glue:<se>/data``, else the ID itself."""
    match = _DCACHE_SERVICE_ID.match(service_id.strip())
    return match["se"] if match else service_id


@dataclass
class _Glue2Service:
    service_id: str
    types: tuple[str, ...] = ()
    endpoints: list[Entry] = field(default_factory=list)
    #: GLUE2Manager entries (dCache: one GLUE2StorageManager, ``glue:<se>/data/m/dCache``).
    managers: list[Entry] = field(default_factory=list)

    @property
    def se_name(self) -> str:
        return se_of_service_id(self.service_id)

    @property
    def is_dcache_type(self) -> bool:
        return any(t.strip().lower() == DCACHE_SERVICE_TYPE for t in self.types)

    def hosts(self) -> set[str]:
        """Every identity of this service, lower-cased (see the module docstring)."""
        found = {self.service_id.lower(), self.se_name.lower()}
        for endpoint in self.endpoints:
            # All values: a repeated URL still names hosts of this service.
            for url in endpoint.get("GLUE2EndpointURL"):
                host = _url_host(url)
                if host:
                    found.add(host)
            for ident in endpoint.get("GLUE2EndpointID"):
                match = _DCACHE_ENDPOINT_ID.match(ident.strip())
                if match:
                    found.update({match["se"].lower(), match["fqdn"].lower()})
        return found


def _url_host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
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
    for service in services:
        _load_parts(bdii, service)
    return _combine(glue1, services, only=None)


def read_se(bdii: Bdii, se: str, site: str | None = None) -> list[StorageElement]:
    """The storage element ``se`` (its GlueSEUniqueID, usually the SRM host).

    GLUE 2 services are looked up as ``se`` and ``glue:<se>/data``; failing
    that, among the storage services of the SE's site (from GLUE 1.3, else
    ``site``) for one with an identity equal to ``se``.
    """
    glue1 = bdii.find("GlueSE", {"GlueSEUniqueID": se}, suffix="o=grid")
    se_id = (glue1[0].first("GlueSEUniqueID") or se) if glue1 else se
    services: list[_Glue2Service] = []
    seen: set[str] = set()
    for service_id in dict.fromkeys(service_ids_for(se_id) + service_ids_for(se)):
        for service in _services(bdii.find("GLUE2Service", {"GLUE2ServiceID": service_id},
                                           suffix="o=glue")):
            if service.service_id not in seen:
                seen.add(service.service_id)
                services.append(service)
    site = next((s for s in map(_site_of, glue1) if s), None) or site
    if not services and site:
        # The GLUE 2 service may have an ID other than the host: look among
        # the site's storage services for one with an endpoint on this host.
        services = _site_services(bdii, site)
    for service in services:
        _load_parts(bdii, service)
    return _combine(glue1, services, only=se.lower())


def _services(entries: Sequence[Entry]) -> list[_Glue2Service]:
    found: list[_Glue2Service] = []
    for entry in entries:
        service_id = entry.first("GLUE2ServiceID")
        if service_id:
            found.append(_Glue2Service(service_id, entry.get("GLUE2ServiceType")))
    return found


def _site_services(bdii: Bdii, site: str) -> list[_Glue2Service]:
    entries = bdii.find("GLUE2Service", {"GLUE2ServiceAdminDomainForeignKey": site}, suffix="o=glue")
    # A site's GLUE 2 services include its computing elements: keep storage.
    storage = [e for e in entries
               if any(t.strip().lower() == DCACHE_SERVICE_TYPE for t in e.get("GLUE2ServiceType"))
               or "glue2storageservice" in e.object_classes]
    return _services(storage)


def _load_parts(bdii: Bdii, service: _Glue2Service) -> None:
    """The service's endpoints and managers (both point at it by GLUE2ServiceID)."""
    service.endpoints = bdii.find("GLUE2Endpoint", {"GLUE2EndpointServiceForeignKey": service.service_id},
                                  suffix="o=glue")
    service.managers = bdii.find("GLUE2Manager", {"GLUE2ManagerServiceForeignKey": service.service_id},
                                 suffix="o=glue")


def _combine(glue1: Sequence[Entry], services: list[_Glue2Service], *,
             only: str | None) -> list[StorageElement]:
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
        elements.append(_element(service.se_name, None, [service]))
    return elements


def _is_dcache_part(names: Sequence[str], service: _Glue2Service) -> bool:
    """Whether an endpoint or manager naming ``names`` (its implementation/product) is dCache's."""
    if names:
        return all(n.strip().lower() == "dcache" for n in names)
    # No name: dCache only if the service says it is dCache storage.
    return service.is_dcache_type


def _glue2_implementation(name: str, services: Sequence[_Glue2Service]) -> tuple[str | None, str | None]:
    """(implementation, problem) from GLUE 2 alone, for an SE without a GLUE 1.3 name.

    Endpoints name their implementation, managers their product, and the
    service its type. A non-dCache name beside dCache ones in an
    ``org.dcache.storage`` service is a door of another product that dCache's
    service lists (an xrootd proxy): the SE is dCache and only its dCache
    endpoints are read. Names without dCache are another product (StoRM with a
    GridFTP endpoint), even when they differ. Only dCache beside other names
    in a service that does not say it is dCache cannot be decided.
    """
    endpoint_names = {n.strip() for s in services for e in s.endpoints
                      for n in e.get("GLUE2EndpointImplementationName") if n.strip()}
    products = {n.strip() for s in services for m in s.managers
                for n in m.get("GLUE2ManagerProductName") if n.strip()}
    names = endpoint_names | products
    dcache_type = any(s.is_dcache_type for s in services)
    lowered = {n.lower() for n in names}
    if not names:
        return ("dCache" if dcache_type else None), None
    if lowered == {"dcache"}:
        return sorted(names)[0], None
    listing = ", ".join(repr(n) for n in sorted(names))
    if "dcache" in lowered:
        if dcache_type:
            return "dCache", None
        return None, (f"{name}: GLUE 2 endpoints and managers publish different implementations "
                      f"({listing}), so it cannot be told whether it runs dCache")
    if dcache_type:
        return None, (f"{name}: a GLUE 2 service of type {DCACHE_SERVICE_TYPE} whose endpoints and "
                      f"managers publish {listing}, so it cannot be told whether it runs dCache")
    if len({p.lower() for p in products}) == 1:
        return sorted(products)[0], None
    return " / ".join(sorted(names)), None


def _element(name: str, glue1: Entry | None, services: Sequence[_Glue2Service]) -> StorageElement:
    candidates: list[tuple[str, str]] = []
    notes: list[str] = []
    repeated: list[str] = []
    implementation: str | None = None
    if glue1 is not None:
        names = glue1.distinct("GlueSEImplementationName")
        if len(names) > 1:
            return StorageElement(name, None, problems=(glue1.conflict("GlueSEImplementationName"),))
        implementation = names[0] if names else None
        texts = glue1.distinct("GlueSEImplementationVersion")
        for text in texts:
            candidates.append((GLUE1, text))
            notes.append(f"{name}: {GLUE1} GlueSEImplementationVersion {text!r}")
        if len(texts) > 1:
            repeated.append(f"the {GLUE1} entry repeats the single-valued GlueSEImplementationVersion")
    # A GLUE 2 entry naming two products in its single-valued name cannot be
    # counted as dCache or not (as GLUE 1.3's GlueSEImplementationName above).
    for entry, attribute in [(e, "GLUE2EndpointImplementationName") for s in services for e in s.endpoints] + \
            [(m, "GLUE2ManagerProductName") for s in services for m in s.managers]:
        if len({v.strip().lower() for v in entry.get(attribute)}) > 1:
            return StorageElement(name, None, problems=(entry.conflict(attribute),))
    if implementation is None:
        implementation, problem = _glue2_implementation(name, services)
        if problem:
            return StorageElement(name, None, problems=(problem,))
    # (source, entry, version attribute, what, ID attribute) per dCache endpoint and manager.
    parts = [(GLUE2, e, "GLUE2EndpointImplementationVersion", "endpoint", "GLUE2EndpointID")
             for s in services for e in s.endpoints
             if _is_dcache_part(e.distinct("GLUE2EndpointImplementationName"), s)]
    # dCache's manager carries the PoolManager's release (what GLUE 1.3 publishes),
    # which can lag or lead the doors' in a rolling upgrade.
    parts += [(GLUE2_MANAGER, m, "GLUE2ManagerProductVersion", "manager", "GLUE2ManagerID")
              for s in services for m in s.managers
              if _is_dcache_part(m.distinct("GLUE2ManagerProductName"), s)]
    seen: set[tuple[str, str]] = set()
    for source, entry, attribute, what, id_attribute in parts:
        texts = entry.distinct(attribute)
        ident = " / ".join(entry.distinct(id_attribute)) or entry.dn
        if not texts:
            notes.append(f"{name}: {GLUE2} {what} {ident} publishes no {attribute}")
            continue
        for text in texts:
            notes.append(f"{name}: {GLUE2} {what} {ident} {attribute} {text!r}")
            if (source, text.strip()) not in seen:
                seen.add((source, text.strip()))
                candidates.append((source, text))
        if len(texts) > 1:
            repeated.append(f"{GLUE2} {what} {ident} repeats the single-valued {attribute}")
    if implementation is not None and implementation.strip().lower() != "dcache":
        versions = glue1.distinct("GlueSEImplementationVersion") if glue1 is not None else ()
        notes = [f"{name}: runs {implementation}{' ' + ', '.join(versions) if versions else ''}, not dCache"]
    looked_for = ("GlueSEImplementationVersion (GLUE 1.3)" if glue1 is not None else "")
    if services:
        looked_for += ((" or " if looked_for else "")
                       + "GLUE2EndpointImplementationVersion or GLUE2ManagerProductVersion (GLUE 2)")
    elif glue1 is not None:
        looked_for += " and has no GLUE 2 service"
    missing = f"{name} publishes no dCache version: no {looked_for}"
    return storage_element(name, implementation, candidates, missing, notes, repeated)
