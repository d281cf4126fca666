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
