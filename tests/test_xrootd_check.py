"""The xrootd check's pure parts: options, expect validation, sweep requests and assessment."""

from __future__ import annotations

from typing import Any

import pytest

from gridready.checks.interface import Observation, Request
from gridready.checks.xrootd import CHECK, Live, XrootdFacts
from gridready.configfile import load_rules
from gridready.deadline import Deadline
from gridready.errors import CheckTimeout, UsageError
from gridready.models import Site
from gridready.xrootd import protocol as xp
from gridready.xrootd.client import ServerInfo
from gridready.xrootd.published import GLUE2, SRR, Door, Publication
from tests.helpers import REPO, run_py

PROBE = REPO / "probes" / "check_xrootd"
EXAMPLE_LDIF = REPO / "config" / "example" / "bdii.ldif"
DOOR = Door("xrd.example", 1094)


def info(pval: int = 0x290, flags: int = 1, version: str | None = None) -> ServerInfo:
    return ServerInfo(address=str(DOOR), peer="192.0.2.7:1094",
                      hello=xp.Hello(xp.HandshakeReply(pval, flags & 1), xp.ProtocolReply(pval, flags)),
                      handshake_ms=3.5, version=version)


def record(name: str, url: str = "root://xrd.example:1094", schema: str = GLUE2) -> Publication:
    return Publication(schema, "src", f"ep-{name}", "GLUE2EndpointInterfaceName", name, "GLUE2EndpointURL", url)


def assess(facts: XrootdFacts, expect: dict[str, Any] | None = None, **options: Any) -> tuple[bool, bool, str, str]:
    observation = Observation(target=str(facts.door or facts.site), data=facts)
    result = CHECK.assess(observation, expect or {"protocol": "xroot"}, Request(options=options, site=facts.site))
    # As the evaluator reads it: no failure but evidence missing is not a pass, and says why.
    if result.passed and result.unknown:
        return result.applicable, False, f"UNKNOWN: {result.unknown}", result.remediation
    return result.applicable, result.passed, result.message, result.remediation


def test_bundled_milestone_expect_is_valid() -> None:
    rules = load_rules(REPO / "config" / "milestones.yaml",
                       validate_expect=lambda name, expect: CHECK.validate_expect(expect) if name == "xrootd" else ())
    [milestone] = rules.for_check("xrootd")
    assert milestone.expect["protocol"] == "xroot"


@pytest.mark.parametrize("expect, problem", [
    ({"protocl": "xroot"}, "unknown key 'protocl'"),
    ({"protocol": ""}, "protocol: expected a protocol string"),
    ({"schemes": "root"}, "schemes: expected a list of URL schemes"),
    ({"schemes": ["root://"]}, "schemes: expected a list"),
    ({"min_protocol": 3.1}, 'min_protocol: expected a quoted version "X.Y.Z", got 3.1'),
    ({"min_protocol": "three"}, "min_protocol: bad protocol version 'three'"),
    ({"role": "redirector"}, "role: expected one of server, manager, any"),
    ({"require_published": "yes"}, "require_published: expected true or false"),
])
def test_validate_expect(expect: dict[str, Any], problem: str) -> None:
    problems = CHECK.validate_expect(expect)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_validate_expect_accepts_everything_documented() -> None:
    assert CHECK.validate_expect({"protocol": "xroot", "schemes": ["root", "xroot"], "min_protocol": "2.9.0",
                                  "role": "server", "require_published": False}) == []


def test_requests_for_site() -> None:
    site = Site(name="FZK-LCG2", tier=1, bdii="ldap://bdii:2170", srr="https://srr/x",
                xrootd=("xrd1.example:1094", "root://xrd2.example:1095", "xrd3.example"))
    assert CHECK.requests_for_site(site) == [
        {"host": "xrd1.example", "port": 1094, "bdii": "ldap://bdii:2170", "srr": "https://srr/x"},
        {"host": "xrd2.example", "port": 1095, "bdii": "ldap://bdii:2170", "srr": "https://srr/x"},
        {"host": "xrd3.example", "port": 1094, "bdii": "ldap://bdii:2170", "srr": "https://srr/x"}]
    published_only = Site(name="pic", tier=1, bdii="dump.ldif")
    assert CHECK.requests_for_site(published_only) == [{"host": None, "port": None, "bdii": "dump.ldif", "srr": None}]
    assert CHECK.requests_for_site(Site(name="x", tier=1)) == []


