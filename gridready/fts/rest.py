"""FTS3 REST client: the link, storage and optimizer configuration of one server.

Reads ``/whoami`` (proves the credentials are accepted), ``/config/links``,
``/config/se``, ``/optimizer`` and ``/ban/se`` over HTTPS with an X.509 client
certificate or proxy (gridready.sources.http does the transport, TLS,
deadline and size bounds). Older FTS3 servers lack some of these resources
and answer 404 or an HTML page: that is "unsupported on this server", an
UNKNOWN, not a compliance failure. The documents are validated field by
field, since a server (or a proxy in front of it) may send anything.

``location`` may also be a saved configuration: one JSON file holding an
object keyed by the REST paths (``whoami``, ``config/links``, ``config/se``,
``optimizer``, and ``ban/se``), so a site admin can reproduce a result
offline; it is read through gridready.localfile (regular files only, size
cap, deadline). A saved file without ``ban/se`` leaves the banned SEs
unknown (``Fts3Config.banned`` None), which the check reports as UNKNOWN.

Payload shapes follow fts-rest (``controllers/config/links.py``,
``config/se.py``, ``banning.py``): links are
``{symbolicname, source, destination, min_active, max_active, ...}`` with
SE names or ``*``; ``/config/se`` is ``{SE: {"se_info": {inbound_max_active,
outbound_max_active, site, ...}, "operations": {...}}}`` (``*`` is the
default SE); ``/ban/se`` is a list of ``{se, vo, status, message,
addition_time, admin_dn}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gridready.errors import SourceError

if TYPE_CHECKING:
    from gridready.deadline import Deadline
    from gridready.sources.http import TLSOptions

#: The resources read, in order; whoami first so bad credentials fail on the cheapest call.
PATHS = ("whoami", "config/links", "config/se", "optimizer", "ban/se")
#: What a saved configuration must hold (``ban/se`` may be missing: then bans are unknown).
SAVED_REQUIRED = PATHS[:4]
#: Cap for a saved configuration file (a real one is a few hundred KiB).
SAVED_MAX_BYTES = 16 * 1024 * 1024
_LINK_INTS = ("min_active", "max_active", "nostreams", "tcp_buffer_size")


@dataclass(frozen=True)
class Link:
    """One ``/config/links`` entry; numbers the server left null are None."""

    name: str
    source: str
    destination: str
    min_active: int | None = None
    max_active: int | None = None
    nostreams: int | None = None
    tcp_buffer_size: int | None = None
    optimizer_mode: Any = None
    no_delegation: bool | None = None

    @property
    def pair(self) -> str:
        return f"{self.source} -> {self.destination}"


@dataclass(frozen=True)
class StorageConfig:
    """One ``/config/se`` entry: the SE name, its site if published, its ``*max_active`` limits."""

    name: str
    site: str | None = None
    limits: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    #: False for an entry holding only ``operations`` (fts-rest merges ``t_stage_req``
    #: rows into the same object): the server has no ``t_se`` row for it, so for
    #: transfers the ``*`` entry still applies (``getPairLimits`` reads ``t_se`` only).
    has_settings: bool = True

    @property
    def inbound_max_active(self) -> int | None:
        """Transfers at most into this SE; None when unset (a bare ``max_active`` counts both ways)."""
        return self.limits.get("inbound_max_active", self.limits.get("max_active"))

    @property
    def outbound_max_active(self) -> int | None:
        """Transfers at most out of this SE; None when unset."""
        return self.limits.get("outbound_max_active", self.limits.get("max_active"))


@dataclass(frozen=True)
class BannedStorage:
    """One ``/ban/se`` entry: the SE, the VO it is banned for (None: as stored), CANCEL/WAIT/WAIT_AS."""

    storage: str
    vo: str | None = None
    status: str | None = None
    message: str | None = None

    @property
    def all_vos(self) -> bool:
        """Whether the ban holds for every VO: fts-rest bans for the admin's VO, matching
        ``vo == <the file's VO> or vo == "*"`` at submission; older servers stored no VO."""
        return self.vo is None or self.vo == "*"


@dataclass(frozen=True)
class Fts3Config:
    location: str
    identity: str | None
    links: tuple[Link, ...]
    storages: tuple[StorageConfig, ...]
    optimizer: bool
    #: None when the banned SEs were not read (a saved file without ``ban/se``).
    banned: tuple[BannedStorage, ...] | None = ()


