"""The dns check against real dnsmasq and zone files: aliases, wildcards, unusable addresses, dead resolvers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from gridready.checks.dns import unreachable
from tests.checks_support import probe, rules_file
from tests.servers.dns import running_dnsmasq

HOSTS = """192.0.2.1 dual.example.org
2001:db8::1 dual.example.org
2001:db8::3 v6only.example.org
192.0.2.4 mapped.example.org
::ffff:192.0.2.4 mapped.example.org
192.0.2.5 linklocal.example.org
fe80::1 linklocal.example.org
192.0.2.6 ula.example.org
fd00::6 ula.example.org
192.0.2.7 loop6.example.org
::1 loop6.example.org
127.0.0.1 loop4.example.org
2001:db8::8 loop4.example.org
192.0.2.9 mixed.example.org
fe80::9 mixed.example.org
2001:db8::9 mixed.example.org
""" + "".join(f"2001:db8:1::{i:x} big.example.org\n" for i in range(1, 60)) + "192.0.2.11 big.example.org\n"


def _live(tmp_path: Path, host: str, expect: str = "{records: [A, AAAA]}", server: str | None = None,
          port: int | None = None) -> tuple[int, str]:
    rules = str(rules_file(tmp_path, "dns", expect))
    return probe(["--check", "dns", "--milestones", rules, "--as-of", "2026-12-01", "-t", "8",
                  "--nameserver", server or f"127.0.0.1:{port}", "-H", host])


@pytest.mark.parametrize("host,code,line", [
    ("mapped.example.org", 2, "[CRITICAL] m1: mapped.example.org has no usable AAAA record (A 192.0.2.4; "
                              "AAAA ::ffff:192.0.2.4): ::ffff:192.0.2.4 is IPv4-mapped, not IPv6"),
    ("linklocal.example.org", 2, "[CRITICAL] m1: linklocal.example.org has no usable AAAA record (A 192.0.2.5; "
                                 "AAAA fe80::1): fe80::1 is link-local"),
    ("ula.example.org", 2, "[CRITICAL] m1: ula.example.org has no usable AAAA record (A 192.0.2.6; "
                           "AAAA fd00::6): fd00::6 is unique-local"),
    ("loop6.example.org", 2, "[CRITICAL] m1: loop6.example.org has no usable AAAA record (A 192.0.2.7; "
                             "AAAA ::1): ::1 is loopback"),
    ("loop4.example.org", 2, "[CRITICAL] m1: loop4.example.org has no usable A record (A 127.0.0.1; "
                             "AAAA 2001:db8::8): 127.0.0.1 is loopback"),
    ("v6only.example.org", 2, "[CRITICAL] m1: v6only.example.org has no A record (AAAA 2001:db8::3)"),
    ("mixed.example.org", 0, "[OK] m1: 1 host with A and AAAA records"),
    # 60 AAAA records do not fit a 512-byte UDP answer: the resolver retries over TCP.
    ("big.example.org", 0, "[OK] m1: 1 host with A and AAAA records"),
    ("DUAL.Example.ORG.", 0, "[OK] m1: 1 host with A and AAAA records"),
])
def test_addresses_another_site_can_reach(tmp_path: Path, host: str, code: int, line: str) -> None:
    with running_dnsmasq(HOSTS) as (_, port):
        got, out = _live(tmp_path, host, port=port)
    assert got == code, out
    assert out.splitlines()[1].startswith(line), out


def test_ipv6_only_host_passes_an_aaaa_only_milestone(tmp_path: Path) -> None:
    with running_dnsmasq(HOSTS) as (_, port):
        assert _live(tmp_path, "v6only.example.org", "{records: [AAAA]}", port=port)[0] == 0


def test_nxdomain_among_good_hosts_fails_naming_it(tmp_path: Path) -> None:
    rules = str(rules_file(tmp_path, "dns", "{records: [A, AAAA]}"))
    with running_dnsmasq(HOSTS) as (ip, port):
        code, out = probe(["--check", "dns", "--milestones", rules, "--as-of", "2026-12-01",
                           "--nameserver", f"{ip}:{port}", "-H", "mixed.example.org", "-H", "gone.example.org"])
    assert code == 2
    assert f"[CRITICAL] m1: gone.example.org does not exist (NXDOMAIN from nameserver 127.0.0.1 port {port})" in out


def test_dead_nameserver_is_asked_once_and_unknown(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))
        port = hole.getsockname()[1]
        rules = str(rules_file(tmp_path, "dns", "{records: [A, AAAA]}"))
        started = time.monotonic()
        code, out = probe(["--check", "dns", "--milestones", rules, "-t", "20", "--nameserver", f"127.0.0.1:{port}",
                           "-H", "a.example.org", "-H", "b.example.org"])
        took = time.monotonic() - started
    assert code == 3
    assert f"no answer from nameserver 127.0.0.1 port {port} for a.example.org A within 5.0 s" in out
    assert took < 8, took    # one 5 s query, not four


ZONE = """$ORIGIN example.org.
$TTL 3600
@ IN SOA ns.example.org. admin.example.org. 1 3600 600 86400 60
@ IN NS ns
ns IN A 192.0.2.53
dual IN A 192.0.2.1
dual IN AAAA 2001:db8::1
alias IN CNAME dual
alias2 IN CNAME alias.example.org.
dangling IN CNAME nothere
outside IN CNAME se.elsewhere.net.
*.wild IN A 192.0.2.20
*.wild IN AAAA 2001:db8::20
*.dual IN A 192.0.2.21
"""


@pytest.mark.parametrize("host,code,needle", [
    ("alias.example.org", 0, "[OK] m1: 1 host"),
    ("alias2.example.org", 0, "[OK] m1: 1 host"),
    ("se.wild.example.org", 0, "[OK] m1: 1 host"),
    ("a.b.wild.example.org", 0, "[OK] m1: 1 host"),
    ("x.dual.example.org", 2, "[CRITICAL] m1: x.dual.example.org has no AAAA record (A 192.0.2.21)"),
    ("dangling.example.org", 2, "[CRITICAL] m1: nothere.example.org (alias of dangling.example.org) does not "
                                "exist in zone example.org"),
    ("missing.example.org", 2, "[CRITICAL] m1: missing.example.org does not exist in zone example.org"),
    ("outside.example.org", 3, "[UNKNOWN] m1: outside.example.org is an alias of se.elsewhere.net, outside"),
    ("se.other.net", 3, "[UNKNOWN] m1: se.other.net is not in"),
])
def test_zone_file_aliases_wildcards_and_absent_names(tmp_path: Path, host: str, code: int, needle: str) -> None:
    zone = tmp_path / "example.org.zone"
    zone.write_text(ZONE)
    rules = str(rules_file(tmp_path, "dns", "{records: [A, AAAA]}"))
    got, out = probe(["--check", "dns", "--milestones", rules, "--as-of", "2026-12-01", "--hosts-file", str(zone),
                      "-H", host])
    assert got == code, out
    assert needle in out


@pytest.mark.parametrize("address,why", [
    ("2001:db8::1", None), ("2a00:1450:4001::1", None), ("192.0.2.1", None), ("10.1.2.3", None),
    ("::ffff:10.0.0.1", "IPv4-mapped, not IPv6"), ("fe80::1", "link-local"), ("fec0::1", "site-local"),
    ("fc00::1", "unique-local"), ("fdff::1", "unique-local"), ("::1", "loopback"), ("::", "unspecified"),
    ("ff02::1", "multicast"), ("127.0.1.1", "loopback"), ("0.0.0.0", "'this network'"),
    ("169.254.0.1", "link-local"), ("224.0.0.1", "multicast"), ("255.255.255.255", "reserved"),
])
def test_unreachable_addresses(address: str, why: str | None) -> None:
    assert unreachable(address) == why
