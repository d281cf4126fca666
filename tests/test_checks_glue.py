"""The glue check against a real slapd serving the 2026 example GLUE 2 dump (and the dump file itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridready.commands.rules import expect_problems
from gridready.configfile import load_rules
from gridready.errors import ConfigError
from tests.checks_support import probe, rules_file
from tests.servers.slapd import slapd_fixture

LDIF = Path(__file__).resolve().parent.parent / "config" / "example-2026" / "bdii.ldif"
example_bdii = slapd_fixture(LDIF)

TOKENS = ("{object: GLUE2Endpoint, where: {GLUE2EndpointInterfaceName: [https, webdav, xroot]}, "
          "require: {GLUE2EndpointCapability: security.authentication.token}, min_count: 1}")


@pytest.mark.parametrize("source", ["ldap", "file"])
def test_pass_and_fail_name_the_endpoint(tmp_path: Path, example_bdii: str, source: str) -> None:
    uri = example_bdii if source == "ldap" else str(LDIF)
    rules = rules_file(tmp_path, "glue", TOKENS)
    code, out = probe(["--check", "glue", "--milestones", str(rules), "--site", "pic", "--bdii", uri,
                       "--as-of", "2026-12-01"])
    assert out.startswith(f"GLUE OK - pic ({uri}): m1 COMPLIANT: ")
    assert (code, out.splitlines()[1]) == (0, "[OK] m1: 2 GLUE2Endpoint objects of pic with GLUE2EndpointInterfaceName "
                                              f"https/webdav/xroot in {uri} meet the requirements (deadline 2026-06-30)")
    code, out = probe(["--check", "glue", "--milestones", str(rules), "--site", "NDGF-T1", "--bdii", uri,
                       "--as-of", "2026-12-01"])
    assert code == 2
    assert out.splitlines()[1] == (
        "[CRITICAL] m1: glue:srm.ndgf.org/data/ep/dav.ndgf.org/https/1.1: GLUE2EndpointCapability is "
        "'data.transfer.tpc', expected 'security.authentication.token'; "
        "glue:srm.ndgf.org/data/ep/xrootd.ndgf.org/xroot/5: GLUE2EndpointCapability is 'security.tls', "
        "expected 'security.authentication.token' (deadline 2026-06-30, overdue 154 days)")


def test_empty_selection_is_unknown_without_min_count_and_fails_with_it(tmp_path: Path, example_bdii: str) -> None:
    expect = "{object: GLUE2Endpoint, where: {GLUE2EndpointInterfaceName: srm}}"
    code, out = probe(["--check", "glue", "--milestones", str(rules_file(tmp_path, "glue", expect)),
                       "--site", "pic", "--bdii", example_bdii, "--as-of", "2026-12-01"])
    assert code == 3
    assert "no GLUE2Endpoint objects of pic with GLUE2EndpointInterfaceName srm in" in out
    code, out = probe(["--check", "glue", "--milestones",
                       str(rules_file(tmp_path, "glue", expect[:-1] + ", min_count: 1}")),
                       "--site", "pic", "--bdii", example_bdii, "--as-of", "2026-12-01"])
    assert code == 2 and "0 GLUE2Endpoint objects of pic with GLUE2EndpointInterfaceName srm in" in out
    code, out = probe(["--check", "glue", "--milestones",
                       str(rules_file(tmp_path, "glue", expect[:-1] + ", min_count: 0}")),
                       "--site", "pic", "--bdii", example_bdii, "--as-of", "2026-12-01"])
    assert code == 0


def test_site_the_source_does_not_describe_is_unknown(tmp_path: Path, example_bdii: str) -> None:
    code, out = probe(["--check", "glue", "--milestones", str(rules_file(tmp_path, "glue", TOKENS)),
                       "--site", "BNL-ATLAS", "--bdii", example_bdii, "--as-of", "2026-12-01"])
    assert code == 3
    assert f"{example_bdii} describes no GLUE 2 service, SE or site of BNL-ATLAS" in out


def test_filter_value_with_ldap_specials_is_escaped(tmp_path: Path, example_bdii: str) -> None:
    """A site name with filter metacharacters selects nothing; it does not widen the search."""
    code, out = probe(["--check", "glue", "--milestones", str(rules_file(tmp_path, "glue", TOKENS)),
                       "--site", "*)(GLUE2DomainID=*", "--bdii", example_bdii, "--as-of", "2026-12-01"])
    assert code == 3 and "describes no GLUE 2 service" in out


def test_bad_expect_is_a_load_error_with_line(tmp_path: Path) -> None:
    path = rules_file(tmp_path, "glue", "{object: 'GLUE2Endpoint)', require: {X: {matches: '('}}, min_count: -1}")
    with pytest.raises(ConfigError) as err:
        load_rules(path, validate_expect=expect_problems)
    assert [p.split(": ", 1)[0] for p in err.value.problems] == [f"{path}:9"] * 3
    assert any("bad regular expression" in p for p in err.value.problems)
    assert any("min_count: expected a whole number" in p for p in err.value.problems)


def test_one_record_is_counted_in_the_singular(tmp_path: Path) -> None:
    # pic publishes one https endpoint in the 2026 example: "1 ... object ... meets", "at least 2 ... objects".
    expect = ("{object: GLUE2Endpoint, where: {GLUE2EndpointInterfaceName: https}, "
              "require: {GLUE2EndpointCapability: security.authentication.token}}")
    code, out = probe(["--check", "glue", "--milestones", str(rules_file(tmp_path, "glue", expect)),
                       "--site", "pic", "--bdii", str(LDIF), "--as-of", "2026-12-01"])
    assert (code, out.splitlines()[1]) == (0, "[OK] m1: 1 GLUE2Endpoint object of pic with GLUE2EndpointInterfaceName "
                                              f"https in {LDIF} meets the requirements (deadline 2026-06-30)")
    code, out = probe(["--check", "glue", "--milestones",
                       str(rules_file(tmp_path, "glue", expect[:-1] + ", min_count: 2}")),
                       "--site", "pic", "--bdii", str(LDIF), "--as-of", "2026-12-01"])
    assert code == 2
    assert (f"1 GLUE2Endpoint object of pic with GLUE2EndpointInterfaceName https in {LDIF}, expected at least 2"
            in out.splitlines()[1]), out