def read_fts3(location: str, deadline: Deadline, tls: TLSOptions) -> Fts3Config:
    """Read the configuration of the FTS3 server at ``location`` (URL or saved JSON file)."""
    from gridready.sources.http import is_url

    if is_url(location):
        base = location.rstrip("/")
        where = {path: f"{base}/{path}" for path in PATHS}
        docs = {PATHS[0]: _first_get(where[PATHS[0]], deadline, tls)}
        docs.update((path, _get(where[path], deadline, tls)) for path in PATHS[1:])
    else:
        docs, where = _saved(location, deadline)
    return Fts3Config(
        location=location, identity=parse_whoami(docs["whoami"], where["whoami"]),
        links=parse_links(docs["config/links"], where["config/links"]),
        storages=parse_storages(docs["config/se"], where["config/se"]),
        optimizer=parse_optimizer(docs["optimizer"], where["optimizer"]),
        banned=parse_banned(docs["ban/se"], where["ban/se"]) if "ban/se" in docs else None)


def _first_get(url: str, deadline: Deadline, tls: TLSOptions) -> Any:
    """The first request, where a refused client certificate shows up.

    Under TLS 1.3 a server that refuses the client certificate often just
    closes the connection, which the client sees as a bare EOF; say what
    that most likely means.
    """
    try:
        return _get(url, deadline, tls)
    except SourceError as exc:
        text = str(exc)
        if "TLS error" not in text and "connection closed" not in text:
            raise
        if not (tls.cert or tls.proxy):
            raise SourceError(f"{text}; no client certificate or proxy was given and FTS3 requires one "
                              "(--cert and --key, or --proxy)") from None
        raise SourceError(f"{text}; did the server refuse the client certificate "
                          "(is it issued by a CA the server trusts, and not expired)?") from None


def _get(url: str, deadline: Deadline, tls: TLSOptions) -> Any:
    from gridready.sources.http import fetch, looks_like_html, parse_json

    try:
        content_type, body = fetch(url, deadline, tls, accept="application/json")
    except SourceError as exc:
        # http.fetch words a 404 as "<url>: HTTP 404 ..."; older FTS3 servers
        # lack /config/* and /optimizer, which is not the site's fault.
        if str(exc).startswith(f"{url}: HTTP 404"):
            raise SourceError(f"{url}: unsupported on this server (HTTP 404 Not Found); "
                              "is it an FTS3 REST endpoint (port 8446) of a recent enough version?") from None
        raise
    if looks_like_html(content_type, body):
        raise SourceError(f"{url}: unsupported on this server (it answered an HTML page, not JSON); "
                          "is it an FTS3 REST endpoint (port 8446)?")
    return parse_json(body, content_type, url, from_url=True)


def _saved(path: str, deadline: Deadline) -> tuple[dict[str, Any], dict[str, str]]:
    from gridready.localfile import read_bytes
    from gridready.sources.http import parse_json

    what = "saved FTS3 configuration"
    with deadline.during(f"reading {what} {path}"):
        body = read_bytes(path, max_bytes=SAVED_MAX_BYTES, deadline=deadline, what=what)
    doc = parse_json(body, "", path, from_url=False)
    if not isinstance(doc, dict):
        raise SourceError(f"{path}: expected a JSON object keyed by FTS3 REST path "
                          f"({', '.join(PATHS)}), got {_kind(doc)}")
    missing = [p for p in SAVED_REQUIRED if p not in doc]
    if missing:
        raise SourceError(f"{path}: saved FTS3 configuration lacks {', '.join(repr(m) for m in missing)}")
    present = [p for p in PATHS if p in doc]
    return {p: doc[p] for p in present}, {p: f"{path} [{p}]" for p in PATHS}


def _shown(value: Any, limit: int = 60) -> str:
    """``value`` as quoted in one message line: its repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _kind(value: Any) -> str:
    return "null" if value is None else {dict: "an object", list: "a list", str: "a string",
                                         bool: "a boolean"}.get(type(value), type(value).__name__)


def parse_whoami(doc: Any, where: str) -> str | None:
    """The caller's DN as the server saw it."""
    if not isinstance(doc, dict):
        raise SourceError(f"{where}: expected a JSON object, got {_kind(doc)}")
    dn = doc.get("user_dn")
    if isinstance(dn, str) and dn:
        return dn
    dns = doc.get("dn")
    if isinstance(dns, list) and dns and isinstance(dns[0], str):
        return dns[0]
    return None


