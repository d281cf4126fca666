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

The answer (or a saved copy) is untrusted input. XML is parsed as a stream
with expat, never built into a tree: a DOCTYPE or entity declaration anywhere
is refused (the info service never sends one; this rules out entity expansion
"billion laughs" and external entities, as defusedxml's ``forbid_dtd`` does),
and elements nested deeper than :data:`MAX_DEPTH` are refused. JSON nesting is
bounded the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from gridready.errors import SourceError

if TYPE_CHECKING:
    from gridready.deadline import Deadline

SOURCE = "info service"

#: Releases a cell reports when it does not know its own: dCache's cell base class
#: says "cells" when the cells jar has no specification version (1.9.x, 2.x), a
#: CellInfo without a version says "Unknown", and a jar without an
#: Implementation-Version gives "undefined" (dCache sources: CellAdapter,
#: CellVersion, org.dcache.util.Version). They say nothing about the release.
PLACEHOLDERS = frozenset({"cells", "unknown", "undefined"})

#: What to ask the info service for; it can answer XML (all versions) or JSON (2.x+).
ACCEPT = "application/xml, text/xml;q=0.9, application/json;q=0.8"

#: Deepest element nesting accepted. The info tree is about ten levels deep
#: (dCache/domains/domain/cells/cell/version/metric, pools a little deeper).
MAX_DEPTH = 64
# Bytes fed to expat between two deadline checks.
_XML_CHUNK = 1024 * 1024


def releases(content_type: str, body: bytes, where: str,
             deadline: Deadline | None = None) -> list[tuple[str, str]]:
    """(source, release) per distinct release in an info service answer.

    Cells reporting a placeholder (:data:`PLACEHOLDERS`) are left out; an answer
    with nothing else is a SourceError.

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
        found = _xml_releases(body, where, deadline)
    if not found:
        raise SourceError(f"{where}: no version/release in the dCache info service answer "
                          "(expected domains/<domain>/cells/<cell>/version/release)")
    known = [(cell, release) for cell, release in found if release.strip().lower() not in PLACEHOLDERS]
    if not known:
        # Evidence rule: placeholders are no version at all, so nothing can be judged.
        shown = ", ".join(repr(r) for r in dict.fromkeys(r.strip() for _, r in found))
        raise SourceError(f"{where}: no cell of the dCache info service answer reports its release "
                          f"(only {shown}, which cells report when they do not know it)")
    return _group(known)


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


class _Refused(Exception):
    """Raised from an expat handler to stop parsing; the message is the reason."""


def _xml_releases(body: bytes, where: str, deadline: Deadline | None = None) -> list[tuple[str, str]]:
    """(cell label, release) for every ``version/metric[@name=release]``, streamed."""
    from xml.parsers import expat

    parser = expat.ParserCreate(namespace_separator="}")
    # Path of (domains|cells, name) pairs above the current element, for labels.
    named: list[tuple[str, ...]] = [()]
    tags: list[str] = []
    found: list[tuple[str, str]] = []
    text: list[str] | None = None

    def refuse_dtd(*_: Any) -> None:
        raise _Refused("XML with a DOCTYPE/ENTITY declaration is not accepted from the info service")

    def refuse_external(*_: Any) -> int:
        refuse_dtd()
        return 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal text
        if len(tags) >= MAX_DEPTH:
            raise _Refused(f"XML nested deeper than {MAX_DEPTH} elements, not a dCache info "
                           "service answer")
        tag = name.rsplit("}", 1)[-1]
        parent = tags[-1] if tags else ""
        tags.append(tag)
        label_name = attrs.get("name")
        if tag in ("domain", "cell") and label_name:
            named.append(named[-1] + (tag + "s", label_name))
        else:
            named.append(named[-1])
        if tag == "metric" and parent == "version" and attrs.get("name") == "release":
            text = []

    def characters(data: str) -> None:
        if text is not None:
            text.append(data)

    def end(name: str) -> None:
        nonlocal text
        tag = tags.pop()
        named.pop()
        if text is not None and tag == "metric":
            # named[-1] is now the version element's path; its cell is above it.
            found.append((_cell_label(named[-1]), "".join(text).strip()))
            text = None

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.UnparsedEntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        for offset in range(0, len(body), _XML_CHUNK):
            if deadline is not None:
                deadline.remaining()
            parser.Parse(body[offset:offset + _XML_CHUNK], False)
        parser.Parse(b"", True)
    except _Refused as exc:
        raise SourceError(f"{where}: {exc}") from None
    except expat.ExpatError as exc:
        raise SourceError(f"{where}: malformed XML at line {exc.lineno} column {exc.offset + 1}") from None
    return found
