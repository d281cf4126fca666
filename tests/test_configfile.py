"""Loading milestones and inventory: every bad input names file:line and the problem."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gridready.configfile import load_inventory, load_rules
from gridready.errors import ConfigError
from tests.helpers import REPO, write

GOOD = """
milestones:
  - id: glexec-t1
    title: Tier-1s deploy gLExec
    source: GDB 2010-05
    deadline: 2010-05-31
    warn_days: 30
    scope: {tiers: [1], sites: [], exclude: []}
    check: glexec
    expect: {authz: [scas, argus]}
    remediation: install it
waivers:
  - {milestone: glexec-t1, site: NDGF-T1, reason: ARC, expires: 2010-12-31}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path / "milestones.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    return info.value.problems


def test_good_rules_load(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path / "m.yaml", GOOD))
    (m,) = rules.milestones
    assert (m.id, m.deadline, m.warn_days, m.check) == ("glexec-t1", date(2010, 5, 31), 30, "glexec")
    assert m.scope.tiers == (1,) and dict(m.expect) == {"authz": ["scas", "argus"]}
    assert rules.waivers[0].expires == date(2010, 12, 31)


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, GOOD.replace("    warn_days: 30\n", "    warn_days: 30\n    deadlin: 2010-06-01\n"))
    assert p.startswith(f"{tmp_path / 'milestones.yaml'}:7: ")
    assert "unknown key 'deadlin'" in p


def test_duplicate_id(tmp_path: Path) -> None:
    second = GOOD.split("waivers:")[0].split("milestones:\n")[1]
    (p,) = problems(tmp_path, "milestones:\n" + second + second)
    assert ":11: milestones[1].id: " in p and "duplicate id 'glexec-t1' (first at line 2)" in p


@pytest.mark.parametrize("bad, why", [("2010-02-30", "day is out of range"),
                                      ("31/05/2010", "expected YYYY-MM-DD"),
                                      ("2010-13-01", "month must be in 1..12")])
def test_bad_date(tmp_path: Path, bad: str, why: str) -> None:
    (p,) = problems(tmp_path, GOOD.replace("deadline: 2010-05-31", f"deadline: {bad}"))
    assert ":5: milestones[0].deadline: bad date" in p and why in p


def test_unknown_check(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, GOOD.replace("check: glexec", "check: glexecc"))
    assert ":8: milestones[0].check: unknown check 'glexecc'" in p


def test_waiver_for_unknown_milestone(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, GOOD.replace("{milestone: glexec-t1", "{milestone: glexec-t2"))
    assert ":12: waivers[0].milestone: waiver for unknown milestone 'glexec-t2'" in p


def test_bad_waiver_expiry(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, GOOD.replace("expires: 2010-12-31", "expires: soon"))
    assert ":12: waivers[0].expires: bad date 'soon'" in p


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, GOOD.replace("scope: {tiers: [1], sites: [], exclude: []}", "scope: {tiers: [1}"))
    assert ":7: invalid YAML" in p


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    (p,) = problems(tmp_path, GOOD.replace("    warn_days: 30\n", "    warn_days: 30\n    warn_days: 5\n"))
    assert ":7: duplicate key 'warn_days'" in p


def test_all_problems_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("check: glexec", "check: nope").replace("deadline: 2010-05-31", "deadline: 2010-02-30")
    assert len(problems(tmp_path, text)) == 2


def test_bad_id_and_types(tmp_path: Path) -> None:
    text = GOOD.replace("id: glexec-t1", "id: Glexec_T1").replace("warn_days: 30", "warn_days: -1")
    found = problems(tmp_path, text.replace("{milestone: glexec-t1", "{milestone: Glexec_T1"))
    assert any("bad id 'Glexec_T1'" in p for p in found)
    assert any("warn_days: must not be negative" in p for p in found)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such file"):
        load_rules(tmp_path / "nope.yaml")


def test_expect_validator_problems_get_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", GOOD)
    with pytest.raises(ConfigError) as info:
        load_rules(path, validate_expect=lambda check, expect: [f"{check}: unknown expect key '{k}'"
                                                               for k in expect if k != "mode"])
    assert info.value.problems == [f"{path}:9: milestones[0].expect: glexec: unknown expect key 'authz'"]


def test_bundled_rules_and_inventory_load() -> None:
    rules = load_rules(REPO / "config" / "milestones.yaml")
    assert {m.check for m in rules.milestones} == {"glexec", "fts_channels", "dcache_version", "xrootd"}
    inventory = load_inventory(REPO / "config" / "sites.yaml")
    assert len(inventory.tier(1)) == 11 and inventory.tier(0)[0].name == "CERN-PROD"


def test_inventory_relative_sources_and_errors(tmp_path: Path) -> None:
    good = write(tmp_path / "sites.yaml", """
        sites:
          - name: RAL-LCG2
            tier: 1
            bdii: data/bdii.ldif
            fts: https://fts.example:8446
            storage: [{host: srm.example, implementation: CASTOR}]
            xrootd: ["host:1094"]
        """)
    site = load_inventory(good).site("ral-lcg2")
    assert site is not None and site.bdii == str(tmp_path / "data" / "bdii.ldif")
    assert site.fts == "https://fts.example:8446" and site.storage[0].implementation == "CASTOR"
    bad = write(tmp_path / "bad.yaml", """
        sites:
          - {name: RAL-LCG2, tier: one}
          - {name: RAL-LCG2, tier: 1, colour: red}
        """)
    with pytest.raises(ConfigError) as info:
        load_inventory(bad)
    assert info.value.problems[0].startswith(f"{bad}:2: sites[0].tier: expected a whole number")
    assert any(":3: sites[1].colour: unknown key 'colour'" in p for p in info.value.problems)
