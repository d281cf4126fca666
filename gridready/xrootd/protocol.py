"""The xrootd wire protocol (XProtocol.hh), encoded and decoded with struct; no I/O.

Everything is big-endian. A client opens with a 20-byte handshake and, in the
same write, a kXR_protocol request; the server answers the handshake with an
8-byte body (protocol version, server type) and the request with a normal
response (``streamid[2] status:u16 dlen:i32`` then ``dlen`` bytes). Recent
servers may skip the separate handshake reply, so both orders are accepted.

Decoding is defensive because the peer may be anything listening on the port:
every length is checked against ``MAX_BODY`` before a byte of the body is read,
unknown status codes and foreign stream ids are rejected, and every problem is a
``ProtocolError`` (or another ``XrootdError``) with a one-line message. Reading
goes through a ``ReadExact`` callable, so the same decoder serves the socket
client and the tests (which feed it arbitrary bytes).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# --- constants (XProtocol.hh) -------------------------------------------------

#: Client handshake: five int32, the last two 4 and 2012 (ROOTD_PQ).
HANDSHAKE = struct.pack(">5i", 0, 0, 0, 4, 2012)
#: The protocol version this client claims (5.2.0); servers answer with their own.
CLIENT_PROTOCOL = 0x520

KXR_QUERY = 3001
KXR_PROTOCOL = 3006
KXR_LOGIN = 3007
KXR_QCONFIG = 7

#: kXR_protocol request "expect" byte: the next request will be kXR_login.
KXR_EXP_LOGIN = 0x03
#: kXR_protocol request flag: this client can switch to TLS. Servers (dCache's
#: xrootd4j among them) may state their TLS capability only to clients that say
#: so, and xrootd 5 sets kXR_gotoTLS only then (checked against xrootd 5.5.3).
KXR_ABLE_TLS = 0x02
#: kXR_login capability version byte: protocol level 5, no async support.
KXR_VER005 = 5

KXR_OK = 0
KXR_OKSOFAR = 4000
KXR_ATTN = 4001
KXR_AUTHMORE = 4002
KXR_ERROR = 4003
KXR_REDIRECT = 4004
KXR_WAIT = 4005
KXR_WAITRESP = 4006
KXR_STATUS = 4007

STATUS_NAMES: dict[int, str] = {
    KXR_OK: "kXR_ok", KXR_OKSOFAR: "kXR_oksofar", KXR_ATTN: "kXR_attn",
    KXR_AUTHMORE: "kXR_authmore", KXR_ERROR: "kXR_error", KXR_REDIRECT: "kXR_redirect",
    KXR_WAIT: "kXR_wait", KXR_WAITRESP: "kXR_waitresp", KXR_STATUS: "kXR_status",
}

ERROR_NAMES: dict[int, str] = dict(enumerate((
    "kXR_ArgInvalid", "kXR_ArgMissing", "kXR_ArgTooLong", "kXR_FileLocked", "kXR_FileNotOpen",
    "kXR_FSError", "kXR_InvalidRequest", "kXR_IOError", "kXR_NoMemory", "kXR_NoSpace",
    "kXR_NotAuthorized", "kXR_NotFound", "kXR_ServerError", "kXR_Unsupported", "kXR_noserver",
    "kXR_NotFile", "kXR_isDirectory", "kXR_Cancelled", "kXR_ItExists", "kXR_ChkSumErr",
    "kXR_inProgress", "kXR_overQuota", "kXR_SigVerErr", "kXR_DecryptErr", "kXR_Overloaded",
    "kXR_fsReadOnly", "kXR_BadPayload", "kXR_AttrNotFound", "kXR_TLSRequired", "kXR_noReplicas",
    "kXR_AuthFailed", "kXR_Impossible", "kXR_Conflict", "kXR_TooManyErrs", "kXR_ReqTimedOut",
    "kXR_TimerExpired"), start=3000))

# kXR_protocol reply flags.
KXR_IS_SERVER = 0x00000001
KXR_IS_MANAGER = 0x00000002
KXR_ATTR_CACHE = 0x00000080
KXR_ATTR_META = 0x00000100
KXR_ATTR_PROXY = 0x00000200
KXR_ATTR_SUPER = 0x00000400
KXR_GOTO_TLS = 0x40000000
KXR_HAVE_TLS = 0x80000000
# TLS requirements the server announces (XProtocol.hh "TLS requirements").
KXR_TLS_DATA = 0x01000000
KXR_TLS_GPF = 0x02000000
KXR_TLS_LOGIN = 0x04000000
KXR_TLS_SESS = 0x08000000
KXR_TLS_TPC = 0x10000000
KXR_TLS_GPFA = 0x20000000

FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (KXR_IS_SERVER, "isServer"), (KXR_IS_MANAGER, "isManager"), (KXR_ATTR_CACHE, "attrCache"),
    (KXR_ATTR_META, "attrMeta"), (KXR_ATTR_PROXY, "attrProxy"), (KXR_ATTR_SUPER, "attrSuper"),
    (0x00100000, "supposc"), (0x00200000, "suppgrw"), (0x00400000, "supgpf"),
    (0x00800000, "anongpf"), (KXR_TLS_DATA, "tlsData"), (KXR_TLS_GPF, "tlsGPF"),
    (KXR_TLS_LOGIN, "tlsLogin"), (KXR_TLS_SESS, "tlsSess"), (KXR_TLS_TPC, "tlsTPC"),
    (KXR_TLS_GPFA, "tlsGPFA"), (KXR_GOTO_TLS, "gotoTLS"), (KXR_HAVE_TLS, "haveTLS"),
)

#: What each TLS requirement bit covers, for messages.
TLS_REQUIREMENTS: tuple[tuple[int, str], ...] = (
    (KXR_TLS_LOGIN, "login"), (KXR_TLS_SESS, "session"), (KXR_TLS_DATA, "data"),
    (KXR_TLS_GPF, "gpfile"), (KXR_TLS_GPFA, "anonymous gpfile"), (KXR_TLS_TPC, "tpc"),
)

#: Largest reply body accepted; a server announcing more is not answering our questions.
MAX_BODY = 64 * 1024
#: Frames read for one reply at most (kXR_attn notices, kXR_oksofar parts).
MAX_FRAMES = 32

_HEADER = struct.Struct(">2sHi")
_PROTOCOL_REQUEST = struct.Struct(">2sHiBB10si")
_LOGIN_REQUEST = struct.Struct(">2sHi8sBBBBi")
_QUERY_REQUEST = struct.Struct(">2sHH2s4s8si")

HEADER_SIZE = _HEADER.size  # 8

# --- errors -------------------------------------------------------------------


class XrootdError(Exception):
    """Anything the xrootd exchange can fail with; the message is one line."""


class ProtocolError(XrootdError):
    """The peer's bytes are not a valid xrootd reply (it does not speak xrootd)."""


