"""check_fts_channels: does a site's FTS serve the GDB Tier-0/1 channel matrix, in good shape?

Two sources: an FTS 2 ``glite-transfer-channel-list -v`` dump (2010) or an
FTS3 server's REST configuration (today). ``collect`` reads the source and
works out from the inventory which site pairs the site's FTS must serve
(gridready.fts.matrix); ``assess`` applies one milestone's rules.

FTS 2 has channels: each required pair needs a channel (Active OK,
Drain/Inactive WARNING, Stopped/Halted CRITICAL, Archived = missing), with
streams and files within range, a share above 0 for every listed VO, a
contact. A field the block does not list at all (no line, or none readable)
was not collected: UNKNOWN, not a failure; one printed as ``(null)`` or
``Number of VO shares: 0`` is unset, a failure. FTS3 has no channels: a pair is served unless the configuration
stops it (gridready.fts.serving: a zero ``max_active`` link or SE setting,
a banned SE); the links that apply need ``min_active <= max_active`` and
streams in range, and the optimizer must be on. A pair that cannot be
judged (no storage in the inventory for a site, bans not read) makes the
milestone UNKNOWN unless another pair already fails.

Only light modules are imported here: the HTTP client comes in with
gridready.fts.rest, and only on the ``--fts`` path.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from gridready.checks.interface import Assessment, Finding, Observation, PerfValue, Request, Severity
from gridready.deadline import Deadline
from gridready.errors import CheckError, SourceError, UsageError
from gridready.escape import has_control, terminal
from gridready.fts.channels import Channel, ChannelListing, read_channel_list
from gridready.fts.matrix import (
    EndpointResolver, RequiredChannel, endpoint_site, required_channels, storage_site)
from gridready.fts.serving import PairServing, judge_pairs
from gridready.models import Inventory, Site
from gridready.tlsoptions import add_tls_options

if TYPE_CHECKING:
    from gridready.fts.rest import Fts3Config, Link

TIER0 = 0
TIER1 = 1
#: Long-output lines per list (SEs, bans, uncounted channels) before "... and N more".
_DETAIL_LINES = 50

# Rank of an FTS 2 channel state: when several channels serve one pair (an
# Archived old one next to its replacement), the best-ranked one counts.
_ACTIVE, _DEGRADED, _DOWN, _UNKNOWN, _ARCHIVED = range(5)
_STATE_RANK = {"active": _ACTIVE, "drain": _DEGRADED, "inactive": _DEGRADED,
               "stopped": _DOWN, "halted": _DOWN, "archived": _ARCHIVED}

_BOOL_KEYS = ("matrix", "contact", "vo_shares", "optimizer")
_RANGE_KEYS = ("streams", "files")
EXPECT_KEYS = _BOOL_KEYS + _RANGE_KEYS + ("vos",)


def state_rank(state: str | None) -> int:
    return _STATE_RANK.get((state or "").strip().casefold(), _UNKNOWN)


@dataclass(frozen=True)
class Rules:
    """A milestone's ``expect`` with defaults; see validate_expect for the meaning of each key."""

    matrix: bool = True
    contact: bool = True
    vo_shares: bool = True
    optimizer: bool = True
    vos: tuple[str, ...] = ()
    streams: tuple[int, int] | None = None
    files: tuple[int, int] | None = None

    @classmethod
    def from_expect(cls, expect: Mapping[str, Any]) -> Rules:
        # expect was validated when the rules were loaded; anything odd falls back to the default.
        def flag(key: str) -> bool:
            value = expect.get(key)
            return value if isinstance(value, bool) else True

        def bounds(key: str) -> tuple[int, int] | None:
            value = expect.get(key)
            return None if value is None or _range_problem(value) else (value[0], value[1])

        vos = expect.get("vos")
        return cls(matrix=flag("matrix"), contact=flag("contact"), vo_shares=flag("vo_shares"),
                   optimizer=flag("optimizer"), streams=bounds("streams"), files=bounds("files"),
                   vos=tuple(v for v in vos if isinstance(v, str)) if isinstance(vos, list) else ())


