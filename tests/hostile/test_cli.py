"""Hostile input at the ``gridready`` CLI boundary: every error exit 3, one line, no traceback, bounded.

Argument errors of every sub-command, a named ``--db`` that does not exist
(or is a directory or a FIFO), ingested results with out-of-range numbers,
deep nesting, future dates and control characters, unreadable rules and
absurd sweep timeouts, unexpected exceptions, Ctrl-C and a closed pipe.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gridready import cli
from gridready.store import Store
from tests.helpers import REPO, write
from tests.hostile.runner import Run, assert_clean, run

#: A command that fails on its arguments or input answers well within this.
FAST = 10.0

GOOD: dict[str, Any] = {
    "schema": "gridready.result/1", "check": "xrootd", "site": "RAL-LCG2", "host": "door.rl.ac.uk:1094",
    "state": "WARNING", "summary": "door.rl.ac.uk:1094: published as 'root'", "checked_at": "2010-06-08T10:00:00Z",
    "milestones": [{"id": "xrootd-protocol-string", "compliance": "DUE", "state": "WARNING",
                    "deadline": "2010-06-30", "days_left": 22, "message": "published as 'root'", "waiver": None}],
    "metrics": {"handshake_ms": 4.2}, "details": ["kXR_protocol 0x290"]}


def one_error_line(result: Run, code: int = 3, *, mentions: str | None = None, within: float = FAST) -> str:
    """The run failed cleanly with exactly one line on stderr; that line."""
    assert_clean(result, code, within=within, mentions=mentions)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- 1. argument errors of every sub-command: exit 3 (argparse's 2 means "some OVERDUE" for report) ----------

@pytest.mark.parametrize("args, mentions", [
    ((), "COMMAND"),
    (("bogus",), "'bogus'"),
    (("report", "--as-of", "yesterday"), "--as-of"),
    (("report", "--as-of", "2010-02-30"), "2010-02-30"),
    (("report", "--since", "2010-13-01"), "--since"),
    (("report", "--format", "xml"), "--format"),
    (("report", "--no-such-option"), "--no-such-option"),
    (("report", "--as-of"), "--as-of"),
    (("ingest",), "FILE"),
    (("sweep", "--concurrency", "many"), "--concurrency"),
    (("sweep", "--concurrency", "0"), "--concurrency"),
    (("sweep", "--as-of", "2010-6-8x"), "--as-of"),
    (("export", "--since", "soon"), "--since"),
    (("rules",), "ACTION"),
    (("rules", "check"), "'check'"),
    (("nagios-config",), "--site"),
])
def test_argument_errors_exit_3_with_one_line(tmp_path: Path, args: tuple[str, ...], mentions: str) -> None:
    line = one_error_line(run("gridready", *args, cwd=tmp_path), mentions=mentions)
    assert line.startswith("gridready")
    assert not (tmp_path / "gridready.db").exists()


def test_since_later_than_as_of_is_a_usage_error(tmp_path: Path) -> None:
    line = one_error_line(run("gridready", "report", "--as-of", "2010-06-08", "--since", "2010-07-01", cwd=tmp_path))
    assert line == "gridready: --since 2010-07-01 is later than --as-of 2010-06-08: nothing can have changed yet"


def test_since_in_the_future_of_today_is_a_usage_error(tmp_path: Path) -> None:
    one_error_line(run("gridready", "report", "--since", "9999-01-01", cwd=tmp_path), mentions="--since 9999-01-01")


def test_help_and_version_are_not_errors(tmp_path: Path) -> None:
    for args in (("--help",), ("report", "--help"), ("-V",)):
        result = run("gridready", *args, cwd=tmp_path)
        assert (result.code, result.stderr) == (0, ""), result.output


#: Every date option of every command, with what must come before it.
DATE_OPTIONS = [("report", "--as-of"), ("report", "--since"), ("history", "--from"), ("history", "--to"),
                ("export", "--since"), ("prune", "--before"), ("plot", "--milestone", "x", "--from"),
                ("plot", "--milestone", "x", "--to"), ("sweep", "--as-of")]


@pytest.mark.parametrize("value", ["", "2010-6-8", "2010-06-08T00:00", "2011-02-29", "20100608", "2010-06-08 ",
                                   "2010-06-08Z"])
@pytest.mark.parametrize("option", DATE_OPTIONS, ids=lambda o: f"{o[0]}{o[-1]}")
def test_every_date_option_takes_yyyy_mm_dd_only(tmp_path: Path, option: tuple[str, ...], value: str) -> None:
    line = one_error_line(run("gridready", *option, value, cwd=tmp_path))
    assert line == (f"gridready {option[0]}: argument {option[-1]}: bad date '{value}', expected YYYY-MM-DD "
                    f"(see gridready {option[0]} --help)")
    assert not (tmp_path / "gridready.db").exists()


@pytest.mark.parametrize("option", DATE_OPTIONS, ids=lambda o: f"{o[0]}{o[-1]}")
def test_every_date_option_without_its_value(tmp_path: Path, option: tuple[str, ...]) -> None:
    line = one_error_line(run("gridready", *option, cwd=tmp_path))
    assert line == (f"gridready {option[0]}: argument {option[-1]}: expected one argument "
                    f"(see gridready {option[0]} --help)")


@pytest.mark.parametrize("args, line", [
    (("history", "--format", "table"), "gridready history: argument --format: invalid choice: 'table' "
                                       "(choose from 'json', 'csv') (see gridready history --help)"),
    (("report", "--format", ""), "gridready report: argument --format: invalid choice: '' (choose from 'table', "
                                 "'markdown', 'json', 'ssb', 'html') (see gridready report --help)"),
    (("export", "--vo", ""), "gridready export: argument --vo: empty VO name (see gridready export --help)"),
    (("prune", "--before", "9999-12-31"), None),
    (("report", "-o", "."), "gridready: .: cannot write the report: a directory, not a regular file"),
    (("plot", "--milestone", "glexec-scas-argus-t1", "-o", "d.png"),
     "gridready: d.png: cannot write the plot: a directory, not a regular file"),
])
def test_other_bad_values_are_one_line(tmp_path: Path, args: tuple[str, ...], line: str | None) -> None:
    (tmp_path / "d.png").mkdir()
    got = one_error_line(run("gridready", *args, cwd=tmp_path))
    if line is None:        # prune --before far in the future: refused before any database is opened
        assert got.startswith("gridready: --before 9999-12-31 is in the future"), got
    else:
        assert got == line


# --- 2. say what is reported on: a named --db must exist ---------------------------------------------------------

@pytest.mark.parametrize("command", ["report", "export"])
def test_a_named_db_that_does_not_exist_is_an_error(tmp_path: Path, command: str) -> None:
    line = one_error_line(run("gridready", command, "--db", "typo.db", cwd=tmp_path))
    assert line == "gridready: typo.db: no such history database (--db)"
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize("command", ["report", "export", "sweep", "ingest", "history", "prune"])
def test_an_empty_db_path_is_an_error_not_the_default(tmp_path: Path, command: str) -> None:
    extra = {"ingest": ["x.json"], "prune": ["--before", "2010-01-01"]}.get(command, [])
    line = one_error_line(run("gridready", command, "--db", "", *extra, cwd=tmp_path), within=FAST)
    assert line == f"gridready {command}: argument --db: empty path (see gridready {command} --help)"
    assert not (tmp_path / "gridready.db").exists()


@pytest.mark.parametrize("command", ["report", "export", "sweep", "ingest"])
def test_a_db_that_is_a_directory_or_a_fifo_is_refused_at_once(tmp_path: Path, command: str) -> None:
    (tmp_path / "dir.db").mkdir()
    os.mkfifo(tmp_path / "fifo.db")
    extra = ["x.json"] if command == "ingest" else []
    for db, kind in (("dir.db", "a directory"), ("fifo.db", "not a regular file")):
        line = one_error_line(run("gridready", command, "--db", db, *extra, cwd=tmp_path), within=FAST)
        assert line == f"gridready: {db}: cannot use as history database: {kind}"


def test_the_example_is_shown_only_without_db_and_says_so_first(tmp_path: Path) -> None:
    result = run("gridready", "report", "--as-of", "2010-06-08", "--format", "json", cwd=tmp_path)
    assert result.code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines()[0].startswith("showing the bundled example grid snapshot of 2010-06-08")
    assert json.loads(result.stdout)["data_source"] == "bundled example grid snapshot of 2010-06-08"
    assert not (tmp_path / "gridready.db").exists()


def test_the_default_db_once_it_exists_is_reported_not_the_example(tmp_path: Path) -> None:
    write(tmp_path / "r.json", json.dumps(GOOD))
    assert run("gridready", "ingest", "r.json", cwd=tmp_path).code == 0
    result = run("gridready", "report", "--as-of", "2010-06-08", "--format", "json", cwd=tmp_path)
    assert result.stderr == "" and result.code in (0, 1, 2), result.output
    assert json.loads(result.stdout)["data_source"] == "./gridready.db"


# --- 3. ingest: numbers, nesting, sizes, dates, control characters -------------------------------------------------

def milestone_with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data["milestones"][0].update(changes)
    return data


def raw_with(old: str, new: str) -> str:
    text = json.dumps(GOOD)
    assert old in text
    return text.replace(old, new, 1)


BAD_RESULTS: list[tuple[str, str, str]] = [
    # (name, file content, reason in the rejected line)
    ("days-2-70", json.dumps(milestone_with(days_left=2 ** 70)), "an integer of 22 digits"),
    ("days-2-63", json.dumps(milestone_with(days_left=2 ** 63)), "'days_left' 9223372036854775808 is out of range"),
    ("days-minus", json.dumps(milestone_with(days_left=-4_000_000)), "'days_left' -4000000 is out of range"),
    ("days-float", json.dumps(milestone_with(days_left=1.5)), "'days_left' must be a whole number, got 1.5"),
    ("metric-1e400", raw_with('"handshake_ms": 4.2', '"handshake_ms": 1e400'), "the number 1e400 does not fit"),
    ("metric-10-400", raw_with('"handshake_ms": 4.2', f'"handshake_ms": {10 ** 400}'), "an integer of 401 digits"),
    ("metric-1e301", raw_with('"handshake_ms": 4.2', '"handshake_ms": 1e301'), "'metrics' must map"),
    ("metric-nan", raw_with('"handshake_ms": 4.2', '"handshake_ms": NaN'), "NaN is not a number JSON allows"),
    ("metric-inf", raw_with('"handshake_ms": 4.2', '"handshake_ms": -Infinity'), "-Infinity is not a number"),
    ("digits-5000", raw_with('"days_left": 22', '"days_left": ' + "7" * 5000), "an integer of 5000 digits"),
    ("nested-arrays", "[" * 100_000 + "]" * 100_000, "JSON nested deeper than 8 levels"),
    ("nested-objects", '{"a":' * 100_000 + "1" + "}" * 100_000, "JSON nested deeper than 8 levels"),
    ("nested-details", raw_with('"details": ["kXR_protocol 0x290"]', '"details": ' + "[" * 50 + "]" * 50),
     "JSON nested deeper than 8 levels"),
    ("future-2099", raw_with("2010-06-08T10:00:00Z", "2099-01-01T00:00:00Z"),
     "checked_at 2099-01-01T00:00:00Z is in the future"),
    ("long-summary", json.dumps({**GOOD, "summary": "s" * 100_000}), "'summary' is longer than 65536 characters"),
    ("long-site", json.dumps({**GOOD, "site": "S" * 2000}), "'site' is longer than 1024 characters"),
    ("many-details", json.dumps({**GOOD, "details": ["d"] * 20_000}), "at most 10000 strings"),
    ("many-milestones", json.dumps({**GOOD, "milestones": GOOD["milestones"] * 1001}), "more than 1000 milestones"),
    ("esc-check", json.dumps({**GOOD, "check": "\x1b[2Jxrootd"}), "'check' '\\x1b[2Jxrootd' holds control"),
    ("esc-site", json.dumps({**GOOD, "site": "RAL\x1b]0;owned\x07"}), "'site' 'RAL\\x1b]0;owned\\x07' holds control"),
    ("esc-id", json.dumps(milestone_with(id="x\ny")), "'id' 'x\\ny' holds control"),
    ("esc-state", json.dumps({**GOOD, "state": "\x1b[31mOK"}), "bad value"),
    ("waiver-list", json.dumps(milestone_with(waiver={"reason": ["x"]})),
     "'waiver' must be an object of strings or null"),
    ("no-site", json.dumps({**GOOD, "site": None}), "'site' is missing"),
    ("not-utf8", '{"a": "\udcff"}', "not UTF-8 text"),
    ("top-list", "[1, 2]", "expected a JSON object, got list"),
]


@pytest.mark.parametrize("name, content, reason", BAD_RESULTS, ids=[b[0] for b in BAD_RESULTS])
def test_a_bad_result_is_rejected_with_one_line_and_the_good_one_still_stored(tmp_path: Path, name: str,
                                                                             content: str, reason: str) -> None:
    bad = tmp_path / f"{name}.json"
    bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    write(tmp_path / "good.json", json.dumps(GOOD))
    result = run("gridready", "ingest", "--db", "h.db", f"{name}.json", "good.json", cwd=tmp_path)
    line = one_error_line(result, mentions=reason)
    assert line.startswith(f"gridready ingest: rejected {name}.json: ")
    assert result.stdout == "ingested 1 result into h.db, rejected 1 file\n"
    with Store(tmp_path / "h.db") as store:
        assert [(r.site, r.check) for r in store.latest()] == [("RAL-LCG2", "xrootd")]


def test_a_result_one_minute_ahead_is_clock_skew_and_stored(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone
    soon = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    write(tmp_path / "r.json", raw_with("2010-06-08T10:00:00Z", soon))
    result = run("gridready", "ingest", "--db", "h.db", "r.json", cwd=tmp_path)
    assert (result.code, result.stderr) == (0, ""), result.output


def test_a_future_result_cannot_mask_later_ones(tmp_path: Path) -> None:
    write(tmp_path / "future.json", raw_with("2010-06-08T10:00:00Z", "2099-01-01T00:00:00Z"))
    write(tmp_path / "now.json", json.dumps(GOOD))
    run("gridready", "ingest", "--db", "h.db", "future.json", "now.json", cwd=tmp_path)
    result = run("gridready", "report", "--db", "h.db", "--as-of", "2010-06-08", "--format", "json", cwd=tmp_path)
    ral = next(s for s in json.loads(result.stdout)["sites"] if s["name"] == "RAL-LCG2")
    cell = next(m for m in ral["milestones"] if m["id"] == "xrootd-protocol-string")
    assert cell["checked_at"] == "2010-06-08T10:00:00Z"


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero", "too-large", "missing"])
def test_result_files_are_read_through_the_bounded_reader(tmp_path: Path, kind: str) -> None:
    path = {"dev-zero": "/dev/zero"}.get(kind, str(tmp_path / kind))
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "too-large":
        Path(path).write_bytes(b" " * (4 * 1024 * 1024 + 1))
    why = {"fifo": "a FIFO (named pipe), not a regular file", "directory": "a directory, not a regular file",
           "dev-zero": "a character device, not a regular file", "too-large": "larger than the 4 MiB limit",
           "missing": "No such file or directory"}[kind]
    line = one_error_line(run("gridready", "ingest", "--db", "h.db", path, cwd=tmp_path), mentions=why)
    assert line.startswith(f"gridready ingest: rejected {path}: ")


def test_stdin_is_read_bounded_in_size(tmp_path: Path) -> None:
    result = run("gridready", "ingest", "--db", "h.db", "-", cwd=tmp_path, stdin=b" " * (4 * 1024 * 1024 + 10))
    assert one_error_line(result) == "gridready ingest: rejected -: stdin is larger than the 4 MiB limit"
    result = run("gridready", "ingest", "--db", "h.db", "-", cwd=tmp_path, stdin=json.dumps(GOOD).encode())
    assert (result.code, result.stdout, result.stderr) == (0, "ingested 1 result into h.db\n", "")
    result = run("gridready", "ingest", "--db", "h.db", "-", cwd=tmp_path, stdin=b"[" * 100_000)
    assert one_error_line(result).startswith("gridready ingest: rejected -: not a gridready result: ")
    one_error_line(run("gridready", "ingest", "--db", "h.db", "-", "-", cwd=tmp_path), mentions="only once")


def test_control_characters_in_a_file_name_never_reach_the_terminal(tmp_path: Path) -> None:
    name = "\x1b[2J\x1b]0;owned\x07.json"
    (tmp_path / name).write_text(json.dumps({**GOOD, "schema": "other"}), encoding="utf-8")
    line = one_error_line(run("gridready", "ingest", "--db", "h.db", name, cwd=tmp_path))
    assert line.startswith("gridready ingest: rejected \\x1b[2J\\x1b]0;owned\\x07.json: ")


def test_control_characters_in_free_text_are_stored_and_shown_escaped(tmp_path: Path) -> None:
    write(tmp_path / "r.json", json.dumps(milestone_with(message="\x1b[2Jcleared")))
    assert run("gridready", "ingest", "--db", "h.db", "r.json", cwd=tmp_path).code == 0
    for args in (("report", "--as-of", "2010-06-08"), ("export",)):
        result = run("gridready", *args, "--db", "h.db", cwd=tmp_path)
        assert "\x1b" not in result.output and "Traceback" not in result.output


# --- 3b. sweep: absurd timeouts -----------------------------------------------------------------------------------

@pytest.mark.parametrize("timeout", [".inf", ".nan", "-.inf", "1e300", "0", "-5"])
def test_an_absurd_milestone_timeout_stops_the_sweep_with_one_line(tmp_path: Path, timeout: str) -> None:
    rules = (REPO / "config" / "milestones.yaml").read_text(encoding="utf-8")
    assert rules.count("    check: xrootd\n") == 1
    write(tmp_path / "m.yaml", rules.replace("    check: xrootd\n", f"    check: xrootd\n    timeout: {timeout}\n"))
    result = run("gridready", "sweep", "--milestones", "m.yaml", "--inventory",
                 str(REPO / "config" / "example" / "sites.yaml"), "--db", "s.db", cwd=tmp_path)
    line = one_error_line(result, mentions="m.yaml")
    assert "timeout" in line and "OverflowError" not in line and "internal error" not in line


# --- 5. rules validate with what is not a rules file ----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "directory", "dev-zero", "fifo"])
def test_rules_validate_of_an_unreadable_file_is_exit_3(tmp_path: Path, kind: str) -> None:
    path = {"dev-zero": "/dev/zero", "missing": str(tmp_path / "nope.yaml")}.get(kind, str(tmp_path / kind))
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        os.mkdir(path)
    line = one_error_line(run("gridready", "rules", "validate", path, cwd=tmp_path))
    assert line.startswith(f"gridready: {path}: cannot read milestones file: ")


# --- 4. nagios-config: values that would inject ----------------------------------------------------------------------

@pytest.mark.parametrize("args, mentions", [
    (("--wn", "wn1;define"), "--wn 'wn1;define'"),
    (("--wn", "wn1\ndefine command {"), "--wn 'wn1\\ndefine command {'"),
    (("--plugin-dir", "/opt/x\ny"), "--plugin-dir"),
])
def test_nagios_config_refuses_unsafe_command_line_values(tmp_path: Path, args: tuple[str, ...],
                                                          mentions: str) -> None:
    write(tmp_path / "sites.yaml", "sites:\n  - {name: MY-T1, tier: 1, xrootd: [door.example.org]}\n")
    result = run("gridready", "nagios-config", "--inventory", "sites.yaml", "--site", "MY-T1", *args, cwd=tmp_path)
    one_error_line(result, mentions=mentions)
    assert result.stdout == ""


def test_nagios_config_with_an_inventory_newline_is_one_line(tmp_path: Path) -> None:
    write(tmp_path / "sites.yaml", 'sites:\n  - {name: MY-T1, tier: 1, fts: "x\\ndefine command {"}\n')
    result = run("gridready", "nagios-config", "--inventory", "sites.yaml", "--site", "MY-T1", cwd=tmp_path)
    one_error_line(result, mentions="sites.yaml")
    assert "define command" not in result.stdout


def test_an_unknown_site_name_with_escapes_is_shown_escaped(tmp_path: Path) -> None:
    write(tmp_path / "sites.yaml", "sites:\n  - {name: MY-T1, tier: 1}\n")
    result = run("gridready", "nagios-config", "--inventory", "sites.yaml", "--site", "\x1b[2JX", cwd=tmp_path)
    one_error_line(result, mentions="no site")


# --- 1b. the boundary itself: unexpected exceptions, Ctrl-C, a closed pipe -------------------------------------------

def boom(exc: BaseException) -> Any:
    def run_command(args: Any) -> int:
        raise exc
    return run_command


@pytest.fixture()
def failing_report(monkeypatch: pytest.MonkeyPatch) -> Any:
    import gridready.commands.report as report

    def use(exc: BaseException) -> None:
        monkeypatch.setattr(report, "run", boom(exc))
    return use


def test_an_unexpected_exception_is_one_line_naming_command_and_input(failing_report: Any,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    failing_report(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert cli.main(["report", "--db", "x.db"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("gridready: internal error in `gridready report --db x.db`: OverflowError: Python int too large "
                   "to convert to SQLite INTEGER (run with --debug for the traceback)\n")


@pytest.mark.parametrize("flag", [["-v"], ["-vvv"], ["--debug"], ["report", "-v"]])
def test_the_traceback_only_with_v_or_debug(failing_report: Any, capsys: pytest.CaptureFixture[str],
                                           flag: list[str]) -> None:
    failing_report(RuntimeError("bug \x1b[2J"))
    argv = [*flag, "--as-of", "2010-06-08"] if flag[0] == "report" else [*flag, "report", "--as-of", "2010-06-08"]
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert err.startswith("gridready: internal error in `gridready ") and "RuntimeError: bug \\x1b[2J" in err
    assert "Traceback (most recent call last):" in err and "\x1b" not in err


def test_ctrl_c_is_one_line(failing_report: Any, capsys: pytest.CaptureFixture[str]) -> None:
    failing_report(KeyboardInterrupt())
    assert cli.main(["report"]) == 3
    assert capsys.readouterr() == ("", "gridready: interrupted: gridready report\n")


def test_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    # `gridready report | head -1`: the reader went away before the report was written.
    write(tmp_path / "r.json", json.dumps(GOOD))
    assert run("gridready", "ingest", "--db", "h.db", "r.json", cwd=tmp_path).code == 0
    code = "import sys; from gridready.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, "export", "--db", "h.db"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert (proc.wait(timeout=30), err) == (3, b"")
