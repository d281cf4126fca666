"""Send messages to a STOMP broker with receipts, bounded retries and backoff.

Every SEND carries a ``receipt`` header; a message counts as delivered only
when the broker's RECEIPT for it arrived (ActiveMQ sends it after the
persistent message is stored). Up to ``window`` messages are in flight at a
time, so throughput is not one round trip per message. Connecting tries each
``--broker`` in turn (failover), ``attempts`` rounds with exponential backoff
(``backoff`` seconds, doubling, at most ``MAX_BACKOFF``).

What the broker did not confirm (connection lost, receipt not within
``timeout``) is returned to the caller, which spools it: delivery is at least
once, and ``gridready consume`` stores a repeated result once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from gridready.broker.config import BrokerOptions
from gridready.broker.session import BrokerUnavailable, LinkListener, Tls, close, open_within
from gridready.broker.spool import Message

__all__ = ["BrokerUnavailable", "Publisher"]

MAX_BACKOFF = 30.0


class _Receipts(LinkListener):
    """Which receipts arrived (besides an ERROR frame or a closed link)."""

    def __init__(self) -> None:
        super().__init__()
        self.done: set[str] = set()

    def on_receipt(self, frame: Any) -> None:
        with self.cond:
            self.done.add(str(frame.headers.get("receipt-id", "")))
            self.cond.notify_all()


class Publisher:
    """One connection to the first broker of ``options.brokers`` that answers."""

    def __init__(self, options: BrokerOptions, *, attempts: int = 3, backoff: float = 1.0,
                 window: int = 200) -> None:
        """Reads the TLS files now (BrokerError naming one), before any network work."""
        self.options = options
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.window = max(1, window)
        self._conn: Any = None
        self._tls = Tls(options) if options.tls else None
        self._listener = _Receipts()

    def connect(self) -> None:
        """Connect within ``options.timeout`` seconds (every round and broker included);
        BrokerUnavailable naming each broker and the stage that failed."""
        conn = open_within(self.options, self._tls, time.monotonic() + self.options.timeout,
                           self.attempts, self.backoff, max_backoff=MAX_BACKOFF)
        self._listener = _Receipts()
        conn.set_listener("receipts", self._listener)
        if not conn.is_connected():
            self._listener.on_disconnected()    # lost before the listener was there
        sock = getattr(conn.transport, "socket", None)
        if sock is not None and getattr(conn.transport, "blocking", False):
            # Plain STOMP: bounds a SEND to a broker that stopped reading, and the receiver
            # thread's recv. (Over TLS stomp.py runs the socket non-blocking from its own thread,
            # and settle() and close() bound the waits.)
            sock.settimeout(self.options.timeout)
        self._conn = conn

    def close(self) -> None:
        """Disconnect (bounded) and delete a temporary CA bundle."""
        close(self._conn)
        self._conn = None
        if self._tls is not None:
            self._tls.close()

    def send(self, messages: Iterable[Message], confirmed: Callable[[Message], None]) -> list[Message]:
        """Send in order; ``confirmed(m)`` for each message the broker receipted. Returns the
        messages not confirmed (connection lost, ERROR frame or receipt timeout), in order."""
        assert self._conn is not None, "connect() first"
        listener = self._listener
        pending: dict[str, Message] = {}
        order: list[str] = []
        unsent: list[Message] = []
        counter = 0
        broken = False

        def settle(limit: int) -> bool:
            """Wait until at most ``limit`` receipts are outstanding; False when the link broke."""
            deadline = time.monotonic() + self.options.timeout
            with listener.cond:
                while True:
                    for rid in [r for r in order if r in listener.done]:
                        listener.done.discard(rid)
                        confirmed(pending.pop(rid))
                    order[:] = [r for r in order if r in pending]
                    if len(order) <= limit:
                        return True
                    left = deadline - time.monotonic()
                    if listener.closed or listener.error or left <= 0:
                        return False
                    listener.cond.wait(min(left, 0.5))

        for message in messages:
            if broken:
                unsent.append(message)
                continue
            counter += 1
            rid = f"r{counter}"
            pending[rid] = message
            order.append(rid)
            try:
                self._conn.send(message.destination, message.body,
                                headers={**message.headers, "persistent": "true", "receipt": rid})
            except Exception:   # stomp.py raises NotConnectedException or OSError on a dead link
                broken = True
                continue
            if len(order) >= self.window and not settle(self.window // 2):
                broken = True
        if not broken:
            settle(0)
        left = [pending[r] for r in order if r in pending]
        return left + unsent