@pytest.mark.parametrize("options, site, why", [
    ({}, None, "give -H HOST (the xrootd door), or --site with --bdii/--srr"),
    ({"bdii": "dump.ldif"}, None, "give -H HOST"),
    ({"port": 1094}, "pic", "-p/--port needs -H/--host"),
    ({"host": "https://xrd.example"}, None, "-H: 'https://xrd.example': not an xrootd URL"),
    ({"host": "root://xrd.example:1095", "port": 1094}, None, "names port 1095 but -p says 1094"),
])
def test_option_combinations_that_do_not_fit(options: dict[str, Any], site: str | None, why: str) -> None:
    with pytest.raises(UsageError, match=why.replace("(", r"\(").replace(")", r"\)")):
        CHECK.collect(Request(options=options, site=site), Deadline(5))


def test_usage_error_exits_3_on_the_command_line() -> None:
    done = run_py(PROBE, "-H", "root://xrd.example:1095", "-p", "1094")
    assert (done.returncode, done.stdout) == (3, "XROOTD UNKNOWN - bad arguments: -H root://xrd.example:1095 "
                                                 "names port 1095 but -p says 1094\n")
    done = run_py(PROBE, "-H", "x", "--min-protocol", "five")
    assert done.returncode == 3 and "bad protocol version 'five'" in done.stdout
    done = run_py(PROBE, "-H", "x", "-p", "0")
    assert done.returncode == 3 and "bad port '0'" in done.stdout


def test_live_only_is_unknown_for_published_strings() -> None:
    # Was COMPLIANT: a milestone about published strings passed on a handshake alone.
    facts = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info(0x511, 0x00300001, "v5.5.3")))
    assert assess(facts) == (True, False, "UNKNOWN: published strings not checked: give --bdii or --srr", "")
    for expect in ({"schemes": ["root"]}, {"require_published": False}, {}, {"protocol": "xroot", "role": "any"}):
        assert assess(facts, expect)[2] == "UNKNOWN: published strings not checked: give --bdii or --srr", expect
    # A milestone only about the live door is judged on the handshake.
    applicable, passed, message, _ = assess(facts, {"min_protocol": "5.0.0"})
    assert (applicable, passed) == (True, True)
    assert message == ("xrootd protocol 5.1.1, role server (data server), version v5.5.3; "
                       "published strings not checked (no --bdii/--srr)")


def test_peer_that_is_not_xrootd_fails() -> None:
    facts = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, failure="xrd.example:1094 does not speak xrootd: "
                                                                       "reply header has unknown status 21584"))
    _, passed, message, remediation = assess(facts)
    assert not passed
    assert message == "xrd.example:1094 does not speak xrootd: reply header has unknown status 21584"
    assert remediation.startswith("make the xrootd service on xrd.example:1094 accept xrootd clients")


def test_unreachable_door_is_unknown_unless_something_failed() -> None:
    # Was a failing finding (PENDING/OVERDUE): nothing answered, so nothing is known.
    refused = Live(DOOR, failure="cannot connect to xrd.example:1094: connection refused", unreachable=True)
    facts = XrootdFacts(door=DOOR, site=None, live=refused, sources=("bdii.ldif",), described=("bdii.ldif",),
                        publications=(record("xroot"),))
    assert assess(facts) == (True, False, "UNKNOWN: cannot connect to xrd.example:1094: connection refused", "")
    bad = XrootdFacts(door=DOOR, site=None, live=refused, sources=("bdii.ldif",), described=("bdii.ldif",),
                      publications=(record("root"),))
    _, passed, message, _ = assess(bad)
    assert not passed and message == "GLUE 2 ep-root publishes GLUE2EndpointInterfaceName 'root', not 'xroot'"
    unresolved = Live(DOOR, failure="cannot resolve host xrd.example: name not known", unreachable=True)
    assert assess(XrootdFacts(door=DOOR, site=None, live=unresolved), {"min_protocol": "2.0.0"})[1:3] == (
        False, "UNKNOWN: cannot resolve host xrd.example: name not known")


@pytest.mark.parametrize("expect", [{"min_protocol": "2.0.0"}, {"role": "any"}, {"role": "manager"},
                                    {"tls": "offered"}])
