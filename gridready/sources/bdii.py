"""The BDII/GLUE data source: a live BDII over LDAP, or a saved LDIF dump.

Checks ask one question, "which entries of object class X under suffix S have
these attribute values", through ``Bdii.find``; ``open_bdii`` picks the
implementation from the URI. Both implementations give the same answers for the
same data, so a site admin can reproduce a probe result from a dump.

A live BDII is searched anonymously with ldap3, imported only for ``ldap://``
URIs (probes start thousands of times per hour and most never talk LDAP).
Every blocking step runs under ``deadline.during(...)`` naming host and step,
and every socket read is bounded by what is left of the deadline, so a BDII
that trickles its answer cannot hold a probe past its ``-t``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from gridready.errors import CheckTimeout, SourceError
from gridready.sources.glue_schema import is_single_valued

if TYPE_CHECKING:
    import socket

    from gridready.deadline import Deadline

# BDIIs (resource, site and top level) all listen on 2170, not LDAP's 389.
DEFAULT_PORT = 2170

# Attribute and object class names are spliced into the filter unescaped, so
# they must be names; values are always escaped.
_NAME = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)\Z")


class ConflictingValues(SourceError):
    """An entry repeats a single-valued attribute with different values.

    The GLUE schemas declare most attributes SINGLE-VALUE, and slapd refuses a
    second value; a hand-merged dump or a server loaded without the schema can
    still carry two. Picking one silently would judge on whichever came first,
    so :meth:`Entry.first` raises this instead; consumers that can judge on all
    values read them with :meth:`Entry.get`.
    """


@dataclass(frozen=True)
class Entry:
    """One directory entry. Attribute names are lower-cased; values keep their case.

    ``source`` names where the entry was read (the LDIF file or the ldap://
    URI) for messages; it takes no part in equality.
    """

    dn: str
    attrs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Callers and tests build entries by hand with any name case; normalise
        # once here so every lookup can be a plain dict access.
        merged: dict[str, tuple[str, ...]] = {}
        for name, values in self.attrs.items():
            if isinstance(values, str):
                values = (values,)
            key = name.lower()
            merged[key] = merged.get(key, ()) + tuple(values)
        object.__setattr__(self, "attrs", MappingProxyType(merged))

    def __hash__(self) -> int:
        return hash((self.dn, tuple(sorted(self.attrs.items()))))

    def __reduce__(self) -> tuple[Any, ...]:
        # mappingproxy cannot be pickled; a sweep may ship entries between processes.
        return (Entry, (self.dn, dict(self.attrs), self.source))

    def get(self, name: str) -> tuple[str, ...]:
        """All values of attribute ``name`` (any case); () if absent."""
        return self.attrs.get(name.lower(), ())

    def first(self, name: str) -> str | None:
        """The value of attribute ``name``, or None if absent.

        For an attribute the GLUE schema declares SINGLE-VALUE, two different
        values raise :class:`ConflictingValues` (``SOURCE: DN: single-valued
        attribute NAME has 2 different values: 'a', 'b'``); repeating the same
        value is harmless. Multi-valued attributes give their first value.
        """
        values = self.attrs.get(name.lower())
        if not values:
            return None
        if len(values) > 1 and is_single_valued(name) and len(set(values)) > 1:
            raise ConflictingValues(self.conflict(name))
        return values[0]

    def distinct(self, name: str) -> tuple[str, ...]:
        """The different values of ``name`` in published order (duplicates dropped)."""
        return tuple(dict.fromkeys(self.get(name)))

    def conflict(self, name: str) -> str:
        """The one-line problem for ``name`` carrying several different values."""
        from gridready.escape import terminal

        values = self.distinct(name)
        shown = ", ".join(repr(v[:80]) for v in values[:4])
        more = f" and {len(values) - 4} more" if len(values) > 4 else ""
        where = f"{self.source}: " if self.source else ""
        return (f"{where}{terminal(self.dn)}: single-valued attribute {name} has "
                f"{len(values)} different values: {shown}{more}")

    @property
    def object_classes(self) -> frozenset[str]:
        """The entry's object classes, lower-cased."""
        return frozenset(value.lower() for value in self.get("objectclass"))


class Bdii(Protocol):
    """A source of GLUE entries (a live BDII or a dump)."""

    def find(self, object_class: str, equals: Mapping[str, str] | None = None, *,
             suffix: str = "o=grid") -> list[Entry]:
        """Entries under ``suffix`` of ``object_class`` whose attributes equal ``equals``.

        ``suffix`` is "o=grid" for GLUE 1.3 and "o=glue" for GLUE 2. Entries
        missing other attributes are returned as they are.
        """
        ...


def _check_names(object_class: str, equals: Mapping[str, str]) -> None:
    for name in (object_class, *equals):
        if not _NAME.match(name):
            raise ValueError(f"not an LDAP attribute or object class name: {name!r}")


