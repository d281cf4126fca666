"""``gridready ingest FILE...``: store probe JSON results (``gridready.result/1``) sent by sites.

Local-only checks (gLExec on worker nodes) reach the history this way. Each
good file is stored in its own transaction; each rejected file gets one line
on stderr naming it and what was wrong (values shown through
``escape.terminal``: they come from outside), and the rest are still stored.
``-`` reads one result from stdin, bounded in size and time like a file.
A result already in the history (same site, check, host and checked_at) is
not stored again and is named as "already stored": not an error. Exit 0 when
every file was stored or already stored, 3 when any was rejected (or the
database is unusable).
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time
from typing import Any

from gridready.commands import add_db_option, db_to_write
from gridready.escape import terminal

#: How long ``-`` may take to deliver its result.
STDIN_SECONDS = 60.0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ingest", help="store probe JSON results sent by sites",
        description="Store probe results (the JSON of `check_<name> --format json`, schema "
                    "gridready.result/1) in the history database. FILE '-' reads one result from stdin.",
        epilog="Every valid file is stored, each in its own transaction; every rejected file is named on "
               "stderr with the reason. Results dated more than 1 h in the future are rejected. A result "
               "already stored (same site, check, host and checked_at) is skipped and named, not an error. "
               "Exit codes: 0 all files stored, 3 some file rejected or the database unusable.")
    p.add_argument("files", nargs="+", metavar="FILE", help="probe JSON result files ('-': stdin)")
    add_db_option(p)
    p.set_defaults(func=run)


def read_stdin(max_bytes: int, seconds: float = STDIN_SECONDS) -> bytes:
    """stdin to its end: at most ``max_bytes`` within ``seconds``; SourceError otherwise."""
    from gridready.errors import SourceError
    from gridready.localfile import size_text

    fd = sys.stdin.fileno()
    end = time.monotonic() + seconds
    chunks: list[bytes] = []
    total = 0
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise SourceError(f"-: stdin: no end of input after {seconds:g}s")
        chunk = os.read(fd, min(256 * 1024, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise SourceError(f"-: stdin is larger than the {size_text(max_bytes)} limit")


def run(args: argparse.Namespace) -> int:
    from gridready.errors import SourceError
    from gridready.result import MAX_RESULT_BYTES, ProbeResult, format_time, parse_result, read_result, utc_now
    from gridready.store import Store, StoreError, outcomes_of

    if args.files.count("-") > 1:
        from gridready.errors import UsageError
        raise UsageError("ingest: '-' (stdin) can be named only once")
    db = db_to_write(args)
    rejected = 0
    stored = 0
    repeated = 0
    now = utc_now()
    with Store(db) as store:
        for path in args.files:
            try:
                result: ProbeResult = (parse_result(read_stdin(MAX_RESULT_BYTES), "-", now) if path == "-"
                                       else read_result(path, now))
                added = store.add(result, outcomes_of(result), origin="ingest", target=result.host or "",
                                  source=path)
            except StoreError:
                raise
            except SourceError as exc:
                print(terminal(f"gridready ingest: rejected {exc}"), file=sys.stderr)
                rejected += 1
                continue
            except Exception as exc:    # one bad file must not lose the others
                print(terminal(f"gridready ingest: rejected {path}: cannot store it: "
                               f"{type(exc).__name__}: {exc}"), file=sys.stderr)
                rejected += 1
                continue
            if added:
                stored += 1
            else:
                # The same site, check, host and checked_at is in the history: stored once, not an error.
                print(terminal(f"gridready ingest: {path}: already stored ({result.check} result of "
                               f"{result.site}, {result.host or 'no host'}, checked at "
                               f"{format_time(result.checked_at)})"), file=sys.stderr)
                repeated += 1
    print(terminal(f"ingested {stored} result{'s' if stored != 1 else ''} into {db}"
                   + (f", {repeated} already stored" if repeated else "")
                   + (f", rejected {rejected} file{'s' if rejected != 1 else ''}" if rejected else "")))
    return 3 if rejected else 0
