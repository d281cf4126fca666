"""Which hosts of a site a declarative check runs against (``hosts:`` in ``expect``).

The ``http``, ``plugin`` and ``dns`` checks fill ``{host}`` or look up names
per host of the site, taken from the inventory: its storage hosts
(``storage:``), its xrootd door hosts (``xrootd:``), or both. ``-H`` on the
probe's command line names the hosts instead.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from gridready.models import Site

#: The values of ``hosts:``; ``all`` is storage then doors.
HOST_KINDS = ("storage", "doors", "all")


def hosts_problems(expect: Mapping[str, Any], default: str) -> list[str]:
    """The ``validate_expect`` problem of a ``hosts:`` value not in HOST_KINDS (none when absent)."""
    if expect.get("hosts", default) in HOST_KINDS:
        return []
    return [f"hosts: expected one of {', '.join(HOST_KINDS)}, got {expect.get('hosts')!r}"]


def site_hosts(site: Site | None, kind: str, given: Sequence[str] = ()) -> list[str]:
    """The hosts of ``site`` of ``kind``, in inventory order without repeats; ``given`` wins when not empty.

    Door entries that do not parse (``host:port`` or a root:// URL) are left out.
    """
    if given:
        return list(dict.fromkeys(given))
    if site is None:
        return []
    hosts: list[str] = []
    if kind in ("storage", "all"):
        hosts += [s.host for s in site.storage]
    if kind in ("doors", "all"):
        from gridready.xrootd.published import parse_door
        for door in site.xrootd:
            try:
                hosts.append(parse_door(door).host)
            except ValueError:
                continue
    return list(dict.fromkeys(h for h in hosts if h))


#: A DNS name as hosts are named (RFC 1123 labels; ``_`` allowed as real zones use it).
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


#: A zone (scope) id as ``fe80::1%eth0`` carries it: an interface name (IFNAMSIZ 16 with the NUL) or index.
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,15}")


def _numeric_hint(host: str) -> str | None:
    """Why a name that the C library would read as an IPv4 address in another form is refused, else None.

    inet_aton (glibc getaddrinfo's first try) reads ``1.2.3`` as 1.2.0.3, ``0x7f.1``
    and ``127.1`` as 127.0.0.1 and ``017.0.0.1`` as 15.0.0.1: such a "name" would
    silently check another host. A name whose last label is all digits is no host
    name either (RFC 3696 section 2: a top-level domain is not all-numeric).
    """
    bare = host[:-1] if host.endswith(".") else host
    try:
        socket.inet_aton(bare)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        if not bare.rsplit(".", 1)[-1].isdigit():
            return None
    return " (an IPv4 address is four decimal numbers, as 192.0.2.7)"


def host_argument(value: str) -> str:
    """``-H`` value: a host name or an IP address (``[v6]`` brackets dropped), else ArgumentTypeError.

    A scheme, a port or a path is refused rather than pasted into ``{host}``:
    the URL template or the plugin's own options carry those. So are a name the
    C library reads as an IPv4 address in another form (``1.2.3``, ``0x7f.1``),
    a non-ASCII name (its ASCII ``xn--`` form is accepted) and a zone id that is
    not an interface name or index.
    """
    host = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    address, _, zone = host.partition("%")
    if not zone or _ZONE.fullmatch(zone):
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
    hint = _numeric_hint(host) if host.isascii() else " (give a non-ASCII name in its ASCII xn-- form)"
    if hint is None and len(host.removesuffix(".")) <= 253 and _NAME.fullmatch(host):
        return host
    if re.search(r":\d*$|://|/", host):
        hint = " (give the host alone: the port and scheme come from the milestone)"
    elif zone and ":" in address:
        hint = " (a zone after % is an interface name or number, as fe80::1%eth0)"
    from gridready.escape import terminal
    shown = terminal(repr(value[:100])) + ("..." if len(value) > 100 else "")
    raise argparse.ArgumentTypeError(f"{shown} is not a host name or IP address{hint or ''}")


def add_host_option(group: argparse._ArgumentGroup, what: str = "fill {host} with this host") -> None:
    """The probe's repeatable ``-H/--host`` naming the hosts instead of the inventory."""
    group.add_argument("-H", "--host", action="append", metavar="HOST", type=host_argument,
                       help=f"{what} (repeatable; default: the site's hosts)")
