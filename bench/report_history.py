"""Report over a long history: ``gridready report --format json`` on a year of hourly sweeps.

It builds a history database of one year of hourly sweeps of 200 sites
(one Tier-0 and 199 Tier-1s, so every site is a row of the GDB matrix)
against 6 milestones served by 4 checks, i.e. 4 results and 6 milestone
outcomes per site and hour: 7,008,000 results and 10,512,000 outcomes.

The first sweep is made the way the sweep makes results: the engine
(``gridready.engine.run_check``) runs a canned check per site, and
``gridready.store.Store.add`` stores each result with its outcomes, so the
rows are exactly what gridready writes. The other 8,759 hours are copies of
those rows made by SQL inside the same schema, one hour apart, with outcomes
varying over the year: each (site, milestone) fails until a seeded hour of
the year and then takes its final outcome, and about 2% of the outcomes are
UNKNOWN (a timed-out check). Then it runs the real command

    python -m gridready.cli report --format json --db DB --inventory INV --milestones MS --as-of D

(same interpreter, launched as in bench/measure.py) several times, checks
that the JSON holds every site and milestone, and prints the median wall time
and peak RSS. Target: <= 1 s. The database (several GB) is written to a
temporary directory and removed at the end unless ``--keep``; ``--db PATH``
reuses one built earlier with the same parameters.

Usage: python bench/report_history.py [--sites 200] [--hours 8760] [--runs 5] [--db PATH [--keep]]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import PYTHON, REPO, Run, Summary, child_env, mib, ms, print_machine, run  # noqa: E402

TARGET_S = 1.0
#: The --since cutoff: the middle of the (2010) history.
SINCE = "2010-07-01"
#: A report as of a past day inside the history: the latest result per key must be looked up by date.
PAST = "2010-05-15"
#: The history starts here; the report is made at its end.
START = datetime(2010, 1, 1, tzinfo=timezone.utc)
#: Six milestones over four checks: the bundled four plus two later ones.
EXTRA_MILESTONES = """
  - id: dcache-golden-1-9-12
    title: dCache Tier-0/1 storage runs the 1.9.12 golden release
    source: GDB 2011-02 (dCache golden release for 2011-2012)
    deadline: 2011-03-31
    warn_days: 30
    scope: {tiers: [0, 1]}
    check: dcache_version
    expect: {min: 1.9.12-0}
    remediation: Upgrade to the 1.9.12 golden release.

  - id: xrootd-protocol-3
    title: xrootd doors speak protocol 3.0.0 or later
    source: GDB 2010-11 (xrootd federation readiness)
    deadline: 2010-12-31
    warn_days: 30
    scope: {tiers: [0, 1]}
    check: xrootd
    expect: {min_protocol: "3.0.0"}
    remediation: Upgrade the xrootd door to a release that speaks protocol 3.0.0.
