"""The plugin check against real scripts and monitoring-plugins: signals, silence, stderr, perfdata forms."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.checks_support import probe, rules_file

DUMMY = "/usr/lib/nagios/plugins/check_dummy"


def _run(tmp_path: Path, body: str) -> tuple[int, list[str]]:
    script = tmp_path / "check_fake"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{script}', '{{host}}']}}")
    code, out = probe(["--check", "plugin", "--milestones", str(rules), "--as-of", "2026-12-01", "-H", "h1"])
    return code, out.splitlines()


@pytest.mark.parametrize("body,code,line", [
    ('echo "OK so far"; kill -9 $$', 3, "killed by signal 9 (SIGKILL): OK so far"),
    ("kill -11 $$", 3, "killed by signal 11 (SIGSEGV): (no output)"),
    ("exit 127", 3, "exit 127: (no output)"),
    ('echo "weird"; exit 4', 3, "exit 4: weird"),
    ("exit 2", 2, "[CRITICAL] m1: h1: (no output)"),
    ('echo "CRITICAL - from stderr" >&2; exit 2', 2, "[CRITICAL] m1: h1: CRITICAL - from stderr"),
    ('printf "OK - a\\nlong text\\nmore | b=2\\n"; exit 0', 0, "[OK] m1: h1: OK - a (deadline"),
    ('echo "| a=1"; exit 0', 0, "[OK] m1: h1: (no output)"),
    ('printf "OK - dos\\r\\n"; exit 0', 0, "[OK] m1: h1: OK - dos (deadline"),
    # After the deadline a WARNING plugin result is a degraded failure: it alarms WARNING, not CRITICAL.
    ('echo "WARNING - slow | t=9s;5;10"; exit 1', 1, "[WARNING] m1: h1: WARNING - slow (deadline"),
])
def test_plugin_endings(tmp_path: Path, body: str, code: int, line: str) -> None:
    got, lines = _run(tmp_path, body)
    assert got == code, lines
    assert line in lines[1], lines


@pytest.mark.parametrize("state,code,line", [
    ("0", 0, "[OK] m1: h1: OK: hello"), ("1", 1, "[WARNING] m1: h1: WARNING: hello"),
    ("2", 2, "[CRITICAL] m1: h1: CRITICAL: hello"), ("3", 3, "[UNKNOWN] m1: h1: "),
])
def test_monitoring_plugins_check_dummy(tmp_path: Path, state: str, code: int, line: str) -> None:
    if not Path(DUMMY).exists():
        pytest.skip("monitoring-plugins check_dummy not installed")
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{DUMMY}', '{state}', 'hello {{host}}']}}")
    got, out = probe(["--check", "plugin", "--milestones", str(rules), "--as-of", "2026-12-01", "-H", "h1"])
    assert got == code, out
    assert out.splitlines()[1].startswith(line), out


@pytest.mark.parametrize("body,code,line", [
    ("sleep 30 & echo 'OK - started a helper'; exit 0", 0, "[OK] m1: h1: OK - started a helper (deadline"),
    ("sleep 30 >&2 & echo 'CRITICAL - down'; exit 2", 2, "[CRITICAL] m1: h1: CRITICAL - down"),
    # A descendant that keeps writing after the plugin exited: bounded, the plugin's own text is the result.
    ("(sleep 0.2; while :; do echo spam; sleep 0.01; done) & echo 'OK - first'; exit 0", 0, "[OK] m1: h1: OK - first"),
])
def test_plugin_is_judged_when_it_exits_not_when_its_descendants_close_the_pipe(
        tmp_path: Path, body: str, code: int, line: str) -> None:
    # Before: the background process held stdout open and the run ended at -t, UNKNOWN.
    started = time.monotonic()
    got, lines = _run(tmp_path, body)
    assert time.monotonic() - started < 5
    assert got == code, lines
    assert line in lines[1], lines


def test_descendants_of_a_plugin_are_not_left_running(tmp_path: Path) -> None:
    marker = tmp_path / "alive"
    got, lines = _run(tmp_path, f"(sleep 1; touch {marker}) & echo 'OK - done'; exit 0")
    assert got == 0, lines
    time.sleep(1.5)
    assert not marker.exists()    # the background process was stopped with the plugin's session


def test_a_script_without_a_shebang_runs_as_execvp_would_run_it(tmp_path: Path) -> None:
    # Before: "cannot run ...: Exec format error" (UNKNOWN); execvp(3) hands such a file to /bin/sh.
    script = tmp_path / "check_plain"
    script.write_text("echo 'WARNING - plain script ran'\nexit 1\n")
    script.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{script}', '{{host}}']}}")
    code, out = probe(["--check", "plugin", "--milestones", str(rules), "--as-of", "2026-12-01", "-H", "h1"])
    assert code == 1, out
    assert "[WARNING] m1: h1: WARNING - plain script ran" in out.splitlines()[1]
    binary = tmp_path / "check_binary"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 64)    # not a script: still refused, one line
    binary.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{binary}', '{{host}}']}}")
    code, out = probe(["--check", "plugin", "--milestones", str(rules), "--as-of", "2026-12-01", "-H", "h1"])
    assert code == 3, out