class PeerClosed(ProtocolError):
    """The peer closed (or reset) the connection before the reply was complete."""


class ServerRefused(XrootdError):
    """The server answered with kXR_error."""

    def __init__(self, errnum: int, text: str, request: str = "") -> None:
        self.errnum = errnum
        self.text = text
        self.request = request
        name = ERROR_NAMES.get(errnum, "unknown error code")
        what = f"{request} " if request else ""
        super().__init__(f"{what}failed: kXR_error {errnum} {name}" + (f": {text}" if text else ""))

    @property
    def name(self) -> str:
        return ERROR_NAMES.get(self.errnum, "unknown error code")


class ServerWait(XrootdError):
    """The server asked the client to retry after ``seconds`` (kXR_wait)."""

    def __init__(self, seconds: int, text: str) -> None:
        self.seconds = seconds
        self.text = text
        super().__init__(f"server asked to wait {seconds}s (kXR_wait)" + (f": {text}" if text else ""))


class ServerRedirect(XrootdError):
    """The server sent the client elsewhere (kXR_redirect)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(f"redirected to {host}:{port} (kXR_redirect)")


class ServerDeferred(XrootdError):
    """The server will answer later on another message (kXR_waitresp); we do not wait."""


# --- small helpers -------------------------------------------------------------

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def printable(data: bytes | str, limit: int = 120) -> str:
    """Peer-supplied text made safe for one line of output: ASCII, no controls, bounded."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = _UNPRINTABLE.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit] + "..."


def hex_preview(data: bytes, limit: int = 16) -> str:
    shown = data[:limit].hex(" ")
    return shown + (" ..." if len(data) > limit else "")


def version_parts(pval: int) -> tuple[int, int, int]:
    """(x, y, z) of a protocol version: three decimal digits in hex nibbles (0x511 = 5.1.1)."""
    return (pval >> 8) & 0xFFFFFF, (pval >> 4) & 0xF, pval & 0xF


def version_text(pval: int) -> str:
    return "%d.%d.%d" % version_parts(pval)


def version_number(pval: int) -> int:
    """The version as one number for perfdata: x*10000 + y*100 + z (5.1.1 -> 50101)."""
    x, y, z = version_parts(pval)
    return x * 10000 + y * 100 + z


