"""Test helper: the real Debian xrootd server on a free port, answering loopback clients only.

Usage from any test module::

    from tests.servers.xrootd import running_xrootd, xrootd_fixture

    def test_x():
        with running_xrootd() as server:            # role="server" (default) or "manager"
            server.host, server.port, server.url    # "127.0.0.1", 40123, "root://127.0.0.1:40123"

    real_xrootd = xrootd_fixture()                   # a module-scoped fixture yielding the server

It runs ``xrootd -c cfg -l =log`` (with ``-R xrootd`` when started as root,
since xrootd refuses to run as root) exporting an empty temporary directory,
with ``all.adminpath``/``all.pidpath`` in a temporary directory owned by the
xrootd user. ``xrd.port any`` lets xrootd pick the port, read back from the
log line ``... anon@host:PORT initialization completed.``. xrootd has no
directive to bind one address, so ``xrd.allow host 127.0.0.1`` makes it refuse
every client but this machine's loopback. A manager also needs ``all.manager``
(the cmsd it would report to): it points at a free port where nothing listens,
which xrootd tolerates. Startup is bounded (START_TIMEOUT) and the process is
stopped (TERM, then KILL) and its directory removed when the block exits.
Only a missing xrootd binary skips a test; in CI (.ci/run) it is installed.

The module also has builders for the bytes an xrootd server sends (``frame``,
``handshake_reply``, ``protocol_reply``, ...), for fake and hostile servers.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.servers.process import stop

START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
RUN_AS = "xrootd"
ROLES = ("server", "manager")

_READY = re.compile(r"@\S*:(\d+) initialization completed\.")
_FAILED = re.compile(r"initialization failed\.")


@dataclass(frozen=True)
class XrootdServer:
    host: str
    port: int
    role: str
    workdir: Path
    log: Path
    export: Path
    pid: int

    @property
    def url(self) -> str:
        return f"root://{self.host}:{self.port}"

    @property
    def door(self) -> str:
        return f"{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def find_xrootd() -> str | None:
    return shutil.which("xrootd") or shutil.which("xrootd", path="/usr/bin:/usr/sbin:/usr/local/bin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tls_files(workdir: Path) -> tuple[Path, Path]:
    """A self-signed loopback certificate and key (openssl) for ``xrd.tls``."""
    certs = workdir / "certs"
    certs.mkdir()
    cert, key = certs / "hostcert.pem", certs / "hostkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    return cert, key


def _config(workdir: Path, export: Path, role: str, tls: str | None = None, allow: str = "127.0.0.1") -> str:
    lines = [
        "# gridready test server: loopback clients only, nothing to authenticate",
        "xrd.port any",
        f"xrd.allow host {allow}",
        "xrd.network nodnr",
        "all.export /",
        f"oss.localroot {export}",
        f"all.adminpath {workdir / 'admin'}",
        f"all.pidpath {workdir / 'admin'}",
        f"all.role {role}",
    ]
    if role == "manager":
        lines.append(f"all.manager 127.0.0.1:{_free_port()}")
    if tls is not None:
        cert, key = workdir / "certs" / "hostcert.pem", workdir / "certs" / "hostkey.pem"
        # noverify: no client certificates to check on loopback.
        lines += [f"xrd.tls {cert} {key}", "xrd.tlsca noverify"]
        if tls:
            lines.append(f"xrootd.tls {tls}")
    return "\n".join(lines) + "\n"


def _give_to(user: str, *paths: Path) -> list[str]:
    """chown ``paths`` to ``user`` when we are root; the ``-R`` arguments that go with it."""
    if os.geteuid() != 0:
        return []
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise RuntimeError(f"running as root, but there is no '{user}' user for xrootd -R "
                           "(install the xrootd-server package)") from None
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return ["-R", user]


def _wait_ready(process: subprocess.Popen[bytes], log: Path, console: Path) -> int:
    """The port xrootd reports once initialised; bounded in time and in polls."""
    started = time.monotonic()
    for _ in range(int(START_TIMEOUT / 0.05) + 1):
        text = log.read_text(errors="replace") if log.exists() else ""
        match = _READY.search(text)
        if match:
            return int(match.group(1))
        if process.poll() is not None or _FAILED.search(text):
            output = console.read_text(errors="replace") if console.exists() else ""
            raise RuntimeError(f"xrootd did not start (exit {process.poll()}): "
                               f"{(text + output).strip()[-2000:]}")
        if time.monotonic() - started > START_TIMEOUT:
            break
        time.sleep(0.05)
    raise RuntimeError(f"xrootd did not report 'initialization completed' within {START_TIMEOUT:g}s")


def _wait_accepting(port: int) -> None:
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"xrootd reported port {port} but does not accept connections there")


@contextmanager
def running_xrootd(role: str = "server", tls: str | None = None,
                   allow: str = "127.0.0.1") -> Iterator[XrootdServer]:
    """Run a real xrootd (``role`` server or manager) on 127.0.0.1; yields an XrootdServer.

    ``tls``: None, no TLS; "" ``xrd.tls`` with a self-signed loopback certificate
    (TLS offered); else also ``xrootd.tls <tls>``, e.g. "capable all" (TLS required).
    ``allow``: the one host ``xrd.allow`` admits; another address (e.g. 192.0.2.7)
    makes the server close every loopback client's connection at accept.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    binary = find_xrootd()
    if binary is None:
        pytest.skip("xrootd is not installed (Debian package xrootd-server)")
    workdir = Path(tempfile.mkdtemp(prefix="gridready-xrootd-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        workdir.chmod(0o755)
        admin, export, logs = workdir / "admin", workdir / "export", workdir / "logs"
        for path in (admin, export, logs):
            path.mkdir()
        tls_paths = _tls_files(workdir) if tls is not None else ()
        config = workdir / "xrootd.cfg"
        config.write_text(_config(workdir, export, role, tls, allow), encoding="utf-8")
        config.chmod(0o644)
        run_as = _give_to(RUN_AS, admin, export, logs, *(p for p in tls_paths))
        if tls_paths:
            _give_to(RUN_AS, tls_paths[0].parent)
        log, console = logs / "xrootd.log", workdir / "console.log"
        with open(console, "wb") as out:
            # "-l =FILE": log to FILE without xrootd's daily renaming.
            process = subprocess.Popen([binary, *run_as, "-c", str(config), "-l", f"={log}"],
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        port = _wait_ready(process, log, console)
        _wait_accepting(port)
        yield XrootdServer(host="127.0.0.1", port=port, role=role, workdir=workdir, log=log,
                           export=export, pid=process.pid)
    finally:
        if process is not None:
            stop(process, STOP_TIMEOUT)
        shutil.rmtree(workdir, ignore_errors=True)


def xrootd_fixture(role: str = "server",
                   scope: Literal["session", "package", "module", "class", "function"] = "module") -> Any:
    """A pytest fixture (assign it to a module-level name) yielding a running XrootdServer."""

    def _xrootd() -> Iterator[XrootdServer]:
        with running_xrootd(role) as server:
            yield server

    return pytest.fixture(scope=scope)(_xrootd)


# --- reply builders for fake and hostile servers ---------------------------------

PROTOCOL_SID = b"\x00\x01"
LOGIN_SID = b"\x00\x02"
QUERY_SID = b"\x00\x03"
#: What the client sends first: handshake (20 bytes) + kXR_protocol (24 bytes).
OPENING_SIZE = 44
LOGIN_SIZE = 24


def frame(streamid: bytes, status: int, body: bytes = b"", dlen: int | None = None) -> bytes:
    return struct.pack(">2sHi", streamid, status, len(body) if dlen is None else dlen) + body


def handshake_reply(protover: int = 0x511, msgval: int = 1) -> bytes:
    return frame(b"\0\0", 0, struct.pack(">ii", protover, msgval))


def protocol_reply(pval: int = 0x511, flags: int = 0x1, extra: bytes = b"") -> bytes:
    return frame(PROTOCOL_SID, 0, struct.pack(">iI", pval, flags) + extra)


def error_reply(streamid: bytes, errnum: int, message: str) -> bytes:
    return frame(streamid, 4003, struct.pack(">i", errnum) + message.encode() + b"\0")


def login_reply(security: str = "") -> bytes:
    return frame(LOGIN_SID, 0, bytes(range(16)) + security.encode())


def qconfig_reply(text: str) -> bytes:
    return frame(QUERY_SID, 0, text.encode())
