"""``gridready sweep``: run every applicable check for every site and store the results.

Checks run concurrently (``--concurrency`` worker threads), each bounded by its
milestones' ``timeout``; every result is committed to the SQLite history as
it arrives. A progress line is drawn on stderr when it is a terminal.
Exit 0 when the sweep ran (whatever the sites' compliance), 3 on a bad
configuration or an unusable database.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from gridready.commands import add_db_option, db_to_write
from gridready import escape
from gridready.errors import UsageError


def add_parser(sub: Any) -> None:
    from gridready.commands.report import day
    from gridready.sweep import DEFAULT_CONCURRENCY
    p = sub.add_parser(
        "sweep", help="run every applicable check for every site and store the results",
        description="Run every applicable check for every site of the inventory, concurrently, and store "
                    "the results in the history database. Local-only checks (glexec) are not run: their "
                    "results come from `gridready ingest` or the inventory's glexec: result files.",
        epilog="Exit codes: 0 the sweep ran, 3 bad configuration or database.")
    p.add_argument("--inventory", metavar="FILE", help="site inventory (default: bundled config/sites.yaml)")
    p.add_argument("--milestones", metavar="FILE", help="milestone rules (default: bundled)")
    p.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="evaluation date (default: today, UTC)")
    add_db_option(p)
    p.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                   help="checks run at once (default %(default)s)")
    tls = p.add_argument_group("credentials for https:// sources (FTS3 REST, SRR, dCache info)")
    tls.add_argument("--capath", metavar="DIR|FILE", help="CA directory or bundle (default: grid CAs, else system)")
    tls.add_argument("--cert", metavar="FILE", help="X.509 client certificate (PEM), with --key")
    tls.add_argument("--key", metavar="FILE", help="unencrypted private key of --cert")
    tls.add_argument("--proxy", metavar="FILE", help="X.509 proxy (instead of --cert/--key)")
    p.set_defaults(func=run)


class Progress:
    """``\\rsweep: 12/40 done, 3.2s`` on a terminal; silent otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if self.enabled:
            self.stream.write(f"\rsweep: {done}/{total} done, {time.monotonic() - self.started:.1f}s")
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


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
    inventory = load_inventory(args.inventory or bundled.inventory_file())
    as_of = args.as_of or datetime.now(timezone.utc).date()
    db = db_to_write(args)
    progress = Progress(sys.stderr)
    with Store(db) as store:
        def emit(done: Done) -> None:
            store.add(done.result, done.outcomes, origin=done.origin, target=done.target, source=done.source)

        try:
            credentials = {"capath": args.capath, "cert": args.cert, "key": args.key, "proxy": args.proxy}
            summary = Sweeper(inventory, rules, as_of, concurrency=args.concurrency,
                              credentials=credentials).run(emit, progress)
        finally:
            progress.close()
    print(f"swept {len(inventory.sites)} sites: {summary.results} results stored in {escape.terminal(db)} "
          f"({summary.unknown} with UNKNOWN milestones, {summary.timed_out} timed out) "
          f"in {summary.seconds:.1f}s")
    return 0
