"""Hostile values in what GDB chairs and dashboards read: Nagios first line, history, prune, html output."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from gridready.compliance import Compliance, State
from gridready.nagios.output import nagios_text
from gridready.result import MilestoneResult, ProbeResult
from tests.hostile.runner import assert_clean, run

WHEN = datetime(2010, 6, 8, 10, 0, tzinfo=timezone.utc)


def result(host: str | None, *milestones: tuple[str, Compliance, str]) -> ProbeResult:
    ms = [MilestoneResult(id=i, compliance=c, deadline=date(2010, 6, 1), days_left=-7, message=msg)
          for i, c, msg in milestones]
    return ProbeResult(check="xrootd", site="S", host=host, state=State.CRITICAL, summary="engine summary; long",
                       checked_at=WHEN, milestones=ms)


def test_several_failing_milestones_are_counted_not_repeated() -> None:
    text = nagios_text(result("door:1094", ("a", Compliance.DUE, "a is not done"),
                              ("b", Compliance.OVERDUE, "b is late"), ("c", Compliance.COMPLIANT, "ok"),
                              ("d", Compliance.UNKNOWN, "d refused")), State.CRITICAL, ["t=1ms;;;0"])
    assert text.splitlines() == [
        "XROOTD CRITICAL - door:1094: 2 of 4 milestones failing: b OVERDUE, a DUE / 1 unknown: d | t=1ms;;;0",
        "[WARNING] a: a is not done (deadline 2010-06-01)",
        "[CRITICAL] b: b is late (deadline 2010-06-01, overdue 7 days)",
        "[OK] c: ok (deadline 2010-06-01)",
        "[UNKNOWN] d: d refused (deadline 2010-06-01)"]


def test_many_failing_names_three_then_counts() -> None:
    ms = [(f"m{i}", Compliance.OVERDUE, "late") for i in range(6)]
    first = nagios_text(result(None, *ms), State.CRITICAL, []).splitlines()[0]
    assert first == "XROOTD CRITICAL - 6 of 6 milestones failing: m0 OVERDUE, m1 OVERDUE, m2 OVERDUE +3 more"


def test_only_unknown() -> None:
    first = nagios_text(result("h", ("a", Compliance.UNKNOWN, "x"), ("b", Compliance.COMPLIANT, "y")),
                        State.UNKNOWN, []).splitlines()[0]
    assert first == "XROOTD UNKNOWN - h: 1 of 2 milestones unknown: a"


def test_pipe_semicolon_newline_and_escape_cannot_break_the_output() -> None:
    evil = "root | fake=1;2;3\nCRITICAL second line\x1b[2J;"
    text = nagios_text(result("h|x;y", ("m|1", Compliance.OVERDUE, evil)), State.CRITICAL, ["t=1ms;;;0"])
    lines = text.splitlines()
    assert lines[0] == ("XROOTD CRITICAL - h/x,y: m/1 OVERDUE: root / fake=1,2,3 CRITICAL second line\\x1b[2J,"
                        " | t=1ms;;;0")
    assert lines[1] == "[CRITICAL] m/1: root / fake=1;2;3 CRITICAL second line\\x1b[2J; (deadline 2010-06-01, overdue 7 days)"
    assert len(lines) == 2 and text.count("|") == 1


def test_long_message_is_cut_in_the_status_line_only() -> None:
    message = "x" * 500
    lines = nagios_text(result("h", ("m", Compliance.OVERDUE, message)), State.CRITICAL, []).splitlines()
    assert lines[0] == "XROOTD CRITICAL - h: m OVERDUE: " + "x" * 157 + "..."
    assert message in lines[1]


def test_history_bad_dates_and_ranges(tmp_path: Path) -> None:
    for args, mentions in ((["--from", "2010-02-30"], "bad date '2010-02-30'"),
                           (["--from", "2010-06-09", "--to", "2010-06-01"], "is later than --to"),
                           (["--from", "0001-01-01", "--to", "9999-12-31"], "at most 3660 days"),
                           (["--db", str(tmp_path / "none.db")], "no such history database")):
        done = run("gridready", "history", *args, cwd=tmp_path)
        assert_clean(done, 3, within=20, mentions=mentions)
        assert done.stderr.count("\n") == 1


def test_prune_missing_or_non_database(tmp_path: Path) -> None:
    assert_clean(run("gridready", "prune", "--before", "2010-01-01", cwd=tmp_path), 3, within=20,
                 mentions="no such history database")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)
    done = run("gridready", "prune", "--before", "2010-01-01", "--db", str(junk), cwd=tmp_path)
    assert_clean(done, 3, within=20, mentions=str(junk))
    assert junk.read_bytes() == b"not sqlite at all" * 100
    assert_clean(run("gridready", "prune", "--db", str(junk), cwd=tmp_path), 3, within=20, mentions="--before")


def test_html_output_to_a_directory_or_unwritable_place(tmp_path: Path) -> None:
    done = run("gridready", "report", "--format", "html", "--as-of", "2010-06-08", "-o", str(tmp_path), cwd=tmp_path)
    assert_clean(done, 3, within=30, mentions=str(tmp_path))
    assert list(tmp_path.iterdir()) == []      # no temporary file left behind


def test_sweep_where_nothing_can_be_reached_exits_3_with_a_summary(tmp_path: Path) -> None:
    inventory = tmp_path / "sites.yaml"
    inventory.write_text('sites:\n  - {name: X-T1, tier: 1, xrootd: ["127.0.0.1:1"]}\n', encoding="utf-8")
    done = run("gridready", "sweep", "--inventory", str(inventory), "--db", str(tmp_path / "h.db"), "-t", "2",
               "--as-of", "2010-06-08", cwd=tmp_path)
    assert_clean(done, 3, within=30)
    assert done.stderr == ("sweep: milestones: 1 NOT_APPLICABLE, 2 UNKNOWN\n"
                           "sweep: nothing could be checked: every result is UNKNOWN (sources down, wrong inventory?)\n")


def test_sweep_bad_timeouts(tmp_path: Path) -> None:
    for value in ("0", "-1", "nan", "inf", "1e9", "abc"):
        done = run("gridready", "sweep", "--db", str(tmp_path / "h.db"), "-t", value, cwd=tmp_path)
        assert_clean(done, 3, within=20, mentions="timeout")
        assert done.stderr.count("\n") == 1


def test_plot_to_a_fifo_fails_at_once(tmp_path: Path) -> None:
    import os
    fifo = tmp_path / "p.svg"
    os.mkfifo(fifo)
    done = run("gridready", "plot", "--milestone", "xrootd-protocol-string", "-o", str(fifo), cwd=tmp_path,
               timeout=30)
    assert_clean(done, 3, within=20, mentions=f"{fifo}: cannot write the plot: a FIFO (named pipe)")
    assert done.stderr.count("\n") == 1 and stat_is_fifo(fifo)


def test_plot_to_a_directory_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    done = run("gridready", "plot", "--milestone", "xrootd-protocol-string", "-o", "d.png", cwd=tmp_path,
               timeout=30)
    assert_clean(done, 3, within=20, mentions="d.png: cannot write the plot: a directory")


def stat_is_fifo(path: Path) -> bool:
    import stat
    return stat.S_ISFIFO(path.stat().st_mode)


def _corrupt_db(tmp_path: Path, sql: str) -> Path:
    import sqlite3
    db = tmp_path / "bad.db"
    done = run("gridready", "sweep", "--inventory", "config/example/sites.yaml", "--db", str(db),
               cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert done.code == 0, done.output
    with sqlite3.connect(db) as raw:
        raw.execute(sql)
    return db


import pytest  # noqa: E402


@pytest.mark.parametrize("sql", ["UPDATE results SET milestones = 'not json' WHERE id = 2",
                                 "UPDATE outcomes SET days_left = 'x' WHERE result_id = 2",
                                 "UPDATE outcomes SET compliance = 'GREAT' WHERE result_id = 2"])
@pytest.mark.parametrize("command", [["report", "--format", "json"], ["history", "--format", "csv"]])
def test_corrupt_stored_row_is_unknown_and_named(tmp_path: Path, sql: str, command: list[str]) -> None:
    db = _corrupt_db(tmp_path, sql)
    done = run("gridready", *command, "--db", str(db), cwd=tmp_path, timeout=60)
    assert "Traceback" not in done.output
    lines = [line for line in done.stderr.splitlines() if "corrupt stored result 2 " in line]
    assert len(lines) == 1 and lines[0].startswith(f"gridready: {db}: corrupt stored result 2 (")
    if command[0] == "report":
        assert done.code == 2 and "corrupt stored result 2: " in done.stdout    # an UNKNOWN cell, not a pass
    else:
        assert done.code == 0 and ",UNKNOWN," in done.stdout


# --- the calendar's ends: --as-of/--to 0001-01-01 and 9999-12-31 ------------------------------------------

@pytest.mark.parametrize("args, code", [
    (("report", "--format", "html", "-o", "r.html", "--as-of", "0001-01-01"), 0),
    (("report", "--format", "html", "-o", "r.html", "--as-of", "9999-12-31"), 2),
    (("report", "--format", "ssb", "--as-of", "0001-01-01", "--since", "0001-01-01"), 0),
    (("history", "--format", "csv", "--to", "0001-01-01"), 0),
    (("history", "--format", "csv", "--from", "9999-12-31", "--to", "9999-12-31"), 0),
    (("report", "--inventory", "config/example-2026/sites.yaml", "--milestones", "config/milestones-2026.yaml",
      "--as-of", "0001-01-01", "--format", "json"), 0),
])
def test_dates_at_the_ends_of_the_calendar_are_reports_not_overflows(tmp_path: Path, args: tuple[str, ...],
                                                                      code: int) -> None:
    # Bug: as_of +- 30/365/3660 days raised OverflowError (internal error); the 2026 example swept
    # "as of 0001-01-01" stored '1-01-01T23:59:59Z' and failed as a corrupt row.
    repo = Path(__file__).resolve().parents[2]
    args = tuple(str(tmp_path / a) if a == "r.html" else a for a in args)
    done = run("gridready", *args, cwd=repo, timeout=60)
    assert_clean(done, code, within=60)
    assert "internal error" not in done.stderr and "corrupt" not in done.stderr


@pytest.mark.parametrize("span", [("--to", "0001-01-01"), ("--from", "9999-12-20", "--to", "9999-12-31")])
def test_plot_outside_the_years_matplotlib_draws_is_one_line(tmp_path: Path, span: tuple[str, ...]) -> None:
    pytest.importorskip("matplotlib")
    done = run("gridready", "plot", "--milestone", "xrootd-protocol-string", "-o", "p.svg", *span, cwd=tmp_path,
               timeout=60)
    assert_clean(done, 3, within=60, mentions="matplotlib draws dates of the years 0010 to 9990 only")
    assert done.stderr.count("\n") == 1 and not (tmp_path / "p.svg").exists()


def test_a_site_out_of_scope_when_checked_is_unknown_after_the_scope_grew(tmp_path: Path) -> None:
    # Bug: the probe's NOT_APPLICABLE "out of scope" (CERN, tier 0, on a Tier-1 milestone) stayed
    # NOT_APPLICABLE in the report after the milestone was extended to tier 0, though nothing was checked.
    import json
    repo = Path(__file__).resolve().parents[2]
    rules = (repo / "config" / "milestones.yaml").read_text().replace(
        "    scope: {tiers: [1]}\n    check: glexec", "    scope: {tiers: [0, 1]}\n    check: glexec")
    (tmp_path / "m.yaml").write_text(rules)
    probe = {"schema": "gridready.result/1", "check": "glexec", "site": "CERN-PROD", "host": "wn1.cern.ch",
             "state": "OK", "summary": "s", "checked_at": "2010-06-01T10:00:00Z",
             "milestones": [{"id": "glexec-scas-argus-t1", "compliance": "NOT_APPLICABLE", "state": "OK",
                             "deadline": "2010-05-31", "days_left": -1, "outcome": "not-applicable",
                             "message": "site CERN-PROD (tier 0) is out of scope", "waiver": None}],
             "metrics": {}, "details": []}
    (tmp_path / "r.json").write_text(json.dumps(probe))
    assert_clean(run("gridready", "ingest", "--db", "h.db", "r.json", cwd=tmp_path), 0, within=30)
    done = run("gridready", "report", "--db", "h.db", "--milestones", "m.yaml", "--as-of", "2010-06-08",
               "--format", "json", "--milestone", "glexec-scas-argus-t1", cwd=tmp_path)
    assert_clean(done, 0, within=30)
    cern = next(s for s in json.loads(done.stdout)["sites"] if s["name"] == "CERN-PROD")
    assert [(m["compliance"], m["message"]) for m in cern["milestones"]] == [
        ("UNKNOWN", "not checked since the site came into scope (the result of 2010-06-01T10:00:00Z says: "
                    "site CERN-PROD (tier 0) is out of scope)")]


@pytest.mark.parametrize("args", [("history", "--site", "NOPE"), ("history", "--inventory", "missing.yaml"),
                                  ("plot", "--milestone", "xrootd-protocol-string", "--site", "NOPE"),
                                  ("plot", "--milestone", "xrootd-protocol-string", "--to", "0001-01-01")])
def test_without_a_history_an_error_is_still_the_only_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    # Bug: history and plot said "showing the bundled example ..." first, then the error: two lines.
    if args[0] == "plot":
        pytest.importorskip("matplotlib")
    done = run("gridready", *args, cwd=tmp_path, timeout=60)
    assert_clean(done, 3, within=60)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("gridready: "), done.stderr


def test_without_a_history_the_example_note_is_the_first_line(tmp_path: Path) -> None:
    done = run("gridready", "history", "--format", "csv", "--from", "2010-06-08", cwd=tmp_path, timeout=60)
    assert_clean(done, 0, within=60)
    assert done.stderr == ("showing the bundled example grid snapshot of 2010-06-08, not a sweep of yours: "
                           "no --db given and ./gridready.db does not exist\n")
