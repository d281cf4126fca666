"""Sub-commands of the ``gridready`` CLI, one module each.

Also the one rule for the ``--db`` option: commands that write history
(sweep, ingest) create the database; commands that read it (report, export)
never do, and a ``--db`` that was named but does not exist is an error, so a
typo cannot silently show something else.
"""

from __future__ import annotations

import argparse
import os
import stat

from gridready.errors import GridreadyError

#: The history database of sweeps and ingested results, in the working directory.
DEFAULT_DB = "./gridready.db"


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """The ``--db`` option shared by every command that reads or writes history (default None: not named)."""
    parser.add_argument("--db", metavar="FILE", default=None, type=_db_path,
                        help=f"history database (default {DEFAULT_DB})")


def _db_path(text: str) -> str:
    """A named ``--db``: an empty path is an error, not the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    return text


def _check_regular(path: str) -> bool:
    """True when ``path`` exists; GridreadyError when it exists but is no regular file.

    SQLite would open a FIFO and wait on it for ever, or fail on a directory
    with a message that does not say which.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise GridreadyError(f"{path}: cannot use as history database: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise GridreadyError(f"{path}: cannot use as history database: {kind}")
    return True


def db_to_write(args: argparse.Namespace) -> str:
    """The database a writing command uses: ``--db`` or the default, created if missing."""
    path: str = args.db or DEFAULT_DB
    _check_regular(path)
    return path


def db_to_read(args: argparse.Namespace) -> str | None:
    """The database a reading command uses; None when no ``--db`` was named and the default is missing.

    Raises GridreadyError for a named ``--db`` that does not exist (``PATH: no
    such history database``) or is not a regular file.
    """
    if args.db is not None:
        if not _check_regular(args.db):
            raise GridreadyError(f"{args.db}: no such history database (--db)")
        return str(args.db)
    return DEFAULT_DB if _check_regular(DEFAULT_DB) else None
