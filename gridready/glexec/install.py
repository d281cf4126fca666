"""Where gLExec is installed on a worker node and whether it is installed safely.

gLExec switches identity as root, so anyone who can write its binary, its
glexec.conf or its LCMAPS database can become root: all three must be owned
by root and writable by nobody else, and in setuid mode the binary must carry
the setuid bit. Every path is looked up under ``root`` (``--root``), so a
chroot or a test tree is inspected exactly like ``/``. Messages show the
path as the worker node sees it, without the root prefix.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from gridready import localfile
from gridready.deadline import Deadline
from gridready.errors import SourceError

#: Where the binary lives: EMI/UMD packages, then gLite 3.x, then $GLITE_LOCATION.
BINARY_PATHS = ("/usr/sbin/glexec", "/opt/glite/sbin/glexec")
CONF_PATHS = ("/etc/glexec.conf", "/opt/glite/etc/glexec.conf")
#: glexec's own default when glexec.conf names no ``lcmaps_db_file``.
DEFAULT_LCMAPS_DB = "/etc/lcmaps/lcmaps-glexec.db"
#: LCMAPS' own directory, where a relative ``lcmaps_db_file`` is looked up
#: (liblcmaps' lcmaps_genfilename prefixes a relative path with it: /etc/lcmaps
#: for EMI/UMD and Debian builds, <prefix>/etc/lcmaps for gLite 3.x under /opt/glite).
LCMAPS_DIR = "/etc/lcmaps"
# Real files are a few KiB; anything this big is not a configuration file.
MAX_CONFIG_BYTES = 1 << 20


class ConfError(ValueError):
    """A configuration file cannot be used; the message names it (and the line)."""


# Linux's own limit on symlinks followed while resolving one path (ELOOP).
MAX_SYMLINKS = 40


def under(root: str, path: str) -> str:
    """``path`` as seen from here when the worker node's ``/`` is ``root``.

    Resolved like a chroot would: ``..`` stops at ``root``, an absolute
    symlink target starts again at ``root``, a relative one from the link's
    directory, so the answer never leaves ``root``. Without a root the path
    is returned as given (the OS resolves it at open). A symlink loop
    or a NUL byte raises SourceError naming ``path``.
    """
    if "\0" in path:
        # os.* raise ValueError on it: a config value naming no file, said as such.
        raise SourceError(f"{path!r}: the name holds a NUL byte")
    if not root:
        return path
    base = os.path.realpath(root)
    parts = [p for p in path.split("/") if p and p != "."]
    done: list[str] = []
    followed = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        here = os.path.join(base, *done, part)
        try:
            target = os.readlink(here)
        except OSError:
            # Not a symlink (or not there): taken as it is.
            done.append(part)
            continue
        followed += 1
        if followed > MAX_SYMLINKS:
            raise SourceError(f"{path}: too many levels of symbolic links under --root")
        if target.startswith("/"):
            done = []
        parts = [p for p in target.split("/") if p and p != "."] + parts
    return os.path.join(base, *done)


@dataclass(frozen=True)
class FileFacts:
    """What ``stat`` says about one file; ``path`` is the worker node's view."""

    path: str
    real: str
    uid: int
    gid: int
    mode: int

    @property
    def regular(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def perms(self) -> str:
        """The permission bits in octal, setuid/setgid included (``4755``)."""
        return f"{stat.S_IMODE(self.mode):04o}"

    @property
    def setuid(self) -> bool:
        return bool(self.mode & stat.S_ISUID)

    def problems(self, what: str, want_setuid: bool = False) -> list[str]:
        """Why this file is unsafe for gLExec, one phrase each (empty when fine)."""
        out = []
        if not self.regular:
            out.append(f"{what} {self.path} is not a regular file")
        if self.uid != 0:
            out.append(f"{what} {self.path} is owned by uid {self.uid}, not root")
        writable = [who for who, bit in (("group", stat.S_IWGRP), ("others", stat.S_IWOTH)) if self.mode & bit]
        if writable:
            out.append(f"{what} {self.path} is writable by {' and '.join(writable)} (mode {self.perms})")
        if want_setuid and not self.setuid:
            out.append(f"{what} {self.path} is not setuid (mode {self.perms})")
        return out


def stat_file(root: str, path: str) -> FileFacts | None:
    """Facts about ``path`` under ``root``, or None when there is nothing there."""
    real = under(root, path)
    try:
        # Under a root every link is already resolved inside it; lstat makes
        # sure nothing changed that since.
        st = os.lstat(real) if root else os.stat(real)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    except OSError as exc:
        # Typically a directory the probe's user may not search: nothing learnt.
        raise SourceError(f"{path}: cannot stat: {(exc.strerror or str(exc)).lower()}") from None
    return FileFacts(path, real, st.st_uid, st.st_gid, st.st_mode)


def binary_candidates(explicit: str | None, glite_location: str | None) -> tuple[str, ...]:
    if explicit:
        return (explicit,)
    extra = (f"{glite_location.rstrip('/')}/sbin/glexec",) if glite_location else ()
    return tuple(dict.fromkeys(BINARY_PATHS + extra))


def conf_candidates(explicit: str | None, binary: str | None, glite_location: str | None) -> tuple[str, ...]:
    """glexec.conf locations, the one next to the binary's installation first."""
    if explicit:
        return (explicit,)
    paths = list(CONF_PATHS)
    if glite_location:
        paths.append(f"{glite_location.rstrip('/')}/etc/glexec.conf")
    if binary and binary.endswith("/sbin/glexec"):
        prefix = binary[: -len("/sbin/glexec")]
        if prefix and prefix != "/usr":
            paths.insert(0, f"{prefix}/etc/glexec.conf")
    return tuple(dict.fromkeys(paths))


def _glite_prefix(*paths: str | None) -> str | None:
    """``/opt/glite`` (or the $GLITE_LOCATION-style prefix) when gLExec is a gLite 3.x install."""
    for path in paths:
        for tail in ("/sbin/glexec", "/etc/glexec.conf"):
            if path and path.endswith(tail):
                prefix = path[: -len(tail)]
                if prefix and prefix != "/usr":
                    return prefix
    return None


def lcmaps_db(setting: str | None, binary: str | None, conf: str | None) -> tuple[str, bool]:
    """The LCMAPS database glexec uses: (path, whether glexec.conf named it).

    ``setting`` is glexec.conf's ``lcmaps_db_file``. A relative value is
    taken from LCMAPS' directory, as liblcmaps does; with no value, glexec's
    compiled-in default. Both are under the gLite prefix for a gLite 3.x
    installation (binary or glexec.conf under /opt/glite).

    Known limit: an empty ``lcmaps_db_file =`` is read as "not set" (the
    default). glexec's own configuration reader (Nikhef's glexec sources)
    was not within reach to confirm that; its man page only says that
    without a setting the compiled-in default is used.
    """
    prefix = _glite_prefix(binary, conf)
    lcmaps_dir = f"{prefix}/etc/lcmaps" if prefix else LCMAPS_DIR
    value = (setting or "").strip()
    if not value:
        return f"{lcmaps_dir}/{DEFAULT_LCMAPS_DB.rsplit('/', 1)[-1]}", False
    if value.startswith("/"):
        return value, True
    return f"{lcmaps_dir}/{value[2:] if value.startswith('./') else value}", True


def find(root: str, candidates: Sequence[str]) -> FileFacts | None:
    """The first candidate that exists."""
    for path in candidates:
        facts = stat_file(root, path)
        if facts is not None:
            return facts
    return None


def read_text(facts: FileFacts, deadline: Deadline | None = None) -> str:
    """The file's text through the bounded reader; ConfError naming the path when unusable.

    Never quotes the content: a path that reaches some other file (a secret)
    must not leak it into a result.
    """
    try:
        data = localfile.read_bytes(facts.real, max_bytes=MAX_CONFIG_BYTES, deadline=deadline)
    except SourceError as exc:
        if not os.access(facts.real, os.R_OK) and os.path.exists(facts.real):
            # glexec reads it as root; a probe that cannot has not learnt anything
            # about the node, so this is UNKNOWN, not a finding against the site.
            raise SourceError(f"{facts.path}: cannot read: permission denied "
                              "(run the probe as root or in the group owning the file)") from None
        reason = str(exc).split(": ", 1)[-1]
        raise ConfError(f"{facts.path}: {reason}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfError(f"{facts.path}:{line}: not UTF-8 text") from None


_SECTION = re.compile(r"\[\s*([^\]]*?)\s*\]\Z")
_SETTING = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*)\Z")


def parse_conf(text: str, path: str) -> Mapping[str, str]:
    """The ``[glexec]`` section of glexec.conf (ini: ``key = value``, ``#``/``;`` comments)."""
    settings: dict[str, str] = {}
    section: str | None = None
    seen_glexec = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1)
            seen_glexec = seen_glexec or section == "glexec"
            continue
        setting = _SETTING.match(line)
        if setting is None:
            raise ConfError(f"{path}:{number}: expected 'key = value' or a [section] heading")
        if section is None:
            raise ConfError(f"{path}:{number}: setting '{setting.group(1)}' before any [section]")
        if section != "glexec":
            continue
        key, value = setting.group(1).lower(), setting.group(2).strip()
        if key in settings:
            raise ConfError(f"{path}:{number}: '{key}' set twice in [glexec]")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        settings[key] = value
    if not seen_glexec:
        raise ConfError(f"{path}: no [glexec] section")
    return MappingProxyType(settings)
