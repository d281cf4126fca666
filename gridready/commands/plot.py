"""``gridready plot --milestone ID``: "compliant sites over time" as PNG or SVG, for slides.

The series is ``gridready history``'s (day D = ``report --as-of D``): compliant
sites per day (solid) of the sites the milestone applies to (dashed), the
deadline marked. The file is written whole or not at all
(:func:`gridready.localfile.write_atomic`); a FIFO, device or directory as
``-o`` is refused before any work. matplotlib is imported only here (``pip install
matplotlib``, or ``pip install '.[plot]'`` in a gridready checkout); without
it the command says so in one line.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import Any

from gridready.errors import GridreadyError, UsageError
from gridready.localfile import check_writable, write_atomic

FORMATS = {".png": "png", ".svg": "svg"}


def add_parser(sub: Any) -> None:
    from gridready.commands.history import add_series_options
    p = sub.add_parser(
        "plot", help="chart of compliant sites over time for one milestone (png or svg)",
        description="Draw compliant sites per day for one milestone, with its deadline marked, from the "
                    "history (day D as `gridready report --as-of D`). Needs matplotlib "
                    "(pip install matplotlib, or '.[plot]' in a gridready checkout).",
        epilog="Default -o: MILESTONE.png in the working directory. Exit codes: 0 written, 3 an error.")
    p.add_argument("--milestone", required=True, metavar="ID", help="the milestone to plot")
    p.add_argument("-o", "--output", metavar="FILE.png|FILE.svg", help="output file (default ID.png)")
    p.add_argument("--site", action="append", metavar="NAME",
                   help="only these sites of the inventory (repeatable; default the report's Tier-0/1)")
    add_series_options(p)
    p.set_defaults(func=run)


#: Years matplotlib can draw an axis over: its dates end at 0001 and 9999, and the margin
#: around a short series reaches a couple of years beyond it.
PLOT_YEARS = (10, 9990)


def run(args: argparse.Namespace) -> int:
    from gridready.commands.history import compute, load_inputs

    output = args.output or f"{args.milestone}.png"
    fmt = FORMATS.get(os.path.splitext(output)[1].lower())
    if fmt is None:
        raise UsageError(f"{output}: -o must end in .png or .svg")
    # A FIFO, device or directory as -o is refused before any work (opening a FIFO would block).
    check_writable(output, what="the plot")
    try:
        import matplotlib
        matplotlib.use("Agg")
        # Fixed element ids (and no date below): the same history gives the same SVG file.
        matplotlib.rcParams["svg.hashsalt"] = "gridready"
        from matplotlib import pyplot
    except ImportError:
        raise GridreadyError("gridready plot needs matplotlib: pip install matplotlib"
                             " (or pip install '.[plot]' in the gridready checkout)") from None
    args.milestone = [args.milestone]
    inputs = load_inputs(args)
    with inputs.store:
        series = compute(inputs, args.first, args.last)
    if not (PLOT_YEARS[0] <= series.first.year and series.last.year <= PLOT_YEARS[1]):
        raise UsageError(f"cannot plot {series.first} to {series.last}: matplotlib draws dates of the years "
                         f"{PLOT_YEARS[0]:04d} to {PLOT_YEARS[1]} only (with the axis margin); use --from/--to")
    milestone = inputs.rules.milestones[0]
    points = series.series(milestone.id)
    days = [p.day for p in points]

    from matplotlib.ticker import MaxNLocator
    figure, plotted = pyplot.subplots(figsize=(8, 4.5), dpi=120)
    axes: Any = plotted     # matplotlib's stubs take no datetime.date on the x axis, matplotlib does
    axes.step(days, [p.applicable for p in points], where="post", color="#8c959f", linestyle="--",
              label="sites it applies to")
    axes.step(days, [p.compliant for p in points], where="post", color="#1a7f37", linewidth=2.2,
              label="compliant sites")
    if len(days) == 1:
        axes.plot(days, [points[0].compliant], "o", color="#1a7f37")
    if series.first <= milestone.deadline <= series.last:
        axes.axvline(milestone.deadline, color="#cf222e", linestyle=":", linewidth=1.8)
        axes.annotate(f"deadline {milestone.deadline}", xy=(milestone.deadline, 1.0), xycoords=("data", "axes fraction"),
                      xytext=(4, -14), textcoords="offset points", color="#cf222e")
    else:
        axes.set_xlabel(f"deadline {milestone.deadline} (outside {series.first} to {series.last})")
    axes.set_ylim(0, max(max((p.applicable for p in points), default=1), 1) * 1.15 + 0.5)   # room for the label
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("sites")
    axes.set_title(f"{milestone.id}: compliant sites over time", loc="left")
    axes.legend(loc="lower right", frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    image = io.BytesIO()
    try:
        figure.savefig(image, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    finally:
        pyplot.close(figure)
    if inputs.note:
        print(inputs.note, file=sys.stderr, flush=True)
    write_atomic(output, image.getvalue(), what="the plot")
    span = f"{len(points)} day{'' if len(points) == 1 else 's'}"
    print(f"wrote {output}: {milestone.id}, {span} from {series.first} to {series.last}", file=sys.stderr)
    return 0
