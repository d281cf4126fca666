"""``history``, the HTML report's charts and ``prune`` on a year of hourly sweeps of a Tier-0/1 grid.

Builds the history the way bench/report_history.py does (hour 0 through the
engine and ``Store.add``, the other hours copied by SQL, outcomes changing
over the year), for ``--sites`` sites (default 12: the Tier-0 and eleven
Tier-1s of 2010) over 8760 hours, then runs, each through bench/measure.py's
launcher (wall time and the command's own peak RSS from ``wait4``):

    gridready history --format json --from 2010-01-01 --to 2010-12-31           (the whole year)
    gridready history --format json ... --site SITE-001 --milestone xrootd-...  (one site, one milestone)
    gridready report --format html --as-of 2011-01-01                           (a 365-day chart per milestone)
    gridready prune --before 2010-07-01                                         (on a copy; size before -> after)

and checks the answers: 365 days of every site and milestone in the history
JSON, one chart per milestone in the page, and after the prune the same
report ``--as-of 2010-12-31`` and the same second-half history as before.

Usage: python bench/history_prune.py [--sites 12] [--hours 8760] [--runs 3] [--db PATH [--keep]]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import PYTHON, Run, Summary, child_env, mib, ms, print_machine, run  # noqa: E402
from bench.report_history import build, site_name, write_config  # noqa: E402

PRUNE_BEFORE = "2010-07-01"
ONE_MILESTONE = "xrootd-protocol-3"


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "gridready.cli", *args]


def measured(label: str, argv: list[str], env: dict[str, str], runs: int, limit: float,
             ok: tuple[int, ...] = (0,)) -> tuple[Summary, Run]:
    """``runs`` runs of ``argv``; the summary and the last run (for its output)."""
    print(f"\n{label}: python {' '.join(argv[1:])}", flush=True)
    done = []
    for i in range(runs):
        r = run(argv, env, timeout=limit)
        if r.killed or r.returncode not in ok:
            raise SystemExit(f"PROBLEM: {label}: {'killed' if r.killed else f'exit {r.returncode}'}: "
                             f"{r.stderr.strip()[-400:]}")
        done.append(r)
        print(f"run {i + 1}: {ms(r.wall_s)}, peak RSS {mib(r.maxrss_kib)}", flush=True)
    return Summary.of(done), done[-1]


def strip_generated(text: str) -> str:
    doc = json.loads(text)
    doc.pop("generated_at", None)
    return json.dumps(doc, sort_keys=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=12, help="sites (1 Tier-0, the rest Tier-1; default 12)")
    parser.add_argument("--hours", type=int, default=8760, help="hourly sweeps from 2010-01-01 (default 8760)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each read-only command (default 3)")
    parser.add_argument("--db", type=Path, help="history database to reuse, or to build and keep with --keep")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--limit", type=float, default=600.0, help="kill a run after this many seconds")
    args = parser.parse_args(argv)
    if args.hours != 8760:
        print("note: the commands below cover 2010; --hours other than 8760 leaves days without results")
    print_machine()
    with tempfile.TemporaryDirectory(prefix="gridready-bench-history-") as tmp:
        work = Path(tmp)
        inventory, milestones = write_config(work, args.sites)
        env = child_env(str(work / "pyc"))
        db = args.db or work / "history.db"
        if not db.exists():
            build(db, inventory, milestones, args.hours, seed=2010)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            results, outcomes = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                                 for t in ("results", "outcomes"))
        print(f"history: {args.sites} sites, {results} results, {outcomes} outcomes, "
              f"{db.stat().st_size / 2**20:.0f} MiB", flush=True)
        common = ["--db", str(db), "--inventory", str(inventory), "--milestones", str(milestones)]
        year = ["--from", "2010-01-01", "--to", "2010-12-31"]
        figures: list[tuple[str, Summary]] = []

        s, last = measured("history, whole year", cli("history", "--format", "json", *year, *common),
                           env, args.runs, args.limit)
        doc = json.loads(last.stdout)
        if len(doc["days"]) != 365 or any(len(d["sites"]) != args.sites or len(d["milestones"]) != 6
                                          for d in doc["days"]):
            raise SystemExit("PROBLEM: the history does not hold 365 days of every site and milestone")
        figures.append(("history --format json, 365 days", s))

        one = ["--site", site_name(1), "--milestone", ONE_MILESTONE]
        s, last = measured("history, one site and milestone",
                           cli("history", "--format", "json", *year, *one, *common), env, args.runs, args.limit)
        if len(json.loads(last.stdout)["days"]) != 365:
            raise SystemExit("PROBLEM: one-site history is not 365 days")
        figures.append(("history, 1 site x 1 milestone", s))

        s, last = measured("report --format html (365-day charts)",
                           cli("report", "--format", "html", "--as-of", "2011-01-01", *common),
                           env, args.runs, args.limit, ok=(0, 1, 2))
        if last.stdout.count('<figure class="chart">') != 6 or last.stdout.count('<tr class="site">') != args.sites:
            raise SystemExit("PROBLEM: the HTML report lacks a chart per milestone or a row per site")
        figures.append(("report --format html", s))

        # The prune runs on a copy; a report and a history from the cut on must not change.
        pruned = work / "pruned.db"
        shutil.copyfile(db, pruned)
        pcommon = ["--db", str(pruned), *common[2:]]
        check_report = ["report", "--format", "json", "--as-of", "2010-12-31"]
        check_history = ["history", "--format", "json", "--from", PRUNE_BEFORE, "--to", "2010-12-31", *one]
        before = [run(cli(*c, *pcommon), env, timeout=args.limit).stdout for c in (check_report, check_history)]
        size_before = pruned.stat().st_size
        s, last = measured(f"prune --before {PRUNE_BEFORE} (on a copy)",
                           cli("prune", "--before", PRUNE_BEFORE, "--db", str(pruned)), env, 1, args.limit)
        size_after = pruned.stat().st_size
        print(last.stdout.strip())
        after = [run(cli(*c, *pcommon), env, timeout=args.limit).stdout for c in (check_report, check_history)]
        if strip_generated(before[0]) != strip_generated(after[0]) or before[1] != after[1]:
            raise SystemExit("PROBLEM: the prune changed a report or history from the cut on")
        figures.append((f"prune --before {PRUNE_BEFORE}", s))
        if args.db is not None and not args.keep and db.parent == work:
            db.unlink(missing_ok=True)

    print(f"\n== {args.sites} sites x 6 milestones, {args.hours} hourly sweeps ({results} results) ==")
    print(f"{'command':>34} {'median wall':>12} {'[min..max]':>22} {'peak RSS':>9}")
    for label, s in figures:
        print(f"{label:>34} {ms(s.wall_median_s):>12} {'[' + ms(s.wall_min_s) + '..' + ms(s.wall_max_s) + ']':>22} "
              f"{mib(s.rss_median_kib):>9}")
    print(f"{'prune: file':>34} {size_before / 2**20:.0f} MiB -> {size_after / 2**20:.0f} MiB; "
          "report --as-of 2010-12-31 and the second-half history unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
