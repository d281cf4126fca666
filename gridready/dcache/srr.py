"""The dCache version from a WLCG Storage Resource Reporting (SRR) document.

An SRR JSON describes one storage service: ``storageservice.implementation``
("dCache") and ``storageservice.implementationversion``.
"""

from __future__ import annotations

from typing import Any

from gridready.dcache.observed import StorageElement, storage_element
from gridready.errors import SourceError

SOURCE = "SRR"


def read_srr(document: Any, where: str, se: str | None = None) -> StorageElement:
    """The storage element an SRR ``document`` (parsed JSON) describes; ``where`` names its URL/file."""
    if not isinstance(document, dict):
        raise SourceError(f"{where}: expected an SRR JSON object, got a JSON {_kind(document)}")
    service = document.get("storageservice")
    if not isinstance(service, dict):
        raise SourceError(f"{where}: no 'storageservice' object in the SRR JSON "
                          f"(top-level keys: {', '.join(sorted(map(str, document))) or 'none'})")
    name = se or _text(service.get("name")) or _text(service.get("id")) or where
    implementation = _text(service.get("implementation"))
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


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")
