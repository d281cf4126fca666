"""A minimal xrootd client over a plain socket, every step bounded by the Deadline.

``probe`` resolves the host, connects, sends the handshake and kXR_protocol in
one write and reads both replies (that is what "speaks xrootd" means here);
then, where the server allows it, kXR_login and kXR_query Qconfig ``version
role``. The second part is best effort: it gets at most half of the time left
and its failures become notes, so a server that answers the handshake but hangs
on login still yields its protocol version instead of a timeout.

Failures are split by what they mean for the service:

* ``Unreachable``: DNS failure, connection refused, reset, no route, or a
  peer that accepts and then closes (or resets) before sending a single byte,
  as xrootd does to a host its ``xrd.allow`` does not admit: nothing answered,
  so the check reports UNKNOWN;
* the ``XrootdError`` family (garbage, oversized or truncated replies,
  kXR_error): a peer answered, but not as xrootd: the check turns them into
  failing findings;
* an expired deadline raises ``CheckTimeout`` naming the stage that hung
  (e.g. "reading kXR_protocol reply from host:1094"), which the probe runtime
  reports in its timeout state.

Every read asks the deadline for its remaining time and reply bodies are
capped (``protocol.MAX_BODY``), so a hostile server can neither hold the probe
past ``-t`` nor make it allocate more than a few KiB.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

from gridready.deadline import Deadline
from gridready.errors import CheckTimeout
from gridready.net import Unreachable, connect, format_address
from gridready.net import describe_os_error as _describe_os_error
from gridready.xrootd import protocol as xp

DEFAULT_PORT = 1094
QCONFIG_KEYS = ("version", "role")
USERNAME = "gridrdy"

_PROTOCOL_SID = b"\x00\x01"
_LOGIN_SID = b"\x00\x02"
_QUERY_SID = b"\x00\x03"

#: kXR_wait answers honoured per request before giving up.
MAX_WAITS = 2


@dataclass(frozen=True)
class ServerInfo:
    """What one xrootd door told us."""

    address: str                     # host:port as asked for
    peer: str                        # the IP address:port actually connected to
    hello: xp.Hello
    handshake_ms: float
    version: str | None = None       # Qconfig "version" (e.g. v5.5.3), None if unknown
    config_role: str | None = None   # Qconfig "role" (e.g. server), None if unknown
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def protocol(self) -> xp.ProtocolReply:
        return self.hello.protocol

    @property
    def role(self) -> xp.Role:
        return self.hello.protocol.role


class Connection:
    """One socket plus the deadline that bounds everything done on it."""

    def __init__(self, sock: socket.socket, where: str, deadline: Deadline) -> None:
        self.sock = sock
        self.where = where
        self.deadline = deadline
        #: Bytes read so far: none at all when the peer closes means it refused us.
        self.received = 0

    def send(self, data: bytes, what: str) -> None:
        with self.deadline.during(f"sending {what} to {self.where}"):
            self.sock.settimeout(self.deadline.remaining())
            try:
                self.sock.sendall(data)
            except TimeoutError:
                raise self.deadline.timeout() from None
            except OSError as exc:
                raise xp.PeerClosed(f"{self.where} dropped the connection before {what} "
                                    f"was sent ({_describe_os_error(exc)})") from None

    def read_exact(self, size: int, what: str) -> bytes:
        """Exactly ``size`` bytes; each recv waits only for what is left of the deadline."""
        buffer = bytearray()
        # Each pass returns at least one byte or leaves, so ``size`` bounds the loop.
        while len(buffer) < size:
            self.sock.settimeout(self.deadline.remaining())
            try:
                chunk = self.sock.recv(min(size - len(buffer), 65536))
            except TimeoutError:
                raise self.deadline.timeout() from None
            except OSError as exc:
                raise xp.PeerClosed(f"{self.where} dropped the connection while we read {what} "
                                    f"({_describe_os_error(exc)})") from None
            if not chunk:
                got = f" after {len(buffer)} of {size} bytes" if buffer else ""
                raise xp.PeerClosed(f"{self.where} closed the connection while we read {what}{got}")
            buffer += chunk
            self.received += len(chunk)
        return bytes(buffer)

    def request(self, data: bytes, streamid: bytes, name: str) -> bytes:
        """Send one request and return the kXR_ok body; kXR_wait is honoured a few times."""
        for _ in range(MAX_WAITS + 1):
            self.send(data, f"the {name} request")
            with self.deadline.during(f"reading {name} reply from {self.where}"):
                frame = xp.read_response(self.read_exact, streamid, f"the {name} reply")
            try:
                return xp.raise_for_status(frame, name)
            except xp.ServerWait as wait:
                self.wait(wait, name)
        raise xp.ProtocolError(f"{name}: still told to wait after {MAX_WAITS} retries")

    def wait(self, wait: xp.ServerWait, name: str) -> None:
        with self.deadline.during(f"waiting {wait.seconds}s before retrying {name} "
                                  f"as {self.where} asked (kXR_wait)"):
            if wait.seconds >= self.deadline.remaining():
                raise self.deadline.timeout()
            time.sleep(wait.seconds)


def probe(host: str, port: int, deadline: Deadline, *, query: bool = True) -> ServerInfo:
    """Talk xrootd to ``host:port``; see the module docstring for what raises what."""
    where = format_address(host, port)
    started = time.monotonic()
    sock = connect(host, port, deadline)
    try:
        peer = format_address(*sock.getpeername()[:2])
        conn = Connection(sock, where, deadline)
        try:
            hello = _hello(conn)
        except xp.PeerClosed as exc:
            if conn.received:
                raise
            # Not a byte came back: the peer refused this client (xrootd's own
            # xrd.allow closes such connections at accept, as do TCP wrappers and
            # firewalls), which says nothing of what it speaks to others.
            how = "reset" if "reset" in str(exc) else "closed"
            reason = f"{how} it without a byte of reply"
            raise Unreachable(f"{where} accepted the connection but {reason}: it does not admit this "
                              "host (xrd.allow, a TCP wrapper or a firewall)", "connect", reason) from None
        handshake_ms = (time.monotonic() - started) * 1000.0
        info = ServerInfo(address=where, peer=peer, hello=hello, handshake_ms=handshake_ms)
        if query:
            info = _query_config(sock, where, deadline, info)
        return info
    finally:
        sock.close()


def _hello(conn: Connection) -> xp.Hello:
    # kXR_ableTLS so the server states its TLS capability and requirements; a
    # kXR_gotoTLS answer then only stops the optional Qconfig part (no TLS here).
    request = xp.protocol_request(_PROTOCOL_SID, xp.KXR_ABLE_TLS)
    conn.send(xp.HANDSHAKE + request, "the handshake and kXR_protocol request")
    stage = f"reading kXR_protocol reply from {conn.where}"
    with conn.deadline.during(stage):
        handshake, frame = xp.read_opening(conn.read_exact, _PROTOCOL_SID)
    for _ in range(MAX_WAITS):
        try:
            body = xp.raise_for_status(frame, "kXR_protocol")
            return xp.Hello(handshake, xp.parse_protocol_reply(body))
        except xp.ServerWait as wait:
            # The handshake is answered; only kXR_protocol is sent again.
            conn.wait(wait, "kXR_protocol")
        conn.send(request, "the kXR_protocol request")
        with conn.deadline.during(stage):
            frame = xp.read_response(conn.read_exact, _PROTOCOL_SID, "the kXR_protocol reply")
    try:
        return xp.Hello(handshake, xp.parse_protocol_reply(xp.raise_for_status(frame, "kXR_protocol")))
    except xp.ServerWait:
        raise xp.ProtocolError(f"kXR_protocol: still told to wait after {MAX_WAITS} retries") from None


def _query_config(sock: socket.socket, where: str, deadline: Deadline,
                  info: ServerInfo) -> ServerInfo:
    """kXR_login then kXR_query Qconfig; problems become notes, never failures."""
    flags = info.protocol.flags
    if flags & xp.KXR_GOTO_TLS:
        return _with(info, notes=("server requires TLS now (kXR_gotoTLS): Qconfig not queried",))
    left = deadline.remaining()
    if left < 0.05:
        return _with(info, notes=("no time left for kXR_login/kXR_query",))
    # A sub-deadline: this optional part may use at most half of what is left.
    budget = Deadline(left / 2)
    conn = Connection(sock, where, budget)
    try:
        body = conn.request(xp.login_request(_LOGIN_SID, os.getpid(), USERNAME), _LOGIN_SID, "kXR_login")
        login = xp.parse_login_reply(body)
        if login.security:
            return _with(info, notes=("server requires authentication "
                                      f"({', '.join(login.security)}): Qconfig not queried",))
        body = conn.request(xp.qconfig_request(_QUERY_SID, QCONFIG_KEYS), _QUERY_SID, "kXR_query")
        values = xp.parse_qconfig(body, QCONFIG_KEYS)
    except CheckTimeout as exc:
        if deadline.expired:
            raise deadline.timeout() from None
        return _with(info, notes=(f"Qconfig not read: no answer within {budget.seconds:.1f}s "
                                  f"while {exc.stage}",))
    except xp.XrootdError as exc:
        return _with(info, notes=(f"Qconfig not read: {exc}",))
    unsupported = [key for key in QCONFIG_KEYS if values.get(key) is None]
    notes = (f"Qconfig keys not supported by the server: {', '.join(unsupported)}",) if unsupported else ()
    return _with(info, version=values.get("version"), config_role=values.get("role"), notes=notes)


def _with(info: ServerInfo, *, version: str | None = None, config_role: str | None = None,
          notes: tuple[str, ...] = ()) -> ServerInfo:
    return ServerInfo(address=info.address, peer=info.peer, hello=info.hello,
                      handshake_ms=info.handshake_ms, version=version or info.version,
                      config_role=config_role or info.config_role, notes=info.notes + notes)
