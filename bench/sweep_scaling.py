"""Sweep scaling: ``gridready sweep`` over N simulated sites on loopback.

For each N (default 12, 100, 500) it writes an inventory of N Tier-1 sites,
each with a live xrootd door and an SRR document on loopback servers
(bench/simsites.py) that answer every request after an injected latency
(default 50 ms); a seeded 5% of all endpoints (doors and SRR URLs) accept and
never answer. Every site gets the network checks of the bundled milestones:
``xrootd`` (door + SRR) and ``dcache_version`` (SRR), plus the planned-only
FTS result (no FTS in the inventory). It then runs the real command

    python -m gridready.cli sweep --inventory INV --db DB --as-of 2010-06-08 --concurrency C

as a child process and records its wall time and peak RSS (os.wait4 via
bench/measure.py), checks that every result was stored and that the jobs
touching a hung endpoint, and only those, timed out.

Targets: wall <= max per-check timeout (from the milestones) + 1 s at every
N, and peak RSS <= 150 MB at N = 500. ``--concurrency`` takes a list; ``jobs``
means one worker per job (every check in flight at once), the CLI default
is 8.

Usage: python bench/sweep_scaling.py [--sizes 12,100,500] [--concurrency jobs,8]
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import PYTHON, REPO, child_env, mib, print_machine, run  # noqa: E402
from bench.simsites import SimulatedSites  # noqa: E402

AS_OF = "2010-06-08"
RSS_TARGET_MB = 150
RSS_TARGET_AT = 500
#: dCache releases the simulated SEs publish (some old, some current in 2010).
VERSIONS = ("1.9.5-19", "1.9.5-22", "1.9.5-19 (ns=Chimera)", "1.9.4-3", "1.9.6-2", "1.9.3-4")
#: Protocol strings the simulated SRRs publish for the door ("xroot" compliant, the rest aliases).
PROTOCOL_STRINGS = ("xroot", "xroot", "xroot", "root", "xrootd")
SUMMARY = re.compile(r"swept (\d+) sites: (\d+) results stored in .* \((\d+) with UNKNOWN milestones, "
                     r"(\d+) timed out\) in ([\d.]+)s")


@dataclass(frozen=True)
class Plan:
    """One simulated grid: its inventory file and what the sweep must find."""

    sites: int
    inventory: Path
    hung_endpoints: int
    endpoints: int
    #: Check runs (jobs) of the sweep, and how many of them touch a hung endpoint.
    jobs: int
    hung_jobs: int


def site_name(i: int) -> str:
    return f"SIM-{i:04d}"


def srr_document(i: int, door: str) -> dict[str, Any]:
    se = f"se{i:04d}.sim.example"
    return {"storageservice": {
        "name": se, "id": se, "servicetype": "org.dcache.storage", "implementation": "dCache",
        "implementationversion": VERSIONS[i % len(VERSIONS)], "latestupdate": 1275991111,
        "qualitylevel": "production",
        "storageendpoints": [
            {"name": f"{se}-srm", "endpointurl": f"srm://{se}:8443/srm/managerv2", "interfacetype": "srm",
             "interfaceversion": "2.2", "assignedshares": ["all"]},
            {"name": f"{se}-xrootd", "endpointurl": f"root://{door}",
             "interfacetype": PROTOCOL_STRINGS[i % len(PROTOCOL_STRINGS)], "interfaceversion": "5.1",
             "assignedshares": ["all"]},
        ],
        "storageshares": [{"name": "all", "totalsize": 10 ** 15, "usedsize": 10 ** 14, "vos": ["atlas"]}],
    }}


def plan(n: int, sites: SimulatedSites, workdir: Path, hung_fraction: float, seed: int) -> Plan:
    """Write the inventory of ``n`` simulated sites; a seeded sample of endpoints hangs."""
    endpoints = [(i, kind) for i in range(n) for kind in ("xrootd", "srr")]
    hung = set(random.Random(seed).sample(endpoints, math.ceil(hung_fraction * len(endpoints))))
    lines = ["# Simulated sites for bench/sweep_scaling.py (generated).", "sites:"]
    hung_jobs = 0
    for i in range(n):
        door_hung, srr_hung = (i, "xrootd") in hung, (i, "srr") in hung
        door = sites.xrootd_door(hung=door_hung)
        lines.append(f"  - {{name: {site_name(i)}, tier: 1, srr: \"{sites.srr_url(site_name(i), srr_hung)}\", "
                     f"storage: [{{host: se{i:04d}.sim.example, implementation: dCache}}], "
                     f"xrootd: [\"{door}\"]}}")
        # xrootd reads the door and the SRR; dcache_version reads the SRR.
        hung_jobs += (door_hung or srr_hung) + srr_hung
    inventory = workdir / f"sites-{n}.yaml"
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Plan(sites=n, inventory=inventory, hung_endpoints=len(hung), endpoints=len(endpoints),
                jobs=2 * n, hung_jobs=hung_jobs)


def documents(n: int, sites: SimulatedSites) -> None:
    """Give the server each site's SRR document (the door in it is where the site's door is)."""
    docs = dict(sites.documents)
    for i in range(n):
        docs[site_name(i)] = srr_document(i, sites.xrootd_door())
    sites.documents = docs


def max_timeout(milestones: Path) -> float:
    from gridready.configfile import load_rules
    return max(m.timeout for m in load_rules(milestones).milestones)


def stored(db: Path) -> tuple[int, int]:
    """(results, results recorded as timed out) in the history database."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        total, timed_out = conn.execute("SELECT count(*), count(timeout) FROM results").fetchone()
    return int(total), int(timed_out)


