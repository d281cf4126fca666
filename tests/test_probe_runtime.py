"""The shared probe runtime, run as a real executable in a subprocess."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nagiosplugin
import pytest

from gridready.nagios.contexts import ScalarContext
from tests.helpers import REPO, run_py, write

PROBE = REPO / "tests" / "fake_probe.py"
RULES = """
milestones:
  - id: xrootd-string
    title: xroot published
    source: GDB 2010-06
    deadline: 2010-09-30
    warn_days: 30
    scope: {tiers: [1]}
    check: xrootd
    expect: {want: xroot}
    remediation: publish xroot
waivers:
  - {milestone: xrootd-string, site: NDGF-T1, reason: agreed at GDB, expires: 2011-01-31}
"""


@pytest.fixture()
def rules(tmp_path: Path) -> Path:
    return write(tmp_path / "milestones.yaml", RULES)


def probe(rules: Path, *args: str, timeout: float = 30) -> tuple[int, list[str]]:
    done = run_py(PROBE, "--milestones", str(rules), *args, timeout=timeout)
    assert done.stderr == "", done.stderr
    return done.returncode, done.stdout.splitlines()


@pytest.mark.parametrize("args, code, status", [
    (["--mode", "pass"], 0, "XROOTD OK - fake.example:1094: xrootd-string COMPLIANT: published as 'xroot'"),
    (["--mode", "fail", "--as-of", "2010-08-01"], 0, "XROOTD OK - fake.example:1094: xrootd-string PENDING"),
    (["--mode", "fail", "--as-of", "2010-09-30"], 1, "XROOTD WARNING - fake.example:1094: xrootd-string DUE"),
    (["--mode", "fail", "--as-of", "2010-10-01"], 2, "XROOTD CRITICAL - fake.example:1094: xrootd-string OVERDUE"),
    (["--mode", "error"], 3, "XROOTD UNKNOWN - xrootd-string UNKNOWN: fake.example:1094: connection refused"),
])
def test_exit_codes_and_status_line(rules: Path, args: list[str], code: int, status: str) -> None:
    rc, lines = probe(rules, *args)
    assert rc == code
    assert lines[0].startswith(status)


def test_long_output_and_perfdata(rules: Path) -> None:
    rc, lines = probe(rules, "--mode", "fail", "--as-of", "2010-10-08", "-v")
    assert rc == 2
    assert lines[0] == ("XROOTD CRITICAL - fake.example:1094: xrootd-string OVERDUE: published as 'root'"
                        " | handshake_ms=4.2ms")
    assert lines[1:] == ["[CRITICAL] xrootd-string: published as 'root' (deadline 2010-09-30, overdue 8 days)",
                         "    remediation: publish 'xroot'"]
    _, quiet = probe(rules, "--mode", "pass", "--as-of", "2010-09-29")
    assert quiet[1:] == ["[OK] xrootd-string: published as 'xroot' (deadline 2010-09-30, 1 day left)"]
    _, details = probe(rules, "--mode", "pass", "-vv")
    assert details[-1] == "fake detail line"


def test_site_scope_and_waiver(rules: Path) -> None:
    rc, lines = probe(rules, "--mode", "fail", "--site", "CERN-PROD", "--as-of", "2010-10-08")
    assert (rc, lines[1]) == (0, "[OK] xrootd-string: site CERN-PROD (tier 0) is out of scope "
                                 "(deadline 2010-09-30)")      # not overdue: no "overdue N days"
    rc, lines = probe(rules, "--mode", "fail", "--site", "ndgf-t1", "--as-of", "2010-10-08")
    assert rc == 0 and lines[1].startswith("[OK] xrootd-string: published as 'root'; waived until 2011-01-31")


def test_json_format(rules: Path) -> None:
    done = run_py(PROBE, "--milestones", str(rules), "--mode", "fail", "--as-of", "2010-09-22",
                  "--site", "RAL-LCG2", "--format", "json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    checked_at = result.pop("checked_at")
    assert time.strptime(checked_at, "%Y-%m-%dT%H:%M:%SZ")
    assert result == {
        "schema": "gridready.result/1", "check": "xrootd", "site": "RAL-LCG2", "host": "fake.example:1094",
        "state": "WARNING", "summary": "fake.example:1094: xrootd-string DUE: published as 'root'",
        "milestones": [{"id": "xrootd-string", "compliance": "DUE", "state": "WARNING",
                        "deadline": "2010-09-30", "days_left": 8, "message": "published as 'root'",
                        "waiver": None, "title": "xroot published", "remediation": "publish 'xroot'",
                        "outcome": "fail", "severity": "critical"}],
        "metrics": {"handshake_ms": 4.2}, "details": ["fake detail line"]}


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["-V"], ["--version"]])
def test_help_and_version_exit_3(rules: Path, args: list[str]) -> None:
    rc, lines = probe(rules, *args)
    assert rc == 3 and lines
    assert ("usage: check_xrootd" in lines[0]) if "h" in args[0] else lines == ["check_xrootd (gridready) 0.1.0"]


@pytest.mark.parametrize("args, why", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["-t", "zero"], "bad timeout 'zero'"),
    (["--as-of", "2010-02-30"], "bad date '2010-02-30'"),
    (["--format", "xml"], "invalid choice: 'xml'"),
    (["--milestone", "nope"], "no milestone 'nope'"),
])
def test_bad_arguments_exit_3_with_one_line(rules: Path, args: list[str], why: str) -> None:
    rc, lines = probe(rules, *args)
    assert rc == 3 and len(lines) == 1
    assert lines[0].startswith("XROOTD UNKNOWN - bad arguments: ") and why in lines[0]


def test_forced_exception_is_one_unknown_line_without_traceback(rules: Path) -> None:
    rc, lines = probe(rules, "--mode", "raise")
    assert (rc, lines) == (3, ["XROOTD UNKNOWN - internal error: RuntimeError: boom from the fake check"])
    rc, lines = probe(rules, "--mode", "raise", "-vvv")
    assert rc == 3 and lines[0].startswith("XROOTD UNKNOWN - internal error")
    assert any(line.startswith("Traceback") for line in lines[1:])


def test_bad_rules_file_is_unknown_naming_file(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", RULES.replace("deadline: 2010-09-30", "deadline: 2010-09-31"))
    rc, lines = probe(bad, "--mode", "pass")
    assert rc == 3 and len(lines) == 1
    assert lines[0] == f"XROOTD UNKNOWN - {bad}:5: milestones[0].deadline: bad date '2010-09-31': day is out of range for month"
    rc, lines = probe(write(tmp_path / "e.yaml", RULES.replace("want:", "wnat:")), "--mode", "pass")
    assert rc == 3 and "milestones[0].expect: unknown expect key 'wnat'" in lines[0]


@pytest.mark.parametrize("mode, stage", [("hang", "waiting for the fake server's reply"),
                                         ("spin", "polling the fake server")])
@pytest.mark.parametrize("state, code", [(None, 3), ("critical", 2)])
def test_timeout_reports_stage_within_bound(rules: Path, mode: str, stage: str, state: str | None,
                                            code: int) -> None:
    extra = ["--timeout-state", state] if state else []
    started = time.monotonic()
    rc, lines = probe(rules, "--mode", mode, "-t", "1", *extra)
    elapsed = time.monotonic() - started
    assert rc == code
    assert f"timeout after 1s while {stage}" in lines[0]
    assert lines[0].startswith(f"XROOTD {(state or 'unknown').upper()} - ")
    assert elapsed < 1 + 1


def test_negative_value_without_threshold_does_not_alarm(rules: Path) -> None:
    rc, lines = probe(rules, "--mode", "negative")
    assert rc == 0 and lines[0].endswith("| handshake_ms=-3.0ms")
    rc, lines = probe(rules, "--mode", "threshold")
    assert rc == 2 and lines[0].endswith("| handshake_ms=4.2ms;;0:1")


def test_scalar_context_none_means_no_threshold() -> None:
    ctx = ScalarContext("x")
    metric = nagiosplugin.Metric("x", -5.0, context="x")
    assert ctx.evaluate(metric, None).state == nagiosplugin.Ok
    assert nagiosplugin.ScalarContext("x").evaluate(metric, None).state == nagiosplugin.Critical


# --spool DIR: the probe hands its result to `gridready publish --flush` (no shell in between).

def spooled(directory: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.msg"))]


def test_spool_gets_the_json_result_and_the_output_is_unchanged(rules: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    base = ["--mode", "fail", "--as-of", "2010-10-01", "--site", "RAL-LCG2"]
    rc, plain = probe(rules, *base)
    rc_spooled, lines = probe(rules, *base, "--spool", str(spool))
    assert (rc, rc_spooled) == (2, 2) and lines == plain
    rc, out = probe(rules, *base, "--spool", str(spool), "--format", "json")
    assert rc == 2
    first, second = spooled(spool)
    assert first["destination"] == "" and first["headers"] == {"content-type": "application/json"}
    assert (spool / "0000000000000001.msg").exists() and (spool / "0000000000000002.msg").exists()
    body = json.loads(str(second["body"]))
    assert body == json.loads("\n".join(out))
    assert (body["schema"], body["site"], body["state"]) == ("gridready.result/1", "RAL-LCG2", "CRITICAL")
    assert oct(spool.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("mode, code", [("pass", 0), ("fail", 2), ("error", 3)])
def test_a_full_spool_keeps_the_state_and_adds_one_line(rules: Path, tmp_path: Path, mode: str, code: int) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    with open(spool / "0000000000000001.msg", "wb") as f:   # sparse: the 512 MiB byte bound, no disk used
        f.truncate(512 * 1024 * 1024)
    base = ["--mode", mode, "--as-of", "2010-10-01", "--site", "RAL-LCG2"]
    _, plain = probe(rules, *base)
    rc, lines = probe(rules, *base, "--spool", str(spool))
    assert rc == code
    assert lines[:-1] == plain
    assert lines[-1] == (f"not spooled: {spool}: spool full (1 messages, 536870912 bytes; bounds 100000 messages, "
                         f"536870912 bytes): 1 results not spooled")
    assert sorted(p.name for p in spool.glob("*.msg")) == ["0000000000000001.msg"]


def test_an_unusable_spool_keeps_the_state(rules: Path, tmp_path: Path) -> None:
    blocker = write(tmp_path / "file", "x")
    base = ["--mode", "fail", "--as-of", "2010-10-01", "--site", "RAL-LCG2"]
    rc, lines = probe(rules, *base, "--spool", str(blocker))
    assert rc == 2 and lines[-1] == f"not spooled: {blocker}: the spool is not a directory"
    rc, lines = probe(rules, *base, "--spool", str(blocker / "sub"))
    assert rc == 2 and lines[-1] == f"not spooled: {blocker / 'sub'}: cannot create the spool directory: Not a directory"
    rc, lines = probe(rules, "--mode", "fail", "--as-of", "2010-10-01", "--spool", str(tmp_path / "s"))
    assert rc == 2 and lines[-1] == (f"not spooled to {tmp_path / 's'}: no site (give --site; gridready consume "
                                     "needs it)")
    assert not (tmp_path / "s").exists()
    # JSON output stays one document: the line goes to stderr.
    done = run_py(PROBE, "--milestones", str(rules), *base, "--format", "json", "--spool", str(blocker))
    assert done.returncode == 2 and json.loads(done.stdout)["state"] == "CRITICAL"
    assert done.stderr == f"not spooled: {blocker}: the spool is not a directory\n"


def test_a_spool_locked_by_a_hung_writer_does_not_hang_the_probe(rules: Path, tmp_path: Path) -> None:
    import fcntl
    import os
    spool = tmp_path / "spool"
    spool.mkdir()
    fd = os.open(spool / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        rc, lines = probe(rules, "--mode", "fail", "--as-of", "2010-10-01", "--site", "RAL-LCG2", "-t", "1",
                          "--spool", str(spool))
        assert time.monotonic() - started < 1 + 2
    finally:
        os.close(fd)
    assert rc == 2 and lines[0].startswith("XROOTD CRITICAL - ")
    assert lines[-1] == f"not spooled to {spool}: the probe's timeout expired while writing it"
    assert list(spool.glob("*.msg")) == [] and list(spool.glob(".tmp-*")) == []
