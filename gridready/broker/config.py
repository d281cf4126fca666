"""Broker addresses and TLS settings for ``gridready publish`` and ``consume``.

Trust follows :mod:`gridready.sources.http`: verification is always on and
the trust anchors are ``--capath`` or, without it, the grid CA directory
(/etc/grid-security/certificates) if it exists, else OpenSSL's compiled-in
store, never ``SSL_CERT_FILE``/``SSL_CERT_DIR``. stomp.py only takes a CA
*file*, so a CA directory is turned into one bundle of its hashed
certificates (``<8 hex>.<n>`` names, as ``c_rehash``/``openssl rehash`` write
them), each read through :mod:`gridready.localfile`.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field

from gridready.errors import GridreadyError
from gridready.localfile import is_regular_file, read_bytes
from gridready.sources.http import PEM_MAX_BYTES, default_trust_anchor, no_trust_anchor

#: Most CA files read from a CA directory (the IGTF bundle holds about 100).
MAX_CA_FILES = 2000
_HASHED = re.compile(r"[0-9a-f]{8}\.[0-9]+")


class BrokerError(GridreadyError):
    """A broker, destination or TLS setting is unusable; the message names it."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``host:port`` or ``[v6]:port`` -> Endpoint; BrokerError naming ``text`` otherwise."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([A-Za-z0-9.-]+):(\d{1,5})", text)
    if not match:
        raise BrokerError(f"--broker {text!r}: expected HOST:PORT")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 1 <= port <= 65535:
        raise BrokerError(f"--broker {text!r}: port {port} is out of range 1..65535")
    return Endpoint(host, port)


def check_destination(text: str) -> str:
    """A STOMP destination (``/queue/name`` or ``/topic/name``); BrokerError otherwise."""
    if not re.fullmatch(r"/(queue|topic)/[A-Za-z0-9._\-/*>]{1,200}", text):
        raise BrokerError(f"--destination {text!r}: expected /queue/NAME or /topic/NAME "
                          "(letters, digits, . _ - /)")
    return text


@dataclass(frozen=True)
class BrokerOptions:
    """Where to connect and how. ``tls`` False: plain STOMP (loopback, tests)."""

    brokers: tuple[Endpoint, ...]
    destination: str
    tls: bool = False
    capath: str | None = None
    cert: str | None = None
    key: str | None = None
    proxy: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    #: Seconds to wait for a TCP connect, the CONNECTED frame or a receipt.
    timeout: float = 10.0

    @property
    def hosts(self) -> list[tuple[str, int]]:
        return [(e.host, e.port) for e in self.brokers]


def _readable_pem(what: str, path: str) -> None:
    """Read ``path`` bounded (a FIFO or device fails at once); BrokerError naming it."""
    from gridready.errors import SourceError
    try:
        data = read_bytes(path, max_bytes=PEM_MAX_BYTES, what=what)
    except SourceError as exc:
        raise BrokerError(str(exc)) from None
    if b"-----BEGIN" not in data:
        raise BrokerError(f"{path}: {what} is not PEM")
    if b"ENCRYPTED" in data:
        raise BrokerError(f"{path}: {what} is encrypted; use an unencrypted key or a proxy")


def ca_bundle(capath: str | None) -> tuple[str, bool]:
    """The CA file stomp.py is given and whether it is a temporary file (delete after use).

    ``capath`` a file: itself. A directory (``capath`` or the grid CA
    directory): a temporary bundle of its hashed certificates. Neither: the
    OpenSSL compiled-in CA file. BrokerError when there are no trust anchors.
    """
    directory: str
    if capath is not None:
        if not os.path.exists(capath):
            raise BrokerError(f"--capath {capath} does not exist")
        if not os.path.isdir(capath):
            _readable_pem("CA file", capath)
            return capath, False
        directory = capath
    else:
        anchor = default_trust_anchor()
        if anchor is None:
            raise BrokerError(f"no CA certificates to verify the broker with ({no_trust_anchor()}); "
                              "give --capath")
        if not os.path.isdir(anchor):
            return anchor, False
        directory = anchor
    names = sorted(n for n in os.listdir(directory) if _HASHED.fullmatch(n))[:MAX_CA_FILES]
    pems = []
    for name in names:
        path = os.path.join(directory, name)
        if is_regular_file(path):
            data = read_bytes(path, max_bytes=PEM_MAX_BYTES, what="CA certificate")
            if b"-----BEGIN CERTIFICATE-----" in data:
                pems.append(data.rstrip(b"\n") + b"\n")
    if not pems:
        raise BrokerError(f"{directory}: no hashed CA certificates (<hash>.0 files) to verify the broker with")
    fd, bundle = tempfile.mkstemp(prefix="gridready-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(b"".join(pems))
    return bundle, True


def client_credentials(options: BrokerOptions) -> tuple[str | None, str | None]:
    """(certificate file, key file) to present: a proxy wins over --cert/--key (both in one file)."""
    if options.proxy:
        _readable_pem("proxy file", options.proxy)
        return options.proxy, options.proxy
    if options.key and not options.cert:
        raise BrokerError(f"a client key ({options.key}) was given without its certificate (--cert)")
    if options.cert:
        _readable_pem("client certificate", options.cert)
        if options.key:
            _readable_pem("client key", options.key)
        return options.cert, options.key or options.cert
    return None, None


def remove_quietly(path: str | None) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass
