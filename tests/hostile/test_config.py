"""Hostile rules and inventory files, through the commands and probes that read them.

Each case runs the real entry point in a fresh interpreter (tests/hostile/runner.py):
a device, a FIFO, an alias bomb, a self-referencing alias, non-finite numbers,
control characters. Every one must fail at once with one line naming the file,
never a traceback or a hang. ``rules validate`` exits 3 when the file cannot be
read and 2 when it is read but invalid; everything else exits 3.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.runner import Run, assert_clean, run
from tests.test_configfile import GOOD, bomb

REPO = Path(__file__).resolve().parents[2]
SITES = "sites:\n  - {name: RAL-LCG2, tier: 1, bdii: 'ldap://127.0.0.1:1'}\n"
ALIAS = "YAML anchors/aliases are not supported in gridready configuration (write the value out)"


@pytest.fixture()
def files(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Hostile files by name; ``fifo`` is a named pipe no one writes to."""
    def put(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text.lstrip("\n"), encoding="utf-8")
        return path

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    yield {
        "fifo": fifo,
        "dir": tmp_path,
        "bomb": put("bomb.yaml", bomb(9)),
        "self": put("self.yaml", "milestones: &r [*r]\n"),
        "anchor": put("anchor.yaml", GOOD.replace("  - id: glexec-t1", "  - &m\n    id: glexec-t1")),
        "merge": put("merge.yaml", GOOD.replace("    warn_days: 30\n", "    <<: {warn_days: 30}\n")),
        "inf": put("inf.yaml", GOOD.replace("    remediation:", "    timeout: .inf\n    remediation:")),
        "nan": put("nan.yaml", GOOD.replace("    remediation:", "    timeout: .nan\n    remediation:")),
        "huge": put("huge.yaml", GOOD.replace("    remediation:", "    timeout: 1.0e+300\n    remediation:")),
        "warn-true": put("warn-true.yaml", GOOD.replace("warn_days: 30", "warn_days: true")),
        "esc-title": put("esc-title.yaml", GOOD.replace("title: Tier-1s deploy gLExec",
                                                       'title: "Tier-1s \\e]0;owned\\a"')),
        "deep": put("deep.yaml", "milestones: " + "[" * 5000 + "]" * 5000 + "\n"),
        "inv-bomb": put("inv-bomb.yaml", bomb(9).replace("milestones:", "sites:")),
        "inv-self": put("inv-self.yaml", "sites: &s [*s]\n"),
        "inv-newline": put("inv-newline.yaml", SITES.replace("name: RAL-LCG2",
                                                            'name: "RAL-LCG2\\n}\\ndefine command {"')),
        "inv-tier": put("inv-tier.yaml", SITES.replace("tier: 1", "tier: .inf")),
        "inv-port": put("inv-port.yaml", SITES.replace("127.0.0.1:1", "127.0.0.1:70000")),
    }


def error_line(result: Run) -> str:
    """The last line of output: the one-line error (report may note the example first)."""
    return result.output.strip().splitlines()[-1]


# --- gridready rules validate -------------------------------------------------------


@pytest.mark.parametrize("name, kind", [("fifo", "a FIFO (named pipe)"), ("dir", "a directory")])
def test_rules_validate_refuses_fifo_and_directory(files: dict[str, Path], name: str, kind: str) -> None:
    result = run("gridready", "rules", "validate", str(files[name]), timeout=20)
    assert_clean(result, 3, within=10, mentions=str(files[name]))
    assert error_line(result) == f"gridready: {files[name]}: cannot read milestones file: {kind}, not a regular file"


def test_rules_validate_refuses_dev_zero() -> None:
    result = run("gridready", "rules", "validate", "/dev/zero", timeout=20)
    assert_clean(result, 3, within=10)
    assert error_line(result) == "gridready: /dev/zero: cannot read milestones file: a character device, " \
                                 "not a regular file"


@pytest.mark.parametrize("name, line, why", [
    ("bomb", 2, ALIAS),
    ("self", 1, ALIAS),
    ("anchor", 2, ALIAS),
    ("merge", 6, "YAML merge keys ('<<') are not supported in gridready configuration (write the keys out)"),
    ("inf", 10, "milestones[0].timeout: inf is not a finite number"),
    ("nan", 10, "milestones[0].timeout: nan is not a finite number"),
    ("huge", 10, "milestones[0].timeout: must be more than 0 and at most 3600 seconds, got 1e+300"),
    ("warn-true", 6, "milestones[0].warn_days: expected a whole number, got True"),
    ("esc-title", 3, r"milestones[0].title: 'Tier-1s \x1b]0;owned\x07' holds control character U+001B, "
                     "not allowed in this value"),
    ("deep", 1, "nested more than 32 levels deep"),
])
def test_rules_validate_names_file_and_line(files: dict[str, Path], name: str, line: int, why: str) -> None:
    result = run("gridready", "rules", "validate", str(files[name]), timeout=20)
    assert_clean(result, 2, within=10)
    assert result.stderr == f"{files[name]}:{line}: {why}\n"
    assert result.stdout == f"{files[name]}: INVALID (1 problem)\n"


# --- gridready report / sweep / nagios-config ----------------------------------------------