_VERSION = re.compile(r"(\d{1,4})(?:\.(\d{1,2}))?(?:\.(\d{1,2}))?\Z")


def parse_version(text: str) -> tuple[int, int, int]:
    """``X[.Y[.Z]]`` as a tuple; ValueError with a one-line message otherwise."""
    match = _VERSION.match(text.strip())
    if not match:
        raise ValueError(f"bad protocol version {text!r}, expected X.Y.Z (e.g. 2.9.0)")
    return int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)


def flag_names(flags: int) -> list[str]:
    names = [name for bit, name in FLAG_NAMES if flags & bit]
    rest = flags & ~sum(bit for bit, _ in FLAG_NAMES)
    if rest:
        names.append(f"0x{rest:x}")
    return names


@dataclass(frozen=True)
class Role:
    """What the server says it is: ``kind`` is what ``--role`` compares against."""

    kind: str   # "server", "manager" or "supervisor" (both)
    label: str  # e.g. "data server", "manager", "meta-manager", "redirector"

    def matches(self, wanted: str) -> bool:
        if wanted == "any":
            return True
        return self.kind == wanted or self.kind == "supervisor"


def role_of(flags: int) -> Role:
    """The role from kXR_protocol flags.

    Current servers set kXR_isServer/kXR_isManager (plus attribute bits); 2010
    servers put the server type there instead, 1 data server and 0 load
    balancer, which lands on the same bit, so one rule covers both.
    """
    server, manager = bool(flags & KXR_IS_SERVER), bool(flags & KXR_IS_MANAGER)
    if manager and (server or flags & KXR_ATTR_SUPER):
        return Role("supervisor", "supervisor")
    if manager:
        if flags & KXR_ATTR_META:
            return Role("manager", "meta-manager")
        return Role("manager", "proxy manager" if flags & KXR_ATTR_PROXY else "manager")
    if server:
        return Role("server", "proxy server" if flags & KXR_ATTR_PROXY else "data server")
    return Role("manager", "redirector")


# --- requests -------------------------------------------------------------------


def protocol_request(streamid: bytes, flags: int = 0) -> bytes:
    """kXR_protocol asking for the server's version and flags; says kXR_login comes next."""
    return _PROTOCOL_REQUEST.pack(streamid, KXR_PROTOCOL, CLIENT_PROTOCOL, flags,
                                  KXR_EXP_LOGIN, bytes(10), 0)


def login_request(streamid: bytes, pid: int, username: str) -> bytes:
    name = username.encode("ascii", "replace")[:8]
    return _LOGIN_REQUEST.pack(streamid, KXR_LOGIN, pid & 0x7FFFFFFF, name, 0, 0, KXR_VER005, 0, 0)


def qconfig_request(streamid: bytes, keys: Sequence[str]) -> bytes:
    """kXR_query kXR_Qconfig for space-separated ``keys``; one ``value\\n`` comes back per key."""
    payload = " ".join(keys).encode("ascii")
    return _QUERY_REQUEST.pack(streamid, KXR_QUERY, KXR_QCONFIG, bytes(2), bytes(4), bytes(8),
                               len(payload)) + payload


# --- replies --------------------------------------------------------------------

#: Reads exactly ``n`` bytes, described by the second argument for messages;
#: raises PeerClosed when the peer ends the stream first.
ReadExact = Callable[[int, str], bytes]


@dataclass(frozen=True)
class Frame:
    streamid: bytes
    status: int
    body: bytes


def parse_header(data: bytes, limit: int = MAX_BODY) -> tuple[bytes, int, int]:
    """(streamid, status, dlen) of an 8-byte response header, or ProtocolError."""
    if len(data) != HEADER_SIZE:
        raise ProtocolError(f"short reply header ({len(data)} of {HEADER_SIZE} bytes)")
    streamid, status, dlen = _HEADER.unpack(data)
    if status not in STATUS_NAMES:
        raise ProtocolError(f"reply header {hex_preview(data)} has unknown status {status}")
    if dlen < 0:
        raise ProtocolError(f"reply header announces a negative length ({dlen})")
    if dlen > limit:
        raise ProtocolError(f"reply announces {dlen} bytes, more than the {limit} accepted")
    return streamid, status, dlen


def read_frame(read: ReadExact, what: str, limit: int = MAX_BODY) -> Frame:
    streamid, status, dlen = parse_header(read(HEADER_SIZE, f"{what} header"), limit)
    body = read(dlen, f"{what} ({dlen} bytes)") if dlen else b""
    return Frame(streamid, status, body)


