"""The subscriber behind ``gridready consume``: validate as ingest, store, then acknowledge.

Subscription: ``ack: client-individual`` and a prefetch limit
(``activemq.prefetchSize`` for ActiveMQ, ``prefetch-count`` for RabbitMQ),
so at most ``prefetch`` unacknowledged messages are held in memory. Each
message is handled on the main thread, in order:

1. its body is read exactly as ``gridready ingest`` reads a file
   (:func:`gridready.result.parse_result`: size cap, guarded JSON, schema,
   site required, no future dates);
2. :meth:`gridready.store.Store.add` commits it, or finds it already stored
   (same site, check, target, checked_at; the target is the host, as ingest
   uses): the store itself is unique on that key and the check is part of the
   insert, so a redelivery after a crash between commit and ACK, a
   publisher's retry, or the same result reaching two consumers at once
   stores it once;
3. only then the message is ACKed.

A message that fails validation is logged (one line, escaped) and ACKed, so it
never blocks the queue; with ``reject_destination`` its body is first sent
there (a dead-letter queue) for a person to look at. A store failure is not
ACKed: the consumer stops with the error and the broker redelivers the message
to the next consumer. SIGTERM/SIGINT stop after the message in hand;
unacknowledged prefetched messages go back to the queue.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gridready.broker.config import BrokerOptions
from gridready.broker.session import BrokerUnavailable, Tls, bound_sends, close, cut, open_within
from gridready.errors import SourceError
from gridready.escape import terminal
from gridready.result import MAX_RESULT_BYTES, parse_result, utc_now

#: Unacknowledged messages the broker may push ahead (memory bound: prefetch x 4 MiB at worst).
DEFAULT_PREFETCH = 100
_LOST = object()


@dataclass
class Stats:
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0

    @property
    def handled(self) -> int:
        return self.stored + self.duplicates + self.rejected


class _Inbox:
    """stomp.py listener: frames go to a queue the main thread reads."""

    def __init__(self) -> None:
        self.frames: queue.Queue[Any] = queue.Queue()
        self.error: str | None = None

    def on_message(self, frame: Any) -> None:
        self.frames.put(frame)

    def on_error(self, frame: Any) -> None:
        self.error = str(frame.headers.get("message", "ERROR frame"))[:200]

    def on_disconnected(self) -> None:
        self.frames.put(_LOST)


def log(line: str) -> None:
    print(terminal(line), file=sys.stderr, flush=True)


class Consumer:
    """Subscribe ``options.destination`` and store every valid result in ``db``."""

    def __init__(self, options: BrokerOptions, db: str, *, prefetch: int = DEFAULT_PREFETCH,
                 reject_destination: str | None = None, reconnects: int = 5, backoff: float = 1.0) -> None:
        self.options = options
        self.db = db
        self.prefetch = max(1, prefetch)
        self.reject_destination = reject_destination
        self.reconnects = reconnects
        self.backoff = backoff
        self.stop = threading.Event()
        self.stats = Stats()
        self._conn: Any = None
        self._tls = Tls(options) if options.tls else None   # TLS files read before any network work
        self._inbox = _Inbox()

    def _connect(self, *, startup: bool) -> bool:
        """Connect and subscribe; False when stopped meanwhile, BrokerUnavailable when no broker
        answered. At ``startup`` every round (``reconnects`` + 1, backoff between) fits in one
        ``options.timeout``; after a lost link each round gets its own ``timeout`` and the
        backoff (``backoff`` s doubling, at most 30 s) comes on top, so a broker restart is
        waited for, still a bounded time."""
        timeout = self.options.timeout
        if startup:
            conn = open_within(self.options, self._tls, time.monotonic() + timeout, self.reconnects + 1,
                               self.backoff, auto_decode=False, stop=self.stop)
        else:
            conn = None
            delay = self.backoff
            for attempt in range(self.reconnects + 1):
                if attempt:
                    if self.stop.wait(delay):
                        return False
                    delay = min(delay * 2, 30.0)
                try:
                    conn = open_within(self.options, self._tls, time.monotonic() + timeout, 1, 0.0,
                                       auto_decode=False, stop=self.stop)
                    break
                except BrokerUnavailable as exc:
                    if attempt == self.reconnects:
                        raise BrokerUnavailable(f"{exc} (reconnecting, {self.reconnects + 1} attempts)") \
                            from None
        if conn is None:
            return False
        self._inbox = _Inbox()
        conn.set_listener("inbox", self._inbox)
        bound_sends(conn, timeout)
        if not conn.is_connected():
            self._inbox.on_disconnected()    # lost before the listener was there
        self._conn = conn
        try:
            conn.subscribe(self.options.destination, id="gridready", ack="client-individual",
                           headers={"activemq.prefetchSize": str(self.prefetch),
                                    "prefetch-count": str(self.prefetch)})
        except Exception:   # stomp.py: NotConnectedException or OSError; run() reconnects
            self._inbox.on_disconnected()
        return True

    def run(self, *, max_messages: int | None = None, idle_exit: float | None = None,
            now: Callable[[], Any] = utc_now) -> Stats:
        """Consume until stopped, ``max_messages`` handled, or ``idle_exit`` seconds without one."""
        from gridready.store import Store, outcomes_of

        try:
            # The broker first: a consumer that reaches no broker leaves no new history behind.
            if not self._connect(startup=True):
                return self.stats
            with Store(self.db) as store:
                last = time.monotonic()
                while not self.stop.is_set():
                    if max_messages is not None and self.stats.handled >= max_messages:
                        break
                    try:
                        frame = self._inbox.frames.get(timeout=0.2)
                    except queue.Empty:
                        if idle_exit is not None and time.monotonic() - last >= idle_exit:
                            break
                        continue
                    if frame is _LOST:
                        if self.stop.is_set():
                            break
                        log("gridready consume: connection to the broker lost; reconnecting")
                        close(self._conn)
                        self._conn = None
                        if not self._connect(startup=False):
                            break
                        continue
                    last = time.monotonic()
                    self._handle(frame, store, outcomes_of, now())
        finally:
            close(self._conn)
            self._conn = None
            if self._tls is not None:
                self._tls.close()
        return self.stats

    def _handle(self, frame: Any, store: Any, outcomes_of: Any, now: Any) -> None:
        headers = frame.headers
        mid = str(headers.get("message-id", "?"))[:200]
        origin = f"{self.options.destination} message {mid}"
        body = frame.body if isinstance(frame.body, bytes) else str(frame.body).encode("utf-8")
        try:
            if len(body) > MAX_RESULT_BYTES:
                raise SourceError(f"{origin}: message of {len(body)} bytes is larger than the "
                                  f"{MAX_RESULT_BYTES} bytes limit")
            result = parse_result(body, origin, now)
        except SourceError as exc:
            log(f"gridready consume: rejected {exc}")
            if self.reject_destination:
                try:
                    self._conn.send(self.reject_destination, body[:MAX_RESULT_BYTES],
                                    headers={"persistent": "true", "gridready-rejected": str(exc)[:500]})
                except Exception as send_exc:
                    # Not ACKed then: the broker redelivers it after the reconnect.
                    self._lost(f"could not pass {mid} on to {self.reject_destination}: "
                               f"{str(send_exc) or type(send_exc).__name__}")
                    return
            self.stats.rejected += 1
            self._ack(headers)
            return
        # StoreError propagates: not ACKed, the broker redelivers it.
        if store.add(result, outcomes_of(result), origin="consume", target=result.host or "", source=origin):
            self.stats.stored += 1
        else:
            self.stats.duplicates += 1
        self._ack(headers)

    def _ack(self, headers: Any) -> None:
        # STOMP 1.2: ACK names the MESSAGE's "ack" header. A lost link here only means a
        # redelivery, which the duplicate check absorbs.
        ack_id = headers.get("ack") or headers.get("message-id")
        if not ack_id:
            # Nothing to name in an ACK (a broker always sets message-id): say so, and go on;
            # reconnecting would only bring the same frame back.
            log(f"gridready consume: a message from {self.options.destination} has no ack or message-id "
                "header: it cannot be acknowledged")
            return
        try:
            self._conn.ack(ack_id)
        except Exception as exc:
            name = str(headers.get("message-id") or ack_id)[:200]
            self._lost(f"could not acknowledge {name}: {str(exc) or type(exc).__name__}")

    def _lost(self, why: str) -> None:
        """A frame write failed (link lost, or a broker that stopped reading and let the send
        time out): the link may hold half a frame, so cut it; ``run`` then reconnects."""
        log(f"gridready consume: {why}")
        cut(self._conn)
        # Frames already prefetched behind this one cannot be acknowledged on this link: drop
        # them (the broker redelivers them) so that ``run`` reconnects now, not after them.
        self._inbox = _Inbox()
        self._inbox.on_disconnected()