def _range_problem(value: Any) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value)):
        return f"expected [LOW, HIGH] (whole numbers >= 0), got {value!r}"
    if value[0] > value[1]:
        return f"LOW {value[0]} is above HIGH {value[1]}"
    return None


@dataclass(frozen=True)
class FtsData:
    """What collect found: the source read plus the site's matrix, matched."""

    server: str
    site: str
    tier: int
    inventory: Inventory
    required: tuple[RequiredChannel, ...]
    listing: ChannelListing | None = None
    fts3: Fts3Config | None = None


def match_channels(data: FtsData) -> dict[RequiredChannel, Channel | None]:
    """Each required pair's best FTS 2 channel; None when there is none, or only Archived ones.

    Linear in the number of channels: each is resolved once and indexed by its pair.
    """
    assert data.listing is not None
    resolve = EndpointResolver(data.inventory)
    by_pair: dict[tuple[str, str], list[Channel]] = {}
    for c in data.listing.channels:
        if c.source and c.destination:
            key = (resolve(c.source).casefold(), resolve(c.destination).casefold())
            by_pair.setdefault(key, []).append(c)
    out: dict[RequiredChannel, Channel | None] = {}
    for need in data.required:
        candidates = by_pair.get((need.source.casefold(), need.destination.casefold()), [])
        out[need] = min(candidates, key=lambda c: state_rank(c.state), default=None)
    return out


def match_links(data: FtsData) -> dict[RequiredChannel, Link | None]:
    """Each required pair's FTS3 link (by source/destination site or SE), or None."""
    assert data.fts3 is not None
    resolved = [(link, endpoint_site(link.source, data.inventory), endpoint_site(link.destination, data.inventory))
                for link in data.fts3.links]
    return {need: next((link for link, src, dst in resolved if need.matches(src, dst)), None)
            for need in data.required}


