"""The FTS channel matrix a site must serve, derived from the site inventory.

The GDB's Tier-0/1 channel model: CERN's FTS (Tier-0) runs ``CERN-<T1>``
for every Tier-1, and each Tier-1's FTS runs the channels into that Tier-1,
``<T1'>-<T1>`` for every other Tier-1 plus ``STAR-<T1>`` (from any site).
Channel names are free-form, so a required channel is the pair of GOCDB site
names (``*`` for any site) and is matched against the ``Between:`` line of
an FTS 2 channel or the source/destination of an FTS3 link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gridready.fts.channels import ANY_SITE
from gridready.models import Inventory, Site

TIER0 = 0
TIER1 = 1


@dataclass(frozen=True)
class RequiredChannel:
    """A (source, destination) pair of GOCDB site names; ``*`` is any site."""

    source: str
    destination: str

    @property
    def name(self) -> str:
        """The conventional upper-case name, e.g. ``STAR-RAL-LCG2``, used when it is missing."""
        src = "STAR" if self.source == ANY_SITE else self.source
        return f"{src}-{self.destination}".upper()

    @property
    def pair(self) -> str:
        return f"{self.source} -> {self.destination}"

    def matches(self, source: str | None, destination: str | None) -> bool:
        """Whether a channel between these (already resolved) endpoints is this one.

        A ``*`` channel does not stand in for a named pair: the model asks for
        dedicated Tier-1 to Tier-1 channels, the STAR channel is extra.
        """
        return (_same(self.source, source) and _same(self.destination, destination))


def _same(want: str, have: str | None) -> bool:
    return have is not None and want.casefold() == have.casefold()


def required_channels(inventory: Inventory, site: str, tier: int) -> tuple[RequiredChannel, ...]:
    """The channels the FTS of ``site`` (of ``tier``) must serve; () for Tier-2 and below."""
    me = inventory.site(site)
    name = me.name if me is not None else site
    others = [s.name for s in inventory.tier(TIER1) if s.name.casefold() != name.casefold()]
    if tier == TIER0:
        return tuple(RequiredChannel(name, t1) for t1 in others)
    if tier == TIER1:
        return tuple([RequiredChannel(t1, name) for t1 in others] + [RequiredChannel(ANY_SITE, name)])
    return ()


def endpoint_site(endpoint: str, inventory: Inventory) -> str:
    """The GOCDB site an FTS endpoint name stands for.

    FTS3 links name sites, storage elements (``srm://host``, ``host``) or
    ``*``; FTS 2 ``Between:`` lines name sites. Unknown names come back as
    given, so they simply match nothing.
    """
    text = endpoint.strip()
    if text in (ANY_SITE, "") or text.casefold() == "star":
        return ANY_SITE
    by_name = _site_named(text, inventory.sites)
    if by_name is not None:
        return by_name.name
    host = host_of(text)
    for s in inventory.sites:
        if any(host_of(st.host) == host for st in s.storage):
            return s.name
    return text


class EndpointResolver:
    """:func:`endpoint_site` with the inventory indexed once and each name resolved once.

    Matching a listing of N channels costs O(N) dictionary look-ups, not
    O(N x sites): a 100,000-channel file stays within a probe's timeout.
    """

    def __init__(self, inventory: Inventory) -> None:
        self._by_name: dict[str, str] = {}
        self._by_host: dict[str, str] = {}
        for site in inventory.sites:
            for key in (site.name, site.wlcg_name):
                if key:
                    self._by_name.setdefault(key.casefold(), site.name)
            for storage in site.storage:
                self._by_host.setdefault(host_of(storage.host), site.name)
        self._seen: dict[str, str] = {}

    def __call__(self, endpoint: str) -> str:
        known = self._seen.get(endpoint)
        if known is None:
            known = self._seen[endpoint] = self._resolve(endpoint)
        return known

    def _resolve(self, endpoint: str) -> str:
        text = endpoint.strip()
        if text in (ANY_SITE, "") or text.casefold() == "star":
            return ANY_SITE
        site = self._by_name.get(text.casefold())
        if site is not None:
            return site
        return self._by_host.get(host_of(text), text)


def storage_site(endpoint: str, inventory: Inventory) -> Site | None:
    """The site whose storage element ``endpoint`` (``srm://host:port``, ``host``) is, if known."""
    host = host_of(endpoint)
    return next((s for s in inventory.sites if any(host_of(st.host) == host for st in s.storage)), None)


def _site_named(text: str, sites: Sequence[Site]) -> Site | None:
    key = text.casefold()
    return next((s for s in sites if key in (s.name.casefold(), s.wlcg_name.casefold())), None)


def host_of(endpoint: str) -> str:
    """The lower-case host an SE name stands for (``srm://h:8443/x`` -> ``h``; ``h:8443`` -> ``h``; ``h`` -> ``h``).

    Used on both sides of every comparison: FTS names SEs by URL (``srm://``,
    ``davs://``, ``gsiftp://``, ``root://``, with port and path) and an
    inventory may list its storage as a bare host or as such a URL. A
    fully-qualified name's trailing dot (``h.`` is ``h`` in DNS) is dropped.
    """
    text = endpoint.strip()
    if "://" in text:
        try:
            host = urlsplit(text).hostname or ""
        except ValueError:
            host = text
    else:
        head = text.split("/", 1)[0]
        if head.startswith("[") and "]" in head:
            host = head[1:head.index("]")]
        else:
            host = head.rsplit(":", 1)[0] if head.count(":") == 1 else head
    return host.rstrip(".").casefold() or host.casefold()