def test_published_records_do_not_decide_a_door_only_milestone(expect: dict[str, Any]) -> None:
    # Was a failure: a milestone about the live door failed on the published protocol string.
    bad = (record("root"), record("xroot", "https://xrd.example:1094"))
    tls = 0x80000000 | 0x02000000 if "tls" in expect else 0
    door = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info(0x290, tls)), sources=("bdii.ldif",),
                       described=("bdii.ldif",), publications=bad)
    applicable, passed, message, _ = assess(door, expect)
    assert (applicable, passed) == (True, True), message
    assert "publishes" not in message and "published strings not judged" in message
    # Not published at all, or the source failed: the door milestone is judged all the same.
    unpublished = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info(0x290, tls)), sources=("s.json",),
                              described=("s.json",))
    assert assess(unpublished, expect)[:2] == (True, True)
    failed = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info(0x290, tls)), sources=("s.json",),
                         source_problem="s.json: not JSON")
    assert assess(failed, expect)[:2] == (True, True)
    # Published-only mode: no handshake, so UNKNOWN whatever the records say.
    site_only = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif",), described=("bdii.ldif",),
                            publications=bad)
    applicable, passed, message, _ = assess(site_only, expect)
    assert (applicable, passed) == (True, False)
    assert message.startswith("UNKNOWN: no xrootd handshake (published strings only): ")
    # A site with no xrootd record is NOT_APPLICABLE only for the string milestone.
    none = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif",), described=("bdii.ldif",))
    assert assess(none, expect)[:2] == (True, False)
    assert assess(none, {"protocol": "xroot"})[0] is False


def test_role_and_min_protocol_from_expect_and_options() -> None:
    facts = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info(0x290, 0)))
    assert assess(facts, {"role": "any"})[1]
    assert assess(facts, {"role": "manager", "min_protocol": "2.9.0"})[1]
    _, passed, message, _ = assess(facts, {"role": "server"})
    assert not passed and message == "xrd.example:1094 is a redirector, not a server"
    _, passed, message, _ = assess(facts, {"min_protocol": "3.0.0"})
    assert not passed and message == "xrd.example:1094 speaks xrootd protocol 2.9.0, older than 3.0.0"
    # Command-line options override the milestone.
    assert assess(facts, {"min_protocol": "3.0.0"}, min_protocol="2.8.0")[1]
    assert not assess(facts, {"role": "manager"}, role="server")[1]


def test_published_records_are_judged_one_by_one() -> None:
    records = (record("xroot"), record("root"), record("xrootd", "xrootd://xrd.example:1094", SRR))
    facts = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info()), sources=("src",),
                        publications=records, described=("src",))
    _, passed, message, remediation = assess(facts)
    assert not passed
    assert message == ("GLUE 2 ep-root publishes GLUE2EndpointInterfaceName 'root', not 'xroot'; "
                       "SRR ep-xrootd publishes GLUE2EndpointInterfaceName 'xrootd', not 'xroot'; "
                       "SRR ep-xrootd GLUE2EndpointURL 'xrootd://xrd.example:1094' is not a root:// or xroot:// URL")
    assert "publish GLUE2EndpointInterfaceName: xroot for ep-root" in remediation
    good = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info()), sources=("src",),
                       publications=(record("xroot"),), described=("src",))
    assert assess(good)[1:3] == (True, "xrootd protocol 2.9.0, role server (data server); "
                                       "published as 'xroot' in GLUE 2 (1 record)")


def test_door_missing_from_the_sources() -> None:
    facts = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info()), sources=("bdii.ldif",),
                        described=("bdii.ldif",))
    _, passed, message, remediation = assess(facts)
    assert not passed and message == "xrd.example:1094 is not published as an xrootd access protocol in bdii.ldif"
    assert "with the protocol string 'xroot' and a root://xrd.example:1094 endpoint" in remediation
    assert assess(facts, {"require_published": False})[1]
    # A source that describes no storage at all (empty dump, SRR without endpoints) proves nothing.
    blank = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info()), sources=("empty.ldif",))
    expected = "UNKNOWN: empty.ldif describes no storage of xrd.example:1094: cannot tell how xrootd is published"
    assert assess(blank)[1:3] == (False, expected)
    assert assess(blank, {"require_published": False})[1:3] == (False, expected)


def test_offline_site_mode() -> None:
    nothing = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif",), described=("bdii.ldif",))
    assert assess(nothing)[:3] == (False, True, "pic publishes no xrootd access in bdii.ldif")
    # The site is not in the source at all: that is not "publishes no xrootd".
    unknown_site = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif", "srr.json"))
    assert assess(unknown_site)[:3] == (
        True, False, "UNKNOWN: bdii.ldif, srr.json describe no storage of pic: cannot tell how xrootd is published")
    some = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif",), publications=(record("root"),))
    assert assess(some)[:2] == (True, False)


