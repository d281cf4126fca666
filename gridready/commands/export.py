"""``gridready export``: stored probe results as WLCG metricOutput messages on stdout.

One message per stored result (``key: value`` lines ended by ``EOT``), oldest
first, for a message-broker publisher to send as they are. The database is
opened read-only (nothing created or written, as ``report``) and read a page
at a time, so memory stays bounded. Exit 0, or 3 when the database is missing
or cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any

from gridready.commands import DEFAULT_DB, add_db_option, db_to_read
from gridready.errors import GridreadyError


def add_parser(sub: Any) -> None:
    from gridready.commands.report import day
    p = sub.add_parser(
        "export", help="stored probe results as WLCG metricOutput messages",
        description="Print the stored probe results as WLCG metricOutput messages (key: value lines ended "
                    "by EOT), oldest first, ready for a message broker.",
        epilog="Exit codes: 0 done, 3 the database is missing or cannot be read.")
    add_db_option(p)
    p.add_argument("--since", type=day, metavar="YYYY-MM-DD", help="only results checked on or after this day")
    p.add_argument("--vo", metavar="NAME", type=_vo, help="add voName to every message")
    p.set_defaults(func=run)


def _vo(text: str) -> str:
    """A VO name for ``--vo``: not empty (``voName:`` with no value is no VO), one line."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty VO name")
    if any(ch in text for ch in "\r\n") or not text.isprintable():
        raise argparse.ArgumentTypeError("a VO name is one line of printable characters")
    return text


def run(args: argparse.Namespace) -> int:
    from gridready.metricoutput import message
    from gridready.store import Store

    since = (datetime(args.since.year, args.since.month, args.since.day, tzinfo=timezone.utc)
             if args.since else None)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = db_to_read(args)
    if db is None:
        raise GridreadyError(f"{DEFAULT_DB}: no such history database (no --db given): nothing to export"
                             " (store results with `gridready sweep` or `gridready ingest`, or name one with --db)")
    # Read-only (as report): works on a read-only file or mount and never writes the history;
    # iter_results pages, so memory stays bounded however long the history is.
    with Store(db, readonly=True) as store:
        for result in store.iter_results(since):
            sys.stdout.write(message(result, now, args.vo))
    return 0
