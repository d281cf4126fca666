"""Which required site pairs an FTS3 server serves, from its configuration.

FTS3 has no channels. A server with the optimizer on and no link
configuration schedules transfers between every pair of storage elements;
the link and SE settings only tune (or stop) what would run anyway, and the
FTS3 documentation discourages per-link configuration. So under FTS3 a
required pair of sites is *served* unless the configuration stops it:

- the link setting that applies to the SE pair has ``max_active`` 0. As the
  FTS3 optimizer resolves it (``getPairLimits`` in the fts3 server's
  ``db/mysql/Optimizer.cpp``), the applying link is the most specific of
  ``SRC -> DST``, ``SRC -> *``, ``* -> DST``, ``* -> *``;
- the source SE's ``outbound_max_active`` or the destination SE's
  ``inbound_max_active`` is 0 (``/config/se``; the SE's own entry, else the
  ``*`` entry, as the server reads ``t_se``);
- one of the SEs is banned (``/ban/se``, any status: CANCEL or WAIT both
  keep new transfers from starting).

Newer FTS3 optimizers clamp a zero to their minimum of two transfers, so a
zero may not stop a pair on every release; a zero is still the site saying
"no transfers here", which is what this check reports.

FTS3 names SEs (``srm://host``, ``davs://host:443``), and the milestone
names GOCDB sites, so SEs are mapped to sites through the inventory's
``storage`` hosts (a link may also name a site, as FTS3 groups did). A site
with no storage in the inventory cannot be judged when the configuration
names SEs the inventory does not place: those settings might be its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gridready.fts.channels import ANY_SITE
from gridready.fts.matrix import RequiredChannel, host_of
from gridready.fts.rest import BannedStorage, Fts3Config, Link, StorageConfig
from gridready.models import Inventory

ANY = "*"
#: How many names an "unplaced SEs" reason lists before "and N more".
_LIST_AT_MOST = 5


@dataclass(frozen=True)
class SePair:
    """One (source SE, destination SE) pair of a site pair.

    An end is the SE host, ``*`` for any SE (a STAR source), or the site name
    when the inventory lists no storage for it (only wildcard settings apply).
    """

    source: str
    destination: str
    #: Why this SE pair is stopped; empty when it is served.
    stops: tuple[str, ...]
    #: The link setting that applies (None: no link configuration, the defaults).
    link: Link | None

    @property
    def label(self) -> str:
        return f"{self.source} -> {self.destination}"


@dataclass(frozen=True)
class PairServing:
    """The judgement of one required site pair."""

    need: RequiredChannel
    se_pairs: tuple[SePair, ...] = ()
    #: Set when the pair cannot be judged: the reason.
    unknown: str = ""

    @property
    def stopped(self) -> tuple[SePair, ...]:
        return tuple(p for p in self.se_pairs if p.stops)

    @property
    def served(self) -> bool:
        return not self.unknown and not self.stopped

    @property
    def fully_stopped(self) -> bool:
        return not self.unknown and bool(self.se_pairs) and len(self.stopped) == len(self.se_pairs)


class _Places:
    """Where each name of the configuration points: ``*``, a site, or an SE host."""

    def __init__(self, inventory: Inventory) -> None:
        self.site_by_name: dict[str, str] = {}
        self.site_by_host: dict[str, str] = {}
        for site in inventory.sites:
            self.site_by_name[site.name.casefold()] = site.name
            if site.wlcg_name:
                self.site_by_name.setdefault(site.wlcg_name.casefold(), site.name)
            for storage in site.storage:
                # An inventory may list storage as a host or as an SE URL: compare hosts.
                self.site_by_host.setdefault(host_of(storage.host), site.name)

    def key(self, endpoint: str) -> str:
        """``*``, ``site:<name>`` or ``se:<host>``."""
        text = endpoint.strip()
        if text in (ANY, "") or text.casefold() == "star":
            return ANY
        site = self.site_by_name.get(text.casefold())
        if site is not None:
            return f"site:{site.casefold()}"
        return f"se:{host_of(text)}"

    def placed(self, key: str) -> bool:
        return key == ANY or key.startswith("site:") or key[3:] in self.site_by_host


def _first(index: Mapping[tuple[str, str], Link], sources: Sequence[str],
           destinations: Sequence[str]) -> Link | None:
    # FTS3's preference: SRC->DST, SRC->*, *->DST, *->* (SRC/DST: the SE, then its site).
    for pairs in ([(s, d) for s in sources for d in destinations], [(s, ANY) for s in sources],
                  [(ANY, d) for d in destinations], [(ANY, ANY)]):
        for pair in pairs:
            link = index.get(pair)
            if link is not None:
                return link
    return None


def _storage(index: Mapping[str, StorageConfig], keys: Sequence[str]) -> StorageConfig | None:
    for key in keys:
        if key in index:
            return index[key]
    return index.get(ANY)


def _ban_text(ban: BannedStorage) -> str:
    vo = f" for VO {ban.vo}" if ban.vo and ban.vo != ANY else ""
    status = f", {ban.status}" if ban.status else ""
    return f"SE {ban.storage} is banned{vo}{status}"


class _Judge:
    def __init__(self, config: Fts3Config, inventory: Inventory) -> None:
        self.places = _Places(inventory)
        self.inventory = inventory
        self.links: dict[tuple[str, str], Link] = {}
        for link in config.links:
            self.links.setdefault((self.places.key(link.source), self.places.key(link.destination)), link)
        self.storages: dict[str, StorageConfig] = {}
        for se in config.storages:
            self.storages.setdefault(self.places.key(se.name), se)
        self.bans: dict[str, list[BannedStorage]] = {}
        for ban in config.banned or ():
            self.bans.setdefault(self.places.key(ban.storage), []).append(ban)
        self.bans_read = config.banned is not None
        named = [link.source for link in config.links] + [link.destination for link in config.links]
        named += [se.name for se in config.storages] + [b.storage for b in config.banned or ()]
        self.unplaced = sorted({n.strip() for n in named if not self.places.placed(self.places.key(n))})

    def _ses(self, site: str) -> list[str | None]:
        found = self.inventory.site(site)
        hosts = [host_of(st.host) for st in found.storage] if found is not None else []
        return list(dict.fromkeys(hosts)) or [None]

    def _keys(self, host: str | None, site: str) -> list[str]:
        keys = [f"se:{host}"] if host is not None else []
        return keys + [f"site:{site.casefold()}"]

    def _stops(self, src: str | None, src_site: str | None, dst: str | None, dst_site: str) -> SePair:
        src_keys = self._keys(src, src_site) if src_site is not None else []
        dst_keys = self._keys(dst, dst_site)
        stops: list[str] = []
        link = _first(self.links, src_keys, dst_keys)
        if link is not None and link.max_active == 0:
            stops.append(f"link {link.name} ({link.pair}) has max_active 0")
        out = _storage(self.storages, src_keys) if src_site is not None else self.storages.get(ANY)
        if out is not None and out.outbound_max_active == 0:
            stops.append(f"SE {out.name} has outbound_max_active 0")
        into = _storage(self.storages, dst_keys)
        if into is not None and into.inbound_max_active == 0:
            stops.append(f"SE {into.name} has inbound_max_active 0")
        for key in src_keys + dst_keys:
            stops.extend(_ban_text(ban) for ban in self.bans.get(key, ()))
        src_text = src if src is not None else (src_site if src_site is not None else ANY)
        dst_text = dst if dst is not None else dst_site
        return SePair(src_text, dst_text, tuple(dict.fromkeys(stops)), link)

    def judge(self, need: RequiredChannel) -> PairServing:
        if not self.bans_read:
            return PairServing(need, unknown="the banned storage list (/ban/se) was not read")
        star = need.source == ANY_SITE
        without = [s for s in ([need.destination] if star else [need.source, need.destination])
                   if self._ses(s) == [None]]
        if without and self.unplaced:
            more = len(self.unplaced) - _LIST_AT_MOST
            names = ", ".join(self.unplaced[:_LIST_AT_MOST]) + (f" and {more} more" if more > 0 else "")
            return PairServing(need, unknown=(
                f"{need.name} ({need.pair}) cannot be judged: the inventory lists no storage for "
                f"{' and '.join(without)}, and the FTS3 configuration names SEs it does not place ({names})"))
        sources: Iterable[str | None] = [None] if star else self._ses(need.source)
        pairs = tuple(self._stops(src, None if star else need.source, dst, need.destination)
                      for src in sources for dst in self._ses(need.destination))
        return PairServing(need, pairs)


def judge_pairs(config: Fts3Config, inventory: Inventory,
                required: Sequence[RequiredChannel]) -> dict[RequiredChannel, PairServing]:
    """Each required pair's judgement under ``config`` (time linear in the configuration's size)."""
    judge = _Judge(config, inventory)
    return {need: judge.judge(need) for need in required}
