"""The published protocol string: doors, record selection, GLUE/SRR reading and the rule."""

from __future__ import annotations

import pytest

from gridready.checks.interface import Severity
from gridready.errors import SourceError
from gridready.sources.bdii import LdifBdii
from gridready.sources.ldif import parse_ldif
from gridready.xrootd import published as pub
from gridready.xrootd.published import Door, Publication

LDIF = """
dn: GlueSEUniqueID=se.a.example,Mds-Vo-name=SITE-A,Mds-Vo-name=local,o=grid
objectClass: GlueSE
GlueSEUniqueID: se.a.example
GlueForeignKey: GlueSiteUniqueID=SITE-A

dn: GlueSEAccessProtocolLocalID=xrootd,GlueSEUniqueID=se.a.example,Mds-Vo-name=SITE-A,Mds-Vo-name=local,o=grid
objectClass: GlueSEAccessProtocol
GlueSEAccessProtocolLocalID: xrootd
GlueSEAccessProtocolType: root
GlueSEAccessProtocolEndpoint: root://xrd.a.example:1094
GlueChunkKey: GlueSEUniqueID=se.a.example

dn: GlueSEAccessProtocolLocalID=gsiftp,GlueSEUniqueID=se.a.example,Mds-Vo-name=SITE-A,Mds-Vo-name=local,o=grid
objectClass: GlueSEAccessProtocol
GlueSEAccessProtocolLocalID: gsiftp
GlueSEAccessProtocolType: gsiftp
GlueSEAccessProtocolEndpoint: gsiftp://se.a.example:2811
GlueChunkKey: GlueSEUniqueID=se.a.example

dn: GlueSEUniqueID=se.b.example,mds-vo-name=SITE-B,mds-vo-name=local,o=grid
objectClass: GlueSE
GlueSEUniqueID: se.b.example
GlueForeignKey: GlueSiteUniqueID=SITE-B

dn: GlueSEAccessProtocolLocalID=xroot,GlueSEUniqueID=se.b.example,mds-vo-name=SITE-B,mds-vo-name=local,o=grid
objectClass: GlueSEAccessProtocol
GlueSEAccessProtocolLocalID: xroot
GlueSEAccessProtocolType: xroot

dn: GLUE2ServiceID=se.a.example,GLUE2GroupID=resource,GLUE2DomainID=SITE-A,GLUE2GroupID=grid,o=glue
objectClass: GLUE2Service
GLUE2ServiceID: se.a.example
GLUE2ServiceAdminDomainForeignKey: SITE-A

dn: GLUE2EndpointID=se.a.example/xrootd,GLUE2ServiceID=se.a.example,GLUE2GroupID=resource,GLUE2DomainID=SITE-A,GLUE2GroupID=grid,o=glue
objectClass: GLUE2Endpoint
GLUE2EndpointID: se.a.example/xrootd
GLUE2EndpointURL: xrootd://xrd.a.example:1095
GLUE2EndpointInterfaceName: xroot
GLUE2EndpointServiceForeignKey: se.a.example
"""


@pytest.fixture()
def bdii() -> LdifBdii:
    return LdifBdii("test.ldif", parse_ldif(LDIF, "test.ldif"))


@pytest.mark.parametrize("text, door", [
    ("xrd.example", Door("xrd.example", 1094)),
    ("xrd.example:1095", Door("xrd.example", 1095)),
    ("root://xrd.example", Door("xrd.example", 1094)),
    ("xroots://xrd.example:1096//data", Door("xrd.example", 1096)),
    ("[2001:db8::1]:1097", Door("2001:db8::1", 1097)),
    ("2001:db8::1", Door("2001:db8::1", 1094)),
])
def test_parse_door(text: str, door: Door) -> None:
    assert pub.parse_door(text) == door


@pytest.mark.parametrize("text, why", [
    ("", "empty host"), ("https://xrd.example", "not an xrootd URL"), ("host:99999", "bad port"),
    ("root://:1094", "no host"), ("a b", "not a host name"), ("[::1", "bad bracketed"),
])
def test_parse_door_rejects(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        pub.parse_door(text)


def test_str_of_door() -> None:
    assert str(Door("2001:db8::1", 1094)) == "[2001:db8::1]:1094"
    assert Door("XRD.example", 1094).same(Door("xrd.EXAMPLE", 1094))


def test_glue13_for_a_site_follows_foreign_and_chunk_keys(bdii: LdifBdii) -> None:
    records = pub.read_glue13(bdii, "test.ldif", site="SITE-A")
    assert [(r.owner, r.name, r.url) for r in records] == [
        ("se.a.example/xrootd", "root", "root://xrd.a.example:1094"),
        ("se.a.example/gsiftp", "gsiftp", "gsiftp://se.a.example:2811")]
    chosen = pub.select(records, None)
    assert [r.owner for r in chosen] == ["se.a.example/xrootd"]
    # A record without chunk key or endpoint belongs to the SE named in its DN.
    everything = pub.read_glue13(bdii, "test.ldif", site=None)
    [b] = pub.select(everything, Door("se.b.example"))
    assert (b.se, b.url) == ("se.b.example", None)


def test_glue2_for_a_site_follows_service_keys(bdii: LdifBdii) -> None:
    [record] = pub.read_glue2(bdii, "test.ldif", site="SITE-A")
    assert (record.schema, record.name, record.url) == ("GLUE 2", "xroot", "xrootd://xrd.a.example:1095")
    assert pub.read_glue2(bdii, "test.ldif", site="SITE-B") == []
    assert pub.select([record], Door("xrd.a.example", 1095)) == [record]
    assert pub.select([record], Door("xrd.a.example", 1094)) == []


@pytest.mark.parametrize("name, url, xrootd", [
    ("xroot", None, True), ("ROOT", None, True), ("xrootd", "x://y", True), ("gsiftp", "gsiftp://h", False),
    (None, "root://h:1094", True), ("file", "xroots://h", True), (None, None, False),
])
def test_is_xrootd(name: str | None, url: str | None, xrootd: bool) -> None:
    assert pub.is_xrootd(name, url) is xrootd


def record(name: str | None, url: str | None, schema: str = pub.GLUE13) -> Publication:
    return Publication(schema, "src", "se/xrootd", "GlueSEAccessProtocolType", name,
                       "GlueSEAccessProtocolEndpoint", url)


def test_judge_canonical_string_and_scheme() -> None:
    assert [f.ok for f in pub.judge(record("xroot", "root://h:1094"))] == [True]
    assert [f.ok for f in pub.judge(record("xroot", "XROOT://h:1094"))] == [True]


@pytest.mark.parametrize("name", ["root", "xrootd", "Xroot", "XROOT"])
def test_judge_aliases_fail_naming_the_canonical_string(name: str) -> None:
    [finding] = pub.judge(record(name, "root://h:1094"))
    assert not finding.ok and finding.severity is Severity.CRITICAL
    assert finding.message == f"GLUE 1.3 se/xrootd publishes GlueSEAccessProtocolType '{name}', not 'xroot'"
    assert finding.remediation.startswith("publish GlueSEAccessProtocolType: xroot for se/xrootd")
    assert f"instead of '{name}'" in finding.remediation


def test_judge_bad_or_missing_endpoint() -> None:
    ok, bad = pub.judge(record("xroot", "xrootd://h:1094"))
    assert ok.ok and not bad.ok
    assert bad.message == ("GLUE 1.3 se/xrootd GlueSEAccessProtocolEndpoint 'xrootd://h:1094' "
                           "is not a root:// or xroot:// URL")
    _, missing = pub.judge(record("xroot", None))
    assert (missing.ok, missing.severity) == (False, Severity.WARNING)
    [unnamed, _] = pub.judge(record(None, "h:1094"))
    assert unnamed.message.endswith("publishes GlueSEAccessProtocolType nothing, not 'xroot'")
    # Another policy: the milestone's expect decides.
    assert all(f.ok for f in pub.judge(record("xrootd", "roots://h"), "xrootd", ("roots",)))


def test_read_srr() -> None:
    document = {"storageservice": {"storageendpoints": [
        {"name": "x", "interfacetype": "xrootd", "endpointurl": "root://h:1094"},
        {"interfacetype": "gsiftp", "endpointurl": "gsiftp://h"},
        {"name": "y", "interfacetype": ["odd"], "endpointurl": 7}]}}
    records = pub.read_srr(document, "srr.json")
    assert [(r.owner, r.name, r.url) for r in records] == [
        ("x", "xrootd", "root://h:1094"), ("storageendpoints[1]", "gsiftp", "gsiftp://h"), ("y", None, "7")]
    assert [r.owner for r in pub.select(records, Door("h"))] == ["x"]


@pytest.mark.parametrize("document, why", [
    ([], "not an SRR document"), ({"storageservice": []}, "not an SRR document"),
    ({"storageservice": {"storageendpoints": {}}}, "is not a list"),
    ({"storageservice": {"storageendpoints": ["x"]}}, r"storageendpoints\[0\] is not an object"),
])
def test_read_srr_rejects_malformed(document: object, why: str) -> None:
    with pytest.raises(SourceError, match=f"srr.json: .*{why}"):
        pub.read_srr(document, "srr.json")


def test_described_says_whether_the_source_knows_the_site(bdii: LdifBdii) -> None:
    assert pub.glue13_for(bdii, "test.ldif", site="SITE-A")[1] is True
    assert pub.glue2_for(bdii, "test.ldif", site="SITE-A")[1] is True
    # SITE-B has an SE (GLUE 1.3) but no GLUE 2 service; NOSUCH is in neither.
    assert pub.glue2_for(bdii, "test.ldif", site="SITE-B") == ([], False)
    assert pub.glue13_for(bdii, "test.ldif", site="NOSUCH") == ([], False)
    assert pub.glue2_for(bdii, "test.ldif", site="NOSUCH") == ([], False)
    empty = LdifBdii("empty.ldif", [])
    assert pub.glue13_for(empty, "empty.ldif", site=None) == ([], False)


def test_many_ses_are_matched_in_one_pass() -> None:
    # Beyond PER_PARENT_QUERIES SEs the access protocols are read once and matched by set.
    count = pub.PER_PARENT_QUERIES * 3
    parts = []
    for i in range(count):
        base = f"GlueSEUniqueID=se{i}.example,Mds-Vo-name=BIG,Mds-Vo-name=local,o=grid"
        parts.append(f"dn: {base}\nobjectClass: GlueSE\nGlueSEUniqueID: se{i}.example\n"
                     "GlueForeignKey: GlueSiteUniqueID=BIG\n")
        parts.append(f"dn: GlueSEAccessProtocolLocalID=x,{base}\nobjectClass: GlueSEAccessProtocol\n"
                     f"GlueSEAccessProtocolType: xroot\nGlueSEAccessProtocolEndpoint: root://se{i}.example\n"
                     f"GlueChunkKey: GlueSEUniqueID=SE{i}.EXAMPLE\n")
    other = "GlueSEUniqueID=other.example,Mds-Vo-name=OTHER,Mds-Vo-name=local,o=grid"
    parts.append(f"dn: GlueSEAccessProtocolLocalID=x,{other}\nobjectClass: GlueSEAccessProtocol\n"
                 "GlueSEAccessProtocolType: root\nGlueChunkKey: GlueSEUniqueID=other.example\n")
    big = LdifBdii("big.ldif", parse_ldif("\n".join(parts), "big.ldif"))
    finds: list[str] = []
    original = big.find

    def counting(object_class: str, *args: object, **kwargs: object) -> list[object]:
        finds.append(object_class)
        return original(object_class, *args, **kwargs)  # type: ignore[arg-type]

    big.find = counting  # type: ignore[method-assign,assignment]
    records, described = pub.glue13_for(big, "big.ldif", site="BIG")
    assert described and len(records) == count and {r.name for r in records} == {"xroot"}
    assert finds == ["GlueSE", "GlueSEAccessProtocol"]


def test_select_drops_duplicates_keeping_order() -> None:
    a, b = record("xroot", "root://a:1094"), record("root", "root://b:1094")
    assert pub.select([a, b, a, b, a], None) == [a, b]
    many = [record("xroot", f"root://d{i % 500}.example:1094") for i in range(20_000)]
    assert len(pub.select(many, None)) == 500
    assert pub.select(many, Door("d7.example")) == [many[7]]


def test_srr_without_an_endpoint_list_reads_as_no_records() -> None:
    # The check treats "no records" from such a document as no evidence (see test_xrootd_check).
    assert pub.read_srr({"storageservice": {"name": "se"}}, "srr.json") == []


@pytest.mark.parametrize("door, url, se", [
    ("xrd.a.example.", "root://XRD.a.example:1094", None),
    ("XRD.a.example", "xroot://xrd.a.example.", None),
    ("se.a.example.", None, "SE.a.example"),
])
def test_door_matches_published_host_despite_case_and_trailing_dot(door: str, url: str | None,
                                                                   se: str | None) -> None:
    record = Publication(pub.GLUE13, "f", "o", "GlueSEAccessProtocolType", "xroot",
                         "GlueSEAccessProtocolEndpoint", url, se)
    assert pub.serves(record, pub.parse_door(door))
    # A URL names the port too; a record without one is tied to its SE host only.
    assert pub.serves(record, pub.parse_door(door.rstrip(".") + ":1095")) is (url is None)
