"""The ``dns`` check: do a site's storage and door hosts have both A and AAAA records (IPv6 dual stack)?

Hosts are the site's ``storage`` hosts and ``xrootd`` door hosts from the
inventory (or ``-H HOST``, repeatable). Answers come from a nameserver
(``--nameserver IP[:PORT]``, the inventory's ``dns: dns://IP[:PORT]``, the
milestone's ``nameserver``, else the system resolver) through dnspython, each
query bounded by what is left of the probe's deadline; or, offline, from a
hosts file (``IP name...`` lines, as /etc/hosts and dnsmasq's --addn-hosts)
or a zone file with ``$ORIGIN`` named by the inventory's ``dns:`` (or
``--hosts-file``). ``expect`` grammar::

    expect:
      records: [A, AAAA]       # record types every host must have (default both)
      hosts: all               # storage | doors | all (default)
      nameserver: "192.0.2.53:53"   # optional; the command line and inventory win

Evidence rule, precisely: a name that does not exist (NXDOMAIN, or absent from
the file), a nameserver that fails (SERVFAIL, REFUSED) or does not answer in
time, and a site with no such hosts are UNKNOWN; a name that exists and has
no record of a required type (NOERROR with no data) *fails*, naming the host
and the addresses it does have.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gridready.checks.interface import Assessment, Finding, Observation, Request
from gridready.checks.hosts import add_host_option, site_hosts
from gridready.deadline import Deadline
from gridready.errors import CheckError, SourceError, UsageError
from gridready.escape import terminal
from gridready.localfile import read_text
from gridready.models import Site

EXPECT_KEYS = ("records", "hosts", "nameserver")
TYPES = ("A", "AAAA")
HOST_KINDS = ("storage", "doors", "all")
DEFAULT_PORT = 53
#: One query waits at most this long even when the deadline allows more.
QUERY_SECONDS = 5.0
ZONE_MAX_BYTES = 8 * 1024 * 1024
_HOSTNAME = re.compile(r"(?=.{1,253}\.?\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?\Z")


@dataclass(frozen=True)
class Answer:
    """The outcome of one lookup: ``addresses`` (possibly empty: no data) or ``problem`` (UNKNOWN)."""

    addresses: tuple[str, ...] = ()
    problem: str | None = None


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP``, ``IP:PORT``, ``[IPv6]:PORT`` or ``dns://IP[:PORT]`` -> (ip, port); ValueError when bad."""
    raw = text[6:] if text.lower().startswith("dns://") else text
    raw = raw.rstrip("/")
    host, port = raw, DEFAULT_PORT
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise ValueError(f"bad nameserver '{text}'")
        host, rest = raw[1:end], raw[end + 1:]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"bad nameserver '{text}'")
            port = int(rest[1:])
    elif raw.count(":") == 1:
        host, _, digits = raw.partition(":")
        if not digits.isdigit():
            raise ValueError(f"bad port in nameserver '{text}'")
        port = int(digits)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"nameserver '{text}' is not an IP address (a resolver is named by address)") from None
    if not 0 < port < 65536:
        raise ValueError(f"bad port in nameserver '{text}': expected 1..65535")
    return host, port


def _hosts_of(site: Site, kind: str) -> list[str]:
    """Host names as DNS compares them: lower case, no trailing dot."""
    return list(dict.fromkeys(h.rstrip(".").lower() for h in site_hosts(site, kind) if h.rstrip(".")))