"""
#: Per check: what a failing and a passing finding say (the canned check's findings).
MESSAGES: Mapping[str, tuple[str, str]] = {
    "glexec": ("gLExec LCMAPS policy routes to neither SCAS nor Argus (lcmaps_posix_enf.mod only)",
               "gLExec 0.8.1 setuid root, LCMAPS via Argus (https://argus.example:8154/authz)"),
    "fts_channels": ("3 required channels missing: CERN-{site}, STAR-{site}, {site}-FZK", "all 13 channels Active"),
    "dcache_version": ("se.{site}.example runs dCache 1.9.4-3 (series 1.9.4 unsupported since 2010-01-31)",
                       "se.{site}.example runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)"),
    "xrootd": ("root://xrootd.{site}.example:1094 published as \"root\" (GlueSEAccessProtocolType), expected \"xroot\"",
               "root://xrootd.{site}.example:1094 published as \"xroot\"; protocol 5.1.1, role server"),
}


def site_name(i: int) -> str:
    return f"SITE-{i:03d}"


def write_config(workdir: Path, sites: int) -> tuple[Path, Path]:
    """The inventory (1 Tier-0, the rest Tier-1) and the 6-milestone rules."""
    lines = ["# Sites of bench/report_history.py (generated).", "sites:"]
    for i in range(sites):
        lines.append(f"  - {{name: {site_name(i)}, tier: {0 if i == 0 else 1}, "
                     f"bdii: \"ldap://bdii.{site_name(i).lower()}.example:2170\"}}")
    inventory = workdir / "sites.yaml"
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bundled = (REPO / "config" / "milestones.yaml").read_text(encoding="utf-8")
    head, waivers = bundled.split("\nwaivers:", 1)
    milestones = workdir / "milestones.yaml"
    milestones.write_text(head.rstrip() + "\n" + EXTRA_MILESTONES + "\nwaivers:" + waivers, encoding="utf-8")
    return inventory, milestones


class Canned:
    """A check that observes nothing and assesses as told: makes results as the engine makes them."""

    description = "canned results for the report benchmark"

    def __init__(self, name: str, verdicts: Mapping[str, Any], expects: Mapping[str, Mapping[str, Any]]) -> None:
        self.name = name
        self.verdicts = verdicts      # milestone id -> Assessment
        self.expects = expects        # milestone id -> that milestone's expect (the engine passes it back)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """No options."""

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        return ()

    def requests_for_site(self, site: Any) -> Sequence[Mapping[str, Any]]:
        return ()

    def collect(self, request: Any, deadline: Any) -> Any:
        from gridready.checks.interface import Observation
        return Observation(target=f"{self.name}.{(request.site or '').lower()}.example", data=None)

    def assess(self, observation: Any, expect: Mapping[str, Any], request: Any) -> Any:
        for milestone_id, assessment in self.verdicts.items():
            if expect is self.expects[milestone_id]:
                return assessment
        raise KeyError("no canned verdict for this milestone")


def first_sweep(db: Path, inventory_path: Path, milestones_path: Path, rng: random.Random) -> int:
    """Store hour 0 through the engine and Store.add; returns the number of results."""
    from gridready.checks.interface import Assessment, Finding, Request
    from gridready.configfile import load_inventory, load_rules
    from gridready.deadline import Deadline
    from gridready.engine import run_check
    from gridready.models import CHECKS
    from gridready.store import Store

    inventory, rules = load_inventory(inventory_path), load_rules(milestones_path)
    count = 0
    with Store(db) as store:
        for site in inventory.sites:
            for check in CHECKS:
                milestones = rules.for_check(check)
                verdicts = {}
                for m in milestones:
                    # The final outcome of the year: most sites get there.
                    passed = rng.random() < 0.8
                    text = MESSAGES[check][1 if passed else 0].format(site=site.name)
                    verdicts[m.id] = Assessment((Finding(passed, text, "" if passed else m.remediation),))
                canned = Canned(check, verdicts, {m.id: m.expect for m in milestones})
                request = Request(options={}, site=site.name, tier=site.tier, inventory=inventory)
                result = run_check(canned, request, milestones, rules.waivers, START.date(), Deadline(10.0),
                                   now=START)
                origin = "ingest" if check == "glexec" else "sweep"
                # The outcomes are derived by the store itself, as for any result it is given.
                store.add(result, origin=origin, target=result.host or "", stored_at=START)
                count += 1
    return count


def replicate(db: Path, per_hour: int, hours: int, rng: random.Random) -> None:
    """Copy hour 0 to hours 1..hours-1 inside the store's schema (SQL, one transaction)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        # A bulk load: no journal, no syncs (a crash here just means rebuilding).
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -1000000")
        conn.execute("PRAGMA temp_store = MEMORY")
        templates = conn.execute("SELECT result_id, milestone FROM outcomes").fetchall()
        conn.execute("CREATE TEMP TABLE switch (result_id INTEGER, milestone TEXT, hour INTEGER, "
                     "PRIMARY KEY (result_id, milestone))")
        # Until its seeded hour a (site, milestone) fails; a quarter already pass from the start.
        conn.executemany("INSERT INTO temp.switch VALUES (?, ?, ?)",
                         [(r, m, 0 if rng.random() < 0.25 else rng.randrange(hours)) for r, m in templates])
        conn.execute("CREATE TEMP TABLE hours (n INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO temp.hours VALUES (?)", [(n,) for n in range(1, hours)])
        # Secondary indexes are dropped for the load and made again after it (from
        # the store's own statements), which is cheaper than keeping them up to date.
        indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                               " AND tbl_name IN ('results', 'outcomes')").fetchall()
        conn.execute("BEGIN")
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        # Results: the same sites and targets every hour, checked a few seconds apart within the hour.
        # CROSS JOIN keeps the hours as the outer loop, so rows go in in id order without a sort.
        conn.execute(f"""
            INSERT INTO results (id, origin, source, check_name, site, site_key, host, target, state, summary,
                                 checked_at, stored_at, timeout, metrics, details, milestones)
            SELECT r.id + h.n * {per_hour}, r.origin, r.source, r.check_name, r.site, r.site_key, r.host,
                   r.target, r.state, r.summary,
                   strftime('%Y-%m-%dT%H:%M:%SZ', r.checked_at, '+' || (h.n * 3600 + r.id % 600) || ' seconds'),
                   strftime('%Y-%m-%dT%H:%M:%SZ', r.checked_at, '+' || (h.n * 3600 + r.id % 600 + 1) || ' seconds'),
                   r.timeout, r.metrics, r.details, r.milestones
            FROM temp.hours h CROSS JOIN (SELECT * FROM results WHERE id <= {per_hour}) r""")
        conn.execute(f"""
            INSERT INTO outcomes (result_id, milestone, outcome, severity, message, remediation, compliance,
                                  deadline, days_left)
            SELECT o.result_id + h.n * {per_hour}, o.milestone,
                   CASE WHEN (h.n * 7919 + o.result_id * 104729) % 100 < 2 THEN 'unknown'
                        WHEN h.n < s.hour THEN 'fail' ELSE o.outcome END,
                   'CRITICAL',
                   CASE WHEN (h.n * 7919 + o.result_id * 104729) % 100 < 2
                            THEN 'timeout after 10s while reading SRR http://srr.example/' || o.milestone
                        WHEN h.n < s.hour AND o.outcome = 'pass'
                            THEN 'still failing: ' || o.message ELSE o.message END,
                   CASE WHEN h.n < s.hour AND o.outcome = 'pass' THEN 'see the milestone remediation'
                        ELSE o.remediation END,
                   CASE WHEN (h.n * 7919 + o.result_id * 104729) % 100 < 2 THEN 'UNKNOWN'
                        WHEN h.n < s.hour THEN 'PENDING' ELSE o.compliance END,
                   o.deadline, o.days_left - h.n / 24
            FROM temp.hours h CROSS JOIN (SELECT * FROM outcomes WHERE result_id <= {per_hour}) o
            JOIN temp.switch s ON s.result_id = o.result_id AND s.milestone = o.milestone""")
        for _, sql in indexes:
            conn.execute(sql)
        # The load bypassed Store.add, which keeps the latest-result index:
        # empty it so the store rebuilds it from the whole history on open.
        conn.execute("DELETE FROM latest")
        conn.execute("COMMIT")
    finally:
        conn.close()
    from gridready.store import Store

    started = time.perf_counter()
    with Store(db) as store:
        rebuilt = time.perf_counter() - started
        latest = store.latest()
    # Every (site, milestone, target) was checked in the last hour: a stale index would show older results.
    oldest = min(r.checked_at for r in latest)
    last_hour = max(r.checked_at for r in latest).replace(minute=0, second=0)
    if oldest < last_hour:
        raise SystemExit(f"latest-result index is stale: a latest record is from {oldest:%Y-%m-%d %H:%M}")
    print(f"latest-result index rebuilt by the store in {rebuilt:.1f} s: {len(latest)} records, "
          f"all from the last hour ({last_hour:%Y-%m-%d %H}:xx)", flush=True)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("ANALYZE")
    finally:
        conn.close()


