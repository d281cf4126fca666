"""The one bounded reader for every local file gridready reads.

Rules, inventories, LDIF dumps, saved JSON/XML, FTS 2 channel listings,
gLExec configuration and LCMAPS databases, ingested results: all of them come
through :func:`read_bytes` (or :func:`read_text`), which

- opens without blocking (``O_NONBLOCK``) so a FIFO or a device cannot hang
  the open, then refuses anything that is not a regular file (FIFO, socket,
  character or block device, directory) with one line naming the path;
- reads at most ``max_bytes`` (an oversized file is an error, never
  truncated data), in chunks, so ``/dev/zero``-like inputs cannot exhaust
  memory;
- checks the caller's :class:`~gridready.deadline.Deadline` between chunks,
  so a probe or a sweep job costs at most its timeout.

Errors are :class:`~gridready.errors.SourceError` (a subclass of
CheckError: a probe reports UNKNOWN); callers loading configuration turn them
into ConfigError lines.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gridready.deadline import Deadline
from gridready.errors import SourceError

#: Default cap for configuration-sized files (rules, inventories, LCMAPS db).
CONFIG_MAX_BYTES = 4 * 1024 * 1024
#: Default cap for data files (LDIF dumps, saved JSON, channel listings).
DATA_MAX_BYTES = 64 * 1024 * 1024
_CHUNK = 256 * 1024


def size_text(count: int) -> str:
    """``count`` bytes for humans: ``512 bytes``, ``64 KiB``, ``8 MiB``."""
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def read_bytes(path: str | os.PathLike[str], *, max_bytes: int = DATA_MAX_BYTES,
               deadline: Deadline | None = None, what: str = "file") -> bytes:
    """The whole content of the regular file ``path``, at most ``max_bytes``.

    ``what`` names the file's role in messages (``"LDIF file"``). Raises
    SourceError (``PATH: cannot read WHAT: reason``) for a missing or
    unreadable file, anything that is not a regular file, a file larger than
    ``max_bytes``; CheckTimeout when ``deadline`` expires while reading.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(name, flags)
    except OSError as exc:
        raise SourceError(f"{name}: cannot read {what}: {exc.strerror or exc}") from None
    except ValueError:
        # A NUL byte (from a config file's value): no file has that name.
        raise SourceError(f"{name!r}: cannot read {what}: the name holds a NUL byte") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"{name}: cannot read {what}: {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise SourceError(f"{name}: {what} is larger than the {size_text(max_bytes)} limit "
                              f"({info.st_size} bytes)")
        chunks: list[bytes] = []
        total = 0
        while True:
            if deadline is not None:
                deadline.remaining()
            try:
                chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            except OSError as exc:
                raise SourceError(f"{name}: cannot read {what}: {exc.strerror or exc}") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            # The file may grow while it is read (a log, a hostile writer).
            if total > max_bytes:
                raise SourceError(f"{name}: {what} is larger than the {size_text(max_bytes)} limit")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], *, max_bytes: int = CONFIG_MAX_BYTES,
              deadline: Deadline | None = None, what: str = "file") -> str:
    """:func:`read_bytes` decoded as UTF-8; undecodable text names the line.

    Raises SourceError ``PATH:LINE: WHAT is not UTF-8 text`` besides the
    errors of :func:`read_bytes`.
    """
    return decode_text(read_bytes(path, max_bytes=max_bytes, deadline=deadline, what=what), path, what)


def decode_text(data: bytes, path: str | os.PathLike[str], what: str = "file") -> str:
    """``data`` read from ``path`` as UTF-8; SourceError ``PATH:LINE: WHAT is not UTF-8 text``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(f"{os.fspath(path)}:{line}: {what} is not UTF-8 text") from None


def is_regular_file(path: str | Path) -> bool:
    """True when ``path`` names a regular file (following symlinks), without opening it."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _cannot_write(name: str, what: str, reason: str) -> str:
    return f"{name}: cannot write{' ' + what if what else ''}: {reason}"


def write_atomic(path: str | os.PathLike[str], text: str | bytes, *, what: str = "") -> None:
    """Replace the regular file ``path`` with ``text`` (UTF-8; bytes as they are), whole or not at all.

    The text goes to a temp file in the same directory, is synced, then
    renamed over ``path``; the old file's permission bits are kept. An
    existing ``path`` that is not a regular file (a FIFO, a device, a
    directory, a socket; a symlink is followed) is refused before anything
    is written: renaming over ``/dev/null`` or a FIFO would replace the node
    itself, and opening a FIFO for writing blocks without a reader. Raises
    SourceError ``PATH: cannot write WHAT: reason`` (``what`` may be empty).
    """
    import tempfile

    name = os.fspath(path)
    try:
        info = os.stat(name)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as exc:
        raise SourceError(_cannot_write(name, what, exc.strerror or str(exc))) from None
    else:
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(_cannot_write(name, what, f"{_kind(info.st_mode)}, not a regular file"))
        mode = info.st_mode & 0o7777
    # Through a symlink the target is replaced, not the link.
    target = os.path.realpath(name)
    directory = os.path.dirname(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise SourceError(_cannot_write(name, what, exc.strerror or str(exc))) from None
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise SourceError(_cannot_write(name, what, exc.strerror or str(exc))) from None
        raise


def check_writable(path: str | os.PathLike[str], *, what: str = "") -> None:
    """Fail early (SourceError) when :func:`write_atomic` would refuse an existing ``path``
    that is not a regular file. Called before slow work (fetching sources, a report)."""
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except FileNotFoundError:
        return  # a missing directory fails when the file is written, in the same words
    except OSError as exc:
        raise SourceError(_cannot_write(name, what, exc.strerror or str(exc))) from None
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(_cannot_write(name, what, f"{_kind(info.st_mode)}, not a regular file"))
