"""Command-line parsing for the probes, with Nagios exit semantics.

argparse exits 2 on bad arguments and 0 on ``--help``; a Nagios plugin must
exit 3 (UNKNOWN) for both, and for ``--version``. Every probe shares the
common options (docs/probes.md); each check adds its own.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import NoReturn

from gridready import __version__
from gridready.checks.interface import Check


class UsageExit(Exception):
    """Leave the probe with exit 3; ``status`` is the line for Nagios, if any."""

    def __init__(self, status: str | None = None) -> None:
        super().__init__(status or "")
        self.status = status


class ProbeArgumentParser(argparse.ArgumentParser):
    def __init__(self, title: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title = title

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._print_message(message)
        raise UsageExit()

    def error(self, message: str) -> NoReturn:
        raise UsageExit(f"{self.title} UNKNOWN - bad arguments: {message} (see --help)")


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date '{text}', expected YYYY-MM-DD") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad timeout '{text}'") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"timeout must be between 0 and 86400 seconds, got {text}")
    return value


def _tier(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"bad tier '{text}'")
    return int(text)


def build_parser(check: Check, prog: str | None = None) -> ProbeArgumentParser:
    """The probe's parser; ``prog`` is the command as typed (default ``check_<name>``, one of the four
    console scripts; ``check_gridready --check NAME`` passes its own, since no ``check_<name>`` exists
    for the other checks)."""
    prog = prog or f"check_{check.name}"
    parser = ProbeArgumentParser(
        check.name.upper(), prog=prog, add_help=False, description=check.description,
        epilog="Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for --help, --version "
               "and bad arguments).")
    common = parser.add_argument_group("common options")
    common.add_argument("-h", "--help", action="help", help="show this help and exit 3")
    common.add_argument("-V", "--version", action="version",
                        version=f"{prog} (gridready) {__version__}", help="show the version and exit 3")
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="more long output: -v remediation, -vv details, -vvv tracebacks")
    common.add_argument("-t", "--timeout", type=_seconds, default=10.0, metavar="SECONDS",
                        help="bound on the whole probe (default 10)")
    common.add_argument("--timeout-state", default="unknown", type=str.lower,
                        choices=("ok", "warning", "critical", "unknown"),
                        help="state to report when the timeout expires (default unknown)")
    common.add_argument("--milestones", metavar="FILE", help="milestone rules (default: bundled)")
    common.add_argument("--milestone", metavar="ID", help="evaluate only this milestone")
    common.add_argument("--inventory", metavar="FILE", help="site inventory (default: bundled)")
    common.add_argument("--site", metavar="NAME", help="site name (scope, waivers, JSON)")
    common.add_argument("--tier", type=_tier, metavar="N",
                        help="tier of the site (default: from the inventory, else 1)")
    common.add_argument("--as-of", type=_as_of, metavar="YYYY-MM-DD",
                        help="evaluation date (default: today, UTC)")
    common.add_argument("--format", choices=("nagios", "json"), default="nagios",
                        help="output format (default nagios)")
    common.add_argument("--spool", metavar="DIR",
                        help="also write the gridready.result/1 JSON into this publish spool, for "
                             "`gridready publish --flush --spool DIR` to send (never changes the exit code)")
    check.add_arguments(parser)
    return parser
