"""The check_dcache_version probe: options, bad arguments, light imports, bundled rules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gridready.checks.dcache_version import CHECK
from gridready.configfile import load_rules
from tests.helpers import REPO, run_py

PROBE = REPO / "probes" / "check_dcache_version"
EXAMPLE = str(REPO / "config" / "example" / "bdii.ldif")


@pytest.mark.parametrize("args, why", [
    ([], "give one of --bdii URI, --srr URI or --info URL"),
    (["--bdii", EXAMPLE, "--srr", "x.json"], "argument --srr: not allowed with argument --bdii"),
    (["--bdii", EXAMPLE], "--bdii needs --se HOST or --site NAME"),
    (["--bdii", EXAMPLE, "--se", "srm.ndgf.org", "--min", "newest"], "--min: unparseable dCache version 'newest'"),
    (["--bdii", EXAMPLE, "--se", "srm.ndgf.org", "--deny", "1.9.[56]"], "--deny: bad dCache version pattern"),
    (["--bdii", EXAMPLE, "--se", "srm.ndgf.org", "--capath", "/tmp"],
     "--capath, --cert, --key and --proxy apply only to --srr and --info"),
    (["--srr", "x.json", "--proxy", "p", "--cert", "c"], "give either --cert and --key, or --proxy"),
    (["--info", "http://h:2288/info", "--key", "k"], "--key needs --cert"),
])
def test_bad_arguments_exit_3_with_one_line(args: list[str], why: str) -> None:
    done = run_py(PROBE, *args)
    assert done.returncode == 3 and done.stderr == ""
    assert len(done.stdout.splitlines()) == 1, done.stdout
    assert done.stdout.startswith("DCACHE_VERSION UNKNOWN - bad arguments: ") and why in done.stdout


def test_help_lists_the_options_and_exits_3() -> None:
    done = run_py(PROBE, "--help")
    assert done.returncode == 3
    for option in ("--bdii URI", "--srr URI", "--info URL", "--se HOST", "--min VERSION",
                   "--deny PATTERN", "--capath DIR", "--cert FILE", "--key FILE", "--proxy FILE"):
        assert option in done.stdout, option


def test_unreadable_sources_are_unknown_naming_them() -> None:
    done = run_py(PROBE, "--bdii", "/nonexistent/bdii.ldif", "--site", "pic")
    assert done.returncode == 3
    assert "/nonexistent/bdii.ldif: cannot read LDIF file" in done.stdout.splitlines()[0]
    done = run_py(PROBE, "--srr", "/nonexistent/srr.json", "--site", "pic")
    assert done.returncode == 3 and "/nonexistent/srr.json: cannot read" in done.stdout.splitlines()[0]
    done = run_py(PROBE, "--info", "/nonexistent/info.xml")
    assert done.returncode == 3 and "/nonexistent/info.xml: cannot read" in done.stdout.splitlines()[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_default_date_is_today_and_1_9_5_is_long_out_of_support() -> None:
    # No --as-of: the real date, years after 1.9.5's end of support.
    done = run_py(PROBE, "--bdii", EXAMPLE, "--site", "BNL-ATLAS", "--format", "json")
    result = json.loads(done.stdout)
    assert done.returncode == 2 and result["state"] == "CRITICAL"
    assert result["milestones"][0]["message"] == (
        "dcsrm.usatlas.bnl.gov runs dCache 1.9.5-19: golden series 1.9.5 is past its end of support "
        "(2012-05-07)")


def test_module_import_stays_light() -> None:
    code = ("import sys, gridready.checks.dcache_version as m; "
            "heavy = [n for n in ('ldap3', 'requests', 'urllib3', 'pydantic', 'xml.etree.ElementTree', "
            "'gridready.sources.bdii', 'gridready.sources.http') if n in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_bundled_milestone_expect_is_valid_for_this_check() -> None:
    rules = load_rules(REPO / "config" / "milestones.yaml",
                       validate_expect=lambda name, expect: CHECK.validate_expect(expect)
                       if name == CHECK.name else ())
    [milestone] = rules.for_check("dcache_version")
    assert milestone.expect == {"min": "1.9.5-0", "supported": True}
