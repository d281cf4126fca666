"""The four shipped probe executables behave as Nagios plugins.

Exit codes 0-3 from real data (the example BDII dump), and the plugin
conventions every probe shares: -h/-V/bad options exit 3 with no traceback.
"""

from __future__ import annotations

import pytest

from tests.helpers import REPO, run_py

PROBES = ("check_glexec", "check_fts_channels", "check_dcache_version", "check_xrootd")
LDIF = str(REPO / "config" / "example" / "bdii.ldif")


def probe(name: str, *args: str) -> tuple[int, list[str]]:
    done = run_py(REPO / "probes" / name, *args)
    assert "Traceback" not in done.stdout + done.stderr
    return done.returncode, done.stdout.splitlines()


@pytest.mark.parametrize("name", PROBES)
def test_help_version_and_bad_options_exit_3(name: str) -> None:
    rc, lines = probe(name, "-h")
    assert rc == 3 and lines[0].startswith(f"usage: {name} ")
    assert any("--timeout-state" in line for line in lines)
    rc, lines = probe(name, "--version")
    assert (rc, lines) == (3, [f"{name} (gridready) 0.1.0"])
    rc, lines = probe(name, "--no-such-option")
    title = name.removeprefix("check_").upper()
    assert (rc, len(lines)) == (3, 1) and lines[0].startswith(f"{title} UNKNOWN - bad arguments: ")


@pytest.mark.parametrize("site, as_of, code, status", [
    ("pic", "2010-06-08", 0, "DCACHE_VERSION OK - "),               # 1.9.5-19, golden, supported
    ("IN2P3-CC", "2010-06-08", 1, "DCACHE_VERSION WARNING - "),     # 1.9.4-3, deadline in 22 days
    ("IN2P3-CC", "2010-07-01", 2, "DCACHE_VERSION CRITICAL - "),    # the day after the deadline
    ("TRIUMF-LCG2", "2010-06-08", 3, "DCACHE_VERSION UNKNOWN - "),  # an SE publishes no version
])
def test_real_probe_exit_codes_0_to_3(site: str, as_of: str, code: int, status: str) -> None:
    rc, lines = probe("check_dcache_version", "--bdii", LDIF, "--site", site, "--as-of", as_of)
    assert rc == code
    assert lines[0].startswith(status)
    assert lines[1].startswith(f"[{status.split()[1]}] dcache-supported-release: ")


def test_unreadable_source_is_one_unknown_line() -> None:
    rc, lines = probe("check_dcache_version", "--bdii", "/nonexistent/bdii.ldif", "--site", "pic")
    assert rc == 3
    assert lines[0].startswith("DCACHE_VERSION UNKNOWN - ") and "/nonexistent/bdii.ldif" in lines[0]