def test_offline_collect_reads_only_the_sources(tmp_path: Any) -> None:
    srr = tmp_path / "srr.json"
    srr.write_text('{"storageservice": {"storageendpoints": [{"name": "e", "interfacetype": "root", '
                   '"endpointurl": "root://127.0.0.1:9"}]}}', encoding="utf-8")
    observation = CHECK.collect(Request(options={"srr": str(srr)}, site="pic"), Deadline(5))
    facts: XrootdFacts = observation.data
    assert facts.live is None and observation.metrics == []
    assert observation.target == "pic (published)"
    assert [p.name for p in facts.publications] == ["root"]


def test_published_only_mode_cannot_judge_the_live_door() -> None:
    # Was COMPLIANT: min_protocol and role need a handshake, and there is none without -H.
    facts = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif",), described=("bdii.ldif",),
                        publications=(record("xroot"),))
    assert assess(facts)[:2] == (True, True)
    assert assess(facts, {"protocol": "xroot", "min_protocol": "3.0.0"})[1:3] == (
        False, "UNKNOWN: no xrootd handshake (published strings only): min_protocol 3.0.0 needs -H HOST")
    assert assess(facts, {"role": "server"})[1:3] == (
        False, "UNKNOWN: no xrootd handshake (published strings only): role server needs -H HOST")
    assert assess(facts, {}, min_protocol="2.9.0", role="manager")[2] == (
        "UNKNOWN: no xrootd handshake (published strings only): min_protocol 2.9.0 and role manager needs -H HOST")
    # A published failure is still a failure.
    bad = XrootdFacts(door=None, site="pic", live=None, sources=("bdii.ldif",), described=("bdii.ldif",),
                      publications=(record("root"),))
    assert assess(bad, {"min_protocol": "3.0.0", "protocol": "xroot"})[1:3] == (
        False, "GLUE 2 ep-root publishes GLUE2EndpointInterfaceName 'root', not 'xroot'")


def without_handshake(flags: int, config_role: str | None = None) -> ServerInfo:
    return ServerInfo(address=str(DOOR), peer="192.0.2.7:1094",
                      hello=xp.Hello(None, xp.ProtocolReply(0x511, flags)), handshake_ms=1.0,
                      config_role=config_role)


def test_role_is_judged_only_when_the_door_states_it() -> None:
    # No role flag and no handshake reply: "redirector" would be read from an absent bit.
    silent = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=without_handshake(0x80)))
    assert assess(silent, {"role": "any"})[1]
    assert assess(silent, {"role": "manager"})[1:3] == (
        False, "UNKNOWN: xrd.example:1094 does not state its role (no role flag in the kXR_protocol reply, "
               "no handshake reply, Qconfig role not answered): role manager not checked")
    # Qconfig answered: that is the role.
    told = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=without_handshake(0x80, "server")))
    assert assess(told, {"role": "server"})[1]
    assert assess(told, {"role": "manager"})[1:3] == (False, "xrd.example:1094 is a server, not a manager")
    # The handshake's server type states it (2010 servers: 0 = load balancer).
    assert assess(XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info(0x290, 0))), {"role": "manager"})[1]


def test_many_failing_records_are_counted_not_listed() -> None:
    records = tuple(Publication(GLUE2, "src", f"ep-{i}", "GLUE2EndpointInterfaceName", "root",
                                "GLUE2EndpointURL", "root://xrd.example:1094") for i in range(25))
    facts = XrootdFacts(door=None, site="pic", live=None, sources=("src",), described=("src",), publications=records)
    _, passed, message, remediation = assess(facts)
    assert not passed
    assert message.count("publishes GLUE2EndpointInterfaceName 'root'") == 20
    assert message.endswith("; ... and 5 more failing published records (-v lists the records)")
    assert remediation.startswith("publish GLUE2EndpointInterfaceName: xroot for ep-0")


def test_source_failure_leaves_a_live_only_milestone_judged() -> None:
    facts = XrootdFacts(door=DOOR, site=None, live=Live(DOOR, info=info()), sources=("ldap://bdii:2170",),
                        source_problem="ldap://bdii:2170: connection refused")
    assert assess(facts, {"role": "any"})[1]
    assert assess(facts)[1:3] == (False, "UNKNOWN: published strings not read: ldap://bdii:2170: connection refused")


def test_srr_without_endpoints_is_no_evidence(tmp_path: Any) -> None:
    srr = tmp_path / "srr.json"
    for body in ('{"storageservice": {"name": "se"}}', '{"storageservice": {"storageendpoints": []}}'):
        srr.write_text(body, encoding="utf-8")
        observation = CHECK.collect(Request(options={"srr": str(srr)}, site="pic"), Deadline(5))
        assert assess(observation.data)[:3] == (
            True, False, f"UNKNOWN: {srr} describes no storage of pic: cannot tell how xrootd is published")
    srr.write_text('{"storageservice": {"storageendpoints": [{"name": "g", "interfacetype": "gsiftp", '
                   '"endpointurl": "gsiftp://se:2811"}]}}', encoding="utf-8")
    observation = CHECK.collect(Request(options={"srr": str(srr)}, site="pic"), Deadline(5))
    assert assess(observation.data)[:3] == (False, True, f"pic publishes no xrootd access in {srr}")


