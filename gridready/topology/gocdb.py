"""GOCDB programmatic interface (XML): sites from ``get_site``, services from ``get_service_endpoint``.

Element names are those GOCDB's PI writers emit: ``<results>`` holding
``<SITE NAME=...>`` (``SHORT_NAME``, ``TIER`` when set, ``GIIS_URL``,
``PRODUCTION_INFRASTRUCTURE``, ``CERTIFICATION_STATUS``, ``SCOPES/SCOPE``) and
``<SERVICE_ENDPOINT>`` (``HOSTNAME``, ``SERVICE_TYPE``, ``SITENAME``, ``URL``,
``IN_PRODUCTION`` Y/N, ``ENDPOINTS/ENDPOINT/URL``, ``SCOPES/SCOPE``). A file may
hold several answers one after the other (``curl URL1 URL2 > file``).

XML is parsed with defusedxml and any DTD is refused: a PI answer has none,
and entity expansion (the "billion laughs" bomb) must not reach the parser.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from gridready.deadline import Deadline
from gridready.errors import SourceError
from gridready.sources.http import TLSOptions, is_url
from gridready.topology import records as rec

_ACCEPT = "application/xml, text/xml;q=0.9"
_DOCUMENT = re.compile(rb"(?=<\?xml\b)")

#: GOCDB service types (compared case-insensitively) -> inventory kind.
SERVICE_KINDS = {"srm": rec.STORAGE, "srmv2": rec.STORAGE, "xrootd": rec.XROOTD,
                 "fts": rec.FTS, "fts3": rec.FTS, "org.glite.filetransfer": rec.FTS,
                 "site-bdii": rec.SITE_BDII}


def locations(source: str) -> list[str]:
    """What to read for ``--gocdb SOURCE``: a PI base URL gives both methods, anything else itself."""
    if is_url(source) and "method=" not in (urlsplit(source).query or ""):
        sep = "&" if "?" in source else "?"
        return [f"{source}{sep}{urlencode({'method': m})}" for m in ("get_site", "get_service_endpoint")]
    return [source]


#: Bound on the pages of one paged PI listing followed (a whole-grid listing is a few dozen).
MAX_PAGES = 1000


def read_gocdb(source: str, deadline: Deadline, tls: TLSOptions) -> rec.SourceFacts:
    """Sites and services of ``source`` (URL or file). Raises SourceError if any document is unusable.

    A paged PI answer (``<meta>`` with ``count``, ``max_page_size`` and a
    ``<link rel="next">``, GOCDB's cursor paging) is followed page by page
    when read from a URL; a saved file whose last page is full and points to
    a next one is refused, as it holds only part of the listing.
    """
    facts = rec.SourceFacts("GOCDB", rec.label(source))
    for first in locations(source):
        location: str | None = first
        pages = 0
        while location is not None:
            pages += 1
            if pages > MAX_PAGES:
                raise SourceError(f"{first}: more than {MAX_PAGES} pages of paged GOCDB answers; refused")
            _, body = rec.read(location, deadline, tls, accept=_ACCEPT, what="GOCDB XML")
            following: str | None = None
            with deadline.during(f"parsing GOCDB XML from {location}"):
                for index, chunk in enumerate(c for c in _DOCUMENT.split(body) if c.strip()):
                    where = location if index == 0 else f"{location} (document {index + 1})"
                    following = parse(chunk, where, facts)
            location = _follow(first, location, following)
    return facts


def _follow(first: str, location: str, following: str | None) -> str | None:
    """The next page to read after ``location`` (None: the listing is complete)."""
    if following is None:
        return None
    if not is_url(location):
        raise SourceError(f"{location}: ends with a full page of a paged GOCDB answer whose next page "
                          f"({following[:120]}) is not in the file: save every page, or give the PI URL")
    following = urljoin(location, following)    # GOCDB writes absolute links; a path is taken as on this server
    here, there = urlsplit(location), urlsplit(following)
    if (there.scheme.lower(), there.netloc.lower()) != (here.scheme.lower(), here.netloc.lower()):
        raise SourceError(f"{first}: paged GOCDB answer links its next page on another server "
                          f"({there.scheme}://{there.netloc}); refused")
    return following


def _root(chunk: bytes, where: str) -> Any:
    try:
        return fromstring(chunk, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise SourceError(f"{where}: refused XML with a DTD or entity declaration "
                          f"(a GOCDB answer has none; {type(exc).__name__})") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise SourceError(f"{where}: malformed XML at line {line} column {column + 1}") from None


def _text(element: Any, name: str) -> str:
    child = element.find(name)
    return " ".join((child.text or "").split()) if child is not None else ""


def _scopes(element: Any) -> frozenset[str]:
    return frozenset(" ".join((s.text or "").split()).lower()
                     for s in element.findall("SCOPES/SCOPE") if (s.text or "").strip())


def parse(chunk: bytes, where: str, facts: rec.SourceFacts) -> str | None:
    """Add the SITE and SERVICE_ENDPOINT elements of one PI answer to ``facts``.

    Returns the ``next`` link of a full page of a paged answer (more may
    follow), else None.
    """
    root = _root(chunk, where)
    if root.tag != "results":
        raise SourceError(f"{where}: not a GOCDB programmatic interface answer "
                          f"(root element <{str(root.tag)[:40]}>, expected <results>)")
    sites, services = root.findall("SITE"), root.findall("SERVICE_ENDPOINT")
    for number, element in enumerate(sites, 1):
        _site(element, f"{where}: SITE #{number}", facts)
    for number, element in enumerate(services, 1):
        _service(element, f"{where}: SERVICE_ENDPOINT #{number}", facts)
    return _next_page(root, len(sites) + len(services))


def _next_page(root: Any, items: int) -> str | None:
    # GOCDB links a next page after every non-empty page; one shorter than
    # max_page_size is the last (the next would be empty).
    meta = root.find("meta")
    if meta is None or items == 0:
        return None
    link = next((str(e.get("href") or "").strip() for e in meta.findall("link") if e.get("rel") == "next"), "")
    size = _text(meta, "max_page_size")
    if not link or (size.isdigit() and items < int(size)):
        return None
    return link


def _site(element: Any, where: str, facts: rec.SourceFacts) -> None:
    name = _text(element, "SHORT_NAME") or " ".join(str(element.get("NAME") or "").split())
    if not name:
        facts.problems.append(f"{where}: no SHORT_NAME; left out")
        return
    tier: int | None = None
    tier_text = _text(element, "TIER")
    if tier_text:
        match = re.fullmatch(r"(?:tier[ -]?)?(\d{1,2})", tier_text, re.I)
        if match:
            tier = int(match.group(1))
        else:
            facts.problems.append(f"{where} ({name}): TIER {tier_text[:40]!r} is not a tier number; ignored")
    excluded = ""
    infrastructure = _text(element, "PRODUCTION_INFRASTRUCTURE")
    status = _text(element, "CERTIFICATION_STATUS")
    if infrastructure and infrastructure.lower() != "production":
        excluded = f"GOCDB PRODUCTION_INFRASTRUCTURE is {infrastructure}"
    elif status and status.lower() != "certified":
        excluded = f"GOCDB CERTIFICATION_STATUS is {status}"
    giis = _text(element, "GIIS_URL") or str(element.get("GIIS_URL") or "")
    key = rec.gocdb_key(_text(element, "PRIMARY_KEY") or str(element.get("PRIMARY_KEY") or ""))
    facts.sites.append(rec.SiteFact(name=name, source="GOCDB", tier=tier, tags=_scopes(element),
                                    bdii=rec.ldap_root(giis), excluded=excluded, gocdb_key=key))


def _service(element: Any, where: str, facts: rec.SourceFacts) -> None:
    kind_name = _text(element, "SERVICE_TYPE")
    kind = SERVICE_KINDS.get(kind_name.lower())
    if kind is None:
        return
    host = _text(element, "HOSTNAME").lower()
    site = _text(element, "SITENAME")
    what = f"{where} ({kind_name}{', site ' + site if site else ''})"
    if not host:
        facts.problems.append(f"{what}: no HOSTNAME; left out")
        return
    if not site:
        facts.problems.append(f"{what} {host}: no SITENAME; left out")
        return
    if _text(element, "IN_PRODUCTION").upper() == "N":
        return
    urls = [_text(element, "URL")] + [_text(e, "URL") for e in element.findall("ENDPOINTS/ENDPOINT")]
    urls = [u for u in urls if u]
    tags = _scopes(element)
    if kind == rec.STORAGE:
        addresses = [host]
    elif kind == rec.XROOTD:
        addresses = [d for d in (rec.door(u) for u in urls if rec.url_host(u) == host) if d] or [f"{host}:1094"]
    elif kind == rec.FTS:
        # An FTS3 without a registered URL answers REST on 8446 (fts-rest).
        addresses = [u for u in urls if rec.url_host(u) == host] or [f"https://{host}:8446"]
    else:
        addresses = [rec.ldap_root(u) for u in urls if rec.ldap_root(u)] or [f"ldap://{host}:2170"]
    for address in addresses:
        facts.services.append(rec.ServiceFact(site=site, kind=kind, address=address, source="GOCDB",
                                              tags=tags))