def build(db: Path, inventory: Path, milestones: Path, hours: int, seed: int) -> None:
    rng = random.Random(seed)
    started = time.perf_counter()
    per_hour = first_sweep(db, inventory, milestones, rng)
    made = time.perf_counter()
    replicate(db, per_hour, hours, rng)
    done = time.perf_counter()
    print(f"history built: hour 0 ({per_hour} results) through the engine and Store.add in {made - started:.1f} s, "
          f"{hours - 1} more hours by SQL in {done - made:.1f} s; {db.stat().st_size / 1e9:.2f} GB", flush=True)


def counts(db: Path) -> tuple[int, int, str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        results, first, last = conn.execute("SELECT count(*), min(checked_at), max(checked_at) FROM results").fetchone()
        outcomes = conn.execute("SELECT count(*) FROM outcomes").fetchone()[0]
    return int(results), int(outcomes), str(first), str(last)


def verify(stdout: str, sites: int) -> str | None:
    """Why the report output is not the full matrix, or None."""
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError as exc:
        return f"report output is not JSON: {exc}"
    if report.get("schema") != "gridready.report/1":
        return f"schema {report.get('schema')!r}"
    rows = report.get("sites", [])
    cells = sum(len(s.get("milestones", [])) for s in rows)
    if len(rows) != sites or cells != sites * 6 or len(report.get("milestones", [])) != 6:
        return f"{len(rows)} sites and {cells} cells, expected {sites} and {sites * 6}"
    return None


def known_by(stdout: str, as_of: str) -> str | None:
    """Why the report used a result checked after the end of its --as-of day (UTC), or None."""
    used = [str(m["checked_at"]) for s in json.loads(stdout)["sites"] for m in s["milestones"] if m["checked_at"]]
    late = [when for when in used if when > f"{as_of}T23:59:59Z"]
    return f"{len(late)} cells use results checked after {as_of}, e.g. {late[0]}" if late else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=200, help="sites in the history (default 200)")
    parser.add_argument("--hours", type=int, default=8760, help="hourly sweeps (default 8760, one year)")
    parser.add_argument("--runs", type=int, default=5, help="report runs at most (default 5)")
    parser.add_argument("--budget", type=float, default=130.0,
                        help="no further report run once this many seconds went into runs (default 130; "
                             "at least one run always)")
    parser.add_argument("--db", type=Path, help="history database to reuse, or to build and keep with --keep "
                                                "(default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the database built at --db")
    parser.add_argument("--seed", type=int, default=2010)
    parser.add_argument("--limit", type=float, default=300.0, help="kill a report run after this many seconds")
    args = parser.parse_args(argv)
    if args.sites < 2 or args.hours < 1 or args.runs < 1:
        parser.error("--sites must be at least 2, --hours and --runs at least 1")
    if args.keep and args.db is None:
        parser.error("--keep needs --db PATH")

    print_machine()
    with tempfile.TemporaryDirectory(prefix="gridready-bench-report-") as tmp:
        workdir = Path(tmp)
        inventory, milestones = write_config(workdir, args.sites)
        env = child_env(str(workdir / "pyc"))
        db = args.db or workdir / "history.db"
        built = False
        try:
            if db.exists():
                print(f"reusing {db}")
            else:
                build(db, inventory, milestones, args.hours, args.seed)
                built = True
            problem = check_size(db, args.sites, args.hours)
            if problem:
                print(f"PROBLEM: {problem}")
                return 1
            year = measure(db, inventory, milestones, args, env, f"{args.hours} hourly sweeps")
            # --since compares with the newest result before the cutoff, per (site, milestone, target).
            since = measure(db, inventory, milestones, args, env, f"{args.hours} h, --since mid-history",
                            ["--since", SINCE])
            # --as-of a past day: what was known then, not the newest result.
            past = measure(db, inventory, milestones, args, env, f"{args.hours} h, --as-of {PAST}", as_of=PAST)
        finally:
            if built and args.db is not None and not args.keep:
                db.unlink(missing_ok=True)
        if year is None or since is None or past is None:
            return 1
        # The same report over the last sweep alone: what the report costs
        # besides reading the latest outcomes out of a long history.
        last = workdir / "last-sweep.db"
        first_sweep(last, inventory, milestones, random.Random(args.seed))
        fixed = measure(last, inventory, milestones, argparse.Namespace(**{**vars(args), "runs": 5}), env,
                        "1 sweep")
        if fixed is None:
            return 1
    print(f"\n== report --format json, {args.sites} sites x 6 milestones ==")
    print(f"{'history':>22} {'median wall':>12} {'[min..max]':>22} {'peak RSS':>9}  target <= {TARGET_S:g} s")
    for label, s in ((f"{args.hours} hourly sweeps", year), (f"{args.hours} h, --since {SINCE}", since),
                     (f"{args.hours} h, --as-of {PAST}", past), ("1 sweep", fixed)):
        print(f"{label:>22} {ms(s.wall_median_s):>12} {'[' + ms(s.wall_min_s) + '..' + ms(s.wall_max_s) + ']':>22} "
              f"{mib(s.rss_median_kib):>9}  {'MET' if s.wall_median_s <= TARGET_S else 'NOT MET'} "
              f"({s.runs} runs)")
    return 0


