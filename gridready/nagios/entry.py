"""Console-script entry points, one per probe (see pyproject.toml)."""

from __future__ import annotations

from typing import NoReturn

from gridready.nagios.runtime import main


def check_glexec() -> NoReturn:
    main("glexec")


def check_fts_channels() -> NoReturn:
    main("fts_channels")


def check_dcache_version() -> NoReturn:
    main("dcache_version")


def check_xrootd() -> NoReturn:
    main("xrootd")


def check_gridready() -> NoReturn:
    """``check_gridready --check NAME [options]``: any check, built-in or installed, as a probe."""
    import sys

    from gridready.nagios.generic import run_generic
    sys.exit(run_generic(sys.argv[1:], sys.stdout))
