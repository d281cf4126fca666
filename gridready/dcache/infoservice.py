"""The dCache version from the dCache info service (``http://host:2288/info``), XML or JSON.

The info service answers with the state of every domain and cell; each cell
reports ``version/release``. In XML::

    <dCache xmlns="http://www.dcache.org/2008/01/Info">
      <domains><domain name="dCacheDomain"><cells><cell name="PoolManager">
        <version><metric name="release" type="string">1.9.5-19</metric>...

and in JSON ``{"domains": {"dCacheDomain": {"cells": {"PoolManager":
{"version": {"release": "2.10.62"}}}}}}``. A URL that points into the tree
(``/info/domains/dCacheDomain``) gives the same shape, cut down. Cells of one
instance can run different releases in the middle of an upgrade; every distinct
release is reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from gridready.errors import SourceError

SOURCE = "info service"

#: What to ask the info service for; it can answer XML (all versions) or JSON (2.x+).
ACCEPT = "application/xml, text/xml;q=0.9, application/json;q=0.8"


def releases(content_type: str, body: bytes, where: str) -> list[tuple[str, str]]:
    """(source, release) per distinct release in an info service answer.

    ``source`` says which cells report it, e.g. "info service (PoolManager@dCacheDomain)"
    or "info service (12 cells)". Raises SourceError naming ``where`` for an
    HTML page, malformed XML/JSON, or an answer without any release.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    start = body.lstrip()[:64].lower()
    if media in ("text/html", "application/xhtml+xml") or start.startswith((b"<!doctype html", b"<html")):
        raise SourceError(f"{where}: returned an HTML page, not dCache info service XML or JSON "
                          "(is this the info service, e.g. http://host:2288/info?)")
    if not start:
        raise SourceError(f"{where}: empty answer, expected dCache info service XML or JSON")
    if media.endswith("json") or start[:1] in (b"{", b"[", b'"'):
        found = list(_json_releases(_parse_json(body, where)))
    else:
        found = list(_xml_releases(body, where))
    if not found:
        raise SourceError(f"{where}: no version/release in the dCache info service answer "
                          "(expected domains/<domain>/cells/<cell>/version/release)")
    return _group(found)


def _group(found: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    cells: dict[str, list[str]] = {}
    for cell, release in found:
        cells.setdefault(release.strip(), []).append(cell)
    grouped: list[tuple[str, str]] = []
    for release, names in cells.items():
        label = names[0] if len(names) == 1 else f"{len(names)} cells"
        grouped.append((f"{SOURCE} ({label})", release))
    return grouped


def _parse_json(body: bytes, where: str) -> Any:
    from gridready.sources.http import parse_json

    try:
        return parse_json(body, "application/json", where)
    except RecursionError:
        # json.loads recurses per nesting level; a hostile body can exhaust the stack.
        raise SourceError(f"{where}: JSON nested too deeply") from None


def _json_releases(node: Any, path: tuple[str, ...] = (), depth: int = 0) -> Iterator[tuple[str, str]]:
    # The tree is a few levels deep; the bound only guards against hostile nesting.
    if depth > 12:
        return
    if isinstance(node, str) and not path:
        yield "release", node  # a URL pointing at .../version/release itself
        return
    if not isinstance(node, dict):
        return
    version = node.get("version")
    if isinstance(version, dict) and isinstance(version.get("release"), str):
        yield _cell_label(path), version["release"]
    elif isinstance(node.get("release"), str) and path[-1:] == ("version",):
        yield _cell_label(path[:-1]), node["release"]
    for key, value in node.items():
        if key != "version" and isinstance(value, dict):
            yield from _json_releases(value, path + (str(key),), depth + 1)


def _cell_label(path: tuple[str, ...]) -> str:
    """"cell@domain" from a path like ("domains", "dCacheDomain", "cells", "PoolManager")."""
    domain = _after(path, "domains")
    cell = _after(path, "cells")
    if cell and domain:
        return f"{cell}@{domain}"
    return cell or domain or "/".join(path) or "top level"


def _after(path: tuple[str, ...], key: str) -> str | None:
    for index in range(len(path) - 1):
        if path[index] == key:
            return path[index + 1]
    return None


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _xml_releases(body: bytes, where: str) -> Iterator[tuple[str, str]]:
    import xml.etree.ElementTree as ET

    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in head:
        # The info service never sends a DTD; refusing one rules out entity tricks.
        raise SourceError(f"{where}: XML with a DOCTYPE/ENTITY declaration is not accepted "
                          "from the info service")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        line, column = exc.position
        raise SourceError(f"{where}: malformed XML at line {line} column {column + 1}") from None
    yield from _walk(root, (), 0)


def _walk(element: Any, path: tuple[str, ...], depth: int) -> Iterator[tuple[str, str]]:
    if depth > 12:
        return
    tag = _local(element.tag)
    if tag == "version":
        for metric in element:
            if _local(metric.tag) == "metric" and metric.get("name") == "release":
                yield _cell_label(path), (metric.text or "").strip()
        return
    named = path + ((tag + "s", element.get("name")) if element.get("name") and tag in ("domain", "cell")
                    else ())
    for child in element:
        yield from _walk(child, named, depth + 1)
