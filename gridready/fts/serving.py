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
- one of the SEs is banned (``/ban/se``, any status: CANCEL, WAIT and
  WAIT_AS all keep new transfers from starting). fts-rest bans an SE for
  one VO (the admin's; ``*`` or none: every VO), and only that VO's
  transfers stop (``apply_banning`` in fts-rest's JobBuilder): for a
  milestone that names ``vos`` the ban stops the pair when it covers all of
  them, and for one that names none a one-VO ban leaves the pair degraded.

FTS3 names an SE ``scheme://host``, so one storage host may carry several
settings (``srm://h`` and ``davs://h``). When such settings of the same
specificity disagree (one stops, another lets transfers run), the pair is
degraded, whatever order the server lists them in.

``nostreams`` 0 on a link is "not set": the server passes no stream count
to the transfer (``UrlCopyCmd`` sets ``nstreams`` only above 0), as a fresh
FTS3's ``* -> *`` link has it.

Newer FTS3 optimizers clamp a zero to their minimum of two transfers, so a
zero may not stop a pair on every release; a zero is still the site saying
"no transfers here", which is what this check reports.

FTS3 names SEs (``srm://host``, ``davs://host:443``), and the milestone
names GOCDB sites, so SEs are mapped to sites through the inventory's
``storage`` hosts (a link may also name a site, as FTS3 groups did), and
through the ``site`` an SE's own ``/config/se`` entry gives (``t_se.site``)
when that names an inventory site and the inventory does not place the host
elsewhere: such an SE is one more of the site's SEs. A site with no storage
in either cannot be judged when the configuration names SEs nothing places:
those settings might be its own.
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
    #: The link settings that apply, one per FTS SE name of the hosts (empty: no link configuration).
    links: tuple[Link, ...] = ()
    #: Why it is stopped only in part (for some VOs, or through some of a host's
    #: FTS SE names); empty when it is fully served or fully stopped.
    partial: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.source} -> {self.destination}"

    @property
    def link(self) -> Link | None:
        """The first link setting that applies (None: the defaults)."""
        return self.links[0] if self.links else None

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.stops + self.partial


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
    def impaired(self) -> tuple[SePair, ...]:
        """The SE pairs stopped in full or in part."""
        return tuple(p for p in self.se_pairs if p.stops or p.partial)

    @property
    def served(self) -> bool:
        return not self.unknown and not self.impaired

    @property
    def fully_stopped(self) -> bool:
        return not self.unknown and bool(self.se_pairs) and len(self.stopped) == len(self.se_pairs)


class _Places:
    """Where each name of the configuration points: ``*``, a site, or an SE host."""

    def __init__(self, inventory: Inventory, storages: Sequence[StorageConfig] = ()) -> None:
        self.site_by_name: dict[str, str] = {}
        self.site_by_host: dict[str, str] = {}
        #: Hosts placed at a site only by the FTS3 SE entry's own ``site`` (inventory site name -> hosts).
        self.extra_hosts: dict[str, list[str]] = {}
        for site in inventory.sites:
            self.site_by_name[site.name.casefold()] = site.name
            if site.wlcg_name:
                self.site_by_name.setdefault(site.wlcg_name.casefold(), site.name)
            for storage in site.storage:
                # An inventory may list storage as a host or as an SE URL: compare hosts.
                self.site_by_host.setdefault(host_of(storage.host), site.name)
        for se in storages:
            named = self.site_by_name.get(se.site.strip().casefold()) if se.site else None
            host = host_of(se.name)
            if named is None or se.name.strip() == ANY or not host or host in self.site_by_host:
                continue
            self.site_by_host[host] = named
            self.extra_hosts.setdefault(named, []).append(host)

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


def _first(index: Mapping[tuple[str, str], list[Link]], sources: Sequence[str],
           destinations: Sequence[str]) -> list[Link]:
    # FTS3's preference: SRC->DST, SRC->*, *->DST, *->* (SRC/DST: the SE, then its site).
    for pairs in ([(s, d) for s in sources for d in destinations], [(s, ANY) for s in sources],
                  [(ANY, d) for d in destinations], [(ANY, ANY)]):
        for pair in pairs:
            links = index.get(pair)
            if links:
                return links
    return []


def _storage(index: Mapping[str, list[StorageConfig]], keys: Sequence[str]) -> list[StorageConfig]:
    for key in keys:
        if key in index:
            return index[key]
    return index.get(ANY, [])


def _split(settings: Sequence[str | None], stops: list[str], partial: list[str]) -> None:
    """Settings of one host's FTS SE names (None: lets transfers run): all stop, or some."""
    zero = [text for text in settings if text is not None]
    if not zero:
        return
    if len(zero) == len(settings):
        stops.extend(zero)
    else:
        partial.extend(f"{text} (another SE name of the host has transfers)" for text in zero)


def _ban_text(ban: BannedStorage) -> str:
    vo = f" for VO {ban.vo}" if ban.vo and ban.vo != ANY else ""
    status = f", {ban.status}" if ban.status else ""
    return f"SE {ban.storage} is banned{vo}{status}"


class _Judge:
    def __init__(self, config: Fts3Config, inventory: Inventory, vos: Sequence[str]) -> None:
        self.places = _Places(inventory, config.storages)
        self.inventory = inventory
        self.vos = frozenset(vo.casefold() for vo in vos)
        self.links: dict[tuple[str, str], list[Link]] = {}
        for link in config.links:
            self.links.setdefault((self.places.key(link.source), self.places.key(link.destination)), []).append(link)
        storages = [se for se in config.storages if se.has_settings]
        self.storages: dict[str, list[StorageConfig]] = {}
        for se in storages:
            self.storages.setdefault(self.places.key(se.name), []).append(se)
        self.bans: dict[str, list[BannedStorage]] = {}
        for ban in config.banned or ():
            self.bans.setdefault(self.places.key(ban.storage), []).append(ban)
        self.bans_read = config.banned is not None
        named = [link.source for link in config.links] + [link.destination for link in config.links]
        named += [se.name for se in storages] + [b.storage for b in config.banned or ()]
        self.unplaced = sorted({n.strip() for n in named if not self.places.placed(self.places.key(n))})

    def _ses(self, site: str) -> list[str | None]:
        found = self.inventory.site(site)
        hosts = [host_of(st.host) for st in found.storage] if found is not None else []
        hosts += self.places.extra_hosts.get(found.name, []) if found is not None else []
        return list(dict.fromkeys(hosts)) or [None]

    def _keys(self, host: str | None, site: str) -> list[str]:
        keys = [f"se:{host}"] if host is not None else []
        return keys + [f"site:{site.casefold()}"]

    def _stops(self, src: str | None, src_site: str | None, dst: str | None, dst_site: str) -> SePair:
        src_keys = self._keys(src, src_site) if src_site is not None else []
        dst_keys = self._keys(dst, dst_site)
        stops: list[str] = []
        partial: list[str] = []
        links = _first(self.links, src_keys, dst_keys)
        _split([f"link {link.name} ({link.pair}) has max_active 0" if link.max_active == 0 else None
                for link in links], stops, partial)
        outs = _storage(self.storages, src_keys) if src_site is not None else self.storages.get(ANY, [])
        _split([f"SE {se.name} has outbound_max_active 0" if se.outbound_max_active == 0 else None
                for se in outs], stops, partial)
        intos = _storage(self.storages, dst_keys)
        _split([f"SE {se.name} has inbound_max_active 0" if se.inbound_max_active == 0 else None
                for se in intos], stops, partial)
        self._banned([ban for key in src_keys + dst_keys for ban in self.bans.get(key, ())], stops, partial)
        src_text = src if src is not None else (src_site if src_site is not None else ANY)
        dst_text = dst if dst is not None else dst_site
        stopped = tuple(dict.fromkeys(stops))
        return SePair(src_text, dst_text, stopped, tuple(links),
                      tuple(p for p in dict.fromkeys(partial) if p not in stopped))

    def _banned(self, bans: Sequence[BannedStorage], stops: list[str], partial: list[str]) -> None:
        stops.extend(_ban_text(ban) for ban in bans if ban.all_vos)
        scoped = [ban for ban in bans if not ban.all_vos]
        if not self.vos:
            partial.extend(f"{_ban_text(ban)} (not for other VOs)" for ban in scoped)
            return
        hit = [ban for ban in scoped if (ban.vo or "").casefold() in self.vos]
        banned = {(ban.vo or "").casefold() for ban in hit}
        if banned >= self.vos:
            stops.extend(_ban_text(ban) for ban in hit)
        else:
            free = ", ".join(sorted(self.vos - banned))
            partial.extend(f"{_ban_text(ban)} (not for VO {free})" for ban in hit)

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


def judge_pairs(config: Fts3Config, inventory: Inventory, required: Sequence[RequiredChannel],
                vos: Sequence[str] = ()) -> dict[RequiredChannel, PairServing]:
    """Each required pair's judgement under ``config`` (time linear in the configuration's size).

    ``vos``: the VOs the milestone is about (its ``vos``); a ban for another VO
    then stops nothing, and with none named a one-VO ban degrades the pair.
    """
    judge = _Judge(config, inventory, vos)
    return {need: judge.judge(need) for need in required}