class FtsChannelsCheck:
    name = "fts_channels"
    description = ("Checks that a site's FTS serves the GDB Tier-0/1 channel matrix in good shape, "
                   "from FTS3 REST (--fts) or an FTS 2 glite-transfer-channel-list -v dump (--channel-list).")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("FTS options")
        source = group.add_mutually_exclusive_group()
        source.add_argument("--fts", metavar="URL",
                            help="FTS3 REST endpoint, e.g. https://fts3.example:8446 (or a saved JSON of it)")
        source.add_argument("--channel-list", metavar="FILE",
                            help="FTS 2 'glite-transfer-channel-list -v' dump of the site's channels")
        add_tls_options(group, "to verify the FTS3 server")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = [f"unknown expect key '{k}' (allowed: {', '.join(EXPECT_KEYS)})"
                    for k in expect if k not in EXPECT_KEYS]
        for key in _BOOL_KEYS:
            if key in expect and not isinstance(expect[key], bool):
                problems.append(f"{key}: expected true or false, got {expect[key]!r}")
        for key in _RANGE_KEYS:
            problem = _range_problem(expect.get(key))
            if problem:
                problems.append(f"{key}: {problem}")
        vos = expect.get("vos")
        if vos is not None and (not isinstance(vos, list)
                                or not all(isinstance(v, str) and v.strip() for v in vos)):
            problems.append(f"vos: expected a list of VO names, got {vos!r}")
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        if site.fts:
            return [{"fts": site.fts}]
        if site.fts_channels:
            return [{"channel_list": site.fts_channels}]
        # Every Tier-0/1 has an FTS in the channel matrix: no source means "not checked".
        raise CheckError(f"no FTS source for {site.name} in the inventory "
                         "(set fts: to its FTS3 REST URL or fts_channels: to a channel listing)")

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        try:
            observation = self._collect(request, deadline)
        except SourceError as exc:
            # Names in these messages come from the server or the file: no control characters out.
            if not has_control(str(exc)):
                raise
            raise SourceError(terminal(str(exc))) from None
        observation.details = [terminal(line) for line in observation.details]
        return observation

    def _collect(self, request: Request, deadline: Deadline) -> Observation:
        fts, listing_file = request.opt("fts"), request.opt("channel_list")
        cert, key, proxy, capath = (request.opt(n) for n in ("cert", "key", "proxy", "capath"))
        if bool(fts) == bool(listing_file):
            raise UsageError("give one of --fts URL or --channel-list FILE")
        if listing_file and (cert or key or proxy or capath):
            raise UsageError("--cert, --key, --proxy and --capath apply only to --fts")
        if proxy and (cert or key):
            raise UsageError("give either --cert and --key, or --proxy")
        if bool(cert) != bool(key):
            raise UsageError("--cert and --key go together")
        if not request.site:
            raise UsageError("--site NAME is required: the channels an FTS must serve depend on the site")
        inventory = request.inventory
        if inventory is None:
            from gridready import bundled
            from gridready.configfile import load_inventory
            with deadline.during("loading the site inventory"):
                inventory = load_inventory(bundled.inventory_file())
        site = inventory.site(request.site)
        if site is None:
            raise UsageError(f"site '{request.site}' is not in the inventory {inventory.path}")
        required = required_channels(inventory, site.name, request.tier)

        if listing_file:
            listing = read_channel_list(str(listing_file), deadline)
            data = FtsData(str(listing_file), site.name, request.tier, inventory, required, listing=listing)
            return _fts2_observation(data)
        from gridready.fts.rest import read_fts3
        from gridready.sources.http import TLSOptions
        config = read_fts3(str(fts), deadline, TLSOptions(capath=capath, cert=cert, key=key, proxy=proxy))
        data = FtsData(str(fts), site.name, request.tier, inventory, required, fts3=config)
        return _fts3_observation(data)

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        data: FtsData = observation.data
        rules = Rules.from_expect(expect)
        if rules.matrix and not data.required:
            if data.tier == TIER0:
                # CERN serves CERN-<T1> for every Tier-1: an inventory without
                # Tier-1s says nothing about what it must serve.
                summary = (f"the inventory {data.inventory.path} lists no Tier-1 sites, so the channels "
                           f"Tier-0 site {data.site} must serve are not known")
                return Assessment((Finding(True, summary),), summary=summary, unknown=summary)
            return Assessment(applicable=False,
                              summary=f"site {data.site} (tier {data.tier}) has no FTS channel matrix to serve")
        return _visible(_assess_fts2(data, rules) if data.listing is not None else _assess_fts3(data, rules))


def _visible(assessment: Assessment) -> Assessment:
    """Channel, link and SE names come from the listing or the server: no control characters out."""
    findings = tuple(replace(f, message=terminal(f.message), remediation=terminal(f.remediation))
                     for f in assessment.findings)
    return replace(assessment, findings=findings, summary=terminal(assessment.summary),
                   unknown=terminal(assessment.unknown))


# --- FTS 2 -------------------------------------------------------------------


def _shares(channel: Channel) -> str:
    return ",".join(f"{s.vo}:{s.share}" for s in channel.vo_shares) or "none"


def _fts2_observation(data: FtsData) -> Observation:
    assert data.listing is not None
    matched = match_channels(data)
    ok = sum(1 for c in matched.values() if c is not None and state_rank(c.state) == _ACTIVE)
    missing = sum(1 for c in matched.values() if c is None or state_rank(c.state) == _ARCHIVED)
    details = [f"FTS 2 channel listing {data.server}: {len(data.listing.channels)} channels; "
               f"site {data.site} (tier {data.tier}) needs {len(data.required)}"]
    for need, channel in matched.items():
        if channel is None:
            details.append(f"{need.name} ({need.pair}): missing")
        else:
            details.append(f"{channel.name} ({need.pair}): {channel.state or 'state unreadable'}, "
                           f"contact {channel.contact or '(null)'}, files {channel.files}, "
                           f"streams {channel.streams}, VO shares {_shares(channel)}")
    used = {id(c) for c in matched.values() if c is not None}
    details.extend(_bounded([f"not counted: {c.name} ({c.pair}) {c.state or ''}".rstrip()
                             for c in data.listing.channels if id(c) not in used], "channels not counted"))
    details.extend(_bounded([f"unreadable: {p}" for p in data.listing.problems], "unreadable lines"))
    return Observation(target=data.server, data=data, metrics=_metrics(len(data.required), ok, missing),
                       details=details)