def read_response(read: ReadExact, streamid: bytes, what: str, first: Frame | None = None,
                  limit: int = MAX_BODY) -> Frame:
    """The complete response to the request sent as ``streamid``.

    kXR_oksofar parts are joined (the total is bounded by ``limit``);
    unsolicited kXR_attn notices are skipped. At most MAX_FRAMES are read.
    """
    parts: list[bytes] = []
    size = 0
    frame = first
    for _ in range(MAX_FRAMES):
        if frame is None:
            frame = read_frame(read, what, limit - size)
        if frame.status == KXR_ATTN:
            frame = None
            continue
        if frame.streamid != streamid:
            raise ProtocolError(f"{what} came for stream {frame.streamid.hex()}, "
                                f"expected {streamid.hex()}")
        if frame.status == KXR_OKSOFAR:
            parts.append(frame.body)
            size += len(frame.body)
            frame = None
            continue
        return Frame(frame.streamid, frame.status, b"".join(parts) + frame.body)
    raise ProtocolError(f"{what}: more than {MAX_FRAMES} partial or unsolicited frames")


def _ntstring(data: bytes) -> str:
    return printable(data.split(b"\0", 1)[0])


def raise_for_status(frame: Frame, request: str) -> bytes:
    """The body of a kXR_ok frame; the matching XrootdError for any other status."""
    body = frame.body
    if frame.status == KXR_OK:
        return body
    if frame.status == KXR_ERROR:
        if len(body) < 4:
            raise ProtocolError(f"kXR_error reply to {request} too short ({len(body)} bytes)")
        (errnum,) = struct.unpack(">i", body[:4])
        raise ServerRefused(errnum, _ntstring(body[4:]), request)
    if frame.status == KXR_WAIT:
        if len(body) < 4:
            raise ProtocolError(f"kXR_wait reply to {request} too short ({len(body)} bytes)")
        (seconds,) = struct.unpack(">i", body[:4])
        raise ServerWait(max(seconds, 0), _ntstring(body[4:]))
    if frame.status == KXR_REDIRECT:
        if len(body) < 4:
            raise ProtocolError(f"kXR_redirect reply to {request} too short ({len(body)} bytes)")
        (port,) = struct.unpack(">i", body[:4])
        target = printable(body[4:].split(b"?", 1)[0], 80)
        raise ServerRedirect(target or "?", port)
    if frame.status == KXR_WAITRESP:
        raise ServerDeferred(f"{request}: server deferred its answer (kXR_waitresp)")
    raise ProtocolError(f"unexpected {STATUS_NAMES[frame.status]} reply to {request}")


@dataclass(frozen=True)
class TlsState:
    """What a kXR_protocol reply says about TLS (flags as sent to a kXR_ableTLS client).

    ``offered``: kXR_haveTLS, the server has a TLS context (``xrd.tls``).
    ``required``: the control connection must be encrypted: kXR_gotoTLS (switch
    now, before login: ``xrootd.tls [capable] all|login``) or kXR_tlsLogin /
    kXR_tlsSess (login or the session after it). A requirement only for data,
    gpfile or TPC leaves the login and requests in clear, so it is not "required".
    ``covers``: the requirement bits by name (``login``, ``session``, ``data``, ...).
    """

    offered: bool
    required: bool
    covers: tuple[str, ...]
    #: kXR_gotoTLS: switch to TLS now, before kXR_login.
    goto: bool = False

    def describe(self) -> str:
        """E.g. "TLS required (kXR_gotoTLS; login, data, tpc)", "TLS offered, not required"."""
        if self.required:
            how = ["kXR_gotoTLS"] if self.goto else []
            return f"TLS required ({'; '.join(how + ([', '.join(self.covers)] if self.covers else []))})"
        if self.offered:
            extra = f" (only for {', '.join(self.covers)})" if self.covers else ""
            return f"TLS offered, not required for login or session{extra}"
        return "no TLS (kXR_haveTLS not set)"


def tls_state(flags: int) -> TlsState:
    """The TLS facts in kXR_protocol reply ``flags`` (an unsigned 32-bit value)."""
    flags &= 0xFFFFFFFF
    covers = tuple(name for bit, name in TLS_REQUIREMENTS if flags & bit)
    goto = bool(flags & KXR_GOTO_TLS)
    required = goto or bool(flags & (KXR_TLS_LOGIN | KXR_TLS_SESS))
    # A server demanding TLS has it even if it left kXR_haveTLS out.
    return TlsState(offered=bool(flags & KXR_HAVE_TLS) or required, required=required,
                    covers=covers, goto=goto)


