"""Checks from another package (entry points), `checks list`, and the 2026 example report (exact)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import gridready.checks as registry
from gridready.cli import main
from tests.checks_support import probe, rules_file

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PKG = ROOT / "tests" / "data" / "plugin_pkg"


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test package pip-installed into a temp dir, put on sys.path (and PYTHONPATH for subprocesses)."""
    target = tmp_path_factory.mktemp("plugin-site")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           str(PLUGIN_PKG)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"pip install of the test plugin failed: {done.stderr[-2000:]}")
    sys.path.insert(0, str(target))
    registry._entry_points.cache_clear()
    yield str(target)
    sys.path.remove(str(target))
    registry._entry_points.cache_clear()


def _env(path: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([path, str(ROOT)])}


def test_builtin_checks_do_not_scan_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    registry._entry_points.cache_clear()
    import importlib.metadata

    def boom(**kwargs: object) -> None:
        raise AssertionError("entry points read for a built-in check")
    monkeypatch.setattr(importlib.metadata, "entry_points", boom)
    from gridready.models import CHECKS
    assert "glue" in CHECKS and registry.load_check("dns").name == "dns"


def test_plugin_check_in_rules_probe_sweep_and_ingest(plugin_path: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rules = rules_file(tmp_path, "site_token", "{prefix: 'DE-'}")
    assert main(["rules", "validate", str(rules)]) == 0
    (tmp_path / "bad").mkdir()
    bad = rules_file(tmp_path / "bad", "site_token", "{prefix: 3}")
    assert main(["rules", "validate", str(bad)]) == 2
    assert f"{bad}:9: milestones[0].expect: prefix: expected a string, got 3" in capsys.readouterr().err

    code, out = probe(["--check", "site_token", "--milestones", str(rules), "--wlcg-name", "UK-T1-RAL",
                       "--as-of", "2026-12-01"])
    assert (code, out.splitlines()[1]) == (2, "[CRITICAL] m1: WLCG name UK-T1-RAL does not start with DE- "
                                              "(deadline 2026-06-30, overdue 154 days)")
    # The installed console script, in a fresh process that finds the plugin through PYTHONPATH.
    done = subprocess.run([str(ROOT / "probes" / "check_gridready"), "--check", "site_token", "--milestones",
                           str(rules), "--wlcg-name", "DE-KIT", "--site", "FZK-LCG2", "--as-of", "2026-12-01",
                           "--format", "json"],
                          capture_output=True, text=True, env=_env(plugin_path), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert (result["check"], result["milestones"][0]["compliance"]) == ("site_token", "COMPLIANT")
    stored = tmp_path / "result.json"
    stored.write_text(done.stdout)
    db = tmp_path / "h.db"
    assert main(["ingest", "--db", str(db), str(stored)]) == 0

    inventory = tmp_path / "sites.yaml"
    inventory.write_text("sites:\n  - {name: FZK-LCG2, tier: 1, wlcg_name: DE-KIT}\n"
                         "  - {name: NDGF-T1, tier: 1, wlcg_name: NDGF}\n")
    done = subprocess.run([sys.executable, "-m", "gridready.cli", "sweep", "--inventory", str(inventory),
                           "--milestones", str(rules), "--db", str(tmp_path / "s.db"), "--as-of", "2026-12-01"],
                          capture_output=True, text=True, env=_env(plugin_path), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "gridready.cli", "report", "--inventory", str(inventory),
                           "--milestones", str(rules), "--db", str(tmp_path / "s.db"), "--as-of", "2026-12-01",
                           "--format", "json"], capture_output=True, text=True, env=_env(plugin_path), timeout=120)
    cells = {s["name"]: s["milestones"][0]["compliance"] for s in json.loads(done.stdout)["sites"]}
    assert cells == {"FZK-LCG2": "COMPLIANT", "NDGF-T1": "OVERDUE"}


def test_checks_list_shows_plugins_and_broken_ones(plugin_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "list", "--format", "json"]) == 3  # broken_check cannot load
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["checks"]}
    assert rows["glue"]["expect"] == ["object", "where", "require", "min_count", "missing"]
    assert rows["site_token"]["expect"] == ["prefix"]
    assert rows["site_token"]["origin"] == "gridready_site_token:CHECK (gridready-site-token 0.1)"
    assert "cannot be loaded: AttributeError" in rows["broken_check"]["error"]
    code, out = probe(["--check", "broken_check"])
    assert code == 3 and out.startswith("GRIDREADY UNKNOWN - check 'broken_check' (entry point "
                                        "gridready_site_token:NOT_THERE) cannot be loaded")


EXPECTED_2026 = """\
GDB milestone compliance as of 2026-12-01 (example grid config/example-2026/sites.yaml as of 2026-12-01)

site       tier    storage-https-tpc    storage-tokens    storage-tpc-capability    storage-ipv6      xrootd-tls        dcache-golden-2026
                   due 2025-12-31       due 2026-06-30    due 2026-03-31            due 2026-12-31    due 2027-06-30    due 2026-03-31
---------  ------  -------------------  ----------------  ------------------------  ----------------  ----------------  --------------------
CERN-PROD  0       UNKNOWN              COMPLIANT         COMPLIANT                 COMPLIANT         COMPLIANT         NOT_APPLICABLE
FZK-LCG2   1       COMPLIANT            COMPLIANT         COMPLIANT                 DUE               COMPLIANT         UNKNOWN
NDGF-T1    1       OVERDUE (335d)       OVERDUE (154d)    COMPLIANT                 COMPLIANT         COMPLIANT         OVERDUE (245d)
pic        1       COMPLIANT            COMPLIANT         COMPLIANT                 COMPLIANT         COMPLIANT         COMPLIANT
RAL-LCG2   1       COMPLIANT            WAIVED            COMPLIANT                 COMPLIANT         PENDING           NOT_APPLICABLE
compliant          3/5 compliant        3/5 compliant     5/5 compliant             4/5 compliant     4/5 compliant     1/3 compliant
"""


def test_2026_example_report_exact(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gridready.cli", "report", "--milestones",
                           "config/milestones-2026.yaml", "--inventory", "config/example-2026/sites.yaml",
                           "--as-of", "2026-12-01"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout == EXPECTED_2026
    assert done.stderr.startswith("showing a sweep of the example grid config/example-2026/sites.yaml as of 2026-12-01")


@pytest.mark.parametrize("name", ["dns", "glue", "xrootd"])
def test_check_gridready_help_and_version_name_the_command_as_typed(name: str,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # There is no check_dns script: the usage line once said "usage: check_dns", a command that does not exist.
    assert probe(["--check", name, "--help"]) == (3, "")
    assert capsys.readouterr().out.startswith(f"usage: check_gridready --check {name} [-h] [-V]")
    assert probe(["--check", name, "--version"]) == (3, "")
    assert capsys.readouterr().out == f"check_gridready --check {name} (gridready) 0.1.0\n"
