"""Which hosts of a site a declarative check runs against (``hosts:`` in ``expect``).

The ``http``, ``plugin`` and ``dns`` checks fill ``{host}`` or look up names
per host of the site, taken from the inventory: its storage hosts
(``storage:``), its xrootd door hosts (``xrootd:``), or both. ``-H`` on the
probe's command line names the hosts instead.
"""

from __future__ import annotations

import argparse
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


def add_host_option(group: argparse._ArgumentGroup, what: str = "fill {host} with this host") -> None:
    """The probe's repeatable ``-H/--host`` naming the hosts instead of the inventory."""
    group.add_argument("-H", "--host", action="append", metavar="HOST",
                       help=f"{what} (repeatable; default: the site's hosts)")