def _opt_int(item: Mapping[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"{where}: '{key}' is {_kind(value)} {_shown(value)}, expected a whole number")
    return value


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SourceError(f"{where}: '{key}' is {_kind(value)}, expected a non-empty string")
    return value.strip()


def parse_links(doc: Any, where: str) -> tuple[Link, ...]:
    """``/config/links``: a list of link objects (an object keyed by symbolic name is accepted too)."""
    if isinstance(doc, dict) and all(isinstance(v, dict) for v in doc.values()):
        items = [dict(v, symbolicname=v.get("symbolicname", k)) for k, v in doc.items()]
    elif isinstance(doc, list):
        items = doc
    else:
        raise SourceError(f"{where}: expected a list of links, got {_kind(doc)}")
    links: list[Link] = []
    for i, item in enumerate(items):
        here = f"{where}: link {i}"
        if not isinstance(item, dict):
            raise SourceError(f"{here} is {_kind(item)}, expected an object")
        name = _text(item, "symbolicname", here)
        here = f"{where}: link {name}"
        ints = {key: _opt_int(item, key, here) for key in _LINK_INTS}
        no_delegation = item.get("no_delegation")
        links.append(Link(name=name, source=_text(item, "source", here),
                          destination=_text(item, "destination", here),
                          optimizer_mode=item.get("optimizer_mode"),
                          no_delegation=no_delegation if isinstance(no_delegation, bool) else None,
                          **ints))
    return tuple(links)


def parse_storages(doc: Any, where: str) -> tuple[StorageConfig, ...]:
    """``/config/se``: an object keyed by SE name, each with its settings directly or under ``se_info``."""
    if isinstance(doc, list):
        named: list[tuple[str, Any]] = []
        for i, item in enumerate(doc):
            if not isinstance(item, dict):
                raise SourceError(f"{where}: SE {i} is {_kind(item)}, expected an object")
            key = next((k for k in ("storage", "se", "name") if isinstance(item.get(k), str)), None)
            if key is None:
                raise SourceError(f"{where}: SE {i} has no 'storage' name")
            named.append((item[key], item))
    elif isinstance(doc, dict):
        named = list(doc.items())
    else:
        raise SourceError(f"{where}: expected an object keyed by SE, got {_kind(doc)}")
    storages: list[StorageConfig] = []
    for name, item in named:
        here = f"{where}: SE {name}"
        if not isinstance(item, dict):
            raise SourceError(f"{here} is {_kind(item)}, expected an object")
        if "se_info" in item:
            info, has_settings = item["se_info"], True
        else:
            # Settings written directly in the entry are accepted too; "operations"
            # (staging/delete limits) say nothing about transfers.
            info = {k: v for k, v in item.items() if k != "operations"}
            has_settings = bool(info)
        if info is None:
            info = {}
        if not isinstance(info, dict):
            raise SourceError(f"{here}: 'se_info' is {_kind(info)}, expected an object")
        limits: dict[str, int] = {}
        for key in sorted(info):
            if str(key).endswith("max_active"):
                value = _opt_int(info, key, here)
                if value is not None:
                    limits[str(key)] = value
        site = info.get("site")
        storages.append(StorageConfig(name=str(name), site=site if isinstance(site, str) and site else None,
                                      limits=MappingProxyType(limits), has_settings=has_settings))
    return tuple(storages)


def parse_banned(doc: Any, where: str) -> tuple[BannedStorage, ...]:
    """``/ban/se``: a list of ``{se, vo, status, message, ...}`` objects (fts-rest ``BannedSE``)."""
    if not isinstance(doc, list):
        raise SourceError(f"{where}: expected a list of banned SEs, got {_kind(doc)}")
    banned: list[BannedStorage] = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            raise SourceError(f"{where}: banned SE {i} is {_kind(item)}, expected an object")
        storage = _text(item, "se", f"{where}: banned SE {i}")
        extra: dict[str, str | None] = {}
        for key in ("vo", "status", "message"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise SourceError(f"{where}: banned SE {storage}: '{key}' is {_kind(value)}, expected a string")
            extra[key] = value.strip() or None if isinstance(value, str) else None
        banned.append(BannedStorage(storage, **extra))
    return tuple(banned)


def parse_optimizer(doc: Any, where: str) -> bool:
    """``/optimizer``: a boolean (also accepted: ``"true"``/``"false"``, ``{"enabled": bool}``)."""
    if isinstance(doc, dict) and "enabled" in doc:
        doc = doc["enabled"]
    if isinstance(doc, bool):
        return doc
    if isinstance(doc, str) and doc.strip().lower() in ("true", "false"):
        return doc.strip().lower() == "true"
    raise SourceError(f"{where}: expected true or false, got {_kind(doc)} {str(doc)[:40]!r}")
