"""The ``gridready`` command: the runtime boundary of the reporter side.

Sub-commands live in ``gridready.commands``, one module each, imported only
when chosen. Each registers its parser and returns an exit code; this module
owns turning expected errors into one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gridready import __version__
from gridready.errors import GridreadyError

#: Sub-command name -> module in gridready.commands defining add_parser(subparsers).
COMMANDS: dict[str, str] = {
    "rules": "rules",
    "sweep": "sweep",
    "ingest": "ingest",
    "report": "report",
    "export": "export",
    "nagios-config": "nagios_config",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridready",
                                     description="WLCG site readiness: milestones, sweeps and GDB reports.")
    parser.add_argument("-V", "--version", action="version", version=f"gridready {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(f"gridready.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"gridready.commands.{module}":
                raise
            continue
        mod.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except GridreadyError as exc:
        print(f"gridready: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("gridready: interrupted", file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
