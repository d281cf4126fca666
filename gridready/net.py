"""TCP name resolution and connection bounded by a Deadline.

Shared by every check that opens its own socket (xrootd doors, BDII, SCAS
and Argus endpoints). ``getaddrinfo`` takes no timeout and a dead resolver
blocks for tens of seconds, so the lookup runs in a daemon thread that we
stop waiting for when the deadline expires.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from gridready.deadline import Deadline


class Unreachable(Exception):
    """No connection was possible: DNS failure, refused, reset, no route (one line).

    ``kind`` is "resolve" or "connect"; ``reason`` is the cause without the
    host, for callers that name the endpoint themselves.
    """

    def __init__(self, message: str, kind: str, reason: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def describe_os_error(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    return (exc.strerror or str(exc) or type(exc).__name__).rstrip(".").lower()


def resolve(host: str, port: int, deadline: Deadline) -> list[tuple[int, Any]]:
    """(family, sockaddr) pairs for ``host``; CheckTimeout when the deadline expires first."""
    outcome: list[Any] = []

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            outcome.append(exc)

    worker = threading.Thread(target=lookup, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(deadline.remaining())
    if not outcome:
        raise deadline.timeout()
    result = outcome[0]
    if isinstance(result, OSError):
        reason = str(result.strerror or result)
        raise Unreachable(f"cannot resolve host {host}: {reason}", "resolve", reason)
    if isinstance(result, UnicodeError):
        raise Unreachable(f"cannot resolve host {host}: not a valid host name", "resolve",
                          "not a valid host name")
    addresses: list[tuple[int, Any]] = []
    for family, _, _, _, sockaddr in result:
        if family in (socket.AF_INET, socket.AF_INET6) and (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    if not addresses:
        raise Unreachable(f"host {host} has no IPv4 or IPv6 address", "resolve", "no IPv4 or IPv6 address")
    return addresses


def connect(host: str, port: int, deadline: Deadline) -> socket.socket:
    """A connected TCP socket, trying each address of ``host`` in turn."""
    where = format_address(host, port)
    with deadline.during(f"resolving {host}"):
        addresses = resolve(host, port, deadline)
    with deadline.during(f"connecting to {where}"):
        errors: list[str] = []
        for index, (family, sockaddr) in enumerate(addresses):
            # Earlier addresses get a share of the time so that one black-holed
            # address (say IPv6) cannot starve the others; the last gets the rest.
            left = deadline.remaining()
            budget = left if index == len(addresses) - 1 else left / (len(addresses) - index)
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(budget)
                sock.connect(sockaddr)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except TimeoutError:
                sock.close()
                if index == len(addresses) - 1:
                    raise deadline.timeout() from None
                errors.append(f"{sockaddr[0]}: no answer")
            except OSError as exc:
                sock.close()
                errors.append(f"{sockaddr[0]}: {describe_os_error(exc)}")
            except BaseException:
                sock.close()
                raise
        reason = errors[0].split(": ", 1)[1] if len(errors) == 1 else "; ".join(errors)
        raise Unreachable(f"cannot connect to {where}: {reason}", "connect", reason)
