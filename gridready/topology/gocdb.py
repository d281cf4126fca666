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
from urllib.parse import urlencode, urlsplit

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


def read_gocdb(source: str, deadline: Deadline, tls: TLSOptions) -> rec.SourceFacts:
    """Sites and services of ``source`` (URL or file). Raises SourceError if any document is unusable."""
    facts = rec.SourceFacts("GOCDB", rec.label(source))
    for location in locations(source):
        _, body = rec.read(location, deadline, tls, accept=_ACCEPT, what="GOCDB XML")
        with deadline.during(f"parsing GOCDB XML from {location}"):
            for index, chunk in enumerate(c for c in _DOCUMENT.split(body) if c.strip()):
                where = location if index == 0 else f"{location} (document {index + 1})"
                parse(chunk, where, facts)
    return facts


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


def parse(chunk: bytes, where: str, facts: rec.SourceFacts) -> None:
    """Add the SITE and SERVICE_ENDPOINT elements of one PI answer to ``facts``."""
    root = _root(chunk, where)
    if root.tag != "results":
        raise SourceError(f"{where}: not a GOCDB programmatic interface answer "
                          f"(root element <{str(root.tag)[:40]}>, expected <results>)")
    for number, element in enumerate(root.findall("SITE"), 1):
        _site(element, f"{where}: SITE #{number}", facts)
    for number, element in enumerate(root.findall("SERVICE_ENDPOINT"), 1):
        _service(element, f"{where}: SERVICE_ENDPOINT #{number}", facts)


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
    facts.sites.append(rec.SiteFact(name=name, source="GOCDB", tier=tier, tags=_scopes(element),
                                    bdii=rec.ldap_root(giis), excluded=excluded))


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
