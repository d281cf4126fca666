"""Open and close one STOMP connection within a deadline, whatever the peer does.

stomp.py's own waits are not bounded: ``connect(wait=True)`` waits for the
CONNECTED frame without a time limit, its receiver thread blocks in
``recv`` on a socket without a timeout, and a TLS handshake is bounded only
per ``recv`` (a peer trickling bytes can stretch it). So a broker address
that accepts TCP and then says nothing, trickles bytes, or is an HTTP
server would hold ``publish`` and ``consume`` for good. Here:

- TLS material (client certificate, key or proxy, CA bundle) is read and
  checked once, before any network work (:class:`Tls`);
- each broker is tried with its own ``stomp.Connection12`` whose socket
  timeout is the time left, ``connect`` is sent without stomp.py's wait, and
  the CONNECTED frame is awaited here, up to the deadline;
- a watchdog timer shuts the socket down when the deadline passes, which
  ends a hung TCP connect, TLS handshake or frame read in stomp.py's threads
  (they are daemon threads as well, so none keeps the process alive);
- a failure names the broker and the stage that failed (``TCP connect``,
  ``TLS handshake``, ``STOMP CONNECTED frame``).

stomp.py's logger (``stomp.py``) is silenced unless ``-v``/``--debug``
(:func:`quiet_stomp_logging`); its warnings would otherwise be extra lines
on stderr besides gridready's one-line error.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import threading
import time
from typing import Any

from gridready.broker.config import (BrokerError, BrokerOptions, Endpoint, ca_bundle, client_credentials,
                                     remove_quietly)
from gridready.escape import terminal

#: How long a clean DISCONNECT may take before the socket is cut (the work is done by then).
CLOSE_GRACE = 1.0


class BrokerUnavailable(BrokerError):
    """No broker accepted a connection within the deadline; the message names each and the stage."""


class _TerminalHandler(logging.Handler):
    """stomp.py's log records on stderr, escaped (peers put text in them)."""

    def emit(self, record: logging.LogRecord) -> None:
        import sys
        try:
            print(terminal(f"stomp.py: {record.getMessage()}"), file=sys.stderr, flush=True)
        except Exception:   # logging must never break the command
            pass


def quiet_stomp_logging(verbose: int) -> None:
    """No stomp.py log lines on stderr unless ``verbose`` (then its warnings, escaped)."""
    logger = logging.getLogger("stomp.py")
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    if verbose:
        logger.addHandler(_TerminalHandler())
        logger.setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)
    else:
        logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.CRITICAL + 1)


