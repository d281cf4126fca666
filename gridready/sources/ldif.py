"""Reader for LDIF content dumps, as printed by ``ldapsearch -LLL``.

Sites and operators hand us saved BDII dumps; reading one must not need an LDAP
library, and a broken dump must be reported as ``file:line: problem`` so the
person who made it can fix it. Only what a search dump contains is accepted:
records of ``dn:`` followed by ``attribute: value`` lines, folded lines, base64
values (``attr:: ...``), comments and an optional ``version: 1`` header. Change
records and URL values (``attr:< file://...``) are rejected as not a dump.

Every value of a repeated attribute is kept, in file order: whether a repeat
is an error depends on the schema (``GlueSEImplementationVersion`` is
SINGLE-VALUE, ``GlueForeignKey`` is not), which the consumer of the entry
judges (:meth:`gridready.sources.bdii.Entry.first`).

Files are read through :mod:`gridready.localfile` (regular files only, size
cap, deadline), and parsing checks the deadline as it goes, so a huge or
hostile dump costs at most the probe's timeout.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from typing import TYPE_CHECKING

from gridready import localfile
from gridready.errors import SourceError
from gridready.sources.bdii import Entry

if TYPE_CHECKING:
    from gridready.deadline import Deadline

#: A site or resource BDII dump is a few MiB; a whole top-level BDII tens of MiB.
LDIF_MAX_BYTES = localfile.DATA_MAX_BYTES
# Records parsed between two deadline checks.
_DEADLINE_EVERY = 256

# An attribute description: a name or a numeric OID, each optionally with
# ";option" suffixes (e.g. "userCertificate;binary").
_ATTR_DESC = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;[A-Za-z0-9-]+)*\Z")

# Keywords that only appear in change records, never in a search dump.
_CHANGE_KEYWORDS = frozenset({"changetype", "control"})


@dataclass(frozen=True)
class Record:
    """One LDIF record: the entry, where it starts, and its text as written.

    ``text`` lets a caller re-emit the record verbatim (the test slapd splits a
    dump by suffix this way, so what is loaded is exactly what was written).
    """

    entry: Entry
    line: int
    text: str


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _physical_lines(text: str) -> list[str]:
    # str.splitlines() would also split on \v, \f, \x1c.., which LDIF treats
    # as ordinary characters; only LF (optionally preceded by CR) ends a line.
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _chunks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Blank-line separated groups of physical lines, with their first line number."""
    start = 0
    group: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line == "":
            if group:
                yield start, group
            group = []
            continue
        if not group:
            start = number
        group.append(line)
    if group:
        yield start, group


def _logical_lines(source: str, start: int, group: list[str]) -> list[tuple[int, str]]:
    """Unfold continuation lines (a leading single space) into logical lines."""
    logical: list[tuple[int, list[str]]] = []
    for offset, line in enumerate(group):
        if line.startswith(" "):
            if not logical:
                raise SourceError(f"{source}:{start + offset}: continuation line "
                                  "(leading space) with no line before it to continue")
            logical[-1][1].append(line[1:])
        else:
            logical.append((start + offset, [line]))
    return [(number, "".join(parts)) for number, parts in logical]


def _decode_value(source: str, number: int, name: str, rest: str) -> str:
    if rest.startswith(":"):
        encoded = rest[1:].strip(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SourceError(f"{source}:{number}: invalid base64 value for "
                              f"attribute {name!r}") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{source}:{number}: base64 value of attribute {name!r} "
                              "is not UTF-8 text") from None
    if rest.startswith("<"):
        raise SourceError(f"{source}:{number}: URL values ({name}:< ...) are not "
                          "supported in a search dump")
    return rest.lstrip(" ")


def _parse_record(source: str, start: int, group: list[str],
                  first_in_file: bool) -> Record | None:
    lines = [(n, text) for n, text in _logical_lines(source, start, group)
             if not text.startswith("#")]
    if first_in_file and lines and re.fullmatch(r"version:\s*\S*", lines[0][1]):
        number, text = lines[0]
        if text.split(":", 1)[1].strip() != "1":
            raise SourceError(f"{source}:{number}: unsupported LDIF version "
                              f"{text.split(':', 1)[1].strip()!r} (expected 1)")
        lines = lines[1:]
    if not lines:
        return None  # only comments (or the version header): not a record

    dn: str | None = None
    dn_line = lines[0][0]
    attrs: dict[str, list[str]] = {}
    for number, text in lines:
        name, colon, rest = text.partition(":")
        if not colon:
            raise SourceError(f"{source}:{number}: expected 'attribute: value', "
                              f"found {_preview(text)}")
        if not _ATTR_DESC.match(name):
            raise SourceError(f"{source}:{number}: invalid attribute name {_preview(name)}")
        key = name.lower()
        if dn is None:
            if key != "dn":
                raise SourceError(f"{source}:{number}: record does not start with 'dn:' "
                                  f"(found {name!r})")
            dn = _decode_value(source, number, name, rest)
            continue
        if key == "dn":
            raise SourceError(f"{source}:{number}: second 'dn:' line in one record "
                              "(missing blank line between records?)")
        if key in _CHANGE_KEYWORDS:
            raise SourceError(f"{source}:{number}: change records ({name}:) are not "
                              "supported; expected a search dump (ldapsearch -LLL)")
        attrs.setdefault(key, []).append(_decode_value(source, number, name, rest))
    assert dn is not None  # the first logical line always sets it or raises
    entry = Entry(dn=dn, attrs={k: tuple(v) for k, v in attrs.items()}, source=source)
    return Record(entry=entry, line=dn_line, text="\n".join(group))


def iter_records(text: str, source: str = "<ldif>",
                 deadline: Deadline | None = None) -> Iterator[Record]:
    """Yield the records of an LDIF dump; ``SourceError`` names ``source:line``.

    With ``deadline``, parsing stops with CheckTimeout once it expires.
    """
    first = True
    for count, (start, group) in enumerate(_chunks(_physical_lines(text))):
        if deadline is not None and count % _DEADLINE_EVERY == 0:
            deadline.remaining()
        record = _parse_record(source, start, group, first)
        first = False
        if record is not None:
            yield record


def parse_ldif(text: str, source: str = "<ldif>", deadline: Deadline | None = None) -> list[Entry]:
    """All entries of an LDIF dump, in file order; each entry's ``source`` is ``source``."""
    return [record.entry for record in iter_records(text, source, deadline)]


def read_text(path: str | os.PathLike[str], deadline: Deadline | None = None,
              max_bytes: int = LDIF_MAX_BYTES) -> str:
    """The text of an LDIF file, through :func:`gridready.localfile.read_bytes`.

    Raises SourceError (one line naming the file) for anything but a regular
    file, a file over ``max_bytes`` (default 64 MiB), or text that is not UTF-8;
    CheckTimeout when ``deadline`` expires while reading.
    """
    name = os.fspath(path)
    data = localfile.read_bytes(name, max_bytes=max_bytes, deadline=deadline, what="LDIF file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(f"{name}:{line}: not UTF-8 text (non-ASCII values in LDIF "
                          "must be UTF-8 or base64-encoded)") from None


def read_ldif(path: str | os.PathLike[str], deadline: Deadline | None = None) -> list[Entry]:
    """All entries of the LDIF file at ``path``, read and parsed under ``deadline``."""
    return parse_ldif(read_text(path, deadline), os.fspath(path), deadline)
