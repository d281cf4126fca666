"""Pure parts of check_dcache_version: expect validation, assessment rules, sweep requests."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from gridready.checks.dcache_version import CHECK, DcacheData
from gridready.checks.interface import Assessment, Observation, Request, Severity
from gridready.compliance import Compliance, evaluate
from gridready.dcache.observed import DcacheObservation, StorageElement, storage_element
from gridready.dcache.rules import assess, rules_from
from gridready.dcache.series import bundled_table
from gridready.models import Milestone, Scope, Site, Storage

JUNE_2010 = date(2010, 6, 8)
TABLE = bundled_table()


def se(name: str, *versions: str, implementation: str = "dCache") -> StorageElement:
    sources = ["GLUE 1.3", "GLUE 2", "SRR"]
    return storage_element(name, implementation, list(zip(sources, versions)), f"{name}: none")


def judge(expect: dict[str, Any], *elements: StorageElement, as_of: date = JUNE_2010,
          cli_min: str | None = None, cli_deny: tuple[str, ...] = ()) -> Assessment:
    seen = DcacheObservation("ldap://bdii.example:2170", tuple(elements))
    return assess(seen, rules_from(expect, cli_min, cli_deny), TABLE, as_of)


MILESTONE = {"min": "1.9.5-0", "supported": True}


def test_compliant_golden_release() -> None:
    result = judge(MILESTONE, se("srm.example", "1.9.5-19 (ns=Chimera)"))
    assert result.passed and result.applicable
    assert result.message == ("srm.example runs dCache 1.9.5-19 "
                              "(golden series 1.9.5, supported until 2012-05-07)")


def test_feature_series_within_support_passes_unless_golden_required() -> None:
    ndgf = se("srm.ndgf.org", "1.9.7-3")
    assert judge(MILESTONE, ndgf).message == ("srm.ndgf.org runs dCache 1.9.7-3 "
                                              "(feature series 1.9.7, supported until 2012-05-07)")
    strict = judge({"golden": True}, ndgf)
    assert not strict.passed
    assert strict.message == ("srm.ndgf.org runs dCache 1.9.7-3, feature series 1.9.7; "
                              "a golden series is required")
    assert "golden series supported on 2010-06-08: 1.9.5" in strict.remediation


def test_too_old_fails_min_and_support_as_separate_findings() -> None:
    result = judge(MILESTONE, se("ccsrm.in2p3.fr", "1.9.4-3"))
    assert [f.message for f in result.failures] == [
        "ccsrm.in2p3.fr runs dCache 1.9.4-3, older than the minimum 1.9.5-0",
        "ccsrm.in2p3.fr runs dCache 1.9.4-3: series 1.9.4 is out of support "
        "(older than 1.9.5, the first series in the dCache series table)"]
    assert result.severity is Severity.CRITICAL
    assert "upgrade ccsrm.in2p3.fr to dCache 1.9.5-0 or later" in result.remediation


def test_past_end_of_support_is_its_own_finding() -> None:
    bnl = se("dcsrm.usatlas.bnl.gov", "1.9.5-19")
    assert judge(MILESTONE, bnl, as_of=date(2012, 5, 7)).passed
    later = judge(MILESTONE, bnl, as_of=date(2012, 5, 8))
    assert [f.message for f in later.failures] == [
        "dcsrm.usatlas.bnl.gov runs dCache 1.9.5-19: golden series 1.9.5 is past its end of "
        "support (2012-05-07)"]
    assert "(golden series supported on 2012-05-08: 1.9.12, 2.2)" in later.remediation
    # Without supported: true the date does not matter.
    assert judge({"min": "1.9.5-0"}, bnl, as_of=date(2020, 1, 1)).passed


def test_newer_series_passes_min_and_undecidable_series_is_unknown() -> None:
    # Was a WARNING failure: support that cannot be decided is UNKNOWN with the reason.
    assert judge(MILESTONE, se("dcache.example", "10.2.0"), as_of=date(2025, 1, 1)).passed
    unlisted = judge(MILESTONE, se("dcache.example", "40.0.1"), as_of=date(2025, 1, 1))
    assert unlisted.passed and unlisted.failures == ()
    assert unlisted.unknown == ("dcache.example runs dCache 40.0.1: feature series 40.0 (past the dCache "
                                "series table; every N.2 is golden) is not expected before about 2053-06-16 "
                                "(extrapolated), yet seen on 2025-01-01: a mistyped version, or the table is "
                                "missing series")


@pytest.mark.parametrize("deny, denied", [
    (["1.9.5-20"], True), (["1.9.5-2?"], True), (["1.9.5"], True), (["1.9.6-*"], False),
    ("1.9.5-20", True), ([], False),
])
def test_deny(deny: Any, denied: bool) -> None:
    result = judge({"deny": deny}, se("srm.example", "1.9.5-20"))
    assert result.passed is not denied
    if denied:
        assert "srm.example runs dCache 1.9.5-20, a denied release" in result.message


def test_allowed_series() -> None:
    result = judge({"series": ["1.9.5", "1.9.12"]}, se("srm.example", "1.9.7-3"))
    assert result.message == ("srm.example runs dCache 1.9.7-3, series 1.9.7, not an allowed series "
                              "(1.9.5, 1.9.12)")
    assert judge({"series": ["1.9.5", "1.9.12"]}, se("srm.example", "1.9.12-4")).passed


def test_command_line_min_replaces_and_deny_adds() -> None:
    fzk = se("atlassrm-fzk.gridka.de", "1.9.5-22")
    assert not judge(MILESTONE, fzk, cli_min="1.9.5-23").passed
    assert judge({"min": "1.9.5-23"}, fzk, cli_min="1.9.5-0").passed
    assert "(matches '1.9.5-2?')" in judge({"deny": ["1.9.6-*"]}, fzk, cli_deny=("1.9.5-2?",)).message


def test_disagreement_reports_both_and_judges_the_older() -> None:
    sara = se("srm.grid.sara.nl", "1.9.5-23", "1.9.5-22")
    assert sara.version.canonical() == "1.9.5-22"
    ok = judge(MILESTONE, sara)
    assert ok.message.startswith("srm.grid.sara.nl runs dCache 1.9.5-22 (published 1.9.5-23 in "
                                 "GLUE 1.3, 1.9.5-22 in GLUE 2; judged on the older)")
    failed = judge({"min": "1.9.5-23"}, sara)
    assert not failed.passed and "published 1.9.5-23 in GLUE 1.3, 1.9.5-22 in GLUE 2" in failed.message


def test_worst_of_several_ses_and_non_dcache_ignored() -> None:
    result = judge(MILESTONE, se("good.example", "1.9.5-21"), se("old.example", "1.9.2-5"),
                   se("castor.example", implementation="CASTOR"))
    assert not result.passed
    assert [f.ok for f in result.findings] == [True, False, False]
    assert "castor" not in result.message


def test_non_dcache_is_not_applicable() -> None:
    result = judge(MILESTONE, se("srm-atlas.cern.ch", implementation="CASTOR"),
                   se("storm-fe.cr.cnaf.infn.it", implementation="StoRM"))
    assert not result.applicable
    assert result.message == ("srm-atlas.cern.ch runs CASTOR, not dCache; "
                              "storm-fe.cr.cnaf.infn.it runs StoRM, not dCache")
    milestone = Milestone(id="dcache-supported-release", title="t", source="s",
                          deadline=date(2010, 6, 30), check="dcache_version", scope=Scope(tiers=(0, 1)))
    verdict = evaluate(milestone, "CERN-PROD", 0, result, date(2010, 7, 30))
    assert verdict.compliance is Compliance.NOT_APPLICABLE


def test_missing_and_unparseable_versions_are_problems() -> None:
    missing = storage_element("srm2.triumf.ca", "dCache", [], "srm2.triumf.ca publishes no dCache version")
    assert missing.problems == ("srm2.triumf.ca publishes no dCache version",)
    garbage = storage_element("srm.example", "dCache", [("GLUE 2", "1.9.5-19"), ("GLUE 1.3", "n/a")], "")
    assert garbage.problems == ("srm.example: unparseable dCache version 'n/a' in GLUE 1.3",)
    unnamed = storage_element("se.example", None, [("GLUE 1.3", "1.9.5-1")], "x")
    assert "publishes no implementation name" in unnamed.problems[0]
    # Another implementation's version is not parsed (CASTOR 2.1.7-27 is no dCache version).
    assert storage_element("c.example", "CASTOR", [("GLUE 1.3", "2.1.7-27")], "x").problems == ()


@pytest.mark.parametrize("expect, problem", [
    ({"min": "1.9.5-0", "supported": True}, None),
    ({"min": "2.10.62", "deny": ["1.9.6-*", "2.10.3"], "series": ["2.10", "2.13"], "golden": True}, None),
    ({"mni": "1.9.5-0"}, "unknown expect key 'mni'"),
    ({"min": 2.1}, "min: write the version as a quoted string, got 2.1"),
    ({"min": "latest"}, "min: unparseable dCache version 'latest'"),
    ({"deny": ["1.9.[56]-*"]}, "deny: bad dCache version pattern '1.9.[56]-*'"),
    ({"deny": [1.9]}, "deny: expected a string or a list of quoted strings"),
    ({"series": ["1.9.5-19"]}, "series: '1.9.5-19' is a release, not a dCache series"),
    ({"supported": "yes"}, "supported: expected true or false, got 'yes'"),
    ({"golden": 1}, "golden: expected true or false, got 1"),
])
def test_validate_expect(expect: dict[str, Any], problem: str | None) -> None:
    problems = list(CHECK.validate_expect(expect))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_assess_through_the_check_uses_request_date_and_flags() -> None:
    seen = DcacheObservation("x.ldif", (se("srm.example", "1.9.5-19"),))
    observation = Observation("srm.example", DcacheData(seen, TABLE))
    request = Request(options={"min": None, "deny": None}, as_of=date(2013, 1, 1))
    assert not CHECK.assess(observation, MILESTONE, request).passed
    request = Request(options={"min": "1.9.5-20"}, as_of=JUNE_2010)
    assert CHECK.assess(observation, MILESTONE, request).message.endswith("older than the minimum 1.9.5-20")


@pytest.mark.parametrize("site, expected", [
    (Site("BNL-ATLAS", 1, bdii="ldap://top:2170"), [{"bdii": "ldap://top:2170", "site": "BNL-ATLAS"}]),
    (Site("T", 1, bdii="b.ldif", storage=(Storage("srm.t", "dCache"), Storage("castor.t", "CASTOR"))),
     [{"bdii": "b.ldif", "site": "T", "se": "srm.t"}]),
    (Site("T", 1, bdii="b.ldif", storage=(Storage("a.t"), Storage("b.t"))),
     [{"bdii": "b.ldif", "site": "T"}]),
    (Site("T", 1, srr="https://t/srr", storage=(Storage("a.t", "dcache"),)),
     [{"srr": "https://t/srr", "site": "T", "se": "a.t"}]),
    (Site("T", 1, srr="t.json"), [{"srr": "t.json", "site": "T"}]),
    (Site("CERN-PROD", 0, bdii="ldap://top:2170", storage=(Storage("srm.cern", "CASTOR"),)), []),
    (Site("T", 1, storage=(Storage("srm.t", "dCache"),)), []),
    (Site("T", 1), []),
])
def test_requests_for_site(site: Site, expected: list[dict[str, Any]]) -> None:
    assert [dict(o) for o in CHECK.requests_for_site(site)] == expected


@pytest.mark.parametrize("version", ["2.6.0-SNAPSHOT", "3.0.0-rc1", "1.9.5-20rc1", "1.9.5-preview3"])
def test_prerelease_is_not_compliant(version: str) -> None:
    # Was COMPLIANT under supported: true: production milestones want releases.
    result = judge({"supported": True}, se("srm.example", version), as_of=date(2017, 1, 1))
    assert not result.passed and result.severity is Severity.CRITICAL
    assert result.failures[0].message == (f"srm.example runs dCache {version}, a pre-release "
                                          "(development build), not a release")
    assert "install a dCache release on srm.example" in result.remediation
    # The same for a milestone with only a minimum ...
    assert not judge({"min": "1.9.4-0"}, se("srm.example", version), as_of=date(2017, 1, 1)).passed
    # ... unless the milestone allows pre-releases.
    allowed = judge({"min": "1.9.4-0", "prerelease": True}, se("srm.example", version), as_of=date(2017, 1, 1))
    assert allowed.failures == ()


def test_prerelease_key_is_validated() -> None:
    assert rules_from({"prerelease": False}).prerelease is False
    with pytest.raises(ValueError, match="prerelease: expected true or false, got 'no'"):
        rules_from({"prerelease": "no"})


def test_series_not_yet_released_is_unknown() -> None:
    # 1.9.9 was released in August 2010: in June it is a development build or our date is early.
    result = judge(MILESTONE, se("srm.example", "1.9.9-1"), as_of=date(2010, 6, 8))
    assert result.failures == ()
    assert result.unknown == ("srm.example runs dCache 1.9.9-1: feature series 1.9.9 is not released on "
                              "2010-06-08 per the dCache series table (released 2010-08-02): a pre-release "
                              "build, or the table's date is early")
