"""The xrootd check: does a door speak xrootd, and is it published as "xroot"?

``collect`` does up to two things:

* with ``-H HOST`` (or ``-H root://host:port``), a live exchange through the
  native client (``gridready.xrootd.client``): handshake + kXR_protocol for the
  protocol version, role and flags, then kXR_login + kXR_query Qconfig
  ``version role`` where the server allows. A refused connection, a DNS
  failure, or a peer that does not answer as xrootd (garbage, oversized or cut
  replies, kXR_error, closing at once) is a *failing finding*: the service is
  not usable. A timeout is the probe's timeout state, naming the stage.
* with ``--bdii``/``--srr``, the xrootd access records published for the door
  (or, without ``-H``, every one ``--site`` publishes; that mode never opens a
  connection to a door and is what the example-snapshot report uses).

``assess`` judges them against a milestone's ``expect``:

- ``protocol`` (default ``xroot``): the only compliant protocol string;
- ``schemes`` (default ``[root, xroot]``): URL schemes an endpoint may use;
- ``min_protocol`` (``X.Y.Z``): lowest acceptable live protocol version;
- ``role`` (``server``, ``manager`` or ``any``, the default): live role;
- ``require_published`` (default true): with a source given, a door that is
  not published there at all fails.

``--min-protocol`` and ``--role`` on the command line override the last two.

Perfdata: ``handshake_ms`` (connect to complete kXR_protocol reply, in ms) and
``protocol_version``, the version x.y.z as the number x*10000 + y*100 + z
(5.1.1 -> 50101, 2.9.0 -> 20900) so graphs and thresholds can use it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gridready.checks.interface import Assessment, Finding, Observation, PerfValue, Request
from gridready.deadline import Deadline
from gridready.errors import SourceError, UsageError
from gridready.models import Site
from gridready.xrootd import published as pub
from gridready.xrootd.protocol import parse_version, version_number, version_parts, version_text

if TYPE_CHECKING:
    from gridready.xrootd.client import ServerInfo

EXPECT_KEYS = ("protocol", "schemes", "min_protocol", "role", "require_published")
ROLES = ("server", "manager", "any")


@dataclass(frozen=True)
class Live:
    """The outcome of the live exchange: ``info`` or why there was none."""

    door: pub.Door
    info: ServerInfo | None = None
    failure: str | None = None


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
    #: A source that failed while the live exchange had already failed.
    source_problem: str | None = None


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
        problems = [f"unknown key '{k}' (known: {', '.join(EXPECT_KEYS)})"
                    for k in expect if k not in EXPECT_KEYS]
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

        sources = tuple(s for s in (bdii_uri, srr_uri) if s)
        records: list[pub.Publication] = []
        source_problem: str | None = None
        try:
            records = _published(bdii_uri, srr_uri, request, door, deadline)
        except SourceError as exc:
            # A door that cannot be used fails whatever is published; only when
            # the published strings are all that is left to judge is the
            # result unknown.
            if live is None or live.failure is None:
                raise
            source_problem = str(exc)
            details.append(f"published strings not read: {exc}")
        details += [f"published: {r.describe()}" for r in records]
        if sources and not records:
            details.append(f"no xrootd access published for {door or site} in {', '.join(sources)}")

        facts = XrootdFacts(door=door, site=site, live=live, sources=sources,
                            publications=tuple(records), source_problem=source_problem)
        target = str(door) if door is not None else f"{site} (published)"
        return Observation(target=target, data=facts, metrics=metrics, details=details)

    # --- assess ------------------------------------------------------------------

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        facts: XrootdFacts = observation.data
        protocol = str(expect.get("protocol", pub.CANONICAL))
        schemes = tuple(expect.get("schemes", pub.DEFAULT_SCHEMES))
        minimum = request.opt("min_protocol") or expect.get("min_protocol")
        role = request.opt("role") or expect.get("role", "any")
        require_published = bool(expect.get("require_published", True))

        findings: list[Finding] = []
        summary: list[str] = []
        if facts.live is not None:
            live_findings, live_summary = _judge_live(facts.live, minimum, role)
            findings += live_findings
            summary.append(live_summary)

        if facts.sources:
            records = facts.publications
            if facts.source_problem is not None:
                summary.append("published strings not read")
            elif not records and facts.door is None:
                return Assessment(applicable=False, summary=(
                    f"{facts.site} publishes no xrootd access in {', '.join(facts.sources)}"))
            elif not records:
                if require_published:
                    findings.append(Finding(
                        False, f"{facts.door} is not published as an xrootd access protocol in "
                               f"{', '.join(facts.sources)}",
                        f"publish {facts.door} with the protocol string '{protocol}' and a "
                        f"{schemes[0]}://{facts.door} endpoint (GlueSEAccessProtocolType / "
                        "GLUE2EndpointInterfaceName / SRR interfacetype)"))
                summary.append("not published")
            else:
                for record in records:
                    findings += pub.judge(record, protocol, schemes)
                schemas = ", ".join(dict.fromkeys(r.schema for r in records))
                summary.append(f"published as '{protocol}' in {schemas} "
                               f"({len(records)} record{'s' if len(records) != 1 else ''})")
        elif facts.live is not None:
            summary.append("published strings not checked (no --bdii/--srr)")
        return Assessment(findings=tuple(findings), summary="; ".join(summary))


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
        return Live(door, failure=str(exc))
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


def _judge_live(live: Live, minimum: str | None, role: str) -> tuple[list[Finding], str]:
    door = live.door
    if live.info is None:
        return [Finding(False, live.failure or f"{door}: no answer",
                        f"make the xrootd service on {door} accept xrootd clients (is it running, "
                        "listening on that port and reachable?), or stop publishing it")], "no xrootd"
    info = live.info
    proto = info.protocol
    described = (f"xrootd protocol {proto.version}, role {proto.role.kind} ({proto.role.label})"
                 + (f", version {info.version}" if info.version else ""))
    findings = [Finding(True, f"{door} speaks {described}")]
    if minimum:
        wanted = parse_version(minimum)
        if version_parts(proto.pval) < wanted:
            findings.append(Finding(False, f"{door} speaks xrootd protocol {proto.version}, older than {minimum}",
                                    f"upgrade the xrootd service on {door} to protocol {minimum} or later"))
    if not proto.role.matches(role):
        findings.append(Finding(False, f"{door} is a {proto.role.label}, not a {role}",
                                f"point the check at the {role} of the xrootd cluster"))
    return findings, described


def _published(bdii_uri: str | None, srr_uri: str | None, request: Request, door: pub.Door | None,
               deadline: Deadline) -> list[pub.Publication]:
    """The xrootd records for ``door`` (or every one of the site), from every source given."""
    site = request.site
    records: list[pub.Publication] = []
    if bdii_uri:
        from gridready.sources.bdii import open_bdii

        bdii = open_bdii(bdii_uri, deadline)
        found = pub.select(pub.read_glue13(bdii, bdii_uri, site=site)
                           + pub.read_glue2(bdii, bdii_uri, site=site), door)
        if not found and door is not None and site:
            # Published under another site name (or none): look the door up everywhere.
            found = pub.select(pub.read_glue13(bdii, bdii_uri, site=None)
                               + pub.read_glue2(bdii, bdii_uri, site=None), door)
        records += found
    if srr_uri:
        from gridready.sources.http import TLSOptions, fetch_json

        tls = TLSOptions(capath=request.opt("capath"))
        with deadline.during(f"reading SRR {srr_uri}"):
            document = fetch_json(srr_uri, deadline, tls)
        records += pub.select(pub.read_srr(document, srr_uri), door)
    return records


CHECK = XrootdCheck()
