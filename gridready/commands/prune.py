"""``gridready prune --before D``: drop history no report as of D or later can show, and reclaim the space.

Per site, milestone and target the latest result checked before D (UTC) is
kept with everything checked from D on (``Store.prune``), so ``gridready
report --as-of X`` (and ``--since X``) gives the same answer for every X >= D.
The file shrinks (VACUUM) when the command ends.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from gridready import escape
from gridready.commands import DEFAULT_DB, add_db_option, db_to_read
from gridready.errors import GridreadyError


def add_parser(sub: Any) -> None:
    from gridready.commands.report import day
    p = sub.add_parser(
        "prune", help="drop results no report as of --before or later needs",
        description="Delete stored results checked before --before, except, per site, milestone and "
                    "target, the latest one before it (reports as of --before or later stay the same), "
                    "then VACUUM the database to give the space back.",
        epilog="Exit codes: 0 done, 3 the database is missing, busy or cannot be written.")
    p.add_argument("--before", type=day, required=True, metavar="YYYY-MM-DD",
                   help="keep everything a report as of this day or later can use")
    add_db_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridready.errors import UsageError
    from gridready.store import Store

    # Every stored result is checked before tomorrow (ingest refuses the future): a later
    # --before prunes nothing more, so it is a typo (2100 for 2010) that would still delete.
    latest = datetime.now(timezone.utc).date() + timedelta(days=1)
    if args.before > latest:
        raise UsageError(f"--before {args.before} is in the future: nothing is checked after today, UTC "
                         f"(--before {latest} already keeps only the latest result per site, milestone "
                         "and target)")
    db = db_to_read(args)
    if db is None:
        raise GridreadyError(f"{DEFAULT_DB}: no such history database (no --db given): nothing to prune"
                             " (store results with `gridready sweep` or `gridready ingest`, or name one with --db)")
    size = os.path.getsize(db)
    with Store(db, create=False) as store:
        results, outcomes = store.prune(args.before)
        left = store.count()
    after = os.path.getsize(db)
    print(f"pruned {escape.terminal(db)}: {results} results and {outcomes} milestone outcomes before "
          f"{args.before} removed, {left} results kept; {size / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
    return 0
