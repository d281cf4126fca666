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


@pytest.mark.parametrize("which", [0, 1])
def test_duplicate_id_is_reported_when_either_milestone_has_other_problems(tmp_path: Path, which: int) -> None:
    # "every problem": a bad date in the first or the second copy once hid the duplicate id.
    second = GOOD.split("waivers:")[0].split("milestones:\n")[1]
    copies = [second, second]
    copies[which] = copies[which].replace("2010-05-31", "2010-02-30")
    found = problems(tmp_path, "milestones:\n" + "".join(copies))
    assert len(found) == 2
    assert any(":11: milestones[1].id: duplicate id 'glexec-t1' (first at line 2)" in p for p in found)
    assert any(f"milestones[{which}].deadline: bad date '2010-02-30'" in p for p in found)


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


# --- reads: regular files only, bounded ----------------------------------------


@pytest.mark.parametrize("special, kind", [("/dev/zero", "a character device"),
                                           ("/dev/null", "a character device")])
def test_device_is_refused_at_once(special: str, kind: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_rules(special)
    assert info.value.problems == [f"{special}: cannot read milestones file: {kind}, not a regular file"]


def test_fifo_and_directory_are_refused_without_blocking(tmp_path: Path) -> None:
    import os
    fifo = tmp_path / "sites.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError) as info:
        load_inventory(fifo)
    assert info.value.problems == [f"{fifo}: cannot read inventory file: a FIFO (named pipe), "
                                   "not a regular file"]
    with pytest.raises(ConfigError) as info:
        load_rules(tmp_path)
    assert info.value.problems == [f"{tmp_path}: cannot read milestones file: a directory, "
                                   "not a regular file"]


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    from gridready.yamlfile import YAML_MAX_BYTES
    path = write(tmp_path / "m.yaml", GOOD + "#" * YAML_MAX_BYTES)
    with pytest.raises(ConfigError, match=r"m\.yaml: milestones file is larger than the 512 KiB limit"):
        load_rules(path)


# --- YAML features a person's config file does not need ----------------------------


def bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "milestones:\n  - " + "\n    ".join(lines) + "\n"


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    import resource
    import time
    path = write(tmp_path / "m.yaml", bomb(9))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert time.monotonic() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB
    assert info.value.problems == [f"{path}:2: YAML anchors/aliases are not supported in "
                                   "gridready configuration (write the value out)"]


@pytest.mark.parametrize("text, line", [
    ("milestones: &r [*r]\n", 1),                                 # refers to itself
    ("milestones:\n  - &m {id: a}\n", 2),                         # an anchor alone
    ("x: 1\nmilestones: [*undefined]\n", 2),                       # an alias alone
])
def test_anchors_and_aliases_are_refused(tmp_path: Path, text: str, line: int) -> None:
    (p,) = problems(tmp_path, text)
    assert p == (f"{tmp_path / 'milestones.yaml'}:{line}: YAML anchors/aliases are not supported "
                 "in gridready configuration (write the value out)")


def test_merge_key_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("    warn_days: 30\n", "    <<: {warn_days: 30}\n")
    (p,) = problems(tmp_path, text)
    assert p == (f"{tmp_path / 'milestones.yaml'}:6: YAML merge keys ('<<') are not supported "
                 "in gridready configuration (write the keys out)")


@pytest.mark.parametrize("value, why", [
    ("!!binary aGVsbG8=", "explicit YAML tags (tag:yaml.org,2002:binary) are not supported"),
    ("!!python/object:os.system x", "explicit YAML tags (tag:yaml.org,2002:python/object:os.system)"),
    ("!!float abc", "explicit YAML tags (tag:yaml.org,2002:float)"),
    ("9" * 5000, "number of 5000 digits is too long (at most 40)"),
    ("[" * 100 + "]" * 100, "nested more than 32 levels deep"),
])
def test_costly_or_lineless_yaml_is_refused_with_the_line(tmp_path: Path, value: str, why: str) -> None:
    (p,) = problems(tmp_path, GOOD.replace("warn_days: 30", f"warn_days: {value}"))
    assert p.startswith(f"{tmp_path / 'milestones.yaml'}:6: ") and why in p


# --- numbers: range, finiteness, no booleans ------------------------------------------


@pytest.mark.parametrize("value, why", [
    (".inf", "timeout: inf is not a finite number"),
    ("-.inf", "timeout: -inf is not a finite number"),
    (".nan", "timeout: nan is not a finite number"),
    ("1.0e+300", "timeout: must be more than 0 and at most 3600 seconds, got 1e+300"),
    ("3601", "timeout: must be more than 0 and at most 3600 seconds, got 3601"),
    ("0", "timeout: must be more than 0 and at most 3600 seconds, got 0"),
    ("-5", "timeout: must be more than 0 and at most 3600 seconds, got -5"),
    ("true", "timeout: expected a number of seconds, got True"),
    ("1e300", "timeout: expected a number of seconds, got '1e300'"),  # a string in YAML 1.1
])
def test_timeout_must_be_finite_and_sane(tmp_path: Path, value: str, why: str) -> None:
    (p,) = problems(tmp_path, GOOD.replace("    remediation:", f"    timeout: {value}\n    remediation:"))
    assert p == f"{tmp_path / 'milestones.yaml'}:10: milestones[0].{why}"


def test_timeout_in_range_loads(tmp_path: Path) -> None:
    for value, seconds in (("0.5", 0.5), ("3600", 3600.0)):
        text = GOOD.replace("    remediation:", f"    timeout: {value}\n    remediation:")
        assert load_rules(write(tmp_path / "m.yaml", text)).milestones[0].timeout == seconds


@pytest.mark.parametrize("edit, where", [
    (("warn_days: 30", "warn_days: 3651"), ":6: milestones[0].warn_days: must be between 0 and 3650, got 3651"),
    (("warn_days: 30", "warn_days: true"), ":6: milestones[0].warn_days: expected a whole number, got True"),
    (("warn_days: 30", "warn_days: 1.5"), ":6: milestones[0].warn_days: expected a whole number, got 1.5"),
    (("warn_days: 30", "warn_days: .nan"), ":6: milestones[0].warn_days: nan is not a finite number"),
    (("tiers: [1]", "tiers: [4]"), ":7: milestones[0].scope.tiers: must be between 0 and 3, got 4"),
    (("tiers: [1]", "tiers: [true]"), ":7: milestones[0].scope.tiers: expected a whole number, got True"),
    (("authz: [scas, argus]", "authz: [scas, .inf]"), ":9: milestones[0].expect.authz[1]: inf is not a finite number"),
])
def test_rule_numbers_are_checked(tmp_path: Path, edit: tuple[str, str], where: str) -> None:
    (p,) = problems(tmp_path, GOOD.replace(*edit))
    assert p == f"{tmp_path / 'milestones.yaml'}{where}"


def inventory_problems(tmp_path: Path, site: str) -> list[str]:
    path = write(tmp_path / "sites.yaml", f"sites:\n  - {site}\n")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    return [p.replace(str(path), "F") for p in info.value.problems]


@pytest.mark.parametrize("site, why", [
    ("{name: A, tier: 4}", "F:2: sites[0].tier: must be between 0 and 3, got 4"),
    ("{name: A, tier: -1}", "F:2: sites[0].tier: must not be negative, got -1"),
    ("{name: A, tier: true}", "F:2: sites[0].tier: expected a whole number, got True"),
    ("{name: A, tier: .inf}", "F:2: sites[0].tier: inf is not a finite number"),
    ("{name: A, tier: 1, xrootd: ['h:0']}", "F:2: sites[0].xrootd: 'h:0': bad port '0'"),
    ("{name: A, tier: 1, xrootd: ['h:65536']}", "F:2: sites[0].xrootd: 'h:65536': bad port '65536'"),
    ("{name: A, tier: 1, bdii: 'ldap://h:99999'}",
     "F:2: sites[0].bdii: bad port in 'ldap://h:99999': expected 1..65535"),
    ("{name: A, tier: 1, fts: 'https://h:0/'}", "F:2: sites[0].fts: bad port in 'https://h:0/': expected 1..65535"),
    ("{name: A, tier: 1, srr: 'https://:8443/srr'}", "F:2: sites[0].srr: no host in 'https://:8443/srr'"),
])
def test_inventory_numbers_and_ports_are_checked(tmp_path: Path, site: str, why: str) -> None:
    assert inventory_problems(tmp_path, site) == [why]


def test_inventory_ports_in_range_load(tmp_path: Path) -> None:
    path = write(tmp_path / "sites.yaml", "sites:\n  - {name: A, tier: 3, xrootd: ['h:1', '[::1]:65535', "
                 "'root://h:1094'], bdii: 'ldap://h:2170', fts: 'https://h:8446'}\n")
    site = load_inventory(path).sites[0]
    assert (site.tier, site.xrootd, site.bdii) == (3, ("h:1", "[::1]:65535", "root://h:1094"), "ldap://h:2170")


# --- control characters ---------------------------------------------------------------


@pytest.mark.parametrize("value, shown, what", [
    (r'"RAL\nLCG2"', r"'RAL\x0aLCG2'", "a line break"),
    (r'"RAL\r"', r"'RAL\x0d'", "a line break"),
    (r'"RAL\tLCG2"', r"'RAL\x09LCG2'", "control character U+0009"),
    (r'"RAL\e[2J"', r"'RAL\x1b[2J'", "control character U+001B"),
    (r'"RAL\x7f"', r"'RAL\x7f'", "control character U+007F"),
    (r'"RAL\x9b"', r"'RAL\x9b'", "control character U+009B"),
    (r'"RAL\N"', r"'RAL\x85'", "control character U+0085"),
    (r'"RAL\L"', r"'RAL\u2028'", "a line break"),
    (r'"RAL\0"', r"'RAL\x00'", "control character U+0000"),
])
def test_control_characters_in_inventory_values(tmp_path: Path, value: str, shown: str, what: str) -> None:
    for field in ("name", "wlcg_name", "bdii"):
        site = "{name: A, tier: 1, " + f"{field}: {value}" + "}" if field != "name" else \
            "{" + f"name: {value}" + ", tier: 1}"
        assert inventory_problems(tmp_path, site) == [
            f"F:2: sites[0].{field}: {shown} holds {what}, not allowed in this value"]


def test_control_characters_in_nested_inventory_values_and_keys(tmp_path: Path) -> None:
    assert inventory_problems(tmp_path, r'{name: A, tier: 1, storage: [{host: "h\nx"}], xrootd: ["d\t:1"]}') == [
        r"F:2: sites[0].storage[0].host: 'h\x0ax' holds a line break, not allowed in this value",
        r"F:2: sites[0].xrootd[0]: 'd\x09:1' holds control character U+0009, not allowed in this value"]
    assert inventory_problems(tmp_path, r'{name: A, tier: 1, "x\ey": 1}') == [
        r"F:2: sites[0]: key 'x\x1by' holds a control character"]


def test_block_scalar_in_a_one_line_field_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "sites.yaml", "sites:\n  - name: |\n      RAL\n      LCG2\n    tier: 1\n")
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    assert info.value.problems == [rf"{path}:2: sites[0].name: 'RAL\x0aLCG2\x0a' holds a line break, "
                                   "not allowed in this value"]


