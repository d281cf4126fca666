"""``gridready sweep``: run every applicable check for every site and store the results.

Checks run concurrently (``--concurrency`` worker threads), each bounded by its
milestones' ``timeout``; every result is committed to the SQLite history as
it arrives. A progress bar is drawn on stderr when it is a terminal, and a
closing summary (results per compliance) always goes to stderr.
Exit 0 when the sweep ran (whatever the sites' compliance), 3 on a bad
configuration or an unusable database, and 3 when nothing could be checked
(every milestone of every result UNKNOWN, apart from those out of scope), so cron
and CI notice.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from gridready.commands import add_db_option, db_to_write
from gridready import escape
from gridready.errors import UsageError
from gridready.tlsoptions import add_tls_options


def add_parser(sub: Any) -> None:
    from gridready.commands.report import day
    from gridready.sweep import DEFAULT_CONCURRENCY
    p = sub.add_parser(
        "sweep", help="run every applicable check for every site and store the results",
        description="Run every applicable check for every site of the inventory, concurrently, and store "
                    "the results in the history database. Local-only checks (glexec) are not run: their "
                    "results come from `gridready ingest` or the inventory's glexec: result files.",
        epilog="Exit codes: 0 the sweep ran, 3 bad configuration or database, or nothing could be checked "
               "(every result UNKNOWN).")
    p.add_argument("--inventory", metavar="FILE", help="site inventory (default: bundled config/sites.yaml)")
    p.add_argument("--milestones", metavar="FILE", help="milestone rules (default: bundled)")
    p.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="evaluation date (default: today, UTC)")
    add_db_option(p)
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                   help="checks run at once (default %(default)s)")
    p.add_argument("-t", "--timeout", type=float, metavar="SECONDS",
                   help="seconds each check may take, for every milestone (default: each milestone's timeout)")
    tls = p.add_argument_group("credentials for https:// sources (FTS3 REST, SRR, dCache info)")
    add_tls_options(tls, "to verify https sources")
    p.set_defaults(func=run)


class Progress:
    """A tqdm progress bar of checks done on ``stream`` when it is a terminal; silent otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=total, file=self.stream, unit="check", desc="sweep", leave=True,
                            dynamic_ncols=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def closing_summary(counts: Mapping[str, int]) -> str:
    """``milestones: 12 COMPLIANT, 3 OVERDUE, 1 UNKNOWN`` in the order of the compliance states."""
    from gridready.compliance import Compliance
    parts = [f"{counts[c.value]} {c.value}" for c in Compliance if counts.get(c.value)]
    return "milestones: " + (", ".join(parts) if parts else "none checked")


def expect_validator(name: str, expect: Mapping[str, Any]) -> Sequence[str]:
    """Validate ``expect`` with the check's own rules; a check that will not load is reported by the sweep."""
    from gridready.checks import load_check
    try:
        check = load_check(name)
    except Exception:
        return ()
    return check.validate_expect(expect)


def run(args: argparse.Namespace) -> int:
    from gridready import bundled
    from gridready.configfile import load_inventory, load_rules
    from gridready.store import Store
    from gridready.sweep import Done, Sweeper

    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}")
    rules = load_rules(args.milestones or bundled.milestones_file(), validate_expect=expect_validator)
    if args.timeout is not None:
        from dataclasses import replace

        from gridready.models import MAX_TIMEOUT, Rules, valid_timeout
        if not valid_timeout(args.timeout):
            raise UsageError(f"-t/--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, "
                             f"got {args.timeout:g}")
        rules = Rules(milestones=tuple(replace(m, timeout=args.timeout) for m in rules.milestones),
                      waivers=rules.waivers, path=rules.path)
    inventory = load_inventory(args.inventory or bundled.inventory_file())
    as_of = args.as_of or datetime.now(timezone.utc).date()
    db = db_to_write(args)
    progress = Progress(sys.stderr)
    compliance: dict[str, int] = {}
    with Store(db) as store:
        def emit(done: Done) -> None:
            store.add(done.result, done.outcomes, origin=done.origin, target=done.target, source=done.source)
            for m in done.result.milestones:
                compliance[m.compliance.value] = compliance.get(m.compliance.value, 0) + 1

        try:
            credentials = {"capath": args.capath, "cert": args.cert, "key": args.key, "proxy": args.proxy}
            summary = Sweeper(inventory, rules, as_of, concurrency=args.concurrency,
                              credentials=credentials).run(emit, progress)
        finally:
            progress.close()
    print(f"swept {len(inventory.sites)} sites: {summary.results} results stored in {escape.terminal(db)} "
          f"({summary.unknown} with UNKNOWN milestones, {summary.timed_out} timed out) "
          f"in {summary.seconds:.1f}s")
    print(f"sweep: {closing_summary(compliance)}", file=sys.stderr)
    # Out-of-scope milestones (NOT_APPLICABLE) are not evidence that anything could be reached.
    if "UNKNOWN" in compliance and set(compliance) <= {"UNKNOWN", "NOT_APPLICABLE"}:
        print("sweep: nothing could be checked: every result is UNKNOWN (sources down, wrong inventory?)",
              file=sys.stderr)
        return 3
    return 0
