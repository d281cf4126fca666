"""gridready plot: PNG/SVG of compliant sites per day with the deadline, and the one-line errors."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from gridready.cli import main
from tests.helpers import write
from tests.test_html_report import (DOCS_SHOTS, build_year, needs_chromium, render,
                                    year_args)
from tests.test_report_cli import ingest, probe_result

RULES = """
milestones:
  - id: xroot
    title: xroot published
    source: GDB 2010-06
    deadline: 2010-06-10
    warn_days: 30
    scope: {tiers: [0, 1]}
    check: xrootd
"""
INVENTORY = """
sites:
  - {name: RAL-LCG2, tier: 1}
  - {name: CERN-PROD, tier: 0}
  - {name: pic, tier: 1}
"""


@pytest.fixture()
def grid(tmp_path: Path) -> list[str]:
    rules = write(tmp_path / "milestones.yaml", RULES)
    inventory = write(tmp_path / "sites.yaml", INVENTORY)
    db = str(tmp_path / "h.db")
    results = []
    # CERN compliant from 06-02, RAL from 06-08, pic never.
    for day in range(1, 16):
        for site, fixed in (("CERN-PROD", 2), ("RAL-LCG2", 8), ("pic", 99)):
            state = ("xroot", "COMPLIANT", "ok", 10 - day) if day >= fixed else ("xroot", "PENDING", "root", 10 - day)
            results.append(probe_result(site, "xrootd", f"{site}:1094", f"2010-06-{day:02d}T10:00:00Z", state))
    ingest(tmp_path, db, *results)
    return ["--db", db, "--milestones", str(rules), "--inventory", str(inventory), "--milestone", "xroot"]


def test_svg_has_the_title_and_the_deadline(grid: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.svg"
    assert main(["plot", *grid, "-o", str(out), "--to", "2010-06-15"]) == 0
    assert capsys.readouterr().err == f"wrote {out}: xroot, 15 days from 2010-06-01 to 2010-06-15\n"
    svg = out.read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    # The same history gives the same file (fixed ids, no date stamp): slides can be rebuilt without churn.
    again = tmp_path / "y.svg"
    assert main(["plot", *grid, "-o", str(again), "--to", "2010-06-15"]) == 0
    assert again.read_bytes() == out.read_bytes()


def test_png_default_name(grid: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plot", *grid, "--from", "2010-06-05", "--to", "2010-06-12"]) == 0
    png = (tmp_path / "xroot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_series_plotted_is_the_history(grid: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", *grid, "--from", "2010-06-01", "--to", "2010-06-09", "--format", "csv"]) == 0
    totals = [line.split(",")[4:] for line in capsys.readouterr().out.splitlines()[1:] if ",," in line
              and line.split(",")[2] == ""]
    assert totals == [["0", "3"], ["1", "3"], ["1", "3"], ["1", "3"], ["1", "3"], ["1", "3"], ["1", "3"],
                      ["2", "3"], ["2", "3"]]


@pytest.mark.parametrize("args, line", [
    (["-o", "x.pdf"], "gridready: x.pdf: -o must end in .png or .svg\n"),
    (["-o", "/nonexistent/dir/x.png"], "gridready: /nonexistent/dir/x.png: cannot write the plot: "
                                       "No such file or directory\n"),
])
def test_errors_are_one_line(grid: list[str], capsys: pytest.CaptureFixture[str], args: list[str],
                             line: str) -> None:
    capsys.readouterr()
    assert main(["plot", *grid, *args]) == 3
    assert capsys.readouterr().err == line


def test_without_matplotlib(grid: list[str], capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib raises ImportError
    capsys.readouterr()
    assert main(["plot", *grid, "-o", str(tmp_path / "x.png")]) == 3
    assert capsys.readouterr().err == "gridready: gridready plot needs matplotlib: pip install matplotlib (or pip install '.[plot]' in the gridready checkout)\n"
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_output_that_is_not_a_regular_file_is_refused_before_any_work(
        grid: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, kind: str) -> None:
    import os
    import gridready.commands.history as history

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the history was read before -o was checked")

    monkeypatch.setattr(history, "load_inputs", no_work)
    out = tmp_path / {"fifo": "p.svg", "directory": "d.png", "device": "null.svg"}[kind]
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "directory":
        out.mkdir()
    else:
        out.symlink_to("/dev/null")
    what = {"fifo": "a FIFO (named pipe)", "directory": "a directory", "device": "a character device"}[kind]
    capsys.readouterr()
    assert main(["plot", *grid, "-o", str(out)]) == 3
    assert capsys.readouterr().err == f"gridready: {out}: cannot write the plot: {what}, not a regular file\n"


def test_failed_write_keeps_the_old_plot(grid: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import os
    out = tmp_path / "x.svg"
    out.write_text("old plot")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken)
    capsys.readouterr()
    assert main(["plot", *grid, "-o", str(out)]) == 3
    assert capsys.readouterr().err == f"gridready: {out}: cannot write the plot: No space left on device\n"
    assert out.read_text() == "old plot"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".x.svg")) == []


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    db = tmp_path_factory.mktemp("year") / "year.db"
    return db, build_year(db)


def line_levels(svg: str, colour: str) -> list[float]:
    """The distinct heights (SVG y) of matplotlib's line drawn in ``colour``, in drawing order."""
    found = re.search(r'<path d="([^"]*)"[^>]*style="fill: none; [^"]*stroke: ' + colour, svg)
    assert found, f"no line in {colour}"
    ys = [float(y) for y in re.findall(r"[ML] [-\d.]+ ([-\d.]+)", found.group(1))]
    return list(dict.fromkeys(ys))


@needs_chromium
@pytest.mark.parametrize("case", ["example", "year"])
def test_plot_of_example_and_year_in_chromium(case: str, year: tuple[Path, dict[str, list[int]]],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The SVG plot of the bundled example (one day) and of a generated year, loaded and drawn by Chromium."""
    monkeypatch.chdir(tmp_path)     # no ./gridready.db: the example
    db, expected = year
    milestone = "xrootd-protocol-string"
    out = tmp_path / "plot.svg"
    args = [] if case == "example" else ["--from", "2010-01-01", "--to", "2010-12-31", *year_args(db)]
    capsys.readouterr()
    assert main(["plot", "--milestone", milestone, "-o", str(out), *args]) == 0
    days = "1 day from 2010-06-08 to 2010-06-08" if case == "example" else "365 days from 2010-01-01 to 2010-12-31"
    assert capsys.readouterr().err.splitlines()[-1] == f"wrote {out}: {milestone}, {days}"
    dom = render(out, tmp_path)
    assert "\n<svg xmlns=\"http://www.w3.org/2000/svg\"" in dom and f"<!-- {milestone}: compliant sites over time -->" in dom
    levels = line_levels(dom, "#1a7f37")
    if case == "example":
        assert "<!-- deadline 2010-09-30 (outside 2010-06-08 to 2010-06-08) -->" in dom
        assert len(levels) == 1
    else:
        assert "<!-- deadline 2010-09-30 -->" in dom
        # A step per change of the compliant count: one drawn height per distinct count, rising.
        series = expected[milestone]
        assert len(levels) == len(set(series)) and levels == sorted(levels, reverse=True)
        assert len(line_levels(dom, "#8c959f")) == 1        # the 12 sites it applies to, all year
        if DOCS_SHOTS:
            png = Path(DOCS_SHOTS) / "plot-example.png"
            assert main(["plot", "--milestone", milestone, "-o", str(tmp_path / "p.png"), *args]) == 0
            shutil.copyfile(tmp_path / "p.png", png)
