"""check_dcache_version against a real slapd with the GLUE schemas, and against the same LDIF dump.

Several Tier-1-like sites publish every case the check must tell apart:
compliant, too old, denied, non-dCache, a missing version, an unparseable
version, GLUE 1.3 and GLUE 2 disagreeing, a GLUE 2 service whose ID is not the
host, and a storage element published in GLUE 2 only. Both sources must give
the same state and message for each. The bundled example snapshot is run the
same way, and the probe executable once end to end.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest

from gridready.checks.dcache_version import CHECK
from gridready.checks.interface import Request
from gridready.compliance import Compliance
from gridready.deadline import Deadline
from gridready.engine import run_check
from gridready.models import Milestone, Scope
from gridready.result import ProbeResult
from tests.helpers import REPO, run_py, write
from tests.servers.slapd import running_slapd, slapd_fixture

PROBE = REPO / "probes" / "check_dcache_version"
EXAMPLE = REPO / "config" / "example" / "bdii.ldif"
AS_OF = date(2010, 7, 15)  # after the 2010-06-30 deadline: failures are OVERDUE

MILESTONE = Milestone(
    id="dcache-release", title="accepted dCache release", source="GDB test", deadline=date(2010, 6, 30),
    check="dcache_version", scope=Scope(tiers=(0, 1)),
    expect={"min": "1.9.5-0", "supported": True, "deny": ["1.9.5-20"]},
    remediation="upgrade to the 1.9.5 golden release")


def glue1_se(site: str, host: str, implementation: str | None, version: str | None) -> str:
    lines = [f"dn: GlueSEUniqueID={host},Mds-Vo-name={site},Mds-Vo-name=local,o=grid",
             "objectClass: GlueSETop", "objectClass: GlueSE", "objectClass: GlueKey",
             "objectClass: GlueSchemaVersion", f"GlueSEUniqueID: {host}", f"GlueSEName: {site}:disk"]
    if implementation:
        lines.append(f"GlueSEImplementationName: {implementation}")
    if version:
        lines.append(f"GlueSEImplementationVersion: {version}")
    lines += ["GlueSEStatus: Production", f"GlueForeignKey: GlueSiteUniqueID={site}",
              "GlueSchemaVersionMajor: 1", "GlueSchemaVersionMinor: 3"]
    return "\n".join(lines)


def glue2_service(site: str, service_id: str, host: str, versions: list[str]) -> str:
    base = f"GLUE2ServiceID={service_id},GLUE2GroupID=resource,GLUE2DomainID={site},GLUE2GroupID=grid,o=glue"
    records = ["\n".join([
        f"dn: {base}", "objectClass: GLUE2Service", "objectClass: GLUE2StorageService",
        f"GLUE2ServiceID: {service_id}", "GLUE2ServiceType: org.dcache.storage",
        "GLUE2ServiceCapability: data.management.storage", "GLUE2ServiceQualityLevel: production",
        f"GLUE2ServiceAdminDomainForeignKey: {site}"])]
    for index, version in enumerate(versions):
        endpoint = f"{host}/door{index}"
        records.append("\n".join([
            f"dn: GLUE2EndpointID={endpoint},{base}", "objectClass: GLUE2Endpoint",
            f"GLUE2EndpointID: {endpoint}", f"GLUE2EndpointURL: srm://{host}:8443/srm/managerv2",
            "GLUE2EndpointInterfaceName: SRM", "GLUE2EndpointImplementationName: dCache",
            f"GLUE2EndpointImplementationVersion: {version}", "GLUE2EndpointQualityLevel: production",
            "GLUE2EndpointHealthState: ok", "GLUE2EndpointServingState: production",
            f"GLUE2EndpointServiceForeignKey: {service_id}"]))
    return "\n\n".join(records)


def dcache_provider_service(site: str, se: str, doors: list[tuple[str, str, str, str]]) -> str:
    """GLUE 2 records shaped like dCache's info provider (glue-2.0-defn.xml) writes them.

    ``doors``: (fqdn, protocol family, protocol version, release) per door.
    """
    service_id = f"glue:{se}/data"
    base = f"GLUE2ServiceID={service_id},GLUE2GroupID=resource,GLUE2DomainID={site},GLUE2GroupID=grid,o=glue"
    records = ["\n".join([
        f"dn: {base}", "objectClass: GLUE2StorageService", "objectClass: GLUE2Service",
        "GLUE2EntityCreationTime: 2010-06-08T10:00:00Z", f"GLUE2ServiceID: {service_id}",
        f"GLUE2EntityName: {site} dCache", "GLUE2ServiceType: org.dcache.storage",
        "GLUE2ServiceQualityLevel: production", "GLUE2ServiceCapability: data.access.flatfiles",
        "GLUE2ServiceCapability: data.management.storage", f"GLUE2ServiceAdminDomainForeignKey: {site}"])]
    schemes = {"srm": "httpg", "xroot": "xroot", "gsiftp": "gsiftp"}
    for fqdn, family, protocol_version, release in doors:
        endpoint = f"{service_id}/ep/{fqdn}/{family}/{protocol_version}"
        url = (f"httpg://{fqdn}:8443/srm/managerv2" if family == "srm"
               else f"{schemes[family]}://{fqdn}:{1094 if family == 'xroot' else 2811}")
        records.append("\n".join([
            f"dn: GLUE2EndpointID={endpoint},{base}", "objectClass: GLUE2StorageEndpoint",
            "objectClass: GLUE2Endpoint", f"GLUE2EndpointID: {endpoint}",
            "GLUE2EntityOtherInfo: dCache.root=/", f"GLUE2EndpointServiceForeignKey: {service_id}",
            f"GLUE2EndpointInterfaceName: {family}", "GLUE2EndpointImplementationName: dCache",
            f"GLUE2EndpointImplementationVersion: {release}", f"GLUE2EndpointURL: {url}",
            f"GLUE2EndpointInterfaceVersion: {protocol_version}", "GLUE2EndpointQualityLevel: production",
            "GLUE2EndpointHealthState: ok", "GLUE2EndpointServingState: production"]))
    return "\n\n".join(records)


def glue2_storage(site: str, service_id: str, service_type: str,
                  endpoints: list[tuple[str, str, str | None, str | None]],
                  managers: list[tuple[str, str, str | None]]) -> str:
    """A GLUE 2 storage service with any endpoints and managers, valid for slapd.

    ``endpoints``: (endpoint ID, URL, implementation name, version);
    ``managers``: (manager ID, product name, product version). None leaves the attribute out.
    """
    base = f"GLUE2ServiceID={service_id},GLUE2GroupID=resource,GLUE2DomainID={site},GLUE2GroupID=grid,o=glue"
    records = ["\n".join([
        f"dn: {base}", "objectClass: GLUE2Service", "objectClass: GLUE2StorageService",
        f"GLUE2ServiceID: {service_id}", f"GLUE2ServiceType: {service_type}",
        "GLUE2ServiceCapability: data.management.storage", "GLUE2ServiceQualityLevel: production",
        f"GLUE2ServiceAdminDomainForeignKey: {site}"])]
    for ident, url, name, version in endpoints:
        lines = [f"dn: GLUE2EndpointID={ident},{base}", "objectClass: GLUE2Endpoint",
                 "objectClass: GLUE2StorageEndpoint", f"GLUE2EndpointID: {ident}", f"GLUE2EndpointURL: {url}",
                 f"GLUE2EndpointInterfaceName: {url.split(':', 1)[0]}", "GLUE2EndpointQualityLevel: production",
                 "GLUE2EndpointHealthState: ok", "GLUE2EndpointServingState: production",
                 f"GLUE2EndpointServiceForeignKey: {service_id}"]
        lines += [f"GLUE2EndpointImplementationName: {name}"] if name else []
        lines += [f"GLUE2EndpointImplementationVersion: {version}"] if version else []
        records.append("\n".join(lines))
    for ident, product, version in managers:
        lines = [f"dn: GLUE2ManagerID={ident},{base}", "objectClass: GLUE2StorageManager",
                 "objectClass: GLUE2Manager", f"GLUE2ManagerID: {ident}", f"GLUE2ManagerProductName: {product}",
                 f"GLUE2ManagerServiceForeignKey: {service_id}"]
        lines += [f"GLUE2ManagerProductVersion: {version}"] if version else []
        records.append("\n".join(lines))
    return "\n\n".join(records)


def provider_storage(site: str, se: str, doors: list[tuple[str, str, str, str]],
                     manager_version: str | None) -> str:
    """dCache's info provider: its service and doors plus its GLUE2StorageManager
    (``glue:<se>/data/m/dCache``, product dCache, the PoolManager's release)."""
    service_id = f"glue:{se}/data"
    return "\n\n".join([dcache_provider_service(site, se, doors), glue2_storage(
        site, service_id, "org.dcache.storage", [], [(f"{service_id}/m/dCache", "dCache", manager_version)]
    ).split("\n\n", 1)[1]])


def storm_storage(site: str, host: str, version: str, *, gridftp: bool, manager: bool = True) -> str:
    """StoRM's GLUE 2 (storm-info-provider): service ``<host>/storage`` of type storm, SRM
    endpoint and manager named StoRM; a GridFTP endpoint may name its own product."""
    service_id = f"{host}/storage"
    endpoints: list[tuple[str, str, str | None, str | None]] = [
        (f"{service_id}/endpoint/SRM0", f"httpg://{host}:8444/srm/managerv2", "StoRM", version)]
    if gridftp:
        endpoints.append((f"{service_id}/endpoint/GFTP0", f"gsiftp://gridftp.{host}:2811", "GridFTP", "6.0"))
    managers = [(f"{service_id}/manager", "StoRM", version)] if manager else []
    return glue2_storage(site, service_id, "storm", endpoints, managers)


RECORDS = [
    glue1_se("GOOD-T1", "srm.good.example", "dCache", "1.9.5-22 (ns=Chimera)"),
    glue2_service("GOOD-T1", "srm.good.example", "srm.good.example", ["1.9.5-22", "1.9.5-22"]),
    glue1_se("OLD-T1", "srm.old.example", "dCache", "1.9.2-5"),
    glue1_se("DENIED-T1", "srm.denied.example", "dCache", "production-1.9.5-20"),
    glue1_se("CASTOR-T1", "srm.castor.example", "CASTOR", "2.1.9-9"),
    glue1_se("MISSING-T1", "srm.missing.example", "dCache", "1.9.5-21"),
    glue1_se("MISSING-T1", "srm2.missing.example", "dCache", None),
    glue1_se("GARBAGE-T1", "srm.garbage.example", "dCache", "see release notes"),
    glue1_se("SPLIT-T1", "srm.split.example", "dCache", "1.9.5-23"),
    # A GLUE 2 service whose ID is not the host: found through its endpoint URL.
    glue2_service("SPLIT-T1", "urn:ogf:glue2:split:storage", "srm.split.example", ["1.9.5-21"]),
    glue2_service("GLUE2ONLY-T1", "srm.glue2only.example", "srm.glue2only.example", ["1.9.7-3"]),
    # As dCache's own info provider publishes: GLUE 2 only, IDs "glue:<se>/data".
    dcache_provider_service("PROVIDER-T1", "srm.provider.example", [
        ("srm.provider.example", "srm", "2.2", "1.9.5-22"),
        ("xrootd.provider.example", "xroot", "2.9.0", "1.9.5-22")]),
    # GLUE 1.3 and the provider's GLUE 2, doors on other hosts than the SE id,
    # one door one release behind: judged on the older.
    glue1_se("BOTH-T1", "srm.both.example", "dCache", "1.9.5-22 (ns=Chimera)"),
    dcache_provider_service("BOTH-T1", "srm.both.example", [
        ("srm-door.both.example", "srm", "2.2", "1.9.5-22"),
        ("gridftp1.both.example", "gsiftp", "1.0.0", "1.9.5-21")]),
    # Release strings the old parser rejected.
    glue1_se("SNAP-T1", "srm.snap.example", "dCache", "1.9.5-20rc1"),
    glue1_se("NS-T1", "srm.ns.example", "dCache", "production-1.9.5-19 (ns=PNFS)"),
    # dCache's GLUE2StorageManager carries the PoolManager's release: judged with the doors.
    provider_storage("MGR-T1", "srm.mgr.example", [("srm.mgr.example", "srm", "2.2", "1.9.5-22")], "1.9.5-20"),
    provider_storage("MGRNEW-T1", "srm.mgrnew.example", [("srm.mgrnew.example", "srm", "2.2", "1.9.5-21")],
                     "1.9.5-22"),
    provider_storage("MGRONLY-T1", "srm.mgronly.example", [], "1.9.5-22"),
    provider_storage("MGRUNDEF-T1", "srm.mgrundef.example", [("srm.mgrundef.example", "srm", "2.2", "1.9.5-22")],
                     "UNDEFINEDVALUE"),
    provider_storage("MGRNOVER-T1", "srm.mgrnover.example", [("srm.mgrnover.example", "srm", "2.2", "1.9.5-22")],
                     None),
    # An xrootd proxy listed among dCache's own endpoints: the SE is still dCache.
    glue2_storage("PROXY-T1", "glue:srm.proxy.example/data", "org.dcache.storage", [
        ("glue:srm.proxy.example/data/ep/srm.proxy.example/srm/2.2", "httpg://srm.proxy.example:8443/srm/managerv2",
         "dCache", "1.9.5-22"),
        ("xproxy.proxy.example/xroot", "root://xproxy.proxy.example:1094", "xrootd", "3.0.4")], []),
    # StoRM next to dCache: its GridFTP endpoint names another product.
    glue1_se("STORMMIX-T1", "srm.stormmix.example", "dCache", "1.9.5-22 (ns=Chimera)"),
    storm_storage("STORMMIX-T1", "storm-fe.stormmix.example", "1.5.4-2", gridftp=True),
    storm_storage("STORMNOMGR-T1", "storm-fe.stormnomgr.example", "1.5.4-2", gridftp=True, manager=False),
    # dCache beside another name where the service does not say it is dCache: undecidable.
    glue2_storage("AMBIG-T1", "urn:ambig:storage", "SRM", [
        ("urn:ambig:ep1", "httpg://srm.ambig.example:8443/srm/managerv2", "dCache", "1.9.5-22"),
        ("urn:ambig:ep2", "gsiftp://srm.ambig.example:2811", "StoRM", "1.5.4-2")], []),
    # dCache's service type with only other products named: undecidable.
    glue2_storage("NOTDC-T1", "glue:srm.notdc.example/data", "org.dcache.storage", [
        ("glue:srm.notdc.example/data/ep/x/xroot/3", "root://srm.notdc.example:1094", "xrootd", "3.0.4")], []),
]
LDIF = "\n\n".join(RECORDS) + "\n"

# (site or --se, compliance, message)
CASES = [
    ("GOOD-T1", Compliance.COMPLIANT,
     "srm.good.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("OLD-T1", Compliance.OVERDUE,
     "srm.old.example runs dCache 1.9.2-5, older than the minimum 1.9.5-0; srm.old.example runs "
     "dCache 1.9.2-5: series 1.9.2 is out of support (older than 1.9.5, the first series in the "
     "dCache series table)"),
    ("DENIED-T1", Compliance.OVERDUE, "srm.denied.example runs dCache 1.9.5-20, a denied release (listed)"),
    ("CASTOR-T1", Compliance.NOT_APPLICABLE, "srm.castor.example runs CASTOR, not dCache"),
    ("MISSING-T1", Compliance.UNKNOWN,
     "srm2.missing.example publishes no dCache version: no GlueSEImplementationVersion (GLUE 1.3) "
     "and has no GLUE 2 service (other SEs: srm.missing.example runs dCache 1.9.5-21)"),
    ("GARBAGE-T1", Compliance.UNKNOWN,
     "srm.garbage.example: unparseable dCache version 'see release notes' in GLUE 1.3"),
    ("SPLIT-T1", Compliance.COMPLIANT,
     "srm.split.example runs dCache 1.9.5-21 (published 1.9.5-23 in GLUE 1.3, 1.9.5-21 in GLUE 2; "
     "judged on the older) (golden series 1.9.5, supported until 2012-05-07)"),
    ("GLUE2ONLY-T1", Compliance.COMPLIANT,
     "srm.glue2only.example runs dCache 1.9.7-3 (feature series 1.9.7, supported until 2012-05-07)"),
    ("srm.split.example", Compliance.COMPLIANT,
     "srm.split.example runs dCache 1.9.5-21 (published 1.9.5-23 in GLUE 1.3, 1.9.5-21 in GLUE 2; "
     "judged on the older) (golden series 1.9.5, supported until 2012-05-07)"),
    ("srm2.missing.example", Compliance.UNKNOWN,
     "srm2.missing.example publishes no dCache version: no GlueSEImplementationVersion (GLUE 1.3) "
     "and has no GLUE 2 service"),
    ("srm.glue2only.example", Compliance.COMPLIANT,
     "srm.glue2only.example runs dCache 1.9.7-3 (feature series 1.9.7, supported until 2012-05-07)"),
    ("srm.nowhere.example", Compliance.UNKNOWN,
     "{uri}: storage element srm.nowhere.example is not published (no GlueSE with "
     "GlueSEUniqueID=srm.nowhere.example, no GLUE2Service with GLUE2ServiceID srm.nowhere.example, "
     "glue:srm.nowhere.example/data or srm.nowhere.example/storage)"),
    ("srm.provider.example", Compliance.COMPLIANT,
     "srm.provider.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("PROVIDER-T1", Compliance.COMPLIANT,
     "srm.provider.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("srm.both.example", Compliance.COMPLIANT,
     "srm.both.example runs dCache 1.9.5-21 (published 1.9.5-22 in GLUE 1.3 and GLUE 2, 1.9.5-21 in "
     "GLUE 2; judged on the older) (golden series 1.9.5, supported until 2012-05-07)"),
    ("BOTH-T1", Compliance.COMPLIANT,
     "srm.both.example runs dCache 1.9.5-21 (published 1.9.5-22 in GLUE 1.3 and GLUE 2, 1.9.5-21 in "
     "GLUE 2; judged on the older) (golden series 1.9.5, supported until 2012-05-07)"),
    # A candidate of the denied 1.9.5-20 is not 1.9.5-20 itself, but a pre-release is
    # not a production release (was COMPLIANT).
    ("SNAP-T1", Compliance.OVERDUE,
     "srm.snap.example runs dCache 1.9.5-20rc1, a pre-release (development build), not a release"),
    ("NS-T1", Compliance.COMPLIANT,
     "srm.ns.example runs dCache 1.9.5-19 (golden series 1.9.5, supported until 2012-05-07)"),
    # The GLUE2StorageManager's version is judged with the doors' (was ignored: COMPLIANT on 1.9.5-22).
    ("MGR-T1", Compliance.OVERDUE,
     "srm.mgr.example runs dCache 1.9.5-20 (published 1.9.5-22 in GLUE 2, 1.9.5-20 in GLUE 2 manager; "
     "judged on the older), a denied release (listed)"),
    ("srm.mgr.example", Compliance.OVERDUE,
     "srm.mgr.example runs dCache 1.9.5-20 (published 1.9.5-22 in GLUE 2, 1.9.5-20 in GLUE 2 manager; "
     "judged on the older), a denied release (listed)"),
    ("srm.mgrnew.example", Compliance.COMPLIANT,
     "srm.mgrnew.example runs dCache 1.9.5-21 (published 1.9.5-22 in GLUE 2 manager, 1.9.5-21 in GLUE 2; "
     "judged on the older) (golden series 1.9.5, supported until 2012-05-07)"),
    # A manager and no door (was UNKNOWN "publishes no implementation name").
    ("srm.mgronly.example", Compliance.COMPLIANT,
     "srm.mgronly.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("MGRONLY-T1", Compliance.COMPLIANT,
     "srm.mgronly.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    # The provider's default when it cannot read the PoolManager's release, as GLUE 1.3's.
    ("srm.mgrundef.example", Compliance.UNKNOWN,
     "srm.mgrundef.example: unparseable dCache version 'UNDEFINEDVALUE' in GLUE 2 manager"),
    ("srm.mgrnover.example", Compliance.COMPLIANT,
     "srm.mgrnover.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    # Another product's endpoint in dCache's service (was UNKNOWN: "different implementations").
    ("PROXY-T1", Compliance.COMPLIANT,
     "srm.proxy.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("srm.proxy.example", Compliance.COMPLIANT,
     "srm.proxy.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    # StoRM with a GridFTP endpoint beside a dCache SE (was UNKNOWN for the whole site).
    ("STORMMIX-T1", Compliance.COMPLIANT,
     "srm.stormmix.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("storm-fe.stormmix.example", Compliance.NOT_APPLICABLE,
     "storm-fe.stormmix.example/storage runs StoRM, not dCache"),
    ("STORMNOMGR-T1", Compliance.NOT_APPLICABLE,
     "storm-fe.stormnomgr.example/storage runs GridFTP / StoRM, not dCache"),
    ("AMBIG-T1", Compliance.UNKNOWN,
     "urn:ambig:storage: GLUE 2 endpoints and managers publish different implementations ('StoRM', "
     "'dCache'), so it cannot be told whether it runs dCache"),
    ("NOTDC-T1", Compliance.UNKNOWN,
     "srm.notdc.example: a GLUE 2 service of type org.dcache.storage whose endpoints and managers "
     "publish 'xrootd', so it cannot be told whether it runs dCache"),
    ("EMPTY-T1", Compliance.UNKNOWN,
     "{uri}: no storage element published for site EMPTY-T1 (no GlueSE with "
     "GlueForeignKey=GlueSiteUniqueID=EMPTY-T1, no GLUE 2 storage service)"),
]

test_ldap = slapd_fixture(LDIF)


@pytest.fixture(scope="module")
def test_ldif(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write(tmp_path_factory.mktemp("dcache") / "bdii.ldif", LDIF))


def check(uri: str, target: str, milestone: Milestone = MILESTONE, as_of: date = AS_OF) -> ProbeResult:
    is_site = "." not in target
    options = {"bdii": uri, "se": None if is_site else target}
    request = Request(options=options, site=target if is_site else None, tier=1, as_of=as_of)
    return run_check(CHECK, request, [milestone], [], as_of, Deadline(10))


@pytest.mark.parametrize("source", ["ldap", "ldif"])
@pytest.mark.parametrize("target, compliance, message", CASES)
def test_each_case_from_slapd_and_ldif(request: pytest.FixtureRequest, source: str, target: str,
                                       compliance: Compliance, message: str) -> None:
    uri = request.getfixturevalue(f"test_{source}")
    result = check(uri, target)
    [milestone] = result.milestones
    assert (milestone.compliance, milestone.message) == (compliance, message.format(uri=uri))
    assert result.state is compliance.state


def test_site_case_differences_do_not_change_the_answer(test_ldap: str, test_ldif: str) -> None:
    # GLUE 1.3 matches case-insensitively, GLUE 2 case-exactly in slapd: the
    # site key the BDII published is used for GLUE 2, so "split-t1" still finds it.
    for uri in (test_ldap, test_ldif):
        [milestone] = check(uri, "split-t1").milestones
        assert "published 1.9.5-23 in GLUE 1.3, 1.9.5-21 in GLUE 2" in milestone.message


def test_metrics_and_details(test_ldap: str) -> None:
    result = check(test_ldap, "SPLIT-T1")
    assert [(p.label, p.value) for p in result.perfdata] == [("dcache_ses", 1), ("dcache_ses_supported", 1)]
    assert "srm.split.example: GLUE 1.3 GlueSEImplementationVersion '1.9.5-23'" in result.details
    old = check(test_ldap, "OLD-T1")
    assert [(p.label, p.value) for p in old.perfdata] == [("dcache_ses", 1), ("dcache_ses_supported", 0)]


# --- the bundled example snapshot --------------------------------------------------

example_ldap = slapd_fixture(EXAMPLE)

EXAMPLE_EXPECTED = {
    "CERN-PROD": Compliance.NOT_APPLICABLE, "Taiwan-LCG2": Compliance.NOT_APPLICABLE,
    "RAL-LCG2": Compliance.NOT_APPLICABLE, "INFN-T1": Compliance.NOT_APPLICABLE,
    "BNL-ATLAS": Compliance.COMPLIANT, "FZK-LCG2": Compliance.COMPLIANT, "pic": Compliance.COMPLIANT,
    "NDGF-T1": Compliance.COMPLIANT, "SARA-MATRIX": Compliance.COMPLIANT,
    "IN2P3-CC": Compliance.OVERDUE, "USCMS-FNAL-WC1": Compliance.OVERDUE,
    "TRIUMF-LCG2": Compliance.UNKNOWN,
}


def test_example_snapshot_same_answers_from_slapd_and_dump(example_ldap: str) -> None:
    for site, expected in EXAMPLE_EXPECTED.items():
        live = check(example_ldap, site).milestones[0]
        dump = check(str(EXAMPLE), site).milestones[0]
        assert (live.compliance, live.message) == (dump.compliance, dump.message), site
        assert live.compliance is expected, (site, live.message)
    sara = check(str(EXAMPLE), "SARA-MATRIX").milestones[0].message
    assert "published 1.9.5-23 in GLUE 1.3, 1.9.5-22 in GLUE 2; judged on the older" in sara
    triumf = check(str(EXAMPLE), "TRIUMF-LCG2").milestones[0].message
    assert triumf.startswith("srm2.triumf.ca publishes no dCache version")
    assert "srm.triumf.ca runs dCache 1.9.5-21" in triumf


# --- the probe executable end to end --------------------------------------------------

def test_probe_against_slapd(test_ldap: str, tmp_path: Path) -> None:
    rules = write(tmp_path / "milestones.yaml", """
        milestones:
          - id: dcache-release
            title: accepted dCache release
            source: GDB test
            deadline: 2010-06-30
            scope: {tiers: [1]}
            check: dcache_version
            expect: {min: 1.9.5-0, supported: true}
            remediation: upgrade
        """)
    common = ["--milestones", str(rules), "--bdii", test_ldap, "--as-of", "2010-07-15", "-t", "10"]
    done = run_py(PROBE, *common, "--site", "GOOD-T1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        "DCACHE_VERSION OK - GOOD-T1: dcache-release COMPLIANT: srm.good.example runs dCache 1.9.5-22 "
        "(golden series 1.9.5, supported until 2012-05-07) | dcache_ses=1;;;0 dcache_ses_supported=1;;;0;1")
    done = run_py(PROBE, *common, "--se", "srm.denied.example", "--deny", "1.9.5-2?", "--format", "json")
    assert done.returncode == 2 and done.stderr == ""
    result = json.loads(done.stdout)
    assert result["host"] == "srm.denied.example" and result["state"] == "CRITICAL"
    assert result["milestones"][0]["message"] == \
        "srm.denied.example runs dCache 1.9.5-20, a denied release (matches '1.9.5-2?')"
    assert result["metrics"] == {"dcache_ses": 1, "dcache_ses_supported": 1}
    done = run_py(PROBE, *common, "--site", "MISSING-T1")
    assert done.returncode == 3
    assert done.stdout.startswith("DCACHE_VERSION UNKNOWN - dcache-release UNKNOWN: srm2.missing.example "
                                  "publishes no dCache version")


def test_dead_bdii_is_unknown_within_the_timeout() -> None:
    # A slapd that was stopped: its port refuses connections.
    with running_slapd(LDIF) as uri:
        pass
    started = time.monotonic()
    done = run_py(PROBE, "--bdii", uri, "--site", "GOOD-T1", "-t", "2")
    assert time.monotonic() - started < 2 + 2
    assert done.returncode == 3 and done.stderr == ""
    status, *rest = done.stdout.splitlines()
    assert status == (f"DCACHE_VERSION UNKNOWN - dcache-supported-release UNKNOWN: {uri}: connection "
                      f"refused by {uri[len('ldap://'):]} (no BDII listening there?)")
    assert not any("Traceback" in line for line in rest)


# --- single-valued attributes repeated with different values (dumps only: slapd refuses them) ---

def _repeat(record: str, attribute: str, value: str) -> str:
    """``record`` with a second ``attribute: value`` line after the first one."""
    lines = record.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{attribute}: "))
    return "\n".join(lines[:index + 1] + [f"{attribute}: {value}"] + lines[index + 1:])


DUPLICATES = [
    # The newer value first: taking the first value would pass the too-old SE.
    _repeat(glue1_se("DUP1-T1", "srm.dup1.example", "dCache", "1.9.5-22"),
            "GlueSEImplementationVersion", "1.9.4-3"),
    _repeat(dcache_provider_service("DUP2-T1", "srm.dup2.example",
                                    [("srm.dup2.example", "srm", "2.2", "1.9.5-22")]),
            "GLUE2EndpointImplementationVersion", "1.9.5-19"),
    _repeat(glue1_se("DUP3-T1", "srm.dup3.example", "dCache", "1.9.5-22"),
            "GlueSEImplementationName", "CASTOR"),
    _repeat(glue1_se("DUP4-T1", "srm.dup4.example", "dCache", "1.9.5-22"),
            "GlueSEUniqueID", "srm.other.example"),
    # The same value twice is harmless.
    _repeat(glue1_se("DUP5-T1", "srm.dup5.example", "dCache", "1.9.5-22"),
            "GlueSEImplementationVersion", "1.9.5-22"),
    # GLUE 2 managers and endpoints: versions judged on the older, names undecidable.
    _repeat(provider_storage("DUP6-T1", "srm.dup6.example", [("srm.dup6.example", "srm", "2.2", "1.9.5-22")],
                             "1.9.5-22"), "GLUE2ManagerProductVersion", "1.9.4-3"),
    _repeat(provider_storage("DUP7-T1", "srm.dup7.example", [("srm.dup7.example", "srm", "2.2", "1.9.5-22")],
                             "1.9.5-22"), "GLUE2ManagerProductName", "StoRM"),
    glue1_se("DUP8-T1", "srm.dup8.example", "dCache", "1.9.5-22"),
    _repeat(dcache_provider_service("DUP8-T1", "srm.dup8.example", [("srm.dup8.example", "srm", "2.2", "1.9.5-19")]),
            "GLUE2EndpointImplementationName", "xrootd"),
]

DUPLICATE_CASES = [
    ("DUP1-T1", Compliance.OVERDUE,
     "srm.dup1.example runs dCache 1.9.4-3 (published 1.9.5-22 in GLUE 1.3, 1.9.4-3 in GLUE 1.3; the "
     "GLUE 1.3 entry repeats the single-valued GlueSEImplementationVersion; judged on the older), older "
     "than the minimum 1.9.5-0; srm.dup1.example runs dCache 1.9.4-3: series 1.9.4 is out of support "
     "(older than 1.9.5, the first series in the dCache series table)"),
    ("srm.dup1.example", Compliance.OVERDUE,
     "srm.dup1.example runs dCache 1.9.4-3 (published 1.9.5-22 in GLUE 1.3, 1.9.4-3 in GLUE 1.3; the "
     "GLUE 1.3 entry repeats the single-valued GlueSEImplementationVersion; judged on the older), older "
     "than the minimum 1.9.5-0; srm.dup1.example runs dCache 1.9.4-3: series 1.9.4 is out of support "
     "(older than 1.9.5, the first series in the dCache series table)"),
    ("srm.dup2.example", Compliance.COMPLIANT,
     "srm.dup2.example runs dCache 1.9.5-19 (published 1.9.5-22 in GLUE 2, 1.9.5-19 in GLUE 2; GLUE 2 "
     "endpoint glue:srm.dup2.example/data/ep/srm.dup2.example/srm/2.2 repeats the single-valued "
     "GLUE2EndpointImplementationVersion; judged on the older) (golden series 1.9.5, supported until "
     "2012-05-07)"),
    ("DUP3-T1", Compliance.UNKNOWN,
     "{uri}: GlueSEUniqueID=srm.dup3.example,Mds-Vo-name=DUP3-T1,Mds-Vo-name=local,o=grid: single-valued "
     "attribute GlueSEImplementationName has 2 different values: 'dCache', 'CASTOR'"),
    ("DUP4-T1", Compliance.UNKNOWN,
     "{uri}: GlueSEUniqueID=srm.dup4.example,Mds-Vo-name=DUP4-T1,Mds-Vo-name=local,o=grid: single-valued "
     "attribute GlueSEUniqueID has 2 different values: 'srm.dup4.example', 'srm.other.example'"),
    ("DUP5-T1", Compliance.COMPLIANT,
     "srm.dup5.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    ("srm.dup6.example", Compliance.OVERDUE,
     "srm.dup6.example runs dCache 1.9.4-3 (published 1.9.5-22 in GLUE 2 and GLUE 2 manager, 1.9.4-3 in GLUE 2 "
     "manager; GLUE 2 manager glue:srm.dup6.example/data/m/dCache repeats the single-valued "
     "GLUE2ManagerProductVersion; judged on the older), older than the minimum 1.9.5-0; srm.dup6.example runs "
     "dCache 1.9.4-3: series 1.9.4 is out of support (older than 1.9.5, the first series in the dCache series "
     "table)"),
    ("srm.dup7.example", Compliance.UNKNOWN,
     "{uri}: GLUE2ManagerID=glue:srm.dup7.example/data/m/dCache,GLUE2ServiceID=glue:srm.dup7.example/data,"
     "GLUE2GroupID=resource,GLUE2DomainID=DUP7-T1,GLUE2GroupID=grid,o=glue: single-valued attribute "
     "GLUE2ManagerProductName has 2 different values: 'dCache', 'StoRM'"),
    # GLUE 1.3 says dCache, but the door's version cannot be told to be dCache's (was COMPLIANT on 1.9.5-22).
    ("DUP8-T1", Compliance.UNKNOWN,
     "{uri}: GLUE2EndpointID=glue:srm.dup8.example/data/ep/srm.dup8.example/srm/2.2,GLUE2ServiceID="
     "glue:srm.dup8.example/data,GLUE2GroupID=resource,GLUE2DomainID=DUP8-T1,GLUE2GroupID=grid,o=glue: "
     "single-valued attribute GLUE2EndpointImplementationName has 2 different values: 'dCache', 'xrootd'"),
]


@pytest.fixture(scope="module")
def duplicates_ldif(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write(tmp_path_factory.mktemp("dcache-dup") / "dup.ldif", "\n\n".join(DUPLICATES) + "\n"))


@pytest.mark.parametrize("target, compliance, message", DUPLICATE_CASES)
def test_repeated_single_valued_attributes_are_judged_on_every_value(
        duplicates_ldif: str, target: str, compliance: Compliance, message: str) -> None:
    [milestone] = check(duplicates_ldif, target).milestones
    assert (milestone.compliance, milestone.message) == (compliance, message.format(uri=duplicates_ldif))
