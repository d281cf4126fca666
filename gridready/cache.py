"""Validated-config cache: a probe's rules and inventory without parsing YAML.

Nagios starts a probe per check, and the milestone rules and the site
inventory rarely change between starts; parsing and validating them (PyYAML
plus configfile) is a large share of a probe's start-up. This module keeps
the *already validated* result (the ``Rules`` / ``Inventory`` models,
pickled) per file in the user's cache directory (``$XDG_CACHE_HOME/gridready``
or ``~/.cache/gridready``) and returns it only when it provably belongs to the
file as it is now:

* the key holds the YAML file's path as given and resolved, its device,
  inode, size, mtime_ns and ctime_ns (``os.stat`` taken *before* the file is
  parsed, so an edit during parsing makes the entry stale at once), the kind
  and check it was validated for, gridready's version and a SHA-256 of the
  loader's source files (this module, configfile, models, yamlfile, escape,
  and the validating check's module), so a code change invalidates it;
* pickles are only read from a directory that is not a symlink, is owned by
  this user and has mode 0700 (no one else can plant a file there), and the
  file must be a regular file owned by this user, not group/other writable;
* entries are written to a temporary file in that directory and renamed over
  the old one (atomic: a reader sees the old or the new entry, never half);
* any problem at all (no HOME, read-only disk, a corrupt or foreign entry, a
  pickle of another version) falls back to loading the YAML, silently; YAML
  errors are raised as before and never cached.

Set ``GRIDREADY_NO_CACHE=1`` to bypass the cache.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from gridready.checks.interface import Check
    from gridready.models import Inventory, Rules

T = TypeVar("T")

FORMAT = 1
#: An entry larger than this is not read (the bundled rules pickle to ~10 KiB).
MAX_ENTRY_BYTES = 4 * 1024 * 1024
_LOADER_MODULES = ("cache.py", "configfile.py", "models.py", "yamlfile.py", "escape.py", "localfile.py")
_PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/gridready`` (absolute values only) or ``~/.cache/gridready``; None without a home."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.environ.get("HOME", "")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return Path(base) / "gridready"


def _sha256(data: bytes) -> Any:
    # The builtin module skips importing hashlib and OpenSSL (~2 ms at every probe start).
    try:
        from _sha256 import sha256
    except ImportError:  # an interpreter built without it
        from hashlib import sha256
    return sha256(data)


def _code_hash(extra_files: tuple[str, ...]) -> str:
    from gridready import __version__

    digest = _sha256(f"{FORMAT}\0{__version__}\0{sys.version}".encode())
    for name in (*(str(_PACKAGE / m) for m in _LOADER_MODULES), *extra_files):
        with open(name, "rb") as fh:  # our own installed source, not untrusted input
            digest.update(name.encode() + b"\0" + fh.read(1 << 20) + b"\0")
    return str(digest.hexdigest())


def _key(kind: str, path: str, extra_files: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    """(entry file name, full key) for the file ``path`` as it is now."""
    st = os.stat(path)
    real = os.path.realpath(path)
    name = _sha256(f"{kind}\0{path}\0{real}".encode()).hexdigest()[:32] + ".pickle"
    return name, (kind, path, real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                  _code_hash(extra_files))


def _private_dir(directory: Path, create: bool) -> bool:
    """Is ``directory`` ours alone (not a symlink, our uid, mode 0700)? Creates it when asked."""
    if create:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError:
            return False
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == 0o700


def _read(entry: Path, key: tuple[Any, ...]) -> Any:
    """The cached value for ``key`` or None (a missing, foreign, stale or corrupt entry)."""
    import pickle

    try:
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022
                or st.st_size > MAX_ENTRY_BYTES):
            return None
        data = os.read(fd, MAX_ENTRY_BYTES + 1)
    finally:
        os.close(fd)
    stored = pickle.loads(data)
    if not isinstance(stored, tuple) or len(stored) != 2 or stored[0] != key:
        return None
    return stored[1]


def _write(directory: Path, entry: Path, key: tuple[Any, ...], value: Any) -> None:
    import pickle

    # An exclusive create of a random name does what tempfile.mkstemp does,
    # without importing tempfile (and its random, shutil...) on a probe's path.
    tmp = str(directory / f".tmp-{os.urandom(8).hex()}.pickle")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, entry)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def cached(kind: str, path: str | os.PathLike[str], load: Callable[[], T], expected: type[T],
           extra_files: tuple[str, ...] = ()) -> T:
    """``load()``'s result for the file ``path``, from the cache when the file has not changed.

    ``kind`` separates what was loaded from the file (``"rules:xrootd"``);
    ``expected`` is the type the cached value must have; ``extra_files`` are
    further source files whose change must invalidate the entry. Errors of
    ``load()`` propagate unchanged and nothing is cached then.
    """
    directory = None if os.environ.get("GRIDREADY_NO_CACHE") else cache_dir()
    if directory is None:
        return load()
    text = os.fspath(path)
    try:
        name, key = _key(kind, text, extra_files)
        entry = directory / name
        if _private_dir(directory, create=False):
            hit = _read(entry, key)
            if isinstance(hit, expected):
                return hit
    except Exception:  # any cache problem: the YAML is the truth
        return load()
    value = load()
    try:
        if _private_dir(directory, create=True):
            _write(directory, entry, key, value)
    except Exception:  # a cache that cannot be written is only slower
        pass
    return value


def load_rules(path: str | Path, check: Check) -> Rules:
    """configfile.load_rules(path) validated for ``check``'s expectations, through the cache."""
    def load() -> Rules:
        from gridready.configfile import load_rules as from_yaml
        return from_yaml(path, validate_expect=lambda name, expect: check.validate_expect(expect)
                         if name == check.name else ())

    from gridready.models import Rules
    module = sys.modules.get(type(check).__module__)
    source = getattr(module, "__file__", None)
    return cached(f"rules:{check.name}", path, load, Rules, (source,) if source else ())


def load_inventory(path: str | Path) -> Inventory:
    """configfile.load_inventory(path), through the cache."""
    def load() -> Inventory:
        from gridready.configfile import load_inventory as from_yaml
        return from_yaml(path)

    from gridready.models import Inventory
    return cached("inventory", path, load, Inventory)
