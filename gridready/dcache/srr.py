"""The dCache version from a WLCG Storage Resource Reporting (SRR) document.

An SRR JSON describes one storage service: ``storageservice.implementation``
("dCache") and ``storageservice.implementationversion``.

With ``--se HOST`` the document must be about HOST: when it names itself
(``name``, ``id``) or its endpoints (``storageendpoints[].endpointurl``) and
none of those is HOST, judging HOST on it would judge one SE on another's
version, so the result is UNKNOWN naming what the SRR describes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gridready.dcache.observed import StorageElement, storage_element
from gridready.errors import SourceError
from gridready.escape import listed, shorten

SOURCE = "SRR"


def read_srr(document: Any, where: str, se: str | None = None) -> StorageElement:
    """The storage element an SRR ``document`` (parsed JSON) describes; ``where`` names its URL/file."""
    if not isinstance(document, dict):
        raise SourceError(f"{where}: expected an SRR JSON object, got a JSON {_kind(document)}")
    service = document.get("storageservice")
    if not isinstance(service, dict):
        raise SourceError(f"{where}: no 'storageservice' object in the SRR JSON "
                          f"(top-level keys: {listed(sorted(map(str, document)), 5, 80) or 'none'})")
    own_name = _text(service.get("name")) or _text(service.get("id"))
    name = se or own_name or where
    if se:
        identities = _identities(service)
        if identities and se.strip().lower() not in identities:
            described = shorten(own_name, 80) if own_name else "another storage service"
            return StorageElement(se, None, problems=(
                f"{se}: SRR {where} describes {described}, not {se} (its names and endpoint "
                f"hosts: {listed(sorted(identities), 5, 80)})",))
    implementation = _text(service.get("implementation"))
    # Quoted in messages ("runs X, not dCache"): cut, as no product name is this long.
    implementation = shorten(implementation, 80) if implementation else implementation
    version = service.get("implementationversion")
    candidates: list[tuple[str, str]] = []
    notes = [f"{name}: SRR implementation {implementation!r}, implementationversion {version!r}"]
    if isinstance(version, str) and version.strip():
        candidates.append((SOURCE, version))
    missing = (f"{name}: SRR {where} has no storageservice.implementationversion"
               if version is None or (isinstance(version, str) and not version.strip()) else
               f"{name}: SRR {where} storageservice.implementationversion is a JSON "
               f"{_kind(version)}, not a string")
    if implementation is None:
        # An SRR says what it describes; without it the version cannot be read as dCache's.
        return StorageElement(name, None, problems=(
            f"{name}: SRR {where} has no storageservice.implementation, so it cannot be told "
            "whether it runs dCache",), notes=tuple(notes))
    return storage_element(name, implementation, candidates, missing, notes)


def _identities(service: dict[str, Any]) -> set[str]:
    """Lower-cased names and endpoint hosts the SRR gives for its service."""
    found = {t.lower() for t in (_text(service.get("name")), _text(service.get("id"))) if t}
    endpoints = service.get("storageendpoints")
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        url = endpoint.get("endpointurl") if isinstance(endpoint, dict) else None
        if isinstance(url, str):
            try:
                host = urlsplit(url.strip()).hostname
            except ValueError:
                host = None
            if host:
                found.add(host.lower())
    return found




def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")
