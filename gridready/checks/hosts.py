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
from collections.abc import Sequence

from gridready.models import Site

#: The values of ``hosts:``; ``all`` is storage then doors.
HOST_KINDS = ("storage", "doors", "all")


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


def host_argument(value: str) -> str:
    """``-H`` value: a host name or an IP address (``[v6]`` brackets dropped), else ArgumentTypeError.

    A scheme, a port or a path is refused rather than pasted into ``{host}``:
    the URL template or the plugin's own options carry those.
    """
    host = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if len(host) <= 253 and _NAME.fullmatch(host):
        return host
    hint = " (give the host alone: the port and scheme come from the milestone)" \
        if re.search(r":\d*$|://|/", host) else ""
    from gridready.escape import terminal
    raise argparse.ArgumentTypeError(f"{terminal(repr(value))} is not a host name or IP address{hint}")


def add_host_option(group: argparse._ArgumentGroup, what: str = "fill {host} with this host") -> None:
    """The probe's repeatable ``-H/--host`` naming the hosts instead of the inventory."""
    group.add_argument("-H", "--host", action="append", metavar="HOST", type=host_argument,
                       help=f"{what} (repeatable; default: the site's hosts)")
