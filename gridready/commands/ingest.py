"""``gridready ingest FILE...``: store probe JSON results (``gridready.result/1``) sent by sites.

Local-only checks (gLExec on worker nodes) reach the history this way. Each
good file is stored; each rejected file gets one line on stderr naming it and
what was wrong. Exit 0 when every file was stored, 3 when any was rejected
(or the database is unusable).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gridready.commands import add_db_option


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ingest", help="store probe JSON results sent by sites",
        description="Store probe results (the JSON of `check_<name> --format json`, schema "
                    "gridready.result/1) in the history database.",
        epilog="Every valid file is stored, each in its own transaction; every rejected file is named on "
               "stderr with the reason. Exit codes: 0 all files stored, 3 some file rejected or the "
               "database unusable.")
    p.add_argument("files", nargs="+", metavar="FILE", help="probe JSON result files")
    add_db_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridready.errors import SourceError
    from gridready.store import Store, outcomes_of, read_result_file

    rejected = 0
    stored = 0
    with Store(args.db) as store:
        for path in args.files:
            try:
                result = read_result_file(path)
            except SourceError as exc:
                print(f"gridready ingest: rejected {exc}", file=sys.stderr)
                rejected += 1
                continue
            store.add(result, outcomes_of(result), origin="ingest", target=result.host or "", source=path)
            stored += 1
    print(f"ingested {stored} result{'s' if stored != 1 else ''} into {args.db}"
          + (f", rejected {rejected} file{'s' if rejected != 1 else ''}" if rejected else ""))
    return 3 if rejected else 0