def check_size(db: Path, sites: int, hours: int) -> str | None:
    results, outcomes, first, last = counts(db)
    print(f"history: {results} results, {outcomes} outcomes, checked {first} .. {last} "
          f"({db.stat().st_size / 1e9:.2f} GB)")
    expected = (sites * 4 * hours, sites * 6 * hours)
    if (results, outcomes) != expected:
        return (f"expected {expected[0]} results and {expected[1]} outcomes "
                "(a --db built with other parameters?)")
    return None


def measure(db: Path, inventory: Path, milestones: Path, args: argparse.Namespace, env: dict[str, str],
            label: str, extra: Sequence[str] = (), as_of: str | None = None) -> Summary | None:
    """Report runs on ``db`` until --runs or --budget; None when a run fails.

    ``as_of`` defaults to the day after the last result (a report made today).
    """
    if as_of is None:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            last = str(conn.execute("SELECT max(checked_at) FROM results").fetchone()[0])
        as_of = (datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=1)).date().isoformat()
    argv = [PYTHON, "-m", "gridready.cli", "report", "--format", "json", "--db", str(db),
            "--inventory", str(inventory), "--milestones", str(milestones), "--as-of", as_of,
            *extra]
    print(f"\n{label}: python {' '.join(argv[1:])}")
    runs: list[Run] = []
    spent = 0.0
    while len(runs) < args.runs and (not runs or spent + runs[-1].wall_s <= args.budget):
        result = run(argv, env, timeout=args.limit)
        spent += result.wall_s
        problem = ("killed" if result.killed else None) or (
            None if result.returncode in (0, 1, 2) else f"exit {result.returncode}: {result.stderr.strip()[-400:]}"
        ) or verify(result.stdout, args.sites) or known_by(result.stdout, as_of)
        if problem:
            print(f"PROBLEM: report run {len(runs) + 1}: {problem}")
            return None
        runs.append(result)
        print(f"run {len(runs)}: {ms(result.wall_s)}, peak RSS {mib(result.maxrss_kib)}, exit {result.returncode}",
              flush=True)
    return Summary.of(runs)


if __name__ == "__main__":
    sys.exit(main())