def _metrics(required: int, ok: int, missing: int) -> list[PerfValue]:
    return [PerfValue("channels_required", required, min=0),
            PerfValue("channels_ok", ok, min=0, max=required),
            PerfValue("channels_missing", missing, min=0, max=required)]


def _in_range(what: str, value: int | None, bounds: tuple[int, int] | None, subject: str,
              setting: str) -> Finding | None:
    if bounds is None:
        return None
    low, high = bounds
    if value is None:
        return Finding(False, f"{subject}: number of {what} unreadable",
                       f"check the {what} setting of {subject}")
    if not low <= value <= high:
        return Finding(False, f"{subject}: {value} {what}, expected {low}-{high}",
                       f"set {setting} of {subject} to between {low} and {high}")
    return None


def _unlisted(channel: Channel, label: str, rules: Rules) -> list[str]:
    """What a rule needs that the channel's block does not list (no line, or none readable)."""
    missing = []
    if channel.state is None:
        missing.append("State")
    if rules.contact and "contact" not in channel.fields:
        missing.append("Contact")
    if (rules.files and channel.files is None) or (rules.streams and channel.streams is None):
        missing.append("Number of files/streams")
    if (rules.vo_shares or rules.vos) and not channel.vo_shares and channel.declared_shares != 0:
        missing.append("VO shares")
    return [f"{label}: no readable {what} line in the listing" for what in missing]


def _channel_findings(channel: Channel, need: RequiredChannel | None, rules: Rules) -> tuple[list[Finding], list[str]]:
    """The channel's failures, and what could not be judged because the listing lacks it."""
    label = f"channel {channel.name} ({need.pair if need else channel.pair})"
    unknown = _unlisted(channel, label, rules)
    findings: list[Finding] = []
    rank = state_rank(channel.state)
    note = next((v for k, v in channel.extended.items() if k.casefold() == "message"), "")
    note = f" ({note})" if note and note.casefold() not in ("(null)", "null") else ""
    if rank == _DEGRADED:
        findings.append(Finding(False, f"{label} is {channel.state}{note}",
                                f"set channel {channel.name} back to Active once its intervention is over",
                                Severity.WARNING))
    elif rank == _DOWN:
        findings.append(Finding(False, f"{label} is {channel.state}{note}",
                                f"restart channel {channel.name}: set it Active"))
    elif rank == _UNKNOWN and channel.state:
        findings.append(Finding(False, f"{label} in unknown state '{channel.state}'",
                                f"set channel {channel.name} Active"))
    if rules.contact and not channel.contact and "contact" in channel.fields:
        findings.append(Finding(False, f"{label} has no contact ((null))",
                                f"set a contact e-mail address on channel {channel.name}"))
    for what, value, bounds, setting in (("files", channel.files, rules.files, "the number of files"),
                                         ("streams", channel.streams, rules.streams, "the streams")):
        found = _in_range(what, value, bounds, label, setting) if value is not None else None
        if found is not None:
            findings.append(found)
    shares_listed = bool(channel.vo_shares) or channel.declared_shares == 0
    if rules.vo_shares and shares_listed:
        if not channel.vo_shares:
            findings.append(Finding(False, f"{label} has no VO shares",
                                    f"give each VO using channel {channel.name} a share above 0"))
        for share in channel.vo_shares:
            if share.share <= 0:
                findings.append(Finding(False, f"{label}: VO '{share.vo}' share is 0",
                                        f"give VO {share.vo} a share above 0 on channel {channel.name} "
                                        "(or remove it from the channel)"))
    for vo in rules.vos if shares_listed else ():
        if not any(s.vo.casefold() == vo.casefold() and s.share > 0 for s in channel.vo_shares):
            findings.append(Finding(False, f"{label}: no share for VO '{vo}'",
                                    f"give VO {vo} a share above 0 on channel {channel.name}"))
    return findings, unknown


