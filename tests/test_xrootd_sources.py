"""check_xrootd reading published strings from a real slapd BDII, an LDIF dump and SRR JSON.

The grid below has four Tier-1 storage elements whose xrootd doors all point
at one real xrootd server on 127.0.0.1 (so the live handshake works too); they
publish the string as ``xroot`` (FZK-LCG2), ``root`` (IN2P3-CC, BNL-ATLAS, the
latter waived until 2010-08-31 by the bundled rules) and ``xrootd``
(NDGF-T1), in GLUE 1.3 and GLUE 2 alike. Results use the bundled milestones
and inventory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO, run_py
from tests.servers.hostile import Hold, running_hostile
from tests.servers.https import Response, running_https
from tests.servers.slapd import running_slapd
from tests.servers.xrootd import XrootdServer, running_xrootd

PROBE = REPO / "probes" / "check_xrootd"
SITES = {"FZK-LCG2": "xroot", "IN2P3-CC": "root", "NDGF-T1": "xrootd", "BNL-ATLAS": "root"}
EXAMPLE_LDIF = REPO / "config" / "example" / "bdii.ldif"


def site_ldif(site: str, string: str, door: str) -> str:
    se = f"se.{site.lower()}.example"
    base = f"Mds-Vo-name={site},Mds-Vo-name=local,o=grid"
    glue2 = f"GLUE2GroupID=resource,GLUE2DomainID={site},GLUE2GroupID=grid,o=glue"
    return f"""
dn: Mds-Vo-name={site},Mds-Vo-name=local,o=grid
objectClass: MDS
Mds-Vo-name: {site}

dn: GlueSEUniqueID={se},{base}
objectClass: GlueSETop
objectClass: GlueSE
objectClass: GlueKey
objectClass: GlueSchemaVersion
GlueSEUniqueID: {se}
GlueSEImplementationName: dCache
GlueSEImplementationVersion: 1.9.5-19
GlueForeignKey: GlueSiteUniqueID={site}
GlueSchemaVersionMajor: 1
GlueSchemaVersionMinor: 3

dn: GlueSEAccessProtocolLocalID={string},GlueSEUniqueID={se},{base}
objectClass: GlueSETop
objectClass: GlueSEAccessProtocol
objectClass: GlueKey
objectClass: GlueSchemaVersion
GlueSEAccessProtocolLocalID: {string}
GlueSEAccessProtocolType: {string}
GlueSEAccessProtocolVersion: 2.9.0
GlueSEAccessProtocolEndpoint: root://{door}
GlueChunkKey: GlueSEUniqueID={se}
GlueSchemaVersionMajor: 1
GlueSchemaVersionMinor: 3

dn: GlueSEAccessProtocolLocalID=gsiftp,GlueSEUniqueID={se},{base}
objectClass: GlueSETop
objectClass: GlueSEAccessProtocol
objectClass: GlueKey
objectClass: GlueSchemaVersion
GlueSEAccessProtocolLocalID: gsiftp
GlueSEAccessProtocolType: gsiftp
GlueSEAccessProtocolEndpoint: gsiftp://{se}:2811
GlueChunkKey: GlueSEUniqueID={se}
GlueSchemaVersionMajor: 1
GlueSchemaVersionMinor: 3

dn: GLUE2ServiceID={se},{glue2}
objectClass: GLUE2Service
objectClass: GLUE2StorageService
GLUE2ServiceID: {se}
GLUE2ServiceType: org.dcache.storage
GLUE2ServiceCapability: data.management.storage
GLUE2ServiceQualityLevel: production
GLUE2ServiceAdminDomainForeignKey: {site}

