"""Test helper: a scriptable loopback TCP server that misbehaves on purpose.

Usage from any test module::

    from tests.servers.hostile import Close, Hold, Read, Send, running_hostile

    with running_hostile(Read(44), Send(b"garbage"), Close()) as server:
        server.host, server.port            # "127.0.0.1", a free port
        ...                                 # point a client at it
    server.received                         # bytes read from each connection (bytearrays)

Every accepted connection runs the same script, step by step:

* ``Read(n)``: read up to ``n`` bytes (whatever arrives within ``timeout``);
* ``Send(data)``: send bytes;
* ``Sleep(seconds)``: pause (cut short when the server stops);
* ``Hold()``: keep the connection open, silent, until the server stops;
* ``Close()``: close now; ``Reset()``: close with a TCP RST (SO_LINGER 0).

The script ending closes the connection. The server listens on 127.0.0.1
only, serves at most ``max_connections`` clients, and on exit stops accepting,
wakes every step, closes every socket and joins its threads (bounded).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

JOIN_TIMEOUT = 5.0


@dataclass(frozen=True)
class Read:
    size: int
    timeout: float = 2.0


@dataclass(frozen=True)
class Send:
    data: bytes


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Hold:
    pass


@dataclass(frozen=True)
class Close:
    pass


@dataclass(frozen=True)
class Reset:
    pass


Step = Read | Send | Sleep | Hold | Close | Reset


@dataclass
class HostileServer:
    host: str
    port: int
    #: What each connection sent us so far, in accept order.
    received: list[bytearray] = field(default_factory=list)

    @property
    def connections(self) -> int:
        return len(self.received)


def _run(conn: socket.socket, script: tuple[Step, ...], stop: threading.Event, seen: bytearray) -> None:
    try:
        for step in script:
            if stop.is_set():
                return
            if isinstance(step, Read):
                conn.settimeout(step.timeout)
                try:
                    # Bounded: at most step.size bytes, each recv waits at most step.timeout.
                    goal = len(seen) + step.size
                    while len(seen) < goal:
                        chunk = conn.recv(goal - len(seen))
                        if not chunk:
                            return
                        seen += chunk
                except TimeoutError:
                    pass
            elif isinstance(step, Send):
                conn.sendall(step.data)
            elif isinstance(step, Sleep):
                stop.wait(step.seconds)
            elif isinstance(step, Hold):
                stop.wait(JOIN_TIMEOUT * 6)
            elif isinstance(step, Close):
                return
            elif isinstance(step, Reset):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
    except OSError:
        pass  # the client went away: nothing left to misbehave at
    finally:
        conn.close()


@contextmanager
def running_hostile(*script: Step, max_connections: int = 8) -> Iterator[HostileServer]:
    """Serve ``script`` to every client on 127.0.0.1:<free port>."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(max_connections)
    listener.settimeout(0.05)
    server = HostileServer("127.0.0.1", int(listener.getsockname()[1]))
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept_loop() -> None:
        while not stop.is_set() and len(workers) < max_connections:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            seen = bytearray()
            server.received.append(seen)
            worker = threading.Thread(target=_run, args=(conn, tuple(script), stop, seen),
                                      name="hostile connection", daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept_loop, name="hostile accept", daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join(JOIN_TIMEOUT)
        listener.close()
        for worker in workers:
            worker.join(JOIN_TIMEOUT)