@pytest.mark.parametrize("edit, where", [
    (("id: glexec-t1", r'id: "glexec-t1\n"'), r":2: milestones[0].id: 'glexec-t1\x0a' holds a line break"),
    (("check: glexec", r'check: "glexec\t"'), r":8: milestones[0].check: 'glexec\x09' holds control"),
    (("authz: [scas, argus]", r'authz: [scas, "argus\e"]'), r":9: milestones[0].expect.authz[1]: 'argus\x1b'"),
    (("sites: []", r'sites: ["NDGF\n"]'), r":7: milestones[0].scope.sites[0]: 'NDGF\x0a' holds a line break"),
    (("site: NDGF-T1", r'site: "NDGF-T1\n"'), r":12: waivers[0].site: 'NDGF-T1\x0a' holds a line break"),
    (("title: Tier-1s deploy gLExec", r'title: "Tier-1s \e]0;pwned\a"'),
     r":3: milestones[0].title: 'Tier-1s \x1b]0;pwned\x07' holds control character U+001B"),
    (("reason: ARC", r'reason: "ARC\x85"'), r":12: waivers[0].reason: 'ARC\x85' holds control character U+0085"),
])
def test_control_characters_in_rule_values(tmp_path: Path, edit: tuple[str, str], where: str) -> None:
    p, *_ = problems(tmp_path, GOOD.replace(*edit))  # a refused id also orphans its waiver
    assert p.startswith(f"{tmp_path / 'milestones.yaml'}{where}")


def test_free_text_line_breaks_are_folded_to_one_line(tmp_path: Path) -> None:
    text = GOOD.replace("    remediation: install it\n",
                        "    remediation: |\n      install gLExec\n\n      \tthen SCAS\n") \
        .replace("title: Tier-1s deploy gLExec", r'title: "Tier-1s\n deploy\tgLExec"') \
        .replace("reason: ARC", r'reason: "ARC\r\nCEs"')
    rules = load_rules(write(tmp_path / "m.yaml", text))
    assert rules.milestones[0].remediation == "install gLExec then SCAS"
    assert rules.milestones[0].title == "Tier-1s deploy gLExec"
    assert rules.waivers[0].reason == "ARC CEs"
