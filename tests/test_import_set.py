"""The import-set rule of the probes: a probe path loads only what it uses.

Each probe runs on file inputs in a subprocess under ``-X importtime``; the
modules it imports (beyond what ``python -c pass`` already imports on this
host, e.g. a site ``.pth`` hook) must not include the heavy libraries that
only other paths need. With a warm rules/inventory cache (gridready.cache)
the YAML parser is not imported either. Timing is not asserted here (that is
bench/probe_startup.py's job), only which modules load.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "example"
AS_OF = "2010-06-08"
#: Never on a file-input probe path.
FORBIDDEN = ("pydantic", "requests", "urllib3", "ldap3", "pyasn1", "sqlite3", "tabulate", "ssl", "http.client",
             # nagiosplugin's package init (its Check/runtime/cookie: logging, traceback, tempfile); the
             # probe loads only the submodules it uses (gridready.nagios.contexts)
             "nagiosplugin", "nagiosplugin.check", "logging", "tempfile", "traceback")
#: What the probe does load of nagiosplugin (so the rule above is not met by not evaluating at all).
NAGIOSPLUGIN_CORE = ("gridready._nagiosplugin_core.performance", "gridready._nagiosplugin_core.result")
#: Not on a file-input probe path once the cache holds the validated rules and inventory.
FORBIDDEN_WARM = ("yaml", "gridready.configfile", "gridready.yamlfile", "hashlib")
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| *(\S+)$", re.M)


def _modules(argv: list[str], env: dict[str, str]) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True,
                          env=env, timeout=60, cwd=str(REPO))
    return set(IMPORTED.findall(done.stderr)), done


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    environ.pop("GRIDREADY_NO_CACHE", None)
    return environ


def _probes(root: Path) -> list[tuple[str, list[str], int]]:
    """(probe, arguments, expected exit code) on file inputs only."""
    return [
        ("check_glexec", ["--root", str(root), "--site", "SARA-MATRIX"], 2),
        ("check_fts_channels", ["--channel-list", str(EXAMPLE / "fts" / "FZK-LCG2.txt"), "--site", "FZK-LCG2"], 1),
        ("check_dcache_version", ["--bdii", str(EXAMPLE / "bdii.ldif"), "--site", "FZK-LCG2"], 0),
        ("check_dcache_version", ["--srr", str(EXAMPLE / "srr" / "NDGF-T1.json"), "--site", "NDGF-T1"], 0),
        ("check_xrootd", ["--srr", str(EXAMPLE / "srr" / "NDGF-T1.json"), "--site", "NDGF-T1"], 0),
        ("check_xrootd", ["--bdii", str(EXAMPLE / "bdii.ldif"), "--site", "NDGF-T1"], 0),
    ]


@pytest.mark.parametrize("index", range(6))
def test_file_input_probe_imports_no_heavy_library(index: int, env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    probe, args, code = _probes(root)[index]
    baseline, _ = _modules(["-c", "pass"], env)
    argv = [str(REPO / "probes" / probe), *args, "--as-of", AS_OF]

    cold, first = _modules(argv, env)
    assert first.returncode == code, first.stdout + first.stderr[-2000:]
    assert " UNKNOWN " not in first.stdout.splitlines()[0]
    assert sorted(m for m in FORBIDDEN if m in cold - baseline) == []
    assert sorted(m for m in NAGIOSPLUGIN_CORE if m in cold) == list(NAGIOSPLUGIN_CORE)

    warm, second = _modules(argv, env)
    assert second.returncode == code
    assert second.stdout == first.stdout
    assert sorted(m for m in (*FORBIDDEN, *FORBIDDEN_WARM) if m in warm - baseline) == []
    # The cold run read the YAML (the cache was empty): the rule above is not vacuous.
    assert "yaml" in cold - baseline


def test_cache_bypass_still_reads_yaml(env: dict[str, str]) -> None:
    env["GRIDREADY_NO_CACHE"] = "1"
    argv = [str(REPO / "probes" / "check_xrootd"), "--srr", str(EXAMPLE / "srr" / "NDGF-T1.json"),
            "--site", "NDGF-T1", "--as-of", AS_OF]
    for _ in range(2):
        mods, done = _modules(argv, env)
        assert done.returncode == 0
        assert "yaml" in mods
    assert not (Path(env["XDG_CACHE_HOME"]) / "gridready").exists()