class _LastFailure(logging.Handler):
    """Keeps the reason of stomp.py's last ``could not connect`` record (it raises without one)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reason: str | None = None
        self.tls = False

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if args and isinstance(args[-1], BaseException):
            exc = args[-1]
            self.tls = isinstance(exc, ssl.SSLError)
            self.reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) \
                or type(exc).__name__


class Tls:
    """TLS files for stomp.py, read and checked before any connection (BrokerError naming a file).

    ``ca`` may be a temporary bundle made from a CA directory: :meth:`close` deletes it.
    """

    def __init__(self, options: BrokerOptions) -> None:
        self.cert, self.key = client_credentials(options)
        self.ca, is_temp = ca_bundle(options.capath)
        self._temporary = self.ca if is_temp else None

    def close(self) -> None:
        remove_quietly(self._temporary)
        self._temporary = None


class LinkListener:
    """stomp.py listener base: wakes waiting threads on an ERROR frame or a closed link.

    ``error`` holds the ERROR frame's message (at most 200 characters),
    ``closed`` turns true once stomp.py reports the link gone.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.closed = False
        self.error: str | None = None

    def on_error(self, frame: Any) -> None:
        with self.cond:
            self.error = str(frame.headers.get("message", "ERROR frame"))[:200]
            self.cond.notify_all()

    def on_disconnected(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class _Watch(LinkListener):
    """Wakes the connecting thread on CONNECTED too."""

    def __init__(self) -> None:
        super().__init__()
        self.connected = False

    def on_connected(self, frame: Any) -> None:
        with self.cond:
            self.connected = True
            self.cond.notify_all()

    def wait(self, until: float) -> None:
        """Until CONNECTED, ERROR, a closed link, or the monotonic time ``until``."""
        with self.cond:
            while not (self.connected or self.error or self.closed):
                left = until - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(min(left, 0.5))


def cut(conn: Any) -> None:
    """Stop ``conn`` now: no more reads, the socket shut down and closed (a blocked ``recv`` in
    stomp.py's thread returns). No TLS close_notify exchange: a hostile peer could hold it."""
    transport = getattr(conn, "transport", None)
    if transport is None:
        return
    transport.running = False
    sock = getattr(transport, "socket", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            sock.close()
        except OSError:
            pass


def bound_sends(conn: Any, seconds: float) -> None:
    """Make a frame write on ``conn`` fail after ``seconds`` (s) instead of blocking for good.

    stomp.py leaves a plain STOMP socket blocking with no timeout once connected,
    so a SEND or ACK to a broker that stopped reading blocks the caller forever
    when the socket buffer is full. A general socket timeout would also end the
    receiver thread's idle ``recv`` (a quiet queue is normal), so only sends are
    bounded (``SO_SNDTIMEO``); the write then raises ``OSError``. Over TLS
    stomp.py writes from its own thread, and nothing is changed.
    """
    import struct

    transport = getattr(conn, "transport", None)
    sock = getattr(transport, "socket", None)
    if sock is None or not getattr(transport, "blocking", False):
        return
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", whole, micro))
    except OSError:
        pass    # the socket is already gone; the next write fails anyway


class _Watchdog:
    """Cut ``conn`` at the monotonic time ``until`` unless cancelled first."""

    def __init__(self, conn: Any, until: float) -> None:
        self.fired = False
        self._conn = conn
        self._timer = threading.Timer(max(0.0, until - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        cut(self._conn)

    def cancel(self) -> None:
        self._timer.cancel()


def _seconds(value: float) -> str:
    return f"{value:g} s"


def open_one(options: BrokerOptions, tls: Tls | None, endpoint: Endpoint, until: float,
             *, auto_decode: bool = True) -> tuple[Any, str]:
    """Connect to ``endpoint`` by the monotonic time ``until``: (connection, "") or (None, reason).

    ``reason`` is ``HOST:PORT: STAGE: what happened``. The caller sets its own listeners on
    the connection returned (a failed attempt's "disconnected" must not reach them); no
    MESSAGE or RECEIPT frame comes before the caller's first SUBSCRIBE or SEND.
    """
    import stomp
    import stomp.exception

    left = until - time.monotonic()
    if left <= 0:
        return None, f"{endpoint}: not tried (no time left)"
    conn: Any = stomp.Connection12([(endpoint.host, endpoint.port)], prefer_localhost=False,
                                   try_loopback_connect=False, reconnect_attempts_max=1,
                                   reconnect_sleep_initial=0.0, reconnect_sleep_jitter=0.0,
                                   timeout=left, heartbeats=(0, 0), auto_decode=auto_decode)
    if tls is not None:
        conn.set_ssl(for_hosts=[(endpoint.host, endpoint.port)], cert_file=tls.cert, key_file=tls.key,
                     ca_certs=tls.ca, ssl_version=ssl.PROTOCOL_TLS_CLIENT)
    watch = _Watch()
    conn.set_listener("gridready-session", watch)
    stage = "TCP connect or TLS handshake" if tls is not None else "TCP connect"
    failure = _LastFailure()
    logger = logging.getLogger("stomp.py")
    logger.addHandler(failure)
    level = logger.level
    logger.setLevel(min(level, logging.WARNING) if level else logging.WARNING)
    dog = _Watchdog(conn, until)
    try:
        try:
            conn.connect(options.user, options.password, wait=False)
        except (stomp.exception.StompException, OSError) as exc:
            why = failure.reason or (str(exc) or type(exc).__name__)
            if dog.fired:
                why = f"no answer within {_seconds(options.timeout)}"
            elif failure.tls:
                stage = "TLS handshake"
            elif watch.closed or _lost_after_connect(exc, why):
                # The TCP connection was made and the broker dropped it before our
                # CONNECT frame went out (stomp.py's reader closed the socket first).
                stage, why = "STOMP CONNECTED frame", "the broker closed the connection"
            cut(conn)
            return None, f"{endpoint}: {stage}: {terminal(why)}"
    finally:
        logger.removeHandler(failure)
        logger.setLevel(level)
    stage = "STOMP CONNECTED frame"
    watch.wait(until)
    dog.cancel()
    if watch.connected and not dog.fired:
        return conn, ""
    if watch.error:
        why = f"broker refused: {watch.error}"
    elif dog.fired or not watch.closed:
        why = f"none within {_seconds(options.timeout)}"
    else:
        why = "the broker closed the connection"
    cut(conn)
    return None, f"{endpoint}: {stage}: {terminal(why)}"


_LOST_ERRNOS = (errno.EBADF, errno.EPIPE, errno.ECONNRESET)


def _lost_after_connect(exc: BaseException, why: str) -> bool:
    """Whether a connect failure means an established connection went away (not a refusal)."""
    if isinstance(exc, OSError) and exc.errno in _LOST_ERRNOS:
        return True
    return any(f"[Errno {number}]" in why for number in _LOST_ERRNOS)


def open_within(options: BrokerOptions, tls: Tls | None, until: float, rounds: int, backoff: float,
                *, auto_decode: bool = True,
                stop: threading.Event | None = None, max_backoff: float = 30.0) -> Any:
    """The first broker of ``options.brokers`` that sends CONNECTED, trying them in order for up
    to ``rounds`` rounds (``backoff`` seconds between rounds, doubling up to ``max_backoff``),
    all by the monotonic time ``until``. BrokerUnavailable naming every broker's last failure;
    None when ``stop`` was set while waiting."""
    reasons: dict[Endpoint, str] = {}
    delay = backoff
    done = 0
    for attempt in range(max(1, rounds)):
        if attempt:
            pause = min(delay, until - time.monotonic())
            if pause <= 0:
                break
            if stop is not None:
                if stop.wait(pause):
                    return None
            else:
                time.sleep(pause)
            delay = min(delay * 2, max_backoff)
        if until - time.monotonic() <= 0:
            break
        done += 1
        for endpoint in options.brokers:
            conn, reason = open_one(options, tls, endpoint, until, auto_decode=auto_decode)
            if conn is not None:
                return conn
            reasons[endpoint] = reason
            if stop is not None and stop.is_set():
                return None
    said = "; ".join(reasons[e] for e in options.brokers if e in reasons) or "no time to try"
    return_rounds = f"{done} round{'s' if done != 1 else ''}"
    raise BrokerUnavailable(f"no broker answered within {_seconds(options.timeout)} ({return_rounds}): {said}")


def close(conn: Any) -> None:
    """DISCONNECT politely for at most :data:`CLOSE_GRACE` seconds, then cut the socket."""
    if conn is None:
        return
    transport = getattr(conn, "transport", None)
    if transport is not None and transport.is_connected():
        watch = _Watch()
        conn.set_listener("gridready-close", watch)
        dog = _Watchdog(conn, time.monotonic() + CLOSE_GRACE)
        try:
            conn.disconnect()
            watch.wait(time.monotonic() + CLOSE_GRACE)
        except Exception:   # closing a broken connection: nothing more to learn
            pass
        finally:
            dog.cancel()
    cut(conn)