@pytest.mark.parametrize("expect, outcome, message, why", [
    ({"protocol": "xroot"}, "pass", "xrootd protocol 5.1.1, role server (data server); published strings not "
     "checked (no --bdii/--srr)", "published strings not checked: give --bdii or --srr"),
    ({"role": "any"}, "pass", "xrootd protocol 5.1.1, role server (data server); published strings not "
     "checked (no --bdii/--srr)", None),
    ({"protocol": "xroot", "role": "server"}, "pass", "published as 'xroot' in SRR (1 record)",
     "no xrootd handshake (published strings only): role server needs -H HOST"),
    ({"protocol": "xroot"}, "pass", "published as 'xroot' in SRR (1 record)", None),
    ({"protocol": "xroot"}, "fail", "cannot connect to h:1094: connection refused",
     "cannot connect to h:1094: connection refused"),
    ({"protocol": "xroot"}, "fail", "host h has no IPv4 or IPv6 address", "host h has no IPv4 or IPv6 address"),
    ({"protocol": "xroot"}, "fail", "cannot connect to h:1094: connection refused; SRR e publishes interfacetype "
     "'root', not 'xroot'", None),
    ({"protocol": "xroot"}, "fail", "h:1094 does not speak xrootd: garbage", None),
    # A door-only milestone passed in published-only mode (no handshake).
    ({"role": "any"}, "pass", "published as 'xroot' in SRR (1 record)",
     "no xrootd handshake (published strings only): a milestone about the live door needs -H HOST"),
    ({"min_protocol": "4.0.0"}, "pass", "xrootd protocol 5.1.1, role server (data server)", None),
    # A door that closed before a byte of reply (as xrd.allow does) was stored as a failure.
    ({"protocol": "xroot"}, "fail", "h:1094 closed the connection while we read the handshake reply header",
     "h:1094 closed the connection while we read the handshake reply header: nothing was answered (the door "
     "may not admit this host)"),
    ({"role": "any"}, "fail", "h:1094 dropped the connection while we read the handshake reply header "
     "(connection reset by peer)", "h:1094 dropped the connection while we read the handshake reply header "
     "(connection reset by peer): nothing was answered (the door may not admit this host)"),
    # Some bytes came back first: it answered, but not as xrootd; the failure stands.
    ({"protocol": "xroot"}, "fail", "h:1094 closed the connection while we read the handshake reply header "
     "after 7 of 8 bytes", None),
    ({"protocol": "xroot"}, "fail", "h:1094 closed the connection while we read the kXR_protocol reply header",
     None),
])
def test_unproven_stored_results(expect: dict[str, Any], outcome: str, message: str, why: str | None) -> None:
    assert CHECK.unproven(expect, outcome, message) == why


class ExpiresDuring(Deadline):
    """A deadline that runs out as soon as a stage starting with ``prefix`` asks for time."""

    def __init__(self, prefix: str) -> None:
        super().__init__(30)
        self.prefix = prefix

    def remaining(self) -> float:
        if self.stage.startswith(self.prefix):
            raise self.timeout()
        return super().remaining()


@pytest.mark.parametrize("prefix", ["reading SRR", "selecting xrootd records for pic in SRR"])
def test_timeout_while_reading_or_matching_names_the_stage(tmp_path: Any, prefix: str) -> None:
    # Matching used to run outside any stage: its timeout said "while starting".
    srr = tmp_path / "srr.json"
    srr.write_text('{"storageservice": {"storageendpoints": []}}', encoding="utf-8")
    with pytest.raises(CheckTimeout) as caught:
        CHECK.collect(Request(options={"srr": str(srr)}, site="pic"), ExpiresDuring(prefix))
    assert caught.value.stage.startswith(prefix) and str(srr) in caught.value.stage


def test_timeout_while_matching_bdii_records_names_the_stage() -> None:
    with pytest.raises(CheckTimeout, match=f"while selecting xrootd records for pic in {EXAMPLE_LDIF}"):
        CHECK.collect(Request(options={"bdii": str(EXAMPLE_LDIF)}, site="pic"), ExpiresDuring("selecting"))