def timeline(grid: Plan, milestones: Path, workdir: Path) -> str:
    """Where a sweep's time goes: the same sweep in this process, each result's arrival timed.

    It runs the engine the CLI runs (gridready.sweep.Sweeper, storing into a
    gridready.store.Store) with one worker per job, and reports when the
    answered and the timed-out results arrived. A job's deadline starts when a
    worker picks it up, so the last timed-out result, minus the timeout, is
    when the last job was picked up.
    """
    from datetime import date

    from gridready.checks import load_check
    from gridready.configfile import load_inventory, load_rules
    from gridready.store import Store
    from gridready.sweep import Done, Sweeper

    started = time.perf_counter()
    arrivals: list[tuple[float, bool]] = []
    collects: list[float] = []

    def loader(name: str) -> Any:
        # The real check, noting when each job's collect starts (its deadline
        # started just before, when a worker picked the job up).
        check = load_check(name)
        collect = check.collect

        def timed_collect(request: Any, deadline: Any) -> Any:
            collects.append(time.perf_counter() - started)
            return collect(request, deadline)

        wrapper = type(f"Timed{type(check).__name__}", (), {})()
        for attribute in ("name", "description", "add_arguments", "validate_expect", "requests_for_site",
                          "assess"):
            setattr(wrapper, attribute, getattr(check, attribute))
        wrapper.collect = timed_collect
        return wrapper

    storing = 0.0
    with Store(workdir / f"timeline-{grid.sites}.db") as store:
        def emit(done: Done) -> None:
            nonlocal storing
            arrivals.append((time.perf_counter() - started, done.result.timeout is not None))
            before = time.perf_counter()
            store.add(done.result, done.outcomes, origin=done.origin, target=done.target, source=done.source)
            storing += time.perf_counter() - before

        cpu = time.process_time()
        Sweeper(load_inventory(grid.inventory), load_rules(milestones), date.fromisoformat(AS_OF),
                concurrency=grid.jobs, loader=loader).run(emit)
        cpu = time.process_time() - cpu
    answered = [t for t, hung in arrivals if not hung]
    hung = [t for t, hung in arrivals if hung]
    total = time.perf_counter() - started
    text = (f"N={grid.sites}, one worker per job, in-process: {total:.2f} s in all, {cpu:.2f} s CPU "
            f"(this process, incl. the simulated sites), {storing:.2f} s storing {len(arrivals)} results; "
            f"jobs started (collect called) {min(collects):.2f}..{max(collects):.2f} s, "
            f"answered results arrived {min(answered):.2f}..{max(answered):.2f} s")
    if hung:
        text += f", timed-out results {min(hung):.2f}..{max(hung):.2f} s"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="12,100,500", help="numbers of sites (default 12,100,500)")
    parser.add_argument("--concurrency", default="jobs,8",
                        help="sweep --concurrency values to run each size with; 'jobs' = one per job "
                             "(default jobs,8)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before every reply (default 0.05)")
    parser.add_argument("--hung", type=float, default=0.05, help="fraction of endpoints that never answer "
                                                                 "(default 0.05)")
    parser.add_argument("--milestones", type=Path, default=REPO / "config" / "milestones.yaml",
                        help="milestone rules (default: the bundled ones, timeout 10 s)")
    parser.add_argument("--seed", type=int, default=2010)
    parser.add_argument("--limit", type=float, default=300.0, help="kill a sweep after this many seconds")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        concurrencies = [c if c == "jobs" else str(int(c)) for c in args.concurrency.split(",")]
    except ValueError:
        parser.error("--sizes and --concurrency take comma-separated whole numbers ('jobs' for concurrency)")

    print_machine()
    bound = max_timeout(args.milestones) + 1.0
    print(f"command: {PYTHON} -m gridready.cli sweep (PYTHONPATH={REPO}); latency {args.latency * 1000:.0f} ms "
          f"per reply, {args.hung:.0%} hung endpoints; milestones {args.milestones}; "
          f"wall target <= max timeout + 1 s = {bound:g} s")
    rows: list[str] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gridready-bench-sweep-") as tmp, \
            SimulatedSites(latency=args.latency, documents={}) as sites:
        workdir = Path(tmp)
        env = child_env(str(workdir / "pyc"))
        for n in sizes:
            grid = plan(n, sites, workdir, args.hung, args.seed)
            documents(n, sites)
            for c in concurrencies:
                workers = grid.jobs if c == "jobs" else int(c)
                db = workdir / f"sweep-{n}-{workers}.db"
                result = run([PYTHON, "-m", "gridready.cli", "sweep", "--inventory", str(grid.inventory),
                              "--milestones", str(args.milestones), "--db", str(db), "--as-of", AS_OF,
                              "--concurrency", str(workers)], env, timeout=args.limit, cwd=workdir)
                summary = SUMMARY.search(result.stdout)
                if result.killed or result.returncode != 0 or summary is None:
                    failures.append(f"N={n} concurrency={workers}: exit {result.returncode}"
                                    f"{' (killed)' if result.killed else ''}: "
                                    f"{(result.stdout + result.stderr).strip()[-400:]}")
                    continue
                results, timed_out = stored(db)
                # Planned-only results (FTS not applicable) need no job: one per site.
                expected = grid.jobs + n
                wall_ok = result.wall_s <= bound
                rss_ok = n != RSS_TARGET_AT or result.maxrss_kib * 1024 / 1e6 <= RSS_TARGET_MB
                checks = [] if results == expected else [f"{results} results stored, expected {expected}"]
                if timed_out != grid.hung_jobs:
                    checks.append(f"{timed_out} timed out, expected {grid.hung_jobs}")
                failures += [f"N={n} concurrency={workers}: {c}" for c in checks]
                rows.append(f"| {n} | {grid.jobs} | {grid.hung_endpoints}/{grid.endpoints} | {workers} | "
                            f"{result.wall_s:.2f} s | {'met' if wall_ok else 'NOT met'} | "
                            f"{mib(result.maxrss_kib)} | "
                            f"{('met' if rss_ok else 'NOT met') if n == RSS_TARGET_AT else '-'} | "
                            f"{results} | {timed_out} (expected {grid.hung_jobs}) |")
                print(rows[-1], flush=True)
        largest = max(sizes)
        print("\ntimeline: " + timeline(plan(largest, sites, workdir, args.hung, args.seed), args.milestones,
                                       workdir), flush=True)
        print(f"\nsimulated sites answered {sites.answered} requests and held {sites.hung} "
              "connections without an answer")
    print(f"\n| sites | jobs | hung endpoints | concurrency | wall | wall <= {bound:g} s | peak RSS | "
          f"RSS <= {RSS_TARGET_MB} MB at N={RSS_TARGET_AT} | results stored | timed out |")
    print("|---:|---:|---:|---:|---:|---|---:|---|---:|---|")
    print("\n".join(rows))
    for failure in failures:
        print(f"PROBLEM: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
