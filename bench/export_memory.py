"""Peak memory of ``gridready export`` over a long history (issue 15: bounded whatever the size).

Builds a history the way bench/report_history.py does (the first hourly
sweep of 200 sites through the engine and Store.add, the other hours copied
by SQL, 800 results per hour) with ``--results N`` results (rounded up to
whole hours), then runs

    python -m gridready.cli export --db DB > /dev/null

and reports its peak RSS (``wait4`` rusage of the child) and wall time, with
the message count checked on a second, counting run. ``--old`` also runs
the previous export, which read every result into a list
(``Store.results``), for the before figure. Target: <= 60 MiB at 10^5 and
10^6 results.

Usage: python bench/export_memory.py [--results 100000] [--old] [--db PATH [--keep]]
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import PYTHON, REPO, child_env, print_machine  # noqa: E402
from bench.report_history import build, write_config  # noqa: E402

TARGET_MIB = 60.0
SITES = 200
#: Results per hourly sweep of bench/report_history.py's grid (200 sites, its checks and targets).
PER_HOUR = 1800

OLD_EXPORT = """
import sys
from datetime import datetime, timezone
from gridready.metricoutput import message
from gridready.store import Store
now = datetime.now(timezone.utc).replace(microsecond=0)
with Store(sys.argv[1], readonly=True) as store:
    results = store.results(None)
for r in results:
    sys.stdout.write(message(r, now, None))
"""


#: A small process that starts the measured one and reports its rusage: forked from this (large,
#: history-building) process directly, the child's peak RSS would count the pages it shared before exec.
LAUNCHER = """
import os, subprocess, sys
count = sys.argv[1] == "count"
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE if count else subprocess.DEVNULL)
eots = sum(1 for line in p.stdout if line == b"EOT\\n") if count else -1
_, status, usage = os.wait4(p.pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status), eots)
"""


def peak(argv: Sequence[str], count: bool = False) -> tuple[float, float, int]:
    """(peak RSS MiB, wall s, EOT lines counted or -1) of one run, stdout discarded (or counted)."""
    started = time.perf_counter()
    done = subprocess.run([PYTHON, "-I", "-S", "-c", LAUNCHER, "count" if count else "-", *argv],
                          capture_output=True, text=True, env=child_env(), cwd=REPO, check=False)
    wall = time.perf_counter() - started
    try:
        maxrss, code, eots = (int(x) for x in done.stdout.split())
    except ValueError:
        raise SystemExit(f"launcher failed: {done.stderr.strip()}") from None
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} exited {code}: {done.stderr.strip()}")
    return maxrss / 1024, wall, eots


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=100_000, help="results in the history (default 100000)")
    parser.add_argument("--old", action="store_true", help="also measure the list-reading export (before)")
    parser.add_argument("--db", type=Path, help="history database to reuse, or to build and keep with --keep")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    hours = -(-args.results // PER_HOUR)
    print_machine()
    with tempfile.TemporaryDirectory(prefix="gridready-export-bench-") as tmp:
        work = Path(tmp)
        inventory, milestones = write_config(work, SITES)
        db = args.db or work / "history.db"
        if not db.exists():
            build(db, inventory, milestones, hours, seed=2010)
        with sqlite3.connect(db) as con:
            stored = con.execute("SELECT count(*) FROM results").fetchone()[0]
        print(f"history: {stored} results, {db.stat().st_size / 2**20:.0f} MiB", flush=True)
        export = [PYTHON, "-m", "gridready.cli", "export", "--db", str(db)]
        rss, wall, _ = peak(export)
        _, _, messages = peak(export, count=True)
        verdict = "OK" if rss <= TARGET_MIB and messages == stored else "OVER TARGET"
        print(f"export (streamed): peak RSS {rss:.1f} MiB, {wall:.1f} s, {messages} messages "
              f"[target <= {TARGET_MIB:g} MiB: {verdict}]", flush=True)
        if args.old:
            rss_old, wall_old, _ = peak([PYTHON, "-c", OLD_EXPORT, str(db)])
            print(f"export (list, before): peak RSS {rss_old:.1f} MiB, {wall_old:.1f} s", flush=True)
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
