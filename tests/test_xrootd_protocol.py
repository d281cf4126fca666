"""The xrootd wire codec: requests byte for byte, replies decoded, any input survived."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridready.xrootd import protocol as xp
from tests.servers.xrootd import (PROTOCOL_SID, error_reply, frame, handshake_reply, login_reply,
                                  protocol_reply)


def reader(data: bytes) -> xp.ReadExact:
    """A ReadExact over a byte string, raising PeerClosed like the socket client does."""
    position = 0

    def read(size: int, what: str) -> bytes:
        nonlocal position
        if position + size > len(data):
            raise xp.PeerClosed(f"closed while we read {what}")
        chunk = data[position:position + size]
        position += size
        return chunk

    return read


def test_handshake_and_requests_are_the_documented_bytes() -> None:
    assert xp.HANDSHAKE.hex() == "00000000" "00000000" "00000000" "00000004" "000007dc"
    request = xp.protocol_request(PROTOCOL_SID)
    assert len(request) == 24
    assert struct.unpack(">2sHiBB10si", request) == (PROTOCOL_SID, 3006, 0x520, 0, 3, bytes(10), 0)
    login = xp.login_request(b"\x00\x02", 4242, "gridrdy")
    assert len(login) == 24
    assert struct.unpack(">2sHi8sBBBBi", login) == (b"\x00\x02", 3007, 4242, b"gridrdy\0", 0, 0, 5, 0, 0)
    query = xp.qconfig_request(b"\x00\x03", ["version", "role"])
    assert struct.unpack(">2sHH2s4s8si", query[:24]) == (b"\x00\x03", 3001, 7, bytes(2), bytes(4),
                                                         bytes(8), 12)
    assert query[24:] == b"version role"


@pytest.mark.parametrize("pval, text, number", [(0x511, "5.1.1", 50101), (0x290, "2.9.0", 20900),
                                                (0x520, "5.2.0", 50200), (0x310, "3.1.0", 30100)])
def test_version_nibbles(pval: int, text: str, number: int) -> None:
    assert xp.version_text(pval) == text
    assert xp.version_number(pval) == number


@pytest.mark.parametrize("text, parts", [("2.9.0", (2, 9, 0)), ("5.1", (5, 1, 0)), ("3", (3, 0, 0))])
def test_parse_version(text: str, parts: tuple[int, int, int]) -> None:
    assert xp.parse_version(text) == parts


@pytest.mark.parametrize("text", ["", "v5", "5.x", "1.2.3.4", "5.1.100"])
def test_parse_version_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad protocol version"):
        xp.parse_version(text)


def test_current_server_hello() -> None:
    data = handshake_reply(0x511, 1) + protocol_reply(0x511, 0x00300001)
    hello = xp.read_hello(reader(data), PROTOCOL_SID)
    assert hello.handshake == xp.HandshakeReply(0x511, 1)
    assert (hello.protocol.version, hello.protocol.role) == ("5.1.1", xp.Role("server", "data server"))
    assert xp.flag_names(hello.protocol.flags) == ["isServer", "supposc", "suppgrw"]


def test_hello_without_separate_handshake_reply_and_with_sections() -> None:
    # 'B' bind section (2 bytes of info) then 'S' security section with one vector entry.
    extra = b"B\0\0\x02xy" + b"S\0\0\0\x02\x01" + b"\x01\x02"
    hello = xp.read_hello(reader(protocol_reply(0x520, 0x2 | 0x100, extra)), PROTOCOL_SID)
    assert hello.handshake is None
    assert hello.protocol.role == xp.Role("manager", "meta-manager")
    assert (hello.protocol.security_level, hello.protocol.unparsed) == (2, 0)


@pytest.mark.parametrize("flags, kind, label", [
    (0x0, "manager", "redirector"),          # 2010 server type 0: load balancer
    (0x1, "server", "data server"),          # 2010 server type 1, and kXR_isServer
    (0x2, "manager", "manager"),
    (0x3, "supervisor", "supervisor"),
    (0x201, "server", "proxy server"),
])
def test_roles(flags: int, kind: str, label: str) -> None:
    role = xp.role_of(flags)
    assert (role.kind, role.label) == (kind, label)
    assert role.matches("any") and role.matches(kind if kind != "supervisor" else "server")


def test_old_2010_server() -> None:
    hello = xp.read_hello(reader(handshake_reply(0x290, 0) + protocol_reply(0x290, 0)), PROTOCOL_SID)
    assert hello.protocol.version == "2.9.0"
    assert not hello.protocol.role.matches("server")


def test_kxr_error_is_decoded() -> None:
    data = handshake_reply() + error_reply(PROTOCOL_SID, 3013, "protocol request not supported")
    with pytest.raises(xp.ServerRefused) as caught:
        xp.read_hello(reader(data), PROTOCOL_SID)
    assert str(caught.value) == ("kXR_protocol failed: kXR_error 3013 kXR_Unsupported: "
                                 "protocol request not supported")
    assert caught.value.name == "kXR_Unsupported"


@pytest.mark.parametrize("data, message", [
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "has unknown status 21584$"),
    (frame(b"\0\0", 0, dlen=0x7FFFFFFF), "announces 2147483647 bytes, more than the 65536 accepted"),
    (frame(b"\0\0", 0, dlen=-1), "negative length"),
    (frame(b"zz", 0, b"12345678"), "first reply came for stream 7a7a"),
    (frame(b"\0\0", 0, b"1234"), "handshake reply has status 0 and 4 bytes"),
    (handshake_reply() + protocol_reply()[:13], "closed while we read the kXR_protocol reply"),
    (b"", "closed while we read the handshake reply header"),
    (handshake_reply() + frame(PROTOCOL_SID, 0, b"\0\0\0\x05"), "kXR_protocol reply too short (4 bytes"),
    (handshake_reply() + frame(b"\0\x09", 0, bytes(8)), "came for stream 0009, expected 0001"),
])
def test_garbage_is_a_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(xp.ProtocolError, match=message.replace("(", r"\(")):
        xp.read_hello(reader(data), PROTOCOL_SID)


def test_oksofar_parts_are_joined_and_bounded() -> None:
    parts = frame(PROTOCOL_SID, 4000, struct.pack(">i", 0x511)) + frame(PROTOCOL_SID, 0, struct.pack(">I", 1))
    attn = frame(b"\0\0", 4001, b"notice")
    hello = xp.read_hello(reader(handshake_reply() + attn + parts), PROTOCOL_SID)
    assert (hello.protocol.pval, hello.protocol.flags) == (0x511, 1)
    endless = handshake_reply() + frame(PROTOCOL_SID, 4000, b"x" * 4096) * 40
    with pytest.raises(xp.ProtocolError, match="more than the 0 accepted|more than 32"):
        xp.read_hello(reader(endless), PROTOCOL_SID)


def test_wait_redirect_and_waitresp() -> None:
    wait = frame(PROTOCOL_SID, 4005, struct.pack(">i", 3) + b"busy\0")
    with pytest.raises(xp.ServerWait) as caught:
        xp.read_hello(reader(handshake_reply() + wait), PROTOCOL_SID)
    assert caught.value.seconds == 3
    redirect = frame(PROTOCOL_SID, 4004, struct.pack(">i", 1095) + b"other.example?tried=x")
    with pytest.raises(xp.ServerRedirect, match=r"redirected to other.example:1095"):
        xp.read_hello(reader(handshake_reply() + redirect), PROTOCOL_SID)
    with pytest.raises(xp.ServerDeferred):
        xp.read_hello(reader(handshake_reply() + frame(PROTOCOL_SID, 4006, bytes(4))), PROTOCOL_SID)


def test_login_and_qconfig() -> None:
    body = login_reply()[8:]
    assert xp.parse_login_reply(body).security == ()
    secured = login_reply("&P=gsi,v:10400,c:ssl,ca:abc&P=unix\0")[8:]
    assert xp.parse_login_reply(secured).security == ("gsi", "unix")
    with pytest.raises(xp.ProtocolError, match="too short"):
        xp.parse_login_reply(b"short")
    keys = ("version", "role")
    assert xp.parse_qconfig(b"v5.5.3\nserver\n", keys) == {"version": "v5.5.3", "role": "server"}
    # A 2010 server echoes keys it does not know: "not supported".
    assert xp.parse_qconfig(b"version\nmanager\n", keys) == {"version": None, "role": "manager"}
    assert xp.parse_qconfig(b"dCache 2.16.3\n", keys) == {"version": "dCache 2.16.3", "role": None}
    assert xp.parse_qconfig(b"\x1b[31mred\x07\nx" * 50, keys)["version"] == "[31mred"


def test_error_names_cover_the_documented_range() -> None:
    assert xp.ERROR_NAMES[3000] == "kXR_ArgInvalid"
    assert xp.ERROR_NAMES[3010] == "kXR_NotAuthorized"
    assert xp.ERROR_NAMES[3035] == "kXR_TimerExpired"
    assert str(xp.ServerRefused(9999, "")) == "failed: kXR_error 9999 unknown error code"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_the_reply_parser(data: bytes) -> None:
    try:
        hello = xp.read_hello(reader(data), PROTOCOL_SID)
    except xp.XrootdError as exc:
        assert "\n" not in str(exc) and str(exc)
    else:
        assert 0 <= hello.protocol.pval
        assert hello.protocol.version.count(".") == 2


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=8, max_size=120).map(lambda b: handshake_reply() + frame(PROTOCOL_SID, 0, b)))
def test_random_protocol_bodies_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        hello = xp.read_hello(reader(data), PROTOCOL_SID)
    except xp.XrootdError as exc:
        assert "\n" not in str(exc)
    else:
        assert hello.protocol.unparsed <= len(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_login_and_qconfig_bodies(data: bytes) -> None:
    try:
        xp.parse_login_reply(data)
    except xp.ProtocolError as exc:
        assert "too short" in str(exc)
    values = xp.parse_qconfig(data, ("version", "role"))
    assert set(values) == {"version", "role"}
    assert all(v is None or (v.isprintable() and len(v) <= 83) for v in values.values())
