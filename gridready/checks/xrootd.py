"""The xrootd check: does a door speak xrootd, and is it published as "xroot"?

``collect`` does up to two things:

* with ``-H HOST`` (or ``-H root://host:port``), a live exchange through the
  native client (``gridready.xrootd.client``): handshake + kXR_protocol for the
  protocol version, role and flags, then kXR_login + kXR_query Qconfig
  ``version role`` where the server allows. A peer that answers but not as
  xrootd (garbage, oversized or cut replies, kXR_error, kXR_redirect) is a
  *failing finding*: the service is not usable. A door that refuses, does
  not resolve, has no route, or accepts and closes before a byte of reply (as
  xrootd does to a host its ``xrd.allow`` does not admit) is UNKNOWN with that
  reason, as any unreachable source is; a timeout is the probe's timeout
  state, naming the stage.
* with ``--bdii``/``--srr``, the xrootd access records published for the door
  (or, without ``-H``, every one ``--site`` publishes; that mode never opens a
  connection to a door and is what the example-snapshot report uses).

``assess`` judges them against a milestone's ``expect``:

- ``protocol`` (default ``xroot``): the only compliant protocol string;
- ``schemes`` (default ``[root, xroot]``): URL schemes an endpoint may use;
- ``min_protocol`` (``X.Y.Z``): lowest acceptable live protocol version;
- ``role`` (``server``, ``manager`` or ``any``, the default): live role;
- ``require_published`` (default true): with a source given, a door that is
  not published there at all fails;
- ``tls`` (``required``, ``offered`` or ``any``, the default): judged from the
  kXR_protocol reply flags, which the client asks for with kXR_ableTLS.
  ``offered``: kXR_haveTLS (the door has ``xrd.tls``); ``required``: the door
  also demands TLS for the login or session (kXR_gotoTLS, kXR_tlsLogin or
  kXR_tlsSess: ``xrootd.tls capable all`` or ``login``/``session``). A door
  requiring TLS only for data, gpfile or TPC is not ``required``. With ``tls``
  set and no ``schemes``, published ``roots://``/``xroots://`` endpoints are
  accepted too.

``--min-protocol`` and ``--role`` on the command line override the last two.

Evidence rule: a milestone is judged only on what was collected. One about
published strings (any of ``protocol``, ``schemes``, ``require_published``, or
no live key at all) is UNKNOWN without ``--bdii``/``--srr`` or when those
sources describe no storage at all (no SE or service of the site, no endpoint
list); one with ``min_protocol`` or a ``role`` other than ``any`` is UNKNOWN
without a handshake (published-only mode, unreachable door) or when the door
did not state its role. A milestone only about the door (live keys only) is
judged on the handshake alone: the published records neither pass nor fail
it, and without a handshake it is UNKNOWN even with ``role: any``. A ``tls`` expectation is UNKNOWN without a
handshake: a published ``roots://`` endpoint is the site's claim that clients
may start TLS, neither proof that the door is configured for it nor that it
demands TLS, and its absence proves nothing (dCache publishes ``xroot://``
for TLS doors), so published records never decide it. ``unproven`` applies the same rule to results stored by
older probes, which reported such milestones as passes.

Perfdata: ``handshake_ms`` (connect to complete kXR_protocol reply, in ms) and
``protocol_version``, the version x.y.z as the number x*10000 + y*100 + z
(5.1.1 -> 50101, 2.9.0 -> 20900) so graphs and thresholds can use it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gridready.checks.interface import Assessment, Finding, Observation, PerfValue, Request, unknown_keys
from gridready.deadline import Deadline
from gridready.errors import SourceError, UsageError
from gridready.models import Site
from gridready.xrootd import published as pub
from gridready.xrootd.protocol import parse_version, version_number, version_parts, version_text

if TYPE_CHECKING:
    from gridready.xrootd.client import ServerInfo
    from gridready.xrootd.protocol import Role

EXPECT_KEYS = ("protocol", "schemes", "min_protocol", "role", "require_published", "tls")
ROLES = ("server", "manager", "any")
TLS_MODES = ("required", "offered", "any")
#: Schemes a published endpoint may use when a milestone asks for TLS.
TLS_SCHEMES = ("root", "xroot", "roots", "xroots")
#: Keys that make a milestone about published strings, and about the live door.
PUBLISHED_KEYS = ("protocol", "schemes", "require_published")
LIVE_KEYS = ("min_protocol", "role", "tls")

#: Fixed phrases of the summaries, also what ``unproven`` recognises in
#: results stored by older probes (which wrote the same phrases).
NOT_CHECKED = "published strings not checked"
LIVE_SUMMARY = "xrootd protocol "
#: Failing published records named one by one; the rest are counted.
MAX_NAMED_RECORDS = 20
#: Published records listed in the long output; the rest are counted.
MAX_DETAIL_RECORDS = 100


@dataclass(frozen=True)
class Live:
    """The outcome of the live exchange: ``info`` or why there was none."""

    door: pub.Door
    info: ServerInfo | None = None
    failure: str | None = None
    #: The failure is that nothing answered (refused, DNS, no route): no
    #: evidence either way, unlike a peer that answered but not as xrootd.
    unreachable: bool = False


@dataclass(frozen=True)
class XrootdFacts:
    """Everything ``collect`` found."""

    door: pub.Door | None
    site: str | None
    live: Live | None
    #: The sources read, as given (BDII URI/file, SRR URL/file).
    sources: tuple[str, ...] = ()
    #: xrootd records for the door (or the site), in source order.
    publications: tuple[pub.Publication, ...] = ()
    #: A source that failed while a door was also checked (the door's part is still judged).
    source_problem: str | None = None
    #: The sources that describe the door's or site's storage at all (an SE or
    #: service of the site, any endpoint list): only there does "no xrootd
    #: record" mean something.
    described: tuple[str, ...] = ()


def _version_arg(text: str) -> str:
    try:
        parse_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


class XrootdCheck:
    name = "xrootd"
    description = ("Talks xrootd to a door (handshake, kXR_protocol, Qconfig version/role) and "
                   "checks that the protocol string published for it in GLUE 1.3, GLUE 2 or SRR "
                   "is the agreed 'xroot' with a root:// endpoint.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("xrootd options")
        group.add_argument("-H", "--host", metavar="HOST",
                           help="the xrootd door: host, host:port or root://host:port (also xroot://, "
                                "roots://, xroots://); omit it with --site and --bdii/--srr to check "
                                "only what the site publishes, without connecting")
        group.add_argument("-p", "--port", type=_port_arg, metavar="PORT",
                           help=f"port (default {pub.DEFAULT_PORT})")
        group.add_argument("--bdii", metavar="URI",
                           help="BDII to read published strings from: ldap://host:port or an LDIF dump")
        group.add_argument("--srr", metavar="URI",
                           help="storage resource reporting JSON: https:// URL or a file")
        group.add_argument("--capath", metavar="DIR|FILE",
                           help="CA certificates for an https:// --srr (default "
                                "/etc/grid-security/certificates, else the system store)")
        group.add_argument("--min-protocol", type=_version_arg, metavar="X.Y.Z",
                           help="lowest acceptable protocol version (overrides the milestone's)")
        group.add_argument("--role", choices=ROLES,
                           help="required role of the door (overrides the milestone's; default any)")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = unknown_keys(expect, EXPECT_KEYS)
        protocol = expect.get("protocol", pub.CANONICAL)
        if not isinstance(protocol, str) or not protocol or protocol.strip() != protocol:
            problems.append(f"protocol: expected a protocol string such as xroot, got {protocol!r}")
        schemes = expect.get("schemes", list(pub.DEFAULT_SCHEMES))
        if (not isinstance(schemes, list) or not schemes
                or not all(isinstance(s, str) and s.isalnum() for s in schemes)):
            problems.append(f"schemes: expected a list of URL schemes such as [root, xroot], got {schemes!r}")
        if "min_protocol" in expect:
            value = expect["min_protocol"]
            if not isinstance(value, str):
                problems.append(f"min_protocol: expected a quoted version \"X.Y.Z\", got {value!r}")
            else:
                try:
                    parse_version(value)
                except ValueError as exc:
                    problems.append(f"min_protocol: {exc}")
        if "role" in expect and expect["role"] not in ROLES:
            problems.append(f"role: expected one of {', '.join(ROLES)}, got {expect['role']!r}")
        if "tls" in expect and expect["tls"] not in TLS_MODES:
            problems.append(f"tls: expected one of {', '.join(TLS_MODES)}, got {expect['tls']!r}")
        if "require_published" in expect and not isinstance(expect["require_published"], bool):
            problems.append(f"require_published: expected true or false, got {expect['require_published']!r}")
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        sources = {"bdii": site.bdii, "srr": site.srr}
        requests: list[Mapping[str, Any]] = []
        for text in site.xrootd:
            try:
                door = pub.parse_door(text)
            except ValueError:
                # Keep the door as written: collect reports it as a usage problem.
                requests.append({"host": text, "port": None, **sources})
                continue
            requests.append({"host": door.host, "port": door.port, **sources})
        if not requests and (site.bdii or site.srr):
            requests.append({"host": None, "port": None, **sources})
        return requests

    # --- collect ---------------------------------------------------------------

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        door = _door(request)
        bdii_uri, srr_uri = request.opt("bdii"), request.opt("srr")
        site = request.site
        if door is None and not (site and (bdii_uri or srr_uri)):
            raise UsageError("give -H HOST (the xrootd door), or --site with --bdii/--srr "
                             "to check only the published protocol strings")

        live = _live(door, deadline) if door is not None else None
        details: list[str] = []
        metrics: list[PerfValue] = []
        if live is not None and live.info is not None:
            details += _live_details(live.info)
            metrics = [PerfValue("handshake_ms", round(live.info.handshake_ms, 3), "ms", min=0),
                       PerfValue("protocol_version", version_number(live.info.protocol.pval), min=0)]
        elif live is not None:
            details.append(f"{'door not reached' if live.unreachable else 'no xrootd'}: {live.failure}")

        sources = tuple(s for s in (bdii_uri, srr_uri) if s)
        records: list[pub.Publication] = []
        described: list[str] = []
        source_problem: str | None = None
        try:
            records, described = _published(bdii_uri, srr_uri, request, door, deadline)
        except SourceError as exc:
            # With a door checked, its part is still judged; only the milestones
            # about published strings become UNKNOWN. Without one nothing is left.
            if live is None:
                raise
            source_problem = str(exc)
            details.append(f"published strings not read: {exc}")
        shown = records[:MAX_DETAIL_RECORDS]
        details += [f"published: {r.describe()}" for r in shown]
        if len(records) > len(shown):
            details.append(f"published: ... and {len(records) - len(shown)} more records")
        if sources and not records and source_problem is None:
            details.append(f"no xrootd access published for {door or site} in {', '.join(sources)}")

        facts = XrootdFacts(door=door, site=site, live=live, sources=sources,
                            publications=tuple(records), source_problem=source_problem,
                            described=tuple(described))
        target = str(door) if door is not None else f"{site} (published)"
        return Observation(target=target, data=facts, metrics=metrics, details=details)

    # --- assess ------------------------------------------------------------------

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        facts: XrootdFacts = observation.data
        protocol = str(expect.get("protocol", pub.CANONICAL))
        tls = str(expect.get("tls", "any"))
        schemes = tuple(expect.get("schemes", TLS_SCHEMES if tls != "any" else pub.DEFAULT_SCHEMES))
        minimum = request.opt("min_protocol") or expect.get("min_protocol")
        role = request.opt("role") or expect.get("role", "any")
        require_published = bool(expect.get("require_published", True))
        wants_published = _wants_published(expect)

        findings: list[Finding] = []
        summary: list[str] = []
        unknown: list[str] = []
        if facts.live is not None:
            live_findings, live_summary, live_unknown = _judge_live(facts.live, minimum, role, tls)
            findings += live_findings
            summary.append(live_summary)
            unknown += live_unknown
        elif minimum or role != "any" or tls != "any" or not wants_published:
            unknown.append(_no_handshake(minimum, role, tls, facts.publications))

        if facts.sources and not wants_published:
            # A milestone only about the live door: what is published neither
            # passes nor fails it (its protocol string is another milestone's).
            summary.append("published strings not judged (a milestone about the door only)")
        elif facts.sources:
            records = facts.publications
            if facts.source_problem is not None:
                summary.append("published strings not read")
                if wants_published:
                    unknown.append(f"published strings not read: {facts.source_problem}")
            elif not records and not facts.described:
                summary.append("published strings not found")
                if wants_published or facts.door is None:
                    unknown.append(f"{', '.join(facts.sources)} describe{'s' if len(facts.sources) == 1 else ''} "
                                   f"no storage of {facts.door or facts.site}: cannot tell how xrootd is published")
            elif not records and facts.door is None:
                return Assessment(applicable=False, summary=(
                    f"{facts.site} publishes no xrootd access in {', '.join(facts.described)}"))
            elif not records:
                if require_published:
                    findings.append(Finding(
                        False, f"{facts.door} is not published as an xrootd access protocol in "
                               f"{', '.join(facts.described)}",
                        f"publish {facts.door} with the protocol string '{protocol}' and a "
                        f"{schemes[0]}://{facts.door} endpoint (GlueSEAccessProtocolType / "
                        "GLUE2EndpointInterfaceName / SRR interfacetype)"))
                summary.append("not published")
            else:
                findings += _judge_records(records, protocol, schemes)
                schemas = ", ".join(dict.fromkeys(r.schema for r in records))
                summary.append(f"published as '{protocol}' in {schemas} "
                               f"({len(records)} record{'s' if len(records) != 1 else ''})")
        else:
            summary.append(f"{NOT_CHECKED} (no --bdii/--srr)")
            if wants_published:
                unknown.append(f"{NOT_CHECKED}: give --bdii or --srr")
        return Assessment(findings=tuple(findings), summary="; ".join(summary), unknown="; ".join(unknown))

    # --- stored results ------------------------------------------------------------

    def unproven(self, expect: Mapping[str, Any], outcome: str, message: str) -> str | None:
        """Results of older probes that passed (or failed) without the evidence ``expect`` needs.

        Before the evidence rule, check_xrootd reported a pass with "published
        strings not checked" when no source was given, a pass in published-only
        mode whatever ``min_protocol``/``role`` said, and a failure for a door
        that refused or did not resolve. The phrases are this module's own.
        """
        if outcome == "pass":
            if _wants_published(expect) and NOT_CHECKED in message:
                return f"{NOT_CHECKED}: give --bdii or --srr"
            tls = str(expect.get("tls", "any"))
            if LIVE_SUMMARY not in message and (expect.get("min_protocol") or expect.get("role", "any") != "any"
                                                or tls != "any" or not _wants_published(expect)):
                return _no_handshake(expect.get("min_protocol"), str(expect.get("role", "any")), tls)
            if tls != "any" and TLS_MARK not in message:
                # A door checked by a probe that did not judge TLS.
                return f"TLS not judged by the probe that stored this result: tls {tls} needs a newer check_xrootd"
        elif outcome == "fail" and message.startswith(_UNREACHABLE) and not any(
                marker in message for marker in _FAILURE_MARKERS):
            return message
        elif outcome == "fail" and _SILENT_CLOSE.fullmatch(message):
            # Older probes failed a door that closed before a byte of reply (a
            # door refusing this host): no evidence either way.
            return f"{message}: nothing was answered (the door may not admit this host)"
        return None


#: What older probes stored for a door that closed or reset before sending a byte.
_SILENT_CLOSE = re.compile(r"\S+ (?:closed the connection while we read the handshake reply header"
                           r"|dropped the connection (?:while we read the handshake reply header|before the "
                           r"handshake and kXR_protocol request was sent) \([^()]*\))")
#: How an unreachable door's message starts (gridready.net.Unreachable) ...
_UNREACHABLE = ("cannot connect to ", "cannot resolve host ", "host ")
#: ... and phrases of the other failing findings, which make a stored failure stand.
_FAILURE_MARKERS = (" publishes ", " is not published as ", "' is not a ", " older than ", " is a ",
                    "does not speak xrootd", "more failing published records")


def _wants_published(expect: Mapping[str, Any]) -> bool:
    """Whether a milestone is about published strings: it names a published key, or no live one."""
    return any(k in expect for k in PUBLISHED_KEYS) or not any(k in expect for k in LIVE_KEYS)


def _no_handshake(minimum: str | None, role: str, tls: str = "any",
                  records: Sequence[pub.Publication] = ()) -> str:
    wanted = " and ".join(([f"min_protocol {minimum}"] if minimum else [])
                          + ([f"role {role}"] if role != "any" else [])
                          + ([f"tls {tls}"] if tls != "any" else [])) or "a milestone about the live door"
    text = f"no xrootd handshake (published strings only): {wanted} needs -H HOST"
    if tls != "any":
        tls_urls = sum(1 for r in records if pub.scheme_of(r.url or "") in ("roots", "xroots"))
        # Published URLs are claims: see the module docstring.
        text += (f" (TLS is judged from the door's kXR_protocol reply; {tls_urls} published "
                 "roots:// endpoint" + ("s" if tls_urls != 1 else "") + " not taken as proof)")
    return text


def _judge_records(records: Sequence[pub.Publication], protocol: str,
                   schemes: Sequence[str]) -> list[Finding]:
    """Every record judged; past MAX_NAMED_RECORDS failing ones, the rest are counted."""
    findings: list[Finding] = []
    failing = 0
    rest: list[Finding] = []
    for record in records:
        judged = pub.judge(record, protocol, schemes)
        if any(not f.ok for f in judged):
            failing += 1
            if failing > MAX_NAMED_RECORDS:
                rest += [f for f in judged if not f.ok]
                continue
        findings += judged
    if rest:
        severity = max((f.severity for f in rest), key=lambda s: s.value)
        findings.append(Finding(False, f"... and {failing - MAX_NAMED_RECORDS} more failing published "
                                       "records (-v lists the records)",
                                rest[0].remediation, severity))
    return findings


def _port_arg(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"bad port '{text}'")
    return int(text)


def _door(request: Request) -> pub.Door | None:
    host = request.opt("host")
    port = request.opt("port")
    if not host:
        if port is not None:
            raise UsageError("-p/--port needs -H/--host")
        return None
    try:
        door = pub.parse_door(str(host))
    except ValueError as exc:
        raise UsageError(f"-H: {exc}") from None
    explicit = "://" in str(host) or str(host).startswith("[") or str(host).count(":") == 1
    if port is not None:
        if explicit and door.port != int(port):
            raise UsageError(f"-H {host} names port {door.port} but -p says {port}")
        door = pub.Door(door.host, int(port))
    return door


def _live(door: pub.Door, deadline: Deadline) -> Live:
    from gridready.net import Unreachable
    from gridready.xrootd import client
    from gridready.xrootd import protocol as xp

    try:
        info = client.probe(door.host, door.port, deadline)
    except Unreachable as exc:
        return Live(door, failure=str(exc), unreachable=True)
    except xp.PeerClosed as exc:
        return Live(door, failure=str(exc))  # names the door already
    except xp.ProtocolError as exc:
        return Live(door, failure=f"{door} does not speak xrootd: {exc}")
    except xp.XrootdError as exc:  # kXR_error, kXR_redirect, kXR_waitresp to kXR_protocol
        return Live(door, failure=f"{door}: {exc}")
    return Live(door, info=info)


def _live_details(info: ServerInfo) -> list[str]:
    from gridready.xrootd.protocol import flag_names

    proto = info.protocol
    lines = [f"connected to {info.peer}; handshake + kXR_protocol in {info.handshake_ms:.1f} ms"]
    if info.hello.handshake is not None:
        hs = info.hello.handshake
        kind = {1: "data server", 0: "load balancer/redirector"}.get(hs.msgval, f"type {hs.msgval}")
        lines.append(f"handshake reply: protocol {version_text(hs.protover)} (0x{hs.protover:x}), {kind}")
    lines.append(f"kXR_protocol reply: protocol {proto.version} (0x{proto.pval:x}), flags 0x{proto.flags:08x} "
                 f"({', '.join(flag_names(proto.flags)) or 'none'})"
                 + (f", security level {proto.security_level}" if proto.security_level is not None else "")
                 + (f", {proto.unparsed} trailing bytes not understood" if proto.unparsed else ""))
    if info.version or info.config_role:
        lines.append(f"kXR_query config: version={info.version or '?'} role={info.config_role or '?'}")
    lines += list(info.notes)
    return lines


def _judge_live(live: Live, minimum: str | None, role: str,
                tls: str = "any") -> tuple[list[Finding], str, list[str]]:
    """Findings, summary and what could not be known from the live exchange."""
    door = live.door
    if live.info is None:
        if live.unreachable:
            return [], "door not reached", [live.failure or f"{door}: no answer"]
        return [Finding(False, live.failure or f"{door}: no answer",
                        f"make the xrootd service on {door} accept xrootd clients (is it running, "
                        "listening on that port and reachable?), or stop publishing it")], "no xrootd", []
    info = live.info
    proto = info.protocol
    stated = _stated_role(info)
    described = (f"{LIVE_SUMMARY}{proto.version}, role {proto.role.kind} ({proto.role.label})"
                 + (f", version {info.version}" if info.version else ""))
    findings = [Finding(True, f"{door} speaks {described}")]
    unknown: list[str] = []
    if minimum:
        wanted = parse_version(minimum)
        if version_parts(proto.pval) < wanted:
            findings.append(Finding(False, f"{door} speaks xrootd protocol {proto.version}, older than {minimum}",
                                    f"upgrade the xrootd service on {door} to protocol {minimum} or later"))
    if role != "any":
        if stated is None:
            unknown.append(f"{door} does not state its role (no role flag in the kXR_protocol reply, no "
                           f"handshake reply, Qconfig role not answered): role {role} not checked")
        elif not stated.matches(role):
            findings.append(Finding(False, f"{door} is a {stated.label}, not a {role}",
                                    f"point the check at the {role} of the xrootd cluster"))
    if tls != "any":
        findings.append(_judge_tls(door, proto.flags, tls))
        # In the summary too: a pass shows (and ``unproven`` finds) what TLS was seen.
        described += f", {proto.tls.describe()}"
    return findings, described, unknown


#: In every TLS finding's message (``unproven`` looks for it in stored results).
TLS_MARK = "TLS"


def _judge_tls(door: pub.Door, flags: int, wanted: str) -> Finding:
    """``wanted`` (required/offered) against the kXR_protocol reply flags."""
    from gridready.xrootd.protocol import tls_state

    state = tls_state(flags)
    seen = f"{door}: {state.describe()}, kXR_protocol flags 0x{flags & 0xFFFFFFFF:08x}"
    if (state.required if wanted == "required" else state.offered):
        return Finding(True, seen)
    if not state.offered:
        remedy = (f"configure TLS on {door}: 'xrd.tls <cert> <key>' with 'xrd.tlsca certdir "
                  "/etc/grid-security/certificates'"
                  + (", and 'xrootd.tls capable all' so clients must use it" if wanted == "required" else "")
                  + " (dCache door: xrootd.security.tls.mode=STRICT with a host certificate)")
        return Finding(False, f"{seen}; TLS {wanted}", remedy)
    return Finding(False, f"{seen}; TLS required for login or session",
                   f"make {door} demand TLS: 'xrootd.tls capable all' (or 'login'/'session') "
                   "(dCache door: xrootd.security.tls.mode=STRICT, xrootd.security.tls.require-login=true)")


def _stated_role(info: ServerInfo) -> Role | None:
    """The role the door states: kXR_protocol role flags, else the handshake's server type,
    else the Qconfig ``role`` answer; None when it states none (a role is never read
    from the absence of a flag alone)."""
    from gridready.xrootd import protocol as xp

    flags = info.protocol.flags
    if flags & (xp.KXR_IS_SERVER | xp.KXR_IS_MANAGER):
        return info.protocol.role
    if info.hello.handshake is not None:
        # 2010 servers: 1 data server, 0 load balancer, stated in both replies.
        return xp.role_of(flags | (xp.KXR_IS_SERVER if info.hello.handshake.msgval == 1 else 0))
    text = (info.config_role or "").casefold()
    if "supervisor" in text:
        return xp.Role("supervisor", "supervisor")
    if "manager" in text:
        return xp.Role("manager", text)
    if "server" in text:
        return xp.Role("server", text)
    return None


def _published(bdii_uri: str | None, srr_uri: str | None, request: Request, door: pub.Door | None,
               deadline: Deadline) -> tuple[list[pub.Publication], list[str]]:
    """The xrootd records for ``door`` (or every one of the site), from every source given,
    and the sources that describe that storage at all (see ``XrootdFacts.described``)."""
    site = request.site
    records: list[pub.Publication] = []
    described: list[str] = []
    if bdii_uri:
        from gridready.sources.bdii import open_bdii

        bdii = open_bdii(bdii_uri, deadline)
        with deadline.during(f"selecting xrootd records for {door or site} in {bdii_uri}"):
            glue13, known13 = pub.glue13_for(bdii, bdii_uri, site=site)
            glue2, known2 = pub.glue2_for(bdii, bdii_uri, site=site)
            found = pub.select(glue13 + glue2, door)
            known = known13 or known2
            if not found and door is not None and site:
                # Published under another site name (or none): look the door up everywhere.
                glue13, known13 = pub.glue13_for(bdii, bdii_uri, site=None)
                glue2, known2 = pub.glue2_for(bdii, bdii_uri, site=None)
                found = pub.select(glue13 + glue2, door)
                known = known or known13 or known2
        records += found
        if known:
            described.append(bdii_uri)
    if srr_uri:
        with deadline.during(f"reading SRR {srr_uri}"):
            document = _srr_document(srr_uri, request, deadline)
        with deadline.during(f"selecting xrootd records for {door or site} in SRR {srr_uri}"):
            endpoints = pub.read_srr(document, srr_uri)
            records += pub.select(endpoints, door)
        if endpoints:
            described.append(srr_uri)
    return records, described


def _srr_document(uri: str, request: Request, deadline: Deadline) -> Any:
    """The SRR JSON at an https:// URL or in a saved file (regular files only, size-capped,
    read under the deadline through gridready.localfile)."""
    from gridready.sources import http

    return http.fetch_json(uri, deadline, http.TLSOptions(capath=request.opt("capath")), what="SRR file")


CHECK = XrootdCheck()
