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

Evidence rule, precisely: a nameserver that fails (SERVFAIL, REFUSED) or
does not answer in time, a name absent from a hosts file (a hosts file lists
some names, it is no authority for the rest), a name outside a zone file's
origin or an alias leaving it, and a site with no such hosts are UNKNOWN. A
name that exists and has no record of a required type (NOERROR with no data)
*fails*, naming the host and the addresses it does have; so does a name the
nameserver says does not exist (NXDOMAIN, also through an alias to nothing,
or a name under a zone file's origin that the file lacks): the host the
inventory names cannot be reached by that name at all.

Only addresses another site can reach count: an AAAA record holding a
loopback, unspecified, link-local, site-local, unique-local (fc00::/7),
multicast or IPv4-mapped (::ffff:a.b.c.d, RFC 4291 2.5.5.2: never sent on
the wire, so no IPv6 connectivity) address, or an A record holding 0/8,
127/8, 169.254/16, multicast or reserved space, does not meet the record
type; the finding names such addresses. Private IPv4 (RFC 1918) is accepted
as an A record: split-horizon DNS is common and the milestone is about IPv6.
Documentation prefixes (192.0.2.0/24, 2001:db8::/32) are accepted, as
examples use them.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gridready.checks.interface import Assessment, Finding, Observation, Request, unknown_keys
from gridready.checks.hosts import add_host_option, hosts_problems, site_hosts
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
#: Aliases followed in a zone file, as resolvers bound CNAME chains.
_MAX_CHAIN = 8
_HOSTNAME = re.compile(r"(?=.{1,253}\.?\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?\Z")


@dataclass(frozen=True)
class Answer:
    """The outcome of one lookup: ``addresses`` (possibly empty: no data), ``absent`` (the name
    does not exist: a failure, saying how that is known) or ``problem`` (UNKNOWN)."""

    addresses: tuple[str, ...] = ()
    problem: str | None = None
    absent: str | None = None


_V4_UNREACHABLE = tuple(ipaddress.ip_network(n) for n in
                        ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4"))
_V6_UNREACHABLE = tuple(ipaddress.ip_network(n) for n in
                        ("::/128", "::1/128", "fe80::/10", "fec0::/10", "fc00::/7", "ff00::/8"))


def unreachable(text: str) -> str | None:
    """Why another site cannot reach the address ``text`` (e.g. ``'link-local'``), or None when it can."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "not an address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "IPv4-mapped, not IPv6"
        names = ("unspecified", "loopback", "link-local", "site-local", "unique-local", "multicast")
        for name, net in zip(names, _V6_UNREACHABLE):
            if address in net:
                return name
        return None
    for name, net in zip(("'this network'", "loopback", "link-local", "multicast", "reserved"), _V4_UNREACHABLE):
        if address in net:
            return name
    return None


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
        #: The zone's origin (lower case, no trailing dot); None for a hosts file.
        self.origin: str | None = None
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
        self.origin = zone.origin.to_text().rstrip(".").lower() if zone.origin is not None else None
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                rtype = dns.rdatatype.to_text(rdataset.rdtype)
                for rdata in rdataset:
                    self._add(name.to_text(), rtype, rdata.to_text())
                if not len(rdataset):
                    self.names.setdefault(name.to_text().rstrip(".").lower(), {})

    def _entry(self, name: str) -> dict[str, list[str]] | None:
        """The records of ``name``, or of the closest wildcard covering it (RFC 4592) in a zone file."""
        entry = self.names.get(name)
        if entry is not None or self.origin is None:
            return entry
        labels = name.split(".")
        existing = {".".join(n.split(".")[i:]) for n in self.names for i in range(n.count(".") + 1)}
        for cut in range(1, len(labels)):
            parent = ".".join(labels[cut:])
            if "*." + parent in self.names:
                return self.names["*." + parent]
            if parent in existing:
                # The closest existing ancestor (an empty non-terminal too) ends the search.
                return None
        return None

    def _inside(self, name: str) -> bool:
        return self.origin is not None and (name == self.origin or name.endswith("." + self.origin))

    def lookup(self, host: str, rtype: str) -> Answer:
        name = host.lower()
        for _ in range(_MAX_CHAIN):
            entry = self._entry(name)
            if entry is None:
                if self._inside(name):
                    via = f" (alias of {host})" if name != host.lower() else ""
                    return Answer(absent=f"{name}{via} does not exist in zone {self.origin} ({self.path})")
                if name != host.lower():
                    return Answer(problem=f"{host} is an alias of {name}, outside {self.path}: not followed offline")
                return Answer(problem=f"{host} is not in {self.path}")
            if rtype not in entry and "CNAME" in entry:
                name = entry["CNAME"][0].rstrip(".").lower()
                continue
            return Answer(tuple(entry.get(rtype, ())))
        return Answer(problem=f"{host}: alias chain longer than {_MAX_CHAIN} in {self.path}")


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
        self.silent: str | None = None

    def lookup(self, host: str, rtype: str, deadline: Deadline) -> Answer:
        import dns.exception
        import dns.resolver

        wait = min(deadline.remaining(), QUERY_SECONDS)    # remaining() raises the timeout when none is left
        self.resolver.lifetime = wait
        self.resolver.timeout = wait
        try:
            answer = self.resolver.resolve(host, rtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN as exc:
            try:
                alias = str(getattr(exc, "canonical_name")).rstrip(".").lower()
            except (AttributeError, KeyError, TypeError, IndexError):
                alias = host.lower()
            via = f" (alias of {alias}, which does not exist)" if alias != host.lower() else ""
            return Answer(absent=f"{host} does not exist{via} (NXDOMAIN from {self.where})")
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

    def lookup_all(self, host: str, types: Sequence[str], deadline: Deadline) -> dict[str, Answer]:
        """Each type of ``host``; once the nameserver did not answer in time it is not asked again."""
        answers: dict[str, Answer] = {}
        for rtype in types:
            if self.silent is not None:
                answers[rtype] = Answer(problem=self.silent)
                continue
            answers[rtype] = answer = self.lookup(host, rtype, deadline)
            if answer.problem is not None and answer.problem.startswith("no answer from"):
                # One slow query per dead nameserver, not one per host and type until -t runs out.
                self.silent = answer.problem + "; not asked again"
        return answers


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
        problems = unknown_keys(expect, EXPECT_KEYS)
        records = expect.get("records", list(TYPES))
        if not isinstance(records, list) or not records or not all(r in TYPES for r in records):
            problems.append(f"records: expected a non-empty list of {', '.join(TYPES)}, got {records!r}")
        problems += hosts_problems(expect, "all")
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
                    answers[host] = live.lookup_all(host, types, deadline)
        details = [f"{h} {t}: {a.problem or a.absent or (', '.join(a.addresses) or 'no records')}"
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
            absent = [a.absent for a in answers.values() if a.absent]
            problems = [a.problem for a in answers.values() if a.problem]
            if absent:
                findings.append(Finding(False, absent[0], f"publish {'/'.join(types)} records for {host} in DNS "
                                                          "(or correct the host name in the inventory)"))
                continue
            if problems:
                unknown.append(problems[0])
                continue
            lacking = [t for t, a in answers.items() if not any(unreachable(x) is None for x in a.addresses)]
            have = "; ".join(f"{t} {', '.join(a.addresses)}" for t, a in answers.items() if a.addresses)
            bad = [f"{x} is {unreachable(x)}" for t in lacking for x in answers[t].addresses]
            if lacking:
                findings.append(Finding(False, f"{host} has no {'usable ' if bad else ''}{'/'.join(lacking)} record"
                                               + (f" ({have})" if have else "")
                                               + (f": {'; '.join(bad[:3])}" if bad else ""),
                                        f"publish {'/'.join(lacking)} records with globally reachable addresses "
                                        f"for {host} in DNS"))
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
