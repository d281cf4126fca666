"""check_dcache_version from SRR JSON and the dCache info service, over loopback HTTPS with verification on.

Good answers are judged; a malformed body, an HTML page, a 404, an untrusted
server or a slow one must give UNKNOWN with a clear one-line reason, within
the probe's timeout.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gridready.checks.dcache_version import CHECK
from gridready.checks.interface import Request
from gridready.compliance import Compliance
from gridready.deadline import Deadline
from gridready.engine import run_check
from gridready.models import Milestone, Scope
from gridready.result import MilestoneResult
from tests.helpers import REPO, run_py, write
from tests.servers.https import Response, RunningServer, running_http, running_https

PROBE = REPO / "probes" / "check_dcache_version"
AS_OF = date(2010, 7, 15)
MILESTONE = Milestone(id="dcache-release", title="accepted dCache release", source="GDB test",
                      deadline=date(2010, 6, 30), check="dcache_version", scope=Scope(tiers=(1,)),
                      expect={"min": "1.9.5-0", "supported": True})


def srr(implementation: str | None, version: Any, name: str = "srm.example.org") -> str:
    service: dict[str, Any] = {"name": name, "id": name, "servicetype": "org.dcache.storage",
                               "latestupdate": 1275991111, "storageendpoints": [], "storageshares": []}
    if implementation is not None:
        service["implementation"] = implementation
    if version is not None:
        service["implementationversion"] = version
    return json.dumps({"storageservice": service})


def info_xml(cells: dict[tuple[str, str], str]) -> str:
    """A dCache info service answer: domains/<d>/cells/<c>/version/release per cell."""
    domains: dict[str, list[str]] = {}
    for (domain, cell), release in cells.items():
        domains.setdefault(domain, []).append(
            f'<cell name="{cell}"><version><metric name="release" type="string">{release}</metric>'
            f'<metric name="revision" type="string">13512</metric></version>'
            f'<routing><metric name="local" type="integer">3</metric></routing></cell>')
    body = "".join(f'<domain name="{d}"><cells>{"".join(c)}</cells></domain>' for d, c in domains.items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<dCache xmlns="http://www.dcache.org/2008/01/Info"><domains>{body}</domains>'
            '<summary><cells><metric name="count" type="integer">3</metric></cells></summary></dCache>')


def info_json(cells: dict[tuple[str, str], str]) -> str:
    domains: dict[str, Any] = {}
    for (domain, cell), release in cells.items():
        domains.setdefault(domain, {"cells": {}})["cells"][cell] = {
            "version": {"release": release, "revision": "a1b2c3"}, "routing": {"local": 3}}
    return json.dumps({"domains": domains, "summary": {"cells": {"count": len(cells)}}})


XML = "application/xml"
ROUTES = {
    "/srr/good": Response(body=srr("dCache", "1.9.5-22")),
    "/srr/old": Response(body=srr("dCache", "1.9.4-3")),
    "/srr/castor": Response(body=srr("CASTOR", "2.1.9-9", "srm.castor.example")),
    "/srr/noversion": Response(body=srr("dCache", None)),
    "/srr/numeric": Response(body=srr("dCache", 1.95)),
    "/srr/garbage": Response(body=srr("dCache", "latest and greatest")),
    "/srr/noimpl": Response(body=srr(None, "1.9.5-22")),
    "/srr/notsrr": Response(body='{"storage": {}}'),
    "/srr/malformed": Response(body='{"storageservice": {"implementation": "dCache",'),
    "/srr/html": Response(content_type="text/html", body="<html><head><title>Login</title></head></html>"),
    "/srr/deep": Response(body="[" * 100000 + "]" * 100000),
    "/srr/slow": Response(body=srr("dCache", "1.9.5-22"), delay_seconds=30),
    "/info": Response(content_type=XML, body=info_xml({
        ("dCacheDomain", "PoolManager"): "1.9.5-19", ("dCacheDomain", "SrmSpaceManager"): "1.9.5-19",
        ("srmDomain", "SRM-srm"): "1.9.5-19"})),
    "/info/mixed": Response(content_type=XML, body=info_xml({
        ("dCacheDomain", "PoolManager"): "1.9.5-22", ("pool1Domain", "pool1"): "1.9.5-22",
        ("pool2Domain", "pool2"): "1.9.5-19"})),
    "/info/json": Response(body=info_json({("dCacheDomain", "PoolManager"): "2.10.62",
                                           ("dCacheDomain", "gPlazma"): "2.10.62"})),
    "/info/norelease": Response(content_type=XML, body='<dCache xmlns="http://www.dcache.org/2008/01/Info">'
                                                       '<domains><domain name="d"><cells/></domain></domains></dCache>'),
    "/info/malformed": Response(content_type=XML, body='<dCache><domains><domain name="d">'),
    "/info/malformedjson": Response(body='{"domains": {"d": '),
    "/info/html": Response(content_type="text/html", body="<!DOCTYPE html><html><body>Tomcat</body></html>"),
    "/info/entities": Response(content_type=XML, body='<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>'
                                                     '<d>&a;</d>'),
    "/info/deep": Response(body='{"a":' * 50000 + "1" + "}" * 50000),
    "/info/garbage": Response(content_type=XML, body=info_xml({("d", "PoolManager"): "1.9.5-19 beta"})),
    "/info/drip": Response(content_type=XML, body=info_xml({("d", "c"): "1.9.5-19"}), drip=0.2),
    # 1.9.x cells built on the plain cell base class report "cells"; a CellInfo
    # without a version "Unknown"; a jar without a manifest version "undefined".
    "/info/placeholders": Response(content_type=XML, body=info_xml({
        ("dCacheDomain", "PoolManager"): "production-1.9.5-23", ("dCacheDomain", "RoutingMgr"): "cells",
        ("dCacheDomain", "lm"): "cells", ("gridftpDomain", "GFTP-door"): "production-1.9.5-23",
        ("gridftpDomain", "System"): "Unknown"})),
    "/info/placeholders-snapshot": Response(content_type=XML, body=info_xml({
        ("dCacheDomain", "PoolManager"): "2.6.0-SNAPSHOT", ("dCacheDomain", "RoutingMgr"): "cells"})),
    "/info/placeholders-json": Response(body=info_json({
        ("dCacheDomain", "PoolManager"): "1.9.5-21", ("dCacheDomain", "topo"): "undefined"})),
    "/info/placeholders-only": Response(content_type=XML, body=info_xml({
        ("dCacheDomain", "RoutingMgr"): "cells", ("dCacheDomain", "lm"): "Unknown"})),
}


@pytest.fixture(scope="module")
def server() -> Any:
    with running_https(ROUTES) as running:
        yield running


def run(server: RunningServer, option: str, path: str, *, capath: str | None = None,
        as_of: date = AS_OF, timeout: float = 10, se: str | None = None) -> MilestoneResult:
    options = {option: server.url(path), "capath": capath or server.ca_file, "se": se}
    request = Request(options=options, site="TEST-T1", tier=1, as_of=as_of)
    result = run_check(CHECK, request, [MILESTONE], [], as_of, Deadline(timeout))
    return result.milestones[0]


# --- SRR --------------------------------------------------------------------------

@pytest.mark.parametrize("path, compliance, message", [
    ("/srr/good", Compliance.COMPLIANT,
     "srm.example.org runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("/srr/old", Compliance.OVERDUE, "srm.example.org runs dCache 1.9.4-3, older than the minimum 1.9.5-0"),
    ("/srr/castor", Compliance.NOT_APPLICABLE, "srm.castor.example runs CASTOR, not dCache"),
    ("/srr/noversion", Compliance.UNKNOWN,
     "srm.example.org: SRR {url} has no storageservice.implementationversion"),
    ("/srr/numeric", Compliance.UNKNOWN,
     "srm.example.org: SRR {url} storageservice.implementationversion is a JSON number, not a string"),
    ("/srr/garbage", Compliance.UNKNOWN,
     "srm.example.org: unparseable dCache version 'latest and greatest' in SRR"),
    ("/srr/noimpl", Compliance.UNKNOWN,
     "srm.example.org: SRR {url} has no storageservice.implementation, so it cannot be told whether "
     "it runs dCache"),
    ("/srr/notsrr", Compliance.UNKNOWN, "{url}: no 'storageservice' object in the SRR JSON (top-level keys: storage)"),
    ("/srr/malformed", Compliance.UNKNOWN, "{url}: malformed JSON at line 1 column 48: Expecting property name"),
    ("/srr/html", Compliance.UNKNOWN, "{url}: returned an HTML page, not JSON (title: 'Login')"),
    ("/srr/deep", Compliance.UNKNOWN, "{url}: JSON nested too deeply"),
    ("/srr/missing", Compliance.UNKNOWN, "{url}: HTTP 404 Not Found (not supported by this server?)"),
])
def test_srr(server: RunningServer, path: str, compliance: Compliance, message: str) -> None:
    result = run(server, "srr", path)
    assert result.compliance is compliance
    assert result.message.startswith(message.format(url=server.url(path)))


def test_srr_se_option_names_the_storage_element(server: RunningServer) -> None:
    assert run(server, "srr", "/srr/good", se="SRM.example.org").message.startswith(
        "SRM.example.org runs dCache 1.9.5-22")
    # An SRR about another SE is no evidence about this one.
    other = run(server, "srr", "/srr/good", se="srm.grid.sara.nl")
    assert (other.compliance, other.message) == (
        Compliance.UNKNOWN, f"srm.grid.sara.nl: SRR {server.url('/srr/good')} describes srm.example.org, "
        "not srm.grid.sara.nl (its names and endpoint hosts: srm.example.org)")


def test_untrusted_server_certificate_is_unknown(server: RunningServer) -> None:
    result = run(server, "srr", "/srr/good", capath=server.other_ca_file)
    assert result.compliance is Compliance.UNKNOWN
    assert result.message.startswith(f"{server.url('/srr/good')}: TLS verification of the server "
                                     "certificate failed")


def test_example_srr_files() -> None:
    srr_dir = REPO / "config" / "example" / "srr"
    expected = {"SARA-MATRIX": (Compliance.COMPLIANT, "srm.grid.sara.nl runs dCache 1.9.5-22"),
                "NDGF-T1": (Compliance.COMPLIANT, "srm.ndgf.org runs dCache 1.9.7-3"),
                "IN2P3-CC": (Compliance.OVERDUE, "ccsrm.in2p3.fr runs dCache 1.9.4-3, older than")}
    for site, (compliance, start) in expected.items():
        request = Request(options={"srr": str(srr_dir / f"{site}.json")}, site=site, as_of=AS_OF)
        [milestone] = run_check(CHECK, request, [MILESTONE], [], AS_OF, Deadline(10)).milestones
        assert milestone.compliance is compliance and milestone.message.startswith(start), milestone.message


# --- dCache info service --------------------------------------------------------------

@pytest.mark.parametrize("path, compliance, message", [
    ("/info", Compliance.COMPLIANT,
     "127.0.0.1 runs dCache 1.9.5-19 (golden series 1.9.5, supported until 2012-05-07)"),
    ("/info/mixed", Compliance.COMPLIANT,
     "127.0.0.1 runs dCache 1.9.5-19 (published 1.9.5-22 in info service (2 cells), 1.9.5-19 in info "
     "service (pool2@pool2Domain); judged on the older)"),
    ("/info/norelease", Compliance.UNKNOWN,
     "{url}: no version/release in the dCache info service answer"),
    ("/info/malformed", Compliance.UNKNOWN, "{url}: malformed XML at line 1 column 35"),
    ("/info/malformedjson", Compliance.UNKNOWN, "{url}: malformed JSON at line 1 column 19"),
    ("/info/deep", Compliance.UNKNOWN, "{url}: JSON nested too deeply"),
    ("/info/html", Compliance.UNKNOWN, "{url}: returned an HTML page, not dCache info service XML or JSON"),
    ("/info/entities", Compliance.UNKNOWN, "{url}: XML with a DOCTYPE/ENTITY declaration is not accepted"),
    ("/info/garbage", Compliance.UNKNOWN,
     "127.0.0.1: unparseable dCache version '1.9.5-19 beta' in info service (PoolManager@d)"),
    ("/info/missing", Compliance.UNKNOWN, "{url}: HTTP 404 Not Found"),
    # Placeholder releases are no version: left out (were UNKNOWN "unparseable dCache version 'cells'").
    ("/info/placeholders", Compliance.COMPLIANT,
     "127.0.0.1 runs dCache 1.9.5-23 (golden series 1.9.5, supported until 2012-05-07)"),
    ("/info/placeholders-snapshot", Compliance.OVERDUE,
     "127.0.0.1 runs dCache 2.6.0-SNAPSHOT, a pre-release (development build), not a release"),
    ("/info/placeholders-json", Compliance.COMPLIANT,
     "127.0.0.1 runs dCache 1.9.5-21 (golden series 1.9.5, supported until 2012-05-07)"),
    ("/info/placeholders-only", Compliance.UNKNOWN,
     "{url}: no cell of the dCache info service answer reports its release (only 'cells', 'Unknown', "
     "which cells report when they do not know it)"),
])
def test_info_service(server: RunningServer, path: str, compliance: Compliance, message: str) -> None:
    result = run(server, "info", path)
    assert (result.compliance, result.message[:len(message.format(url=server.url(path)))]) == \
        (compliance, message.format(url=server.url(path)))


def test_info_service_json_2x(server: RunningServer) -> None:
    result = run(server, "info", "/info/json", as_of=date(2015, 1, 1), se="dcache.example.org")
    assert result.compliance is Compliance.COMPLIANT
    assert result.message == ("dcache.example.org runs dCache 2.10.62 "
                              "(golden series 2.10, supported until 2016-07-04)")
    assert run(server, "info", "/info/json", as_of=date(2017, 1, 1)).message == (
        "127.0.0.1 runs dCache 2.10.62: golden series 2.10 is past its end of support (2016-07-04)")


def test_info_service_plain_http_and_saved_copy(tmp_path: Path) -> None:
    with running_http({"/info": ROUTES["/info"]}) as plain:
        request = Request(options={"info": plain.url("/info")}, site="T", as_of=AS_OF)
        [milestone] = run_check(CHECK, request, [MILESTONE], [], AS_OF, Deadline(10)).milestones
        assert milestone.compliance is Compliance.COMPLIANT
        assert plain.seen[0].headers["Accept"].startswith("application/xml")
    saved = write(tmp_path / "info.xml", info_xml({("d", "PoolManager"): "1.9.7-3"}))
    request = Request(options={"info": str(saved), "se": "srm.ndgf.org"}, site="T", as_of=AS_OF)
    [milestone] = run_check(CHECK, request, [MILESTONE], [], AS_OF, Deadline(10)).milestones
    assert milestone.message.startswith("srm.ndgf.org runs dCache 1.9.7-3 (feature series 1.9.7")


# --- slow servers: the probe gives up within its -t ----------------------------------------

@pytest.mark.parametrize("option, path, stage", [
    ("--srr", "/srr/slow", "requesting {url}"),
    ("--info", "/info/drip", "reading the response body from {url}"),
])
def test_slow_server_is_unknown_within_the_timeout(server: RunningServer, option: str, path: str,
                                                   stage: str) -> None:
    url = server.url(path)
    started = time.monotonic()
    done = run_py(PROBE, option, url, "--capath", server.ca_file, "-t", "1", "--site", "BNL-ATLAS")
    elapsed = time.monotonic() - started
    assert done.returncode == 3 and done.stderr == ""
    assert done.stdout.splitlines()[0] == ("DCACHE_VERSION UNKNOWN - dcache-supported-release UNKNOWN: "
                                           f"timeout after 1s while {stage.format(url=url)}")
    assert elapsed < 1 + 1.5


def test_probe_srr_end_to_end(server: RunningServer) -> None:
    done = run_py(PROBE, "--srr", server.url("/srr/good"), "--capath", server.ca_file,
                  "--site", "FZK-LCG2", "--as-of", "2010-06-08", "--min", "1.9.5-23")
    assert done.returncode == 1, done.stdout
    assert done.stdout.splitlines()[0] == (
        "DCACHE_VERSION WARNING - srm.example.org: dcache-supported-release DUE: srm.example.org runs "
        "dCache 1.9.5-22, older than the minimum 1.9.5-23 | dcache_ses=1;;;0 dcache_ses_supported=1;;;0;1")
