"""Round 2 of the hostile suite: siblings of the hardening issue's examples that were still not clean.

Each test runs the command as a user would (tests.hostile.runner) and asserts
the exact one-line error, the exit code and the time bound.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.hostile.runner import assert_clean, run

GOCDB = str(Path(__file__).resolve().parents[1] / "data" / "topology" / "gocdb.xml")


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def special(tmp_path: Path, kind: str) -> Path:
    """A FIFO, a directory or a symlink to /dev/null under tmp_path (never a real device node)."""
    path = tmp_path / f"out-{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    else:
        path.symlink_to(os.devnull)
    return path


WORDS = {"fifo": "a FIFO (named pipe), not a regular file", "dir": "a directory, not a regular file",
         "devnull": "a character device, not a regular file"}


@pytest.mark.parametrize("kind", ["fifo", "dir", "devnull"])
def test_report_output_that_is_not_a_regular_file_is_refused_and_left_alone(tmp_path: Path, kind: str) -> None:
    # The old writer renamed its temp file over -o: a FIFO or a device node was replaced.
    target = special(tmp_path, kind)
    before = os.lstat(target)
    result = run("gridready", "report", "--as-of", "2010-06-08", "-o", str(target), timeout=20)
    assert_clean(result, 3, within=10)
    assert one_error_line(result.stderr) == f"gridready: {target}: cannot write the report: {WORDS[kind]}"
    after = os.lstat(target)
    assert (stat.S_IFMT(after.st_mode), after.st_ino) == (stat.S_IFMT(before.st_mode), before.st_ino)
    assert os.stat(os.devnull).st_mode & stat.S_IFCHR


def test_report_output_through_a_symlink_replaces_its_target(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("old\n")
    (tmp_path / "link.md").symlink_to("real.md")
    result = run("gridready", "report", "--as-of", "2010-06-08", "--format", "markdown",
                 "-o", str(tmp_path / "link.md"), timeout=20)
    assert result.code == 2, result.output
    assert (tmp_path / "link.md").is_symlink()
    assert (tmp_path / "real.md").read_text().startswith("## GDB milestone compliance as of 2010-06-08")


@pytest.mark.parametrize("kind", ["fifo", "dir", "devnull"])
def test_inventory_import_output_not_a_regular_file_fails_before_any_source(tmp_path: Path, kind: str) -> None:
    # One line: the per-site warnings of the sources are never reached.
    target = special(tmp_path, kind)
    result = run("gridready", "inventory", "import", "--gocdb", GOCDB, "-o", str(target), timeout=20)
    assert_clean(result, 3, within=10)
    assert one_error_line(result.stderr) == f"gridready: {target}: cannot write: {WORDS[kind]}"


@pytest.mark.parametrize("value", ["inf", "1e400", "nan"])
def test_inventory_import_timeout_must_be_finite(tmp_path: Path, value: str) -> None:
    result = run("gridready", "inventory", "import", "--gocdb", GOCDB, "-t", value, timeout=20)
    assert_clean(result, 3, within=10)
    shown = {"1e400": "inf"}.get(value, value)
    assert one_error_line(result.stderr) == \
        f"gridready: inventory import: -t must be more than 0 and at most 3600 seconds, got {shown}"


def test_report_error_after_the_example_note_is_one_line(tmp_path: Path) -> None:
    # The "showing the bundled example" note used to come before the error line.
    bad = tmp_path / "sites.yaml"
    bad.write_text("sites: [\n")
    result = run("gridready", "report", "--as-of", "2010-06-08", "--inventory", str(bad), cwd=tmp_path,
                 timeout=20)
    assert_clean(result, 3, within=10, mentions=str(bad))
    one_error_line(result.stderr)


def test_report_notes_still_said_after_success(tmp_path: Path) -> None:
    result = run("gridready", "report", "--as-of", "2010-06-08", cwd=tmp_path, timeout=20)
    assert result.code == 2, result.output
    assert result.stderr.startswith("showing the bundled example grid snapshot of 2010-06-08")


# --- Unicode bidirectional controls and line separators (class 8) --------------------

from tests.checks_support import rules_file  # noqa: E402


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200f", "\u2028", "\u061c"])
def test_plugin_output_with_bidi_or_line_separator_is_shown_escaped(tmp_path: Path, char: str) -> None:
    # U+202E shows the rest of the line backwards; U+2028 starts a second "line" for splitlines().
    script = tmp_path / "check_bidi"
    script.write_bytes(b"#!/bin/sh\nprintf 'OK ab" + char.encode() + b"cd\\n'; exit 0\n")
    script.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{script}', '{{host}}']}}")
    result = run("check_gridready", "--check", "plugin", "--milestones", str(rules), "-H", "h1", "-t", "5")
    assert_clean(result, 0, within=10)
    assert char not in result.output
    assert result.stdout.splitlines()[0] == f"PLUGIN OK - h1: m1 COMPLIANT: h1: OK ab\\u{ord(char):04x}cd"


def test_bidi_control_in_an_inventory_name_is_refused_naming_the_line(tmp_path: Path) -> None:
    inventory = tmp_path / "sites.yaml"
    inventory.write_text("sites:\n  - name: \"RAL\u202e2GCL\"\n    tier: 1\n")
    result = run("gridready", "nagios-config", "--all", "--inventory", str(inventory), timeout=20)
    assert_clean(result, 3, within=10, mentions=f"{inventory}:2")
    assert "U+202E" in one_error_line(result.stderr)


def test_bidi_control_in_an_ingested_site_is_refused(tmp_path: Path) -> None:
    import json

    doc = {"schema": "gridready.result/1", "check": "xrootd", "site": "RAL\u2067-LCG2", "host": "h:1094",
           "state": "OK", "summary": "s", "checked_at": "2010-06-08T10:00:00Z", "milestones": [],
           "metrics": {}, "details": []}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    result = run("gridready", "ingest", "--db", str(tmp_path / "h.db"), str(path), timeout=20)
    assert "\u2067" not in result.output
    assert result.code == 3, result.output
    assert str(path) in result.stderr


def test_plugin_timeout_names_the_hosts_not_a_python_list(tmp_path: Path) -> None:
    script = tmp_path / "check_slow"
    # The plugin itself hangs. (A background child holding stdout open no longer does: the
    # plugin is judged when it exits, see gridready/child.py.)
    script.write_text("#!/bin/sh\necho 'OK fine'; exec sleep 30\n")
    script.chmod(0o755)
    rules = rules_file(tmp_path, "plugin", f"{{command: ['{script}', '{{host}}']}}")
    result = run("check_gridready", "--check", "plugin", "--milestones", str(rules), "-H", "h1", "-H", "h2",
                 "-t", "2")
    assert_clean(result, 3, within=5)
    assert result.stdout.splitlines()[0] == \
        f"PLUGIN UNKNOWN - h1, h2: m1 UNKNOWN: timeout after 2s while running {script}"