def _assess_fts2(data: FtsData, rules: Rules) -> Assessment:
    assert data.listing is not None
    findings: list[Finding] = []
    unknowns: list[str] = []
    active = 0
    if rules.matrix:
        checked: list[tuple[Channel, RequiredChannel | None]] = []
        for need, channel in match_channels(data).items():
            if channel is None or state_rank(channel.state) == _ARCHIVED:
                was = f" (only Archived channel {channel.name})" if channel is not None else ""
                findings.append(Finding(False, f"channel {need.name} ({need.pair}) missing{was}",
                                        f"create channel {need.name} between {need.source} and "
                                        f"{need.destination} on the FTS of {data.site} and set it Active"))
            else:
                checked.append((channel, need))
    else:
        checked = [(c, None) for c in data.listing.channels if state_rank(c.state) != _ARCHIVED]
    for channel, pair in checked:
        own, unlisted = _channel_findings(channel, pair, rules)
        findings.extend(own)
        unknowns.extend(unlisted)
        active += not own and not unlisted
    unread = len(data.listing.problems)
    tail = f"; {unread} unreadable line{'s' if unread != 1 else ''} skipped (see -vv)" if unread else ""
    scope = f"{len(data.required)} required" if rules.matrix else f"{len(checked)}"
    summary = f"{active}/{scope} channels Active and configured{tail}"
    # A field the listing lacks was not collected: the milestone is UNKNOWN, unless something fails.
    unknown = "; ".join(unknowns)
    if not checked and not findings:
        # Only Archived channels: nothing was judged, which is no pass.
        unknown = (f"{data.server}: no channel to judge ({len(data.listing.channels)} listed, "
                   "all Archived)")
    return Assessment(tuple(findings) or (Finding(True, summary),), summary=summary, unknown=unknown)


# --- FTS3 --------------------------------------------------------------------


def _fts3_observation(data: FtsData) -> Observation:
    assert data.fts3 is not None
    config = data.fts3
    judged = judge_pairs(config, data.inventory, data.required)
    served = sum(1 for j in judged.values() if j.served)
    stopped = sum(1 for j in judged.values() if j.fully_stopped)
    bans = "not read" if config.banned is None else str(len(config.banned))
    details = [f"FTS3 {data.server} as {config.identity or '(unknown DN)'}: {len(config.links)} links, "
               f"{len(config.storages)} SEs configured, {bans} banned SEs, "
               f"optimizer {'on' if config.optimizer else 'off'}; "
               f"site {data.site} (tier {data.tier}) needs {len(data.required)} pairs served"]
    for need, judgement in judged.items():
        details.append(f"{need.name} ({need.pair}): {_serving_text(judgement)}")
    details.extend(_bounded([f"SE {se.name}{f' ({se.site})' if se.site else ''}: "
                             f"{', '.join(f'{k} {v}' for k, v in se.limits.items()) or 'no max_active limits'}"
                             for se in config.storages], "SE settings"))
    details.extend(_bounded([f"banned: SE {b.storage}{f' for VO {b.vo}' if b.vo else ''}"
                             f"{f' ({b.status})' if b.status else ''}" for b in config.banned or ()], "bans"))
    return Observation(target=data.server, data=data, metrics=_metrics(len(data.required), served, stopped),
                       details=details)


def _bounded(lines: list[str], what: str) -> list[str]:
    # A hostile or huge configuration must not make the long output unbounded.
    if len(lines) <= _DETAIL_LINES:
        return lines
    return lines[:_DETAIL_LINES] + [f"... and {len(lines) - _DETAIL_LINES} more {what}"]


