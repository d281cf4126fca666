"""The xrootd protocol string a site publishes, and the rule that judges it.

The 2010 GDB found xrootd access published as ``root``, ``xrootd`` and
``xroot``. The agreed string is ``xroot`` (GLUE 2 ``GLUE2EndpointInterfaceName``
per the OGF enumeration, GLUE 1.3 ``GlueSEAccessProtocolType`` per the WLCG/dCache
proposal); anything else, including case variants, is non-compliant, and the
endpoint URL must use the ``root://`` or ``xroot://`` scheme.

Three places are read, each giving ``Publication`` records:

* GLUE 1.3 (``o=grid``): ``GlueSEAccessProtocol`` entries (``...Type``,
  ``...Endpoint``), tied to their SE by ``GlueChunkKey: GlueSEUniqueID=<se>``
  and the SE to its site by ``GlueForeignKey: GlueSiteUniqueID=<site>``;
* GLUE 2 (``o=glue``): ``GLUE2Endpoint`` entries (``...InterfaceName``,
  ``...URL``), tied to their service by ``GLUE2EndpointServiceForeignKey`` and
  the service to its site by ``GLUE2ServiceAdminDomainForeignKey``;
* SRR JSON: ``storageservice.storageendpoints[]`` (``interfacetype``,
  ``endpointurl``).

A record is about xrootd when its protocol string is one of the known spellings
or its URL has an xrootd scheme; it is about a door when its URL names that
host and port (1094 when the URL has none), or, lacking a URL, when its SE is
that host. Reading is I/O through the sources; ``judge`` is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gridready.checks.interface import Finding, Severity
from gridready.errors import SourceError

if TYPE_CHECKING:
    from gridready.sources.bdii import Bdii, Entry

DEFAULT_PORT = 1094
CANONICAL = "xroot"
#: URL schemes the 2010 rule accepts for an xrootd endpoint.
DEFAULT_SCHEMES = ("root", "xroot")
#: Spellings seen for xrootd access (compared case-insensitively) ...
KNOWN_NAMES = frozenset({"xroot", "root", "xrootd", "xroots", "roots"})
#: ... and URL schemes that mean xrootd (TLS variants included).
XROOTD_SCHEMES = frozenset({"root", "xroot", "roots", "xroots"})

GLUE13 = "GLUE 1.3"
GLUE2 = "GLUE 2"
SRR = "SRR"


@dataclass(frozen=True, order=True)
class Door:
    """An xrootd service address."""

    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def same(self, other: Door) -> bool:
        """Same port and host; host names compare without case and without a trailing
        dot (``xrd.example.`` is ``xrd.example`` in DNS)."""
        return self.port == other.port and _host_key(self.host) == _host_key(other.host)


def _host_key(host: str) -> str:
    return host.rstrip(".").casefold() or host


@dataclass(frozen=True)
class Publication:
    """One published xrootd access record."""

    schema: str            # GLUE13, GLUE2 or SRR
    source: str            # the BDII URI / LDIF file / SRR URL or file it came from
    owner: str             # SE unique ID, GLUE 2 endpoint ID or SRR endpoint name
    name_attr: str         # GlueSEAccessProtocolType, GLUE2EndpointInterfaceName, interfacetype
    name: str | None
    url_attr: str          # GlueSEAccessProtocolEndpoint, GLUE2EndpointURL, endpointurl
    url: str | None
    se: str | None = None  # GLUE 1.3: the SE the record belongs to

    @property
    def where(self) -> str:
        return f"{self.schema} {self.owner}"

    def describe(self) -> str:
        return (f"{self.schema} in {self.source}: {self.owner}: {self.name_attr}="
                f"{self.name if self.name is not None else '(missing)'} {self.url_attr}="
                f"{self.url if self.url is not None else '(missing)'}")


# --- recognising and matching --------------------------------------------------


def parse_door(text: str, default_port: int = DEFAULT_PORT) -> Door:
    """``host``, ``host:port``, ``[v6]:port``, bare IPv6, or an xrootd URL; ValueError otherwise."""
    value = text.strip()
    if not value:
        raise ValueError("empty host")
    if "://" in value:
        scheme = value.split("://", 1)[0].lower()
        if scheme not in XROOTD_SCHEMES:
            raise ValueError(f"{text!r}: not an xrootd URL (expected root://, xroot://, "
                             "roots:// or xroots://)")
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{text!r}: bad port") from None
        if not parts.hostname:
            raise ValueError(f"{text!r}: no host in URL")
        return Door(parts.hostname, port or default_port)
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or not host or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: bad bracketed IPv6 address")
        return Door(host, _port(rest[1:], text) if rest else default_port)
    if value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if not host:
            raise ValueError(f"{text!r}: no host")
        return Door(host, _port(port_text, text))
    if any(char.isspace() or char in "/?#@" for char in value):
        raise ValueError(f"{text!r}: not a host name")
    return Door(value, default_port)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: bad port {text!r}")
    return int(text)


def scheme_of(url: str) -> str | None:
    return url.split("://", 1)[0].strip().lower() if "://" in url else None


def url_door(url: str | None) -> Door | None:
    """The host and port a published URL points to, whatever its scheme; None if unreadable."""
    if not url:
        return None
    text = url.strip()
    try:
        if "://" not in text:
            return parse_door(text.split("/", 1)[0])
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    return Door(parts.hostname, port or DEFAULT_PORT) if parts.hostname else None


def is_xrootd(name: str | None, url: str | None) -> bool:
    """Whether a record is about xrootd access: by its protocol string or its URL scheme."""
    if name is not None and name.strip().casefold() in KNOWN_NAMES:
        return True
    scheme = scheme_of(url) if url else None
    return scheme in XROOTD_SCHEMES


def serves(publication: Publication, door: Door) -> bool:
    """Whether ``publication`` describes ``door``."""
    target = url_door(publication.url)
    if target is not None:
        return target.same(door)
    return publication.se is not None and _host_key(publication.se) == _host_key(door.host)


def select(publications: Iterable[Publication], door: Door | None) -> list[Publication]:
    """The xrootd records, for ``door`` only when one is given; duplicates dropped.

    Linear in the number of records (a set remembers what was kept), so an
    SRR listing tens of thousands of endpoints costs milliseconds.
    """
    chosen: list[Publication] = []
    seen: set[Publication] = set()
    for publication in publications:
        if publication in seen or not is_xrootd(publication.name, publication.url):
            continue
        if door is not None and not serves(publication, door):
            continue
        seen.add(publication)
        chosen.append(publication)
    return chosen


# --- reading the sources -----------------------------------------------------------


def _glue13_record(source: str, entry: Entry) -> Publication:
    se = None
    for key in entry.get("GlueChunkKey"):
        name, _, value = key.partition("=")
        if name.strip().lower() == "glueseuniqueid" and value.strip():
            se = value.strip()
    if se is None:
        # No chunk key: the SE is the parent entry in the DN.
        for rdn in entry.dn.split(",")[1:]:
            name, _, value = rdn.partition("=")
            if name.strip().lower() == "glueseuniqueid":
                se = value.strip()
                break
    local = entry.first("GlueSEAccessProtocolLocalID") or entry.dn.split(",", 1)[0]
    return Publication(GLUE13, source, f"{se or '?'}/{local}", "GlueSEAccessProtocolType",
                       entry.first("GlueSEAccessProtocolType"), "GlueSEAccessProtocolEndpoint",
                       entry.first("GlueSEAccessProtocolEndpoint"), se)


#: Up to this many parents, children are asked for one parent at a time (a few
#: small LDAP searches); beyond it, all children are read once and matched
#: through a set, so the work stays linear in the size of the BDII.
PER_PARENT_QUERIES = 8


def _children(bdii: Bdii, object_class: str, key: str, prefix: str, parents: Sequence[str],
              suffix: str) -> list[Entry]:
    """Entries of ``object_class`` whose ``key`` is ``prefix + parent`` for one of ``parents``."""
    if len(parents) <= PER_PARENT_QUERIES:
        found: list[Entry] = []
        for parent in dict.fromkeys(parents):
            found += bdii.find(object_class, {key: prefix + parent}, suffix=suffix)
        return found
    # Compared case-insensitively, as a BDII compares GLUE attribute values.
    wanted = {(prefix + parent).lower() for parent in parents}
    return [entry for entry in bdii.find(object_class, suffix=suffix)
            if any(value.lower() in wanted for value in entry.get(key))]


def glue13_for(bdii: Bdii, source: str, *, site: str | None) -> tuple[list[Publication], bool]:
    """GLUE 1.3 access protocols (of ``site``'s SEs, or all) and whether the source
    describes that storage at all (the site has a GlueSE, or any access protocol is
    published): without it, finding no xrootd record proves nothing."""
    if site is None:
        entries = bdii.find("GlueSEAccessProtocol", suffix="o=grid")
        return [_glue13_record(source, entry) for entry in entries], bool(entries)
    ses = bdii.find("GlueSE", {"GlueForeignKey": f"GlueSiteUniqueID={site}"}, suffix="o=grid")
    ids = [se_id for se in ses if (se_id := se.first("GlueSEUniqueID"))]
    entries = _children(bdii, "GlueSEAccessProtocol", "GlueChunkKey", "GlueSEUniqueID=", ids, "o=grid")
    return [_glue13_record(source, entry) for entry in entries], bool(ses)


def read_glue13(bdii: Bdii, source: str, *, site: str | None) -> list[Publication]:
    """GLUE 1.3 access protocols: those of ``site``'s SEs, or every one when site is None."""
    return glue13_for(bdii, source, site=site)[0]


def _glue2_record(source: str, entry: Entry) -> Publication:
    owner = entry.first("GLUE2EndpointID") or entry.dn.split(",", 1)[0]
    return Publication(GLUE2, source, owner, "GLUE2EndpointInterfaceName",
                       entry.first("GLUE2EndpointInterfaceName"), "GLUE2EndpointURL",
                       entry.first("GLUE2EndpointURL"))


def glue2_for(bdii: Bdii, source: str, *, site: str | None) -> tuple[list[Publication], bool]:
    """GLUE 2 endpoints (of ``site``'s services, or all) and whether the source describes
    that site's services (or any endpoint) at all; see ``glue13_for``."""
    if site is None:
        entries = bdii.find("GLUE2Endpoint", suffix="o=glue")
        return [_glue2_record(source, entry) for entry in entries], bool(entries)
    services = bdii.find("GLUE2Service", {"GLUE2ServiceAdminDomainForeignKey": site}, suffix="o=glue")
    ids = [service_id for service in services if (service_id := service.first("GLUE2ServiceID"))]
    entries = _children(bdii, "GLUE2Endpoint", "GLUE2EndpointServiceForeignKey", "", ids, "o=glue")
    return [_glue2_record(source, entry) for entry in entries], bool(services)


def read_glue2(bdii: Bdii, source: str, *, site: str | None) -> list[Publication]:
    """GLUE 2 endpoints: those of ``site``'s services, or every one when site is None."""
    return glue2_for(bdii, source, site=site)[0]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def read_srr(document: Any, source: str) -> list[Publication]:
    """The storage endpoints of an SRR document; a malformed one raises SourceError."""
    service = document.get("storageservice") if isinstance(document, Mapping) else None
    if not isinstance(service, Mapping):
        raise SourceError(f"{source}: not an SRR document (no 'storageservice' object)")
    # Absent is not "none": without the list the document says nothing about
    # endpoints (callers see an empty result and must not read it as a fact).
    endpoints = service.get("storageendpoints", [])
    if not isinstance(endpoints, list):
        raise SourceError(f"{source}: SRR 'storageservice.storageendpoints' is not a list")
    records: list[Publication] = []
    for index, endpoint in enumerate(endpoints):
        if not isinstance(endpoint, Mapping):
            raise SourceError(f"{source}: SRR storageendpoints[{index}] is not an object")
        owner = _text(endpoint.get("name")) or f"storageendpoints[{index}]"
        records.append(Publication(SRR, source, owner, "interfacetype", _text(endpoint.get("interfacetype")),
                                   "endpointurl", _text(endpoint.get("endpointurl"))))
    return records


# --- the rule ------------------------------------------------------------------------


def judge(publication: Publication, protocol: str = CANONICAL,
          schemes: Sequence[str] = DEFAULT_SCHEMES) -> list[Finding]:
    """Findings for one record: its protocol string and its endpoint URL."""
    findings: list[Finding] = []
    where = publication.where
    name = publication.name
    if name == protocol:
        findings.append(Finding(True, f"{where} publishes {publication.name_attr} '{protocol}'"))
    else:
        shown = f"'{name}'" if name is not None else "nothing"
        findings.append(Finding(
            False, f"{where} publishes {publication.name_attr} {shown}, not '{protocol}'",
            f"publish {publication.name_attr}: {protocol} for {publication.owner} "
            f"({publication.schema}, {publication.source})"
            + (f" instead of '{name}'" if name is not None else "")))
    url = publication.url
    allowed = " or ".join(f"{s}://" for s in schemes)
    if url is None or not url.strip():
        findings.append(Finding(
            False, f"{where} publishes no {publication.url_attr}",
            f"publish {publication.url_attr} as {schemes[0]}://host:port for {publication.owner}",
            Severity.WARNING))
    elif scheme_of(url) not in {s.lower() for s in schemes}:
        findings.append(Finding(
            False, f"{where} {publication.url_attr} '{url}' is not a {allowed} URL",
            f"publish {publication.url_attr} as {schemes[0]}://host:port for {publication.owner}"))
    return findings