@dataclass(frozen=True)
class HandshakeReply:
    protover: int
    #: 1 data server, 0 load balancer/redirector.
    msgval: int


@dataclass(frozen=True)
class ProtocolReply:
    pval: int
    flags: int
    #: Security requirements ("S" section): signing level, if announced.
    security_level: int | None = None
    #: Bytes after the flags this decoder did not understand.
    unparsed: int = 0

    @property
    def version(self) -> str:
        return version_text(self.pval)

    @property
    def role(self) -> Role:
        return role_of(self.flags)

    @property
    def tls(self) -> TlsState:
        return tls_state(self.flags)


def parse_handshake_reply(frame: Frame) -> HandshakeReply:
    if frame.status != KXR_OK or len(frame.body) != 8:
        raise ProtocolError(f"handshake reply has status {frame.status} and {len(frame.body)} "
                            "bytes (expected kXR_ok with 8)")
    protover, msgval = struct.unpack(">ii", frame.body)
    return HandshakeReply(protover, msgval)


def parse_protocol_reply(body: bytes) -> ProtocolReply:
    """pval and flags, then the optional 'B' (bind) and 'S' (security) sections."""
    if len(body) < 8:
        raise ProtocolError(f"kXR_protocol reply too short ({len(body)} bytes, expected 8 or more)")
    pval, flags = struct.unpack(">iI", body[:8])
    if pval < 0:
        raise ProtocolError(f"kXR_protocol reply has a negative protocol version ({pval})")
    rest = body[8:]
    level: int | None = None
    # Sections are tag-prefixed; anything not matching is counted, not trusted.
    for _ in range(4):
        if rest[:1] == b"B" and len(rest) >= 4:
            (length,) = struct.unpack(">H", rest[2:4])
            if len(rest) < 4 + length:
                break
            rest = rest[4 + length:]
        elif rest[:1] == b"S" and len(rest) >= 6:
            count = rest[5]
            if len(rest) < 6 + 2 * count:
                break
            level = rest[4]
            rest = rest[6 + 2 * count:]
        else:
            break
    return ProtocolReply(pval, flags, level, len(rest))


@dataclass(frozen=True)
class Hello:
    """What the opening exchange revealed: the handshake reply (if sent) and kXR_protocol's."""

    handshake: HandshakeReply | None
    protocol: ProtocolReply


def read_opening(read: ReadExact, streamid: bytes) -> tuple[HandshakeReply | None, Frame]:
    """The handshake reply (None if the server skipped it) and the kXR_protocol response frame."""
    first = read_frame(read, "the handshake reply")
    if first.streamid == streamid:
        return None, read_response(read, streamid, "the kXR_protocol reply", first=first)
    if first.streamid != b"\0\0":
        raise ProtocolError(f"first reply came for stream {first.streamid.hex()}, "
                            f"expected the handshake reply or stream {streamid.hex()}")
    if first.status != KXR_OK:
        raise_for_status(first, "the handshake")
    handshake = parse_handshake_reply(first)
    return handshake, read_response(read, streamid, "the kXR_protocol reply")


def read_hello(read: ReadExact, streamid: bytes) -> Hello:
    """Read and decode the replies to the handshake + kXR_protocol sent as ``streamid``."""
    handshake, frame = read_opening(read, streamid)
    return Hello(handshake, parse_protocol_reply(raise_for_status(frame, "kXR_protocol")))


@dataclass(frozen=True)
class LoginReply:
    session: bytes
    #: Authentication protocols the server requires ("&P=gsi,..." tokens), empty if none.
    security: tuple[str, ...]


def parse_login_reply(body: bytes) -> LoginReply:
    if len(body) < 16:
        raise ProtocolError(f"kXR_login reply too short ({len(body)} bytes, expected 16 or more)")
    text = body[16:].split(b"\0", 1)[0].decode("ascii", "replace")
    protocols = tuple(printable(part.split(",", 1)[0], 20)
                      for part in text.split("&P=")[1:] if part)
    return LoginReply(body[:16], protocols)


def parse_qconfig(body: bytes, keys: Sequence[str]) -> dict[str, str | None]:
    """One value per key; a key echoed back unchanged (or missing) means not supported."""
    lines = body.split(b"\0", 1)[0].decode("utf-8", "replace").split("\n")
    values: dict[str, str | None] = {}
    for index, key in enumerate(keys):
        value = printable(lines[index], 80) if index < len(lines) else ""
        values[key] = None if not value or value == key else value
    return values
