"""Can this worker node reach its authorization service? TCP connect + TLS handshake.

glexec asks SCAS or the Argus PEP daemon on every call, so a service that is
down or presents a certificate the node does not trust makes every pilot's
identity switch fail. The test stops after the handshake: it needs no
request format and no authorization of its own. Both steps are bounded by
the probe's deadline; a service that accepts the connection and then says
nothing is a timeout naming the stage, not a hung probe.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from gridready.deadline import Deadline
from gridready.errors import UsageError
from gridready.glexec.lcmaps import LABELS
from gridready.net import Unreachable, connect

#: Where grid CA certificates live on a worker node (IGTF bundle, hashed names).
GRID_CAPATH = "/etc/grid-security/certificates"


@dataclass(frozen=True)
class TLSSettings:
    """Trust anchors and client credential for the handshake.

    ``capath`` is a hashed CA directory or a PEM bundle file; ``cert``/``key``
    (a proxy file holds both) are presented when the service asks for them.
    """

    capath: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True

    def context(self) -> ssl.SSLContext:
        """An SSLContext; UsageError when a given file is missing or unusable."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.capath:
            try:
                if os.path.isdir(self.capath):
                    ctx.load_verify_locations(capath=self.capath)
                else:
                    ctx.load_verify_locations(cafile=self.capath)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"--capath {self.capath}: no usable CA certificates ({_reason(exc)})") from None
        if self.cert:
            try:
                ctx.load_cert_chain(self.cert, self.key or None)
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"client certificate {self.cert}: not a usable PEM certificate and key "
                                 f"({_reason(exc)})") from None
        return ctx


def default_capath(root: str = "") -> str | None:
    """The grid CA directory (under ``root``) when the node has one, else None (system CAs)."""
    from gridready.glexec.install import under  # resolved inside root, like every --root path

    path = under(root, GRID_CAPATH)
    return path if os.path.isdir(path) else None


@dataclass(frozen=True)
class Reach:
    """The outcome for one endpoint; ``error`` is None when the handshake succeeded."""

    service: str
    url: str
    host: str
    port: int
    connect_ms: float | None = None
    tls_ms: float | None = None
    tls_version: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def split_endpoint(url: str, default_port: int) -> tuple[str, int]:
    """Host and port of an ``https://host[:port]/...`` endpoint; ValueError when it is not one."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme.lower() != "https":
        raise ValueError(f"endpoint {url!r} is not an https:// URL")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError(f"endpoint {url!r} has a bad port") from None
    if not parts.hostname:
        raise ValueError(f"endpoint {url!r} names no host")
    return parts.hostname, port


def handshake(service: str, url: str, default_port: int, ctx: ssl.SSLContext, deadline: Deadline) -> Reach:
    """Connect to ``url`` and complete a TLS handshake, timing both steps.

    A refused connection, an unresolvable name or a failed handshake is a
    Reach with ``error``; running out of time raises the deadline's timeout.
    """
    try:
        host, port = split_endpoint(url, default_port)
    except ValueError as exc:
        return Reach(service, url, "", default_port, error=str(exc))
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    label = LABELS.get(service, service)
    start = time.perf_counter()
    with deadline.during(f"connecting to {label} at {addr}"):
        try:
            sock = connect(host, port, deadline)
        except Unreachable as exc:
            error = f"cannot connect: {exc.reason}" if exc.kind == "connect" else \
                f"cannot resolve {host}: {exc.reason}"
            return Reach(service, url, host, port, error=error)
    connected = time.perf_counter()
    try:
        with deadline.during(f"TLS handshake with {label} at {addr}"):
            sock.settimeout(deadline.remaining())
            try:
                with ctx.wrap_socket(sock, server_hostname=host) as tls:
                    version = tls.version()
            except socket.timeout:
                raise deadline.timeout() from None
            except ssl.SSLCertVerificationError as exc:
                return Reach(service, url, host, port, _ms(start, connected),
                             error=f"TLS handshake failed: certificate not trusted: "
                                   f"{exc.verify_message or _reason(exc)}")
            except (ssl.SSLError, OSError) as exc:
                return Reach(service, url, host, port, _ms(start, connected),
                             error=f"TLS handshake failed: {_reason(exc)}")
    finally:
        sock.close()
    return Reach(service, url, host, port, _ms(start, connected), _ms(connected, time.perf_counter()), version)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)


def _reason(exc: BaseException) -> str:
    """A short reason: OpenSSL's reason code, else strerror, else the text."""
    if isinstance(exc, (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError)):
        return "connection closed by the server"
    if isinstance(exc, ssl.SSLError):
        if exc.reason:
            return exc.reason.lower().replace("_", " ")
        # "[SSL] PEM lib (_ssl.c:3905)" -> "PEM lib"
        return re.sub(r"^\[\w+\]\s*|\s*\(_ssl\.c:\d+\)$", "", exc.strerror or str(exc)) or "TLS error"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