def dn_parts(dn: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs of ``dn``, spaces around ',' and '=' removed, case kept."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in dn:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    if not dn.strip():
        return []
    pairs: list[tuple[str, str]] = []
    for part in parts:
        name, _, value = part.partition("=")
        pairs.append((name.strip(), value.strip()))
    return pairs


def _split_dn(dn: str) -> tuple[str, ...]:
    """RDNs of ``dn``, lower-cased, with insignificant spaces removed.

    DN case and spacing vary between BDII levels ("Mds-Vo-name=local, o=grid"),
    while LDAP compares DNs by their normalised form; so do we.
    """
    return tuple(f"{name.lower()}={value.lower()}" for name, value in dn_parts(dn))


def tidy_dn(dn: str) -> str:
    """``dn`` without spaces around separators (ldap3 rejects "a=b, o=grid")."""
    return ",".join(f"{name}={value}" for name, value in dn_parts(dn))


def dn_is_under(dn: str, suffix: str) -> bool:
    """Whether ``dn`` is ``suffix`` or below it (case- and space-insensitive)."""
    base = _split_dn(suffix)
    rdns = _split_dn(dn)
    return len(rdns) >= len(base) and rdns[len(rdns) - len(base):] == base


class LdifBdii:
    """A BDII dump read from an LDIF file; ``find`` is evaluated in Python.

    Matching follows what a BDII does for GLUE 1.3 attributes: object classes,
    attribute values and DNs compare case-insensitively.
    """

    def __init__(self, path: str, entries: list[Entry]) -> None:
        self.path = path
        self.entries = entries
        self._rdns = [_split_dn(entry.dn) for entry in entries]

    def find(self, object_class: str, equals: Mapping[str, str] | None = None, *,
             suffix: str = "o=grid") -> list[Entry]:
        wanted = dict(equals or {})
        _check_names(object_class, wanted)
        base = _split_dn(suffix)
        depth = len(base)
        klass = object_class.lower()
        tests = [(name.lower(), value.lower()) for name, value in wanted.items()]
        found: list[Entry] = []
        for entry, rdns in zip(self.entries, self._rdns):
            if len(rdns) < depth or rdns[len(rdns) - depth:] != base:
                continue
            if klass not in entry.object_classes:
                continue
            if all(any(have.lower() == value for have in entry.attrs.get(name, ()))
                   for name, value in tests):
                found.append(entry)
        return found


def ldap_filter(object_class: str, equals: Mapping[str, str] | None = None) -> str:
    """The LDAP filter ``find`` sends: ``(&(objectClass=X)(attr=value)...)``, values escaped."""
    from ldap3.utils.conv import escape_filter_chars

    wanted = dict(equals or {})
    _check_names(object_class, wanted)
    parts = [f"(objectClass={escape_filter_chars(object_class)})"]
    parts += [f"({name}={escape_filter_chars(value)})" for name, value in wanted.items()]
    return parts[0] if len(parts) == 1 else "(&" + "".join(parts) + ")"


class _DeadlineSocket:
    """A socket whose every read and write is bounded by the deadline's remainder.

    ldap3 only offers a per-read timeout fixed at connect time, so a server
    sending one byte per second would never trip it; re-arming the timeout from
    the deadline before each call bounds the whole exchange.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def recv(self, size: int) -> bytes:
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv(size)

    def send(self, data: bytes) -> int:
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.send(data)

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class LdapBdii:
    """A live BDII searched anonymously over LDAP.

    Each ``find`` opens its own connection with timeouts taken from the
    deadline at that moment and closes it before returning, so nothing is left
    open for the caller to manage and no socket outlives the check.
    """

    def __init__(self, uri: str, host: str, port: int, deadline: Deadline) -> None:
        self.uri = uri
        self.host = host
        self.port = port
        self.deadline = deadline

    @property
    def _where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @contextmanager
    def _step(self, stage: str, failure: str) -> Iterator[None]:
        """Run one blocking step: name it for timeouts, turn errors into SourceError."""
        from ldap3.core.exceptions import LDAPException

        with self.deadline.during(stage):
            try:
                yield
            except CheckTimeout:
                raise
            except (LDAPException, OSError) as exc:
                if isinstance(exc, TimeoutError):
                    raise self.deadline.timeout() from None
                if isinstance(exc, ConnectionRefusedError):
                    raise SourceError(f"{self.uri}: connection refused by {self._where} "
                                      "(no BDII listening there?)") from None
                detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                raise SourceError(f"{self.uri}: {failure}: {detail}") from None

    def find(self, object_class: str, equals: Mapping[str, str] | None = None, *,
             suffix: str = "o=grid") -> list[Entry]:
        search_filter = ldap_filter(object_class, equals)
        import ldap3

        from gridready.net import Unreachable, resolve

        with self.deadline.during(f"resolving BDII host {self.host}"):
            try:
                addresses = [(str(sockaddr[0]), int(sockaddr[1]))
                             for _, sockaddr in resolve(self.host, self.port, self.deadline)]
            except Unreachable as exc:
                raise SourceError(f"{self.uri}: {exc}") from None

        connection: Any = None
        raw_socket: socket.socket | None = None
        try:
            for index, (address, port) in enumerate(addresses):
                server = ldap3.Server(address, port=port, get_info=ldap3.NONE,
                                      connect_timeout=self.deadline.remaining())
                connection = ldap3.Connection(
                    server, authentication=ldap3.ANONYMOUS, client_strategy=ldap3.SYNC,
                    read_only=True, raise_exceptions=False, auto_referrals=False)
                try:
                    with self._step(f"connecting to BDII {self._where}",
                                    f"cannot connect to {self._where}"):
                        connection.open(read_server_info=False)
                    break
                except SourceError:
                    failed = getattr(connection, "socket", None)
                    if failed is not None:
                        failed.close()
                    connection = None
                    # Try the host's other addresses (IPv6 then IPv4, say) first.
                    if index == len(addresses) - 1:
                        raise
            raw_socket = connection.socket
            connection.socket = _DeadlineSocket(connection.socket, self.deadline)

            with self._step(f"binding anonymously to BDII {self._where}",
                            f"anonymous bind to {self._where} failed"):
                if not connection.bind():
                    raise SourceError(f"{self.uri}: anonymous bind failed: "
                                      f"{_describe(connection.result)}")

            with self._step(f"searching BDII {self._where} under {suffix} for {object_class}",
                            f"search under {suffix} on {self._where} failed"):
                connection.search(
                    search_base=tidy_dn(suffix), search_filter=search_filter,
                    search_scope=ldap3.SUBTREE, attributes=[ldap3.ALL_ATTRIBUTES],
                    time_limit=max(1, math.ceil(self.deadline.remaining())))
                result = connection.result or {}
                code = result.get("result")
                if code == 32:  # noSuchObject: the suffix is not published at all
                    return []
                if code != 0:
                    raise SourceError(f"{self.uri}: LDAP search under {suffix} for "
                                      f"{object_class} failed: {_describe(result)}")
                return [_entry(item, self.uri) for item in connection.response or []
                        if item.get("type") == "searchResEntry"]
        finally:
            _close(connection, raw_socket)


def _describe(result: Mapping[str, Any] | None) -> str:
    result = result or {}
    text = f"{result.get('description') or 'error'} (LDAP result {result.get('result')})"
    message = str(result.get("message") or "").strip()
    return f"{text}: {message}" if message else text


def _entry(item: Mapping[str, Any], source: str) -> Entry:
    attrs: dict[str, tuple[str, ...]] = {}
    for name, values in (item.get("raw_attributes") or {}).items():
        attrs[name] = tuple(value.decode("utf-8", "replace") if isinstance(value, bytes)
                            else str(value) for value in values)
    return Entry(dn=str(item.get("dn", "")), attrs=attrs, source=source)


def _close(connection: Any, raw_socket: socket.socket | None) -> None:
    """Unbind politely when possible; always close the socket."""
    if connection is not None and raw_socket is not None:
        try:
            connection.unbind()
        except Exception:  # noqa: BLE001 - teardown must never mask the real outcome
            pass
    if raw_socket is not None:
        raw_socket.close()


def _parse_ldap_uri(uri: str) -> tuple[str, int]:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"{uri}: not a valid ldap://host:port URI: {exc}") from None
    if not parts.hostname:
        raise SourceError(f"{uri}: no host in LDAP URI (expected ldap://host:port)")
    return parts.hostname, port or DEFAULT_PORT


def open_bdii(uri: str, deadline: Deadline) -> Bdii:
    """A BDII for ``uri``: ``ldap://host[:port]`` (port defaults to 2170) or an LDIF dump path.

    A dump is read and parsed here (errors name file:line); a live BDII is
    contacted by each ``find``.
    """
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme == "ldap":
        host, port = _parse_ldap_uri(uri)
        return LdapBdii(uri, host, port, deadline)
    if scheme not in ("", "file"):
        raise SourceError(f"{uri}: unsupported BDII URI scheme {scheme!r} "
                          "(expected ldap://host:port or an LDIF file)")
    path = urlsplit(uri).path if scheme == "file" else uri
    from gridready.sources.ldif import read_ldif

    with deadline.during(f"reading BDII dump {path}"):
        # read_ldif goes through gridready.localfile: regular files only (a
        # directory, FIFO or /dev/zero is refused at once), size cap, deadline.
        return LdifBdii(path, read_ldif(path, deadline))
