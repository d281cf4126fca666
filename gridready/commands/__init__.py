"""Sub-commands of the ``gridready`` CLI, one module each."""

from __future__ import annotations

import argparse

#: The history database of sweeps and ingested results, in the working directory.
DEFAULT_DB = "./gridready.db"


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """The ``--db`` option shared by every command that reads or writes history."""
    parser.add_argument("--db", metavar="FILE", default=DEFAULT_DB,
                        help="history database (default %(default)s)")
