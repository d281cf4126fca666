"""The on-disk spool: messages no broker accepted, kept in order until a later publish sends them.

Layout: one file per message in the spool directory, named
``<16-digit sequence>.msg``, holding a JSON object ``{"destination",
"headers", "body"}``. A file is written under a temporary name, fsynced,
then linked to its final name and the directory fsynced, so a crash leaves
either the whole message or none (a stale ``.tmp-*`` file is ignored and
cleaned). Sequence numbers only grow, so the listing order is the order the
messages were spooled; an ``flock`` on ``.lock`` serialises writers (two
publishes at once never reuse a number).

Bounded: at most ``max_count`` messages and ``max_bytes`` bytes; a message
that would exceed either is refused with :class:`SpoolFull` (the command then
fails, naming the spool, and its input stays where it was).

An entry whose destination is ``""`` (:data:`UNADDRESSED`) holds a
``gridready.result/1`` body that a probe handed off (``check_* --spool
DIR``, :func:`hand_off`): the probe does not know the broker's layout, so
``gridready publish`` sends it to its own ``--destination`` (as it is) and/or
``--metric-destination`` (as metricOutput) and removes the entry once every
one of them was confirmed.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gridready.errors import GridreadyError, SourceError
from gridready.escape import has_control
from gridready.localfile import read_bytes

#: Default bounds: 100,000 results of a few KiB each.
DEFAULT_MAX_COUNT = 100_000
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
#: Largest spooled message file read back (a result is capped at 4 MiB, plus JSON quoting).
MAX_ENTRY_BYTES = 16 * 1024 * 1024
_NAME = re.compile(r"(\d{16})\.msg")
#: The destination of a result handed off by a probe: publish chooses where it goes.
UNADDRESSED = ""
#: Longest wait for another writer's lock (a publish adding its leftovers takes well under this).
LOCK_SECONDS = 10.0


class SpoolError(GridreadyError):
    """The spool directory is unusable (message names it)."""


class SpoolFull(SpoolError):
    """Adding a message would exceed the spool's count or byte bound."""


@dataclass(frozen=True)
class Message:
    """One STOMP message: destination, headers (str -> str) and body (UTF-8 text)."""

    destination: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    #: The spool file it came from, if any (removed once the broker confirmed it).
    spooled: str | None = None


class Spool:
    """A spool directory; created (mode 0700) if missing."""

    def __init__(self, path: str, *, max_count: int = DEFAULT_MAX_COUNT,
                 max_bytes: int = DEFAULT_MAX_BYTES, lock_seconds: float = LOCK_SECONDS) -> None:
        self.path = path
        self.max_count = max_count
        self.max_bytes = max_bytes
        self.lock_seconds = lock_seconds
        if os.path.lexists(path) and (os.path.islink(path) or not os.path.isdir(path)):
            raise SpoolError(f"{path}: the spool is not a directory")
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"{path}: cannot create the spool directory: {exc.strerror or exc}") from None
        if not os.path.isdir(path) or os.path.islink(path):
            raise SpoolError(f"{path}: the spool is not a directory")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(os.path.join(self.path, ".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise SpoolError(f"{self.path}: cannot lock the spool: {exc.strerror or exc}") from None
        try:
            # Polled, not blocking: a writer that hangs holding the lock must not hang us.
            end = time.monotonic() + self.lock_seconds
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= end:
                        raise SpoolError(f"{self.path}: the spool stayed locked by another writer for "
                                         f"{self.lock_seconds:g} s") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def _entries(self) -> list[tuple[str, int]]:
        """(name, size) of every complete message, oldest first."""
        found = []
        try:
            with os.scandir(self.path) as it:
                for entry in it:
                    if _NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        found.append((entry.name, entry.stat(follow_symlinks=False).st_size))
        except OSError as exc:
            raise SpoolError(f"{self.path}: cannot list the spool: {exc.strerror or exc}") from None
        return sorted(found)

    def __len__(self) -> int:
        return len(self._entries())

    def add(self, messages: list[Message]) -> int:
        """Append ``messages`` in order; how many were written. SpoolFull (nothing of the
        overflowing message written) when a bound would be exceeded."""
        written = 0
        with self._locked():
            entries = self._entries()
            count = len(entries)
            size = sum(s for _, s in entries)
            seq = int(entries[-1][0][:16]) + 1 if entries else 1
            for message in messages:
                data = json.dumps({"destination": message.destination, "headers": message.headers,
                                   "body": message.body}).encode("utf-8")
                if count + 1 > self.max_count or size + len(data) > self.max_bytes:
                    raise SpoolFull(f"{self.path}: spool full ({count} messages, {size} bytes; bounds "
                                    f"{self.max_count} messages, {self.max_bytes} bytes): "
                                    f"{len(messages) - written} results not spooled")
                self._write(f"{seq:016d}.msg", data)
                seq += 1
                count += 1
                size += len(data)
                written += 1
            self._sync_dir()
        return written

    def _write(self, name: str, data: bytes) -> None:
        temp = os.path.join(self.path, f".tmp-{os.getpid()}-{name}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.link(temp, os.path.join(self.path, name))    # fails rather than overwrite
            os.unlink(temp)
        except OSError as exc:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise SpoolError(f"{self.path}: cannot write {name}: {exc.strerror or exc}") from None

    def _sync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def messages(self) -> Iterator[Message]:
        """The spooled messages, oldest first. A file that cannot be read back is SpoolError
        naming it (left in place for a person to look at)."""
        for name, _ in self._entries():
            path = os.path.join(self.path, name)
            try:
                data: Any = json.loads(read_bytes(path, max_bytes=MAX_ENTRY_BYTES, what="spooled message"))
            except (SourceError, ValueError, RecursionError) as exc:
                if not os.path.lexists(path):
                    continue    # sent and removed by a concurrent flush
                why = "JSON nested too deeply" if isinstance(exc, RecursionError) else exc
                raise SpoolError(f"{path}: unreadable spooled message: {why}") from None
            if not (isinstance(data, dict) and isinstance(data.get("destination"), str)
                    and isinstance(data.get("body"), str) and isinstance(data.get("headers"), dict)
                    and all(isinstance(k, str) and isinstance(v, str) for k, v in data["headers"].items())):
                raise SpoolError(f"{path}: unreadable spooled message: not a gridready spool entry")
            # Frame syntax: a control character in the destination or a header would
            # inject headers or end the frame early once sent.
            names = [data["destination"], *data["headers"], *data["headers"].values()]
            if any(has_control(text) for text in names):
                raise SpoolError(f"{path}: unreadable spooled message: control characters in its "
                                 "destination or headers")
            yield Message(data["destination"], data["body"], dict(data["headers"]), spooled=name)

    def remove(self, message: Message) -> None:
        """Forget a message the broker confirmed."""
        if message.spooled and _NAME.fullmatch(message.spooled):
            try:
                os.unlink(os.path.join(self.path, message.spooled))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise SpoolError(f"{self.path}: cannot remove sent message {message.spooled}: "
                                 f"{exc.strerror or exc}") from None


def hand_off(path: str, body: str) -> int:
    """Spool one probe result (``gridready.result/1`` JSON text) unaddressed, for a later
    ``gridready publish --flush --spool path``; the count of messages now waiting.
    SpoolError (naming the spool) when it cannot be written or is full."""
    spool = Spool(path)
    spool.add([Message(UNADDRESSED, body, {"content-type": "application/json"})])
    return len(spool)
