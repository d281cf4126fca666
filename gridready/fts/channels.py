"""Parser for FTS 2 channel listings (``glite-transfer-channel-list -v [-x] CHANNEL``).

A site keeps one file per FTS server holding the verbose listing of several
channels one after the other (one ``Channel: NAME`` block each, ``-x``
extended fields included). The format was meant for humans, so the parser is
forgiving: a line it cannot read is recorded as a problem with its line
number and parsing goes on with the next line, so one mangled line never
hides the other channels. Lines starting with ``#`` are comments (where and
when the dump was recorded).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gridready.deadline import Deadline
from gridready.errors import SourceError
from gridready.localfile import read_bytes

#: Far larger than any real listing (a few hundred channels is ~100 KiB); a
#: bigger file is not a channel listing and is refused rather than read.
MAX_BYTES = 16 * 1024 * 1024

#: ``*`` in a ``Between:`` line, and ``STAR`` in channel names, mean any site.
ANY_SITE = "*"

_VO_SHARE = re.compile(
    r"VO\s+'(?P<vo>[^']*)'\s+share\s+is:\s*(?P<share>\d+)"
    r"(?:\s+and\s+is\s+(?:(?P<not>not\s+limited)|limited\s+to\s+(?P<limit>\d+)\s+transfers?))?\s*\Z",
    re.IGNORECASE)
_KEY_VALUE = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9 '()/_.-]*?)\s*:\s*(?P<value>.*)\Z")
_BETWEEN = re.compile(r"(?P<src>\S+)\s+and\s+(?P<dst>\S+)\Z", re.IGNORECASE)
_FILES_STREAMS = re.compile(r"(?P<files>\d+)\s*,\s*streams\s*:\s*(?P<streams>\d+)\Z", re.IGNORECASE)
_UNSET = {"", "(null)", "null", "none"}


@dataclass(frozen=True)
class VOShare:
    """One ``VO 'x' share is: N ...`` line; ``limit`` None means not limited."""

    vo: str
    share: int
    limit: int | None = None
    line: int = 0


@dataclass(frozen=True)
class Channel:
    """One channel block as printed; fields the block lacked (or garbled) are None."""

    name: str
    line: int
    #: GOCDB site names from ``Between: SRC and DST``; ``*`` for any site.
    source: str | None = None
    destination: str | None = None
    state: str | None = None
    #: None when unset (FTS prints ``(null)``).
    contact: str | None = None
    bandwidth: int | None = None
    nominal_throughput: int | None = None
    files: int | None = None
    streams: int | None = None
    tcp_buffer_size: str | None = None
    declared_shares: int | None = None
    vo_shares: tuple[VOShare, ...] = ()
    #: The ``-x`` extended fields (and any other ``Key: value`` line), as printed.
    extended: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: The lower-case keys of the lines the block had (``contact``, ``number of vo shares``...):
    #: a field printed as ``(null)`` is unset, a field with no line was not listed at all.
    fields: frozenset[str] = frozenset()

    @property
    def pair(self) -> str:
        return f"{self.source or '?'} -> {self.destination or '?'}"


@dataclass(frozen=True)
class ChannelListing:
    """Every channel of one dump, plus one ``origin:line: what`` string per unreadable line."""

    origin: str
    channels: tuple[Channel, ...]
    problems: tuple[str, ...] = ()


class _Block:
    """A channel being read; frozen into a Channel at the next header or the end."""

    def __init__(self, name: str, line: int) -> None:
        self.name = name
        self.line = line
        self.values: dict[str, object] = {}
        self.shares: list[VOShare] = []
        self.extended: dict[str, str] = {}
        self.seen: dict[str, int] = {}

    def freeze(self) -> Channel:
        v = self.values
        return Channel(
            name=self.name, line=self.line, source=_opt(v, "source"), destination=_opt(v, "destination"),
            state=_opt(v, "state"), contact=_opt(v, "contact"), bandwidth=_opt_int(v, "bandwidth"),
            nominal_throughput=_opt_int(v, "nominal_throughput"), files=_opt_int(v, "files"),
            streams=_opt_int(v, "streams"), tcp_buffer_size=_opt(v, "tcp_buffer_size"),
            declared_shares=_opt_int(v, "declared_shares"), vo_shares=tuple(self.shares),
            extended=MappingProxyType(dict(self.extended)), fields=frozenset(self.seen))


def _opt(values: Mapping[str, object], key: str) -> str | None:
    value = values.get(key)
    return value if isinstance(value, str) else None


def _opt_int(values: Mapping[str, object], key: str) -> int | None:
    value = values.get(key)
    return value if isinstance(value, int) else None


class _Parser:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.channels: list[Channel] = []
        self.problems: list[str] = []
        self.block: _Block | None = None

    def problem(self, line: int, what: str) -> None:
        self.problems.append(f"{self.origin}:{line}: {what}")

    def feed(self, number: int, raw: str) -> None:
        text = raw.strip()
        if not text or text.startswith("#"):
            return
        share = _VO_SHARE.match(text)
        if share is not None:
            self._share(number, share)
            return
        if text[:3].upper() == "VO ":
            self.problem(number, f"unreadable VO share line '{_shorten(text)}'")
            return
        pair = _KEY_VALUE.match(text)
        if pair is None:
            self.problem(number, f"unrecognised line '{_shorten(text)}'")
            return
        key, value = " ".join(pair["key"].split()), pair["value"].strip()
        if key.casefold() == "channel":
            self._start(number, value)
        elif self.block is None:
            self.problem(number, f"'{key}' line before any 'Channel:' line")
        else:
            self._field(number, key, value)

    def _start(self, number: int, name: str) -> None:
        self.finish()
        if name:
            name = name.upper()
        else:
            self.problem(number, "'Channel:' line without a channel name")
            name = f"(unnamed channel at line {number})"
        self.block = _Block(name, number)

    def _share(self, number: int, m: re.Match[str]) -> None:
        if self.block is None:
            self.problem(number, "VO share line before any 'Channel:' line")
            return
        vo = m["vo"].strip()
        if any(s.vo.casefold() == vo.casefold() for s in self.block.shares):
            self.problem(number, f"channel {self.block.name}: VO '{vo}' listed twice; the last line counts")
            self.block.shares = [s for s in self.block.shares if s.vo.casefold() != vo.casefold()]
        limit = int(m["limit"]) if m["limit"] is not None else None
        self.block.shares.append(VOShare(vo, int(m["share"]), limit, number))

    def _field(self, number: int, key: str, value: str) -> None:
        assert self.block is not None
        block, name = self.block, self.block.name
        folded = key.casefold()
        if folded in block.seen:
            self.problem(number, f"channel {name}: second '{key}' line (first at line {block.seen[folded]}); "
                                 "the last one counts")
        block.seen[folded] = number
        if folded == "between":
            m = _BETWEEN.match(value)
            if m is None:
                self.problem(number, f"channel {name}: bad 'Between:' value '{_shorten(value)}', "
                                     "expected 'SITE and SITE'")
                return
            block.values["source"] = _site(m["src"])
            block.values["destination"] = _site(m["dst"])
        elif folded == "state":
            if not value:
                self.problem(number, f"channel {name}: empty 'State:' line")
                return
            block.values["state"] = value
        elif folded == "contact":
            block.values["contact"] = None if value.casefold() in _UNSET else value
        elif folded in ("bandwidth", "nominal throughput", "number of vo shares"):
            dest = {"bandwidth": "bandwidth", "nominal throughput": "nominal_throughput",
                    "number of vo shares": "declared_shares"}[folded]
            if not value.isdigit():
                self.problem(number, f"channel {name}: bad '{key}' value '{_shorten(value)}', expected a number")
                return
            block.values[dest] = int(value)
        elif folded == "number of files":
            m = _FILES_STREAMS.match(value)
            if m is None:
                self.problem(number, f"channel {name}: bad 'Number of files' value '{_shorten(value)}', "
                                     "expected 'N, streams: M'")
                return
            block.values["files"] = int(m["files"])
            block.values["streams"] = int(m["streams"])
        elif folded == "tcp buffer size":
            block.values["tcp_buffer_size"] = value
        else:
            block.extended[key] = value

    def finish(self) -> None:
        block, self.block = self.block, None
        if block is None:
            return
        channel = block.freeze()
        where = f"channel {channel.name} (line {channel.line})"
        if channel.source is None:
            self.problems.append(f"{self.origin}:{channel.line}: {where} has no readable 'Between:' line")
        if channel.state is None:
            self.problems.append(f"{self.origin}:{channel.line}: {where} has no readable 'State:' line")
        if channel.declared_shares is not None and channel.declared_shares != len(channel.vo_shares):
            self.problems.append(f"{self.origin}:{channel.line}: {where} declares {channel.declared_shares} "
                                 f"VO shares but lists {len(channel.vo_shares)}")
        self.channels.append(channel)


def _site(text: str) -> str:
    return ANY_SITE if text in ("*", "STAR", "star") else text


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def parse_channel_list(text: str, origin: str = "<listing>") -> ChannelListing:
    """Parse a listing; never raises for bad content, it records problems instead."""
    parser = _Parser(origin)
    for number, line in enumerate(text.splitlines(), start=1):
        parser.feed(number, line)
    parser.finish()
    return ChannelListing(origin, tuple(parser.channels), tuple(parser.problems))


def read_channel_list(path: str, deadline: Deadline) -> ChannelListing:
    """Read and parse a listing file; SourceError names the file when it is unusable.

    The file goes through gridready.localfile: a FIFO, a device or a
    directory is refused without blocking, a file over ``MAX_BYTES`` is
    refused, and the read stops at the probe's deadline. Parsing is linear in
    the file's size.
    """
    with deadline.during(f"reading FTS channel listing {path}"):
        data = read_bytes(path, max_bytes=MAX_BYTES, deadline=deadline, what="FTS channel listing")
    nul = data.find(b"\0")
    if nul >= 0:
        raise SourceError(f"{path}: binary data (NUL byte at offset {nul}), not an FTS channel listing")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}), "
                          "not an FTS channel listing") from None
    listing = parse_channel_list(text, path)
    if not listing.channels:
        first = f"; first problem: {listing.problems[0]}" if listing.problems else ""
        raise SourceError(f"{path}: no FTS channels found (expected 'Channel: NAME' blocks from "
                          f"glite-transfer-channel-list -v){first}")
    return listing