dn: GLUE2EndpointID={se}/xrootd,GLUE2ServiceID={se},{glue2}
objectClass: GLUE2Endpoint
GLUE2EndpointID: {se}/xrootd
GLUE2EndpointURL: root://{door}
GLUE2EndpointInterfaceName: {string}
GLUE2EndpointQualityLevel: production
GLUE2EndpointHealthState: ok
GLUE2EndpointServingState: production
GLUE2EndpointServiceForeignKey: {se}
"""


@dataclass(frozen=True)
class Grid:
    xrootd: XrootdServer
    ldif: Path
    ldap: str


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    with running_xrootd() as server:
        text = "\n".join(site_ldif(site, string, server.door) for site, string in SITES.items())
        ldif = tmp_path_factory.mktemp("bdii") / "dump.ldif"
        ldif.write_text(text.lstrip(), encoding="utf-8")
        with running_slapd(ldif) as uri:
            yield Grid(server, ldif, uri)


def probe(*args: str) -> tuple[int, list[str]]:
    done = run_py(PROBE, "--milestone", "xrootd-protocol-string", *args)
    assert done.stderr == "", done.stderr
    return done.returncode, done.stdout.splitlines()


@pytest.mark.parametrize("source", ["ldap", "ldif"])
@pytest.mark.parametrize("site, as_of, code, compliance, message", [
    ("FZK-LCG2", "2010-10-08", 0, "COMPLIANT", "published as 'xroot' in GLUE 1.3, GLUE 2 (2 records)"),
    ("IN2P3-CC", "2010-10-08", 2, "OVERDUE",
     "GLUE 1.3 se.in2p3-cc.example/root publishes GlueSEAccessProtocolType 'root', not 'xroot'; "
     "GLUE 2 se.in2p3-cc.example/xrootd publishes GLUE2EndpointInterfaceName 'root', not 'xroot'"),
    ("IN2P3-CC", "2010-09-10", 1, "DUE", "publishes GlueSEAccessProtocolType 'root', not 'xroot'"),
    ("IN2P3-CC", "2010-07-01", 0, "PENDING", "publishes GlueSEAccessProtocolType 'root', not 'xroot'"),
    ("NDGF-T1", "2010-10-08", 2, "OVERDUE",
     "GLUE 1.3 se.ndgf-t1.example/xrootd publishes GlueSEAccessProtocolType 'xrootd', not 'xroot'"),
    ("BNL-ATLAS", "2010-08-01", 0, "WAIVED", "waived until 2010-08-31"),
    ("BNL-ATLAS", "2010-10-08", 2, "OVERDUE", "waiver expired 2010-08-31"),
])
def test_published_strings_per_site(grid: Grid, source: str, site: str, as_of: str, code: int,
                                    compliance: str, message: str) -> None:
    uri = grid.ldap if source == "ldap" else str(grid.ldif)
    rc, lines = probe("--site", site, "--bdii", uri, "--as-of", as_of, "-v")
    assert rc == code, lines
    assert lines[0].startswith(f"XROOTD {['OK', 'WARNING', 'CRITICAL'][code]} - {site} (published): "
                               f"xrootd-protocol-string {compliance}: ")
    assert message in lines[1]     # the whole message is in the long output (the status line is cut short)
    if code:
        assert "remediation: publish GlueSEAccessProtocolType: xroot for" in lines[2]


def test_ldap_and_ldif_give_the_same_json(grid: Grid) -> None:
    results = []
    for uri in (grid.ldap, str(grid.ldif)):
        done = run_py(PROBE, "--site", "NDGF-T1", "--bdii", uri, "--as-of", "2010-10-08", "--format", "json")
        text = done.stdout.replace(uri, "SOURCE")
        result = json.loads(text)
        result.pop("checked_at")
        results.append((done.returncode, result))
    assert results[0] == results[1]
    rc, result = results[0]
    assert rc == 2 and result["milestones"][0]["compliance"] == "OVERDUE"
    assert result["details"] == [
        "published: GLUE 1.3 in SOURCE: se.ndgf-t1.example/xrootd: GlueSEAccessProtocolType=xrootd "
        f"GlueSEAccessProtocolEndpoint=root://{grid.xrootd.door}",
        "published: GLUE 2 in SOURCE: se.ndgf-t1.example/xrootd: GLUE2EndpointInterfaceName=xrootd "
        f"GLUE2EndpointURL=root://{grid.xrootd.door}"]


def test_live_door_with_its_published_string(grid: Grid) -> None:
    door = ["-H", grid.xrootd.host, "-p", str(grid.xrootd.port), "--bdii", grid.ldap, "--as-of", "2010-10-08"]
    rc, lines = probe(*door, "--site", "FZK-LCG2")
    assert rc == 0, lines
    assert lines[0].startswith(f"XROOTD OK - {grid.xrootd.door}: xrootd-protocol-string COMPLIANT: "
                               "xrootd protocol 5.")
    assert "role server (data server)" in lines[1] and "published as 'xroot' in GLUE 1.3, GLUE 2" in lines[1]
    # The door speaks xrootd, but IN2P3-CC publishes it as "root".
    rc, lines = probe(*door, "--site", "IN2P3-CC", "-v")
    assert rc == 2
    assert "se.in2p3-cc.example/root publishes GlueSEAccessProtocolType 'root', not 'xroot'" in lines[0]
    assert lines[2].startswith("    remediation: publish GlueSEAccessProtocolType: xroot")
    # Without a site every record for the door is judged: two bad sites, three counting the waived one.
    rc, lines = probe(*door)
    assert rc == 2 and "'xrootd', not 'xroot'" in lines[1] and "'root', not 'xroot'" in lines[1]


def test_door_not_published_at_all(grid: Grid) -> None:
    with running_hostile(Hold()) as other:
        pass  # only needed a port nobody publishes; nothing listens there any more
    rc, lines = probe("-H", "127.0.0.1", "-p", str(other.port), "--bdii", str(grid.ldif),
                      "--as-of", "2010-10-08", "-vv")
    # Not published is a known failure; the refused door itself is only unknown, said in the details.
    assert rc == 2
    assert lines[0].endswith(f"OVERDUE: 127.0.0.1:{other.port} is not published as an xrootd access protocol "
                             f"in {grid.ldif}")
    assert f"door not reached: cannot connect to 127.0.0.1:{other.port}: connection refused" in lines


def test_site_without_xrootd_is_not_applicable() -> None:
    # INFN-T1 publishes its SEs (CASTOR, StoRM) in the example dump, none with xrootd access.
    rc, lines = probe("--site", "INFN-T1", "--bdii", str(EXAMPLE_LDIF))
    assert rc == 0
    assert lines[0] == "XROOTD OK - INFN-T1 (published): 1 milestone: 1 NOT_APPLICABLE"
    assert lines[1].startswith(f"[OK] xrootd-protocol-string: INFN-T1 publishes no xrootd access in {EXAMPLE_LDIF} ")


def test_site_missing_from_the_source_is_unknown(grid: Grid) -> None:
    # Was NOT_APPLICABLE: pic is not in this dump at all, so nothing says it has no xrootd.
    rc, lines = probe("--site", "pic", "--bdii", str(grid.ldif))
    assert rc == 3
    assert lines[0] == (f"XROOTD UNKNOWN - pic (published): xrootd-protocol-string UNKNOWN: {grid.ldif} "
                        "describes no storage of pic: cannot tell how xrootd is published")


def test_offline_mode_never_connects_to_a_door(tmp_path: Path) -> None:
    with running_hostile(Hold()) as door:
        ldif = tmp_path / "d.ldif"
        ldif.write_text(site_ldif("FZK-LCG2", "root", f"127.0.0.1:{door.port}").lstrip(), encoding="utf-8")
        rc, lines = probe("--site", "FZK-LCG2", "--bdii", str(ldif), "--as-of", "2010-10-08")
        assert door.connections == 0
    assert rc == 2 and "'root', not 'xroot'" in lines[0]


def test_example_snapshot_offline(tmp_path: Path) -> None:
    rc, lines = probe("--site", "TRIUMF-LCG2", "--bdii", str(EXAMPLE_LDIF), "--as-of", "2010-10-08")
    assert rc == 2
    assert "publishes GlueSEAccessProtocolType 'Xroot', not 'xroot'" in lines[0]  # a case variant


def test_srr_over_https_and_from_a_file(tmp_path: Path) -> None:
    srr = {"storageservice": {"name": "se", "storageendpoints": [
        {"name": "se-xrootd", "endpointurl": "root://xrd.example:1094", "interfacetype": "xrootd"},
        {"name": "se-xroot", "endpointurl": "xroot://xrd2.example:1094", "interfacetype": "xroot"},
        {"name": "se-gsiftp", "endpointurl": "gsiftp://se.example:2811", "interfacetype": "gsiftp"}]}}
    with running_https({"/srr": Response(body=json.dumps(srr))}) as server:
        rc, lines = probe("--site", "SARA-MATRIX", "--srr", server.url("/srr"), "--capath", server.ca_file,
                          "--as-of", "2010-10-08", "-vv")
        assert rc == 2, lines
        assert "SRR se-xrootd publishes interfacetype 'xrootd', not 'xroot'" in lines[0]
        assert f"published: SRR in {server.url('/srr')}: se-xroot: interfacetype=xroot " \
               "endpointurl=xroot://xrd2.example:1094" in lines
        rc, lines = probe("--site", "SARA-MATRIX", "--srr", server.url("/srr"), "--capath", server.other_ca_file)
        assert rc == 3 and server.url("/srr") in lines[0]
    saved = tmp_path / "srr.json"
    saved.write_text(json.dumps(srr), encoding="utf-8")
    rc, lines = probe("-H", "xroot://xrd2.example", "--srr", str(saved), "-t", "3")
    # The door is published correctly, but there is no such host to talk to: unknown, not a failure.
    assert rc == 3 and "SRR" not in lines[0]
    assert "cannot resolve host xrd2.example" in lines[0] or "timeout after 3s while resolving" in lines[0]


@pytest.mark.parametrize("args, why", [
    (["--site", "FZK-LCG2", "--bdii", "/nonexistent/dump.ldif"], "/nonexistent/dump.ldif"),
    (["--site", "FZK-LCG2", "--srr", "/nonexistent/srr.json"], "/nonexistent/srr.json: cannot read"),
])
def test_unreadable_source_is_unknown(args: list[str], why: str) -> None:
    rc, lines = probe(*args)
    assert rc == 3 and why in lines[0] and len(lines) == 2


def test_unreachable_bdii_with_a_working_door_is_unknown(grid: Grid) -> None:
    with running_hostile() as gone:
        pass
    rc, lines = probe("-H", grid.xrootd.door, "--bdii", f"ldap://127.0.0.1:{gone.port}")
    assert rc == 3 and f"127.0.0.1:{gone.port}" in lines[0]


def test_unreachable_bdii_and_refused_door_is_unknown(grid: Grid) -> None:
    # Was CRITICAL: a refused door is an unreachable source (UNKNOWN), not a failing finding.
    with running_hostile() as gone:
        pass
    rc, lines = probe("-H", "127.0.0.1", "-p", str(gone.port), "--bdii", f"ldap://127.0.0.1:{gone.port}",
                      "-vv", "--as-of", "2010-10-08")
    assert rc == 3, lines
    assert lines[0].startswith(f"XROOTD UNKNOWN - 127.0.0.1:{gone.port}: xrootd-protocol-string UNKNOWN: "
                               f"cannot connect to 127.0.0.1:{gone.port}: connection refused, "
                               "published strings not read: ")     # no ';' in the status text
    assert any(line.startswith("published strings not read: ") for line in lines)
