"""Simulated grid sites on loopback for the sweep benchmark: xrootd doors and SRR documents.

One asyncio event loop, in a daemon thread of the benchmark process, serves
on 127.0.0.1 only:

* an xrootd door that answers like a 5.x data server (handshake +
  kXR_protocol, then kXR_login and kXR_query Qconfig ``version role``), each
  reply sent ``latency`` seconds after its request;
* a "hung" xrootd door that accepts connections and never answers;
* an HTTP server with one SRR document per site at ``/srr/<site>.json``,
  sent ``latency`` seconds after the request; paths under ``/hung/`` are
  read and never answered.

A hung connection is held until the client gives up or the server stops.
Every connection is closed when the server stops; requests and bodies are
capped, so a misbehaving client cannot make the server buffer without bound.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: What a door claims to be: protocol 5.1.1, data server (kXR_isServer).
PROTOCOL_VERSION = 0x511
IS_SERVER = 0x1
QCONFIG_ANSWER = b"v5.5.3\nserver\n"
MAX_REQUEST = 64 * 1024
#: A client that sends nothing this long is dropped (it has long given up).
IDLE_LIMIT = 120.0

_HEADER = struct.Struct(">2sH16si")   # an xrootd request: streamid, requestid, parameters, dlen
_REPLY = struct.Struct(">2sHi")       # a response header: streamid, status, dlen
KXR_OK = 0


def _reply(streamid: bytes, body: bytes) -> bytes:
    return _REPLY.pack(streamid, KXR_OK, len(body)) + body


@dataclass
class SimulatedSites:
    """The running servers; ``documents`` maps a site name to its SRR JSON object."""

    latency: float
    documents: Mapping[str, Any]
    xrootd_port: int = 0
    hung_xrootd_port: int = 0
    http_port: int = 0
    #: Requests answered and connections held open without an answer, for the report.
    answered: int = 0
    hung: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def xrootd_door(self, hung: bool = False) -> str:
        return f"127.0.0.1:{self.hung_xrootd_port if hung else self.xrootd_port}"

    def srr_url(self, site: str, hung: bool = False) -> str:
        return f"http://127.0.0.1:{self.http_port}/{'hung' if hung else 'srr'}/{site}.json"

    # --- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> SimulatedSites:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                asyncio.run(self._main(ready))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=serve, name="simulated-sites", daemon=True)
        self._thread.start()
        if not ready.wait(10.0) or failure:
            self.__exit__()
            raise RuntimeError(f"simulated sites did not start: {failure[0] if failure else 'no answer in 10s'}")
        return self

    def __exit__(self, *exc: object) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop has already finished
                pass
        if self._thread is not None:
            self._thread.join(10.0)

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        servers = [
            await asyncio.start_server(self._track(self._xrootd), "127.0.0.1", 0, backlog=1024),
            await asyncio.start_server(self._track(self._silent), "127.0.0.1", 0, backlog=1024),
            await asyncio.start_server(self._track(self._http), "127.0.0.1", 0, backlog=1024),
        ]
        self.xrootd_port, self.hung_xrootd_port, self.http_port = (
            int(s.sockets[0].getsockname()[1]) for s in servers)
        ready.set()
        try:
            await self._stop.wait()
        finally:
            for server in servers:
                server.close()
            for writer in list(self._writers):
                writer.close()
            for server in servers:
                await server.wait_closed()

    def _track(self, handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]
               ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.add(writer)
            try:
                await asyncio.wait_for(handler(reader, writer), IDLE_LIMIT)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                pass
            finally:
                self._writers.discard(writer)
                writer.close()
        return tracked

    # --- behaviours ------------------------------------------------------------

    async def _silent(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read whatever comes and never answer, until the client closes."""
        self.hung += 1
        while await reader.read(MAX_REQUEST):
            pass

    async def _xrootd(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The client's opening: the 20-byte handshake, then its first request.
        await reader.readexactly(20)
        while True:
            try:
                header = await reader.readexactly(_HEADER.size)
            except asyncio.IncompleteReadError:
                return  # the client is done
            streamid, requestid, _, dlen = _HEADER.unpack(header)
            if not 0 <= dlen <= MAX_REQUEST:
                return
            await reader.readexactly(dlen)
            await asyncio.sleep(self.latency)
            if requestid == 3006:      # kXR_protocol, after the handshake
                body = (_REPLY.pack(b"\0\0", 0, 8) + struct.pack(">ii", PROTOCOL_VERSION, IS_SERVER)
                        + _reply(streamid, struct.pack(">iI", PROTOCOL_VERSION, IS_SERVER)))
            elif requestid == 3007:    # kXR_login: a 16-byte session id, no security needed
                body = _reply(streamid, bytes(16))
            elif requestid == 3001:    # kXR_query
                body = _reply(streamid, QCONFIG_ANSWER)
            else:
                return
            writer.write(body)
            await writer.drain()
            self.answered += 1

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_REQUEST:
            return
        parts = head.split(b"\r\n", 1)[0].split()
        path = parts[1].decode("ascii", "replace") if len(parts) > 1 else "/"
        if path.startswith("/hung/"):
            await self._silent(reader, writer)
            return
        await asyncio.sleep(self.latency)
        site = path.rsplit("/", 1)[-1].removesuffix(".json")
        document = self.documents.get(site) if path.startswith("/srr/") else None
        if document is None:
            status, body = b"404 Not Found", b'{"error": "no such document"}'
        else:
            status, body = b"200 OK", json.dumps(document).encode()
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        self.answered += 1