class _FileZone:
    """Names and their addresses from a hosts file or a zone file (offline source)."""

    def __init__(self, path: str, deadline: Deadline) -> None:
        self.path = path
        text = read_text(path, max_bytes=ZONE_MAX_BYTES, deadline=deadline, what="DNS hosts/zone file")
        self.names: dict[str, dict[str, list[str]]] = {}
        if re.search(r"^\$ORIGIN\s", text, re.MULTILINE):
            self._zone(text)
        else:
            self._hosts(text)

    def _add(self, name: str, rtype: str, address: str) -> None:
        self.names.setdefault(name.rstrip(".").lower(), {}).setdefault(rtype, []).append(address)

    def _hosts(self, text: str) -> None:
        for number, line in enumerate(text.splitlines(), 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            try:
                address = ipaddress.ip_address(fields[0])
            except ValueError:
                raise SourceError(f"{self.path}:{number}: not a hosts line (IP name...): "
                                  f"{terminal(line[:80])}") from None
            for name in fields[1:]:
                self._add(name, "AAAA" if address.version == 6 else "A", str(address))

    def _zone(self, text: str) -> None:
        import dns.exception
        import dns.zone

        try:
            zone = dns.zone.from_text(text, relativize=False, check_origin=False)
        except (dns.exception.DNSException, ValueError) as exc:
            raise SourceError(f"{self.path}: not a zone file: {terminal(str(exc))}") from None
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                rtype = dns.rdatatype.to_text(rdataset.rdtype)
                for rdata in rdataset:
                    self._add(name.to_text(), rtype, rdata.to_text())
                if not len(rdataset):
                    self.names.setdefault(name.to_text().rstrip(".").lower(), {})

    def lookup(self, host: str, rtype: str) -> Answer:
        entry = self.names.get(host.lower())
        if entry is None:
            return Answer(problem=f"{host} is not in {self.path}")
        if rtype not in entry and "CNAME" in entry:
            return Answer(problem=f"{host} is an alias (CNAME) in {self.path}, not followed offline")
        return Answer(tuple(entry.get(rtype, ())))


class _Live:
    """Lookups through dnspython, each bounded by the deadline."""

    def __init__(self, nameserver: tuple[str, int] | None) -> None:
        import dns.resolver

        self.where = f"nameserver {nameserver[0]} port {nameserver[1]}" if nameserver else "the system resolver"
        try:
            self.resolver = dns.resolver.Resolver(configure=nameserver is None)
        except dns.resolver.NoResolverConfiguration as exc:
            raise SourceError(f"no system resolver configured ({exc}): give --nameserver IP[:PORT]") from None
        if nameserver is not None:
            self.resolver.nameservers = [nameserver[0]]
            self.resolver.port = nameserver[1]

    def lookup(self, host: str, rtype: str, deadline: Deadline) -> Answer:
        import dns.exception
        import dns.resolver

        wait = min(deadline.remaining(), QUERY_SECONDS)    # remaining() raises the timeout when none is left
        self.resolver.lifetime = wait
        self.resolver.timeout = wait
        try:
            answer = self.resolver.resolve(host, rtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return Answer(problem=f"{host} does not exist (NXDOMAIN from {self.where})")
        except dns.resolver.NoNameservers as exc:
            return Answer(problem=f"{self.where} could not answer for {host} {rtype} "
                                  f"(SERVFAIL/REFUSED: {terminal(str(exc))[:200]})")
        except dns.exception.Timeout:
            if deadline.expired:
                raise deadline.timeout() from None
            return Answer(problem=f"no answer from {self.where} for {host} {rtype} within {wait:.1f} s")
        except dns.exception.DNSException as exc:
            return Answer(problem=f"{self.where}: {host} {rtype}: {terminal(str(exc))[:200]}")
        if answer.rrset is None:
            return Answer(())
        return Answer(tuple(r.to_text() for r in answer.rrset))


@dataclass(frozen=True)
class DnsFacts:
    #: host -> record type -> answer.
    answers: Mapping[str, Mapping[str, Answer]]
    source: str
    #: The site whose hosts were looked up (None: hosts given with -H, all judged).
    site: Site | None


class DnsCheck:
    name = "dns"
    description = "Checks that a site's storage and xrootd door hosts have both A and AAAA records (IPv6 dual stack)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("dns options")
        add_host_option(group, "a host to check")
        group.add_argument("--nameserver", metavar="IP[:PORT]",
                           help="ask this nameserver (default: inventory dns, the milestone's, else the system's)")
        group.add_argument("--hosts-file", metavar="FILE",
                           help="offline: read names from a hosts file or a zone file with $ORIGIN")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = [f"unknown key '{k}' (known: {', '.join(EXPECT_KEYS)})" for k in expect if k not in EXPECT_KEYS]
        records = expect.get("records", list(TYPES))
        if not isinstance(records, list) or not records or not all(r in TYPES for r in records):
            problems.append(f"records: expected a non-empty list of {', '.join(TYPES)}, got {records!r}")
        if expect.get("hosts", "all") not in HOST_KINDS:
            problems.append(f"hosts: expected one of {', '.join(HOST_KINDS)}, got {expect.get('hosts')!r}")
        if "nameserver" in expect:
            try:
                parse_nameserver(str(expect["nameserver"]))
            except ValueError as exc:
                problems.append(f"nameserver: {exc}")
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        if not _hosts_of(site, "all"):
            raise CheckError(f"no storage or xrootd door hosts for {site.name} in the inventory: nothing to look up")
        return [{"dns": site.dns}]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        site = request.inventory.site(request.site) if request.inventory and request.site else None
        given = [str(h).rstrip(".").lower() for h in request.opt("host", [])]
        bad = [h for h in given if not _HOSTNAME.match(h)]
        if bad:
            raise UsageError(f"-H: '{terminal(bad[0])}' is not a host name")
        if not given and site is None:
            raise UsageError("give -H HOST, or --site NAME of a site in the inventory")
        kinds = {str(e.get("hosts", "all")) for e in request.expects} or {"all"}
        hosts = given or (list(dict.fromkeys(h for k in sorted(kinds) for h in _hosts_of(site, k)))
                          if site is not None else [])
        types = sorted({t for e in request.expects for t in e.get("records", TYPES)} or set(TYPES))
        source = self._source(request, site)
        answers: dict[str, dict[str, Answer]] = {}
        if isinstance(source, str):
            zone = _FileZone(source, deadline)
            where = source
            for host in hosts:
                answers[host] = {t: zone.lookup(host, t) for t in types}
        else:
            live = _Live(source)
            where = live.where
            for host in hosts:
                with deadline.during(f"looking up {host} at {live.where}"):
                    answers[host] = {t: live.lookup(host, t, deadline) for t in types}
        details = [f"{h} {t}: {a.problem or (', '.join(a.addresses) or 'no records')}"
                   for h, per in answers.items() for t, a in per.items()]
        target = ", ".join(hosts[:3]) + (f" (+{len(hosts) - 3})" if len(hosts) > 3 else "")
        return Observation(target=target or (request.site or ""),
                           data=DnsFacts(answers, where, None if given else site),
                           details=details)

    def _source(self, request: Request, site: Site | None) -> str | tuple[str, int] | None:
        """A file path (offline), (ip, port) of a nameserver, or None for the system resolver."""
        if request.opt("hosts_file"):
            return str(request.opt("hosts_file"))
        text = request.opt("nameserver") or request.opt("dns") or (site.dns if site else None)
        if text is None:
            named = [e["nameserver"] for e in request.expects if "nameserver" in e]
            text = str(named[0]) if named else None
        if text is None:
            return None
        text = str(text)
        if "://" in text and not text.lower().startswith("dns://"):
            if text.lower().startswith("file://"):
                return urlsplit(text).path
            raise UsageError(f"dns source '{terminal(text)}': expected dns://IP[:PORT] or a file")
        if text.lower().startswith("dns://") or _looks_like_address(text):
            try:
                return parse_nameserver(text)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        return text

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        facts: DnsFacts = observation.data
        kind = str(expect.get("hosts", "all"))
        types = [str(t) for t in expect.get("records", TYPES)]
        hosts = list(facts.answers) if facts.site is None else _hosts_of(facts.site, kind)
        if facts.site is not None and not hosts:
            return Assessment(unknown=f"no {kind} hosts of {facts.site.name} in the inventory: nothing to look up")
        if not hosts:
            return Assessment(unknown="no host to look up")
        findings: list[Finding] = []
        unknown: list[str] = []
        for host in hosts:
            answers = {t: facts.answers[host].get(t, Answer(problem=f"{host} {t} not looked up")) for t in types}
            problems = [a.problem for a in answers.values() if a.problem]
            if problems:
                unknown.append(problems[0])
                continue
            lacking = [t for t, a in answers.items() if not a.addresses]
            have = "; ".join(f"{t} {', '.join(a.addresses)}" for t, a in answers.items() if a.addresses)
            if lacking:
                findings.append(Finding(False, f"{host} has no {'/'.join(lacking)} record"
                                               + (f" ({have})" if have else ""),
                                        f"publish {'/'.join(lacking)} records for {host} in DNS"))
            else:
                findings.append(Finding(True, f"{host}: {have}"))
        summary = f"{len(hosts)} host{'s' if len(hosts) != 1 else ''} with {' and '.join(types)} records " \
                  f"({facts.source})"
        return Assessment(findings=tuple(findings), summary=summary, unknown="; ".join(unknown[:5]))


def _looks_like_address(text: str) -> bool:
    head = text[1:text.find("]")] if text.startswith("[") else text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    try:
        ipaddress.ip_address(head)
    except ValueError:
        return False
    return True


CHECK = DnsCheck()