def _serving_text(judgement: PairServing) -> str:
    if judgement.unknown:
        return f"unknown: {judgement.unknown}"
    if judgement.served:
        links = sorted({link.name for p in judgement.se_pairs for link in p.links})
        return f"served ({'link ' + ', '.join(links) if links else 'no link configuration: defaults'})"
    return " / ".join(f"{p.label} {'stopped' if p.stops else 'partly stopped'}: {', '.join(p.reasons)}"
                      for p in judgement.impaired)


def _link_findings(link: Link, rules: Rules) -> list[Finding]:
    label = f"link {link.name} ({link.pair})"
    findings: list[Finding] = []
    if link.min_active is not None and link.max_active is not None and link.min_active > link.max_active:
        findings.append(Finding(False, f"{label}: min_active {link.min_active} > max_active {link.max_active}",
                                f"set min_active <= max_active on link {link.name}"))
    # nostreams unset (null, or 0: FTS3 passes no stream count then, and a fresh
    # server's '* -> *' link has 0) leaves the streams to the server: nothing to judge.
    if link.nostreams:
        found = _in_range("streams", link.nostreams, rules.streams, label, "nostreams")
        if found is not None:
            findings.append(found)
    return findings


def _tier1_se_findings(data: FtsData) -> list[Finding]:
    assert data.fts3 is not None
    findings: list[Finding] = []
    for se in data.fts3.storages:
        site = (data.inventory.site(se.site) if se.site else None) or storage_site(se.name, data.inventory)
        if site is None or site.tier != TIER1:
            continue
        for key, value in se.limits.items():
            if value == 0:
                findings.append(Finding(False, f"Tier-1 SE {se.name} ({site.name}) has {key} 0: no transfers run",
                                        f"raise {key} of SE {se.name} above 0 (FTS3 /config/se)"))
    return findings


def _pair_finding(judgement: PairServing, server: str) -> Finding:
    need = judgement.need
    # " / " between SE pairs: "; " separates findings in the milestone message.
    stops = " / ".join(f"{p.label}: {', '.join(p.reasons)}" for p in judgement.impaired)
    fix = (f"let transfers run from {need.source} to {need.destination} on {server}: raise the zero "
           "max_active settings above 0 or lift the ban (FTS3 /config/links, /config/se, /ban/se)")
    if judgement.fully_stopped:
        return Finding(False, f"{need.name} ({need.pair}) not served: {stops}", fix)
    return Finding(False, f"{need.name} ({need.pair}) partly stopped: {stops}", fix, Severity.WARNING)


def _assess_fts3(data: FtsData, rules: Rules) -> Assessment:
    config = data.fts3
    assert config is not None
    findings: list[Finding] = []
    unknown: list[str] = []
    if rules.matrix:
        checked: dict[str, Link] = {}
        judged = judge_pairs(config, data.inventory, data.required, rules.vos)
        for judgement in judged.values():
            if judgement.unknown:
                unknown.append(judgement.unknown)
            elif judgement.impaired:
                findings.append(_pair_finding(judgement, data.server))
            for pair in judgement.se_pairs:
                for link in pair.links:
                    checked.setdefault(link.name, link)
        links = list(checked.values())
        served = sum(1 for j in judged.values() if j.served)
    else:
        links = list(config.links)
        findings.extend(_tier1_se_findings(data))
    for link in links:
        findings.extend(_link_findings(link, rules))
    if rules.optimizer and not config.optimizer:
        findings.append(Finding(False, f"the optimizer is off on {data.server}",
                                f"enable the FTS3 optimizer on {data.server}"))
    optimizer = f"optimizer {'on' if config.optimizer else 'off'}"
    if rules.matrix:
        summary = f"{served}/{len(data.required)} required pairs served, {optimizer}"
    else:
        summary = f"{len(links)} links configured, {optimizer}"
    reason = "; ".join(dict.fromkeys(unknown))
    return Assessment(tuple(findings) or (Finding(True, summary),), summary=summary, unknown=reason)


CHECK = FtsChannelsCheck()