@pytest.mark.parametrize("name, why", [
    ("fifo", "cannot read milestones file: a FIFO (named pipe), not a regular file"),
    ("bomb", f"2: {ALIAS}"),
    ("self", f"1: {ALIAS}"),
    ("inf", "10: milestones[0].timeout: inf is not a finite number"),
])
def test_report_milestones(files: dict[str, Path], tmp_path: Path, name: str, why: str) -> None:
    result = run("gridready", "report", "--milestones", str(files[name]), cwd=tmp_path, timeout=20)
    assert_clean(result, 3, within=10)
    sep = ": " if name == "fifo" else ":"
    assert error_line(result) == f"gridready: {files[name]}{sep}{why}"


def test_report_milestones_dev_zero(tmp_path: Path) -> None:
    result = run("gridready", "report", "--milestones", "/dev/zero", cwd=tmp_path, timeout=20)
    assert_clean(result, 3, within=10)
    assert error_line(result) == ("gridready: /dev/zero: cannot read milestones file: "
                                  "a character device, not a regular file")


@pytest.mark.parametrize("name, why", [
    ("fifo", ": cannot read inventory file: a FIFO (named pipe), not a regular file"),
    ("inv-bomb", f":2: {ALIAS}"),
    ("inv-self", f":1: {ALIAS}"),
    ("inv-newline", r":2: sites[0].name: 'RAL-LCG2\x0a}\x0adefine command {' holds a line break, "
                    "not allowed in this value"),
    ("inv-tier", ":2: sites[0].tier: inf is not a finite number"),
    ("inv-port", ":2: sites[0].bdii: bad port in 'ldap://127.0.0.1:70000': expected 1..65535"),
])
def test_report_inventory(files: dict[str, Path], tmp_path: Path, name: str, why: str) -> None:
    result = run("gridready", "report", "--inventory", str(files[name]), cwd=tmp_path, timeout=20)
    assert_clean(result, 3, within=10)
    assert error_line(result) == f"gridready: {files[name]}{why}"


def test_sweep_refuses_infinite_timeout_before_running(files: dict[str, Path], tmp_path: Path) -> None:
    inventory = tmp_path / "sites.yaml"
    inventory.write_text(SITES, encoding="utf-8")
    result = run("gridready", "sweep", "--milestones", str(files["inf"]), "--inventory", str(inventory),
                 "--db", str(tmp_path / "g.db"), cwd=tmp_path, timeout=20)
    assert_clean(result, 3, within=10)
    assert error_line(result) == f"gridready: {files['inf']}:10: milestones[0].timeout: inf is not a finite number"


def test_sweep_inventory_dev_zero(tmp_path: Path) -> None:
    result = run("gridready", "sweep", "--inventory", "/dev/zero", "--db", str(tmp_path / "g.db"),
                 cwd=tmp_path, timeout=20)
    assert_clean(result, 3, within=10)
    assert error_line(result) == ("gridready: /dev/zero: cannot read inventory file: "
                                  "a character device, not a regular file")


def test_nagios_config_refuses_newline_in_site_name(files: dict[str, Path], tmp_path: Path) -> None:
    result = run("gridready", "nagios-config", "--site", "RAL-LCG2", "--inventory",
                 str(files["inv-newline"]), cwd=tmp_path, timeout=20)
    assert_clean(result, 3, within=10, mentions=f"{files['inv-newline']}:2: sites[0].name")
    assert "define command" not in result.stdout


# --- a probe's --milestones and --inventory ---------------------------------------------


@pytest.mark.parametrize("name, why", [
    ("fifo", ": cannot read milestones file: a FIFO (named pipe), not a regular file"),
    ("bomb", f":2: {ALIAS}"),
    ("self", f":1: {ALIAS}"),
    ("nan", ":10: milestones[0].timeout: nan is not a finite number"),
])
def test_probe_milestones(files: dict[str, Path], name: str, why: str) -> None:
    result = run("check_xrootd", "-H", "127.0.0.1", "-p", "1", "--milestones", str(files[name]), timeout=20)
    assert_clean(result, 3, within=10)
    assert result.stdout == f"XROOTD UNKNOWN - {files[name]}{why}\n"


def test_probe_milestones_dev_zero() -> None:
    result = run("check_dcache_version", "--srr", "/nonexistent.json", "--milestones", "/dev/zero", timeout=20)
    assert_clean(result, 3, within=10)
    assert result.stdout == ("DCACHE_VERSION UNKNOWN - /dev/zero: cannot read milestones file: "
                             "a character device, not a regular file\n")


@pytest.mark.parametrize("name, why", [
    ("fifo", ": cannot read inventory file: a FIFO (named pipe), not a regular file"),
    ("inv-bomb", f":2: {ALIAS}"),
    ("inv-newline", r":2: sites[0].name: 'RAL-LCG2\x0a}\x0adefine command {' holds a line break, "
                    "not allowed in this value"),
])
def test_probe_inventory(files: dict[str, Path], name: str, why: str) -> None:
    listing = REPO / "config" / "example" / "fts"
    result = run("check_fts_channels", "--channel-list", str(listing), "--site", "RAL-LCG2",
                 "--inventory", str(files[name]), timeout=20)
    assert_clean(result, 3, within=10)
    assert result.stdout == f"FTS_CHANNELS UNKNOWN - {files[name]}{why}\n"
