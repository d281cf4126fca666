"""The ``gridready`` command: the runtime boundary of the reporter side.

Sub-commands live in ``gridready.commands``, one module each, imported only
when chosen. Each registers its parser and returns an exit code; this module
is the one boundary that turns whatever goes wrong below it into one line on
stderr and exit 3, like the probes' runtime (``gridready.nagios.runtime``):

- argument errors of every sub-command (argparse would exit 2, which for
  ``report`` means "some OVERDUE");
- expected errors (:class:`~gridready.errors.GridreadyError`), their message
  as it is;
- any other exception, as ``internal error`` naming the command and its
  arguments; the traceback only with ``-v``/``--debug``;
- Ctrl-C (one line) and a reader that went away (``gridready report | head``:
  nothing printed).

Every line goes through :func:`gridready.escape.terminal`, since messages
quote file names and values from outside.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shlex
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from gridready import __version__
from gridready.errors import GridreadyError
from gridready.escape import terminal

#: Sub-command name -> module in gridready.commands defining add_parser(subparsers).
COMMANDS: dict[str, str] = {
    "rules": "rules",
    "sweep": "sweep",
    "ingest": "ingest",
    "report": "report",
    "export": "export",
    "nagios-config": "nagios_config",
    "inventory": "inventory",
    "history": "history",
    "plot": "plot",
    "prune": "prune",
    "publish": "publish",
    "consume": "consume",
    "checks": "checks",
}
#: Every error, of arguments included: 2 means "some OVERDUE" for report.
ERROR_EXIT = 3
#: The arguments quoted in an internal-error line are cut to this many characters.
_QUOTED_ARGS = 200


class ArgumentError(GridreadyError):
    """The command line did not parse; the message names the (sub-)command."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are exceptions (exit 3 at the boundary), not exit 2."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{self.prog}: {message} (see {self.prog} --help)")


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-v", "--verbose", "--debug", dest="verbose", action="count", default=default,
                        help="show the Python traceback of an internal error (repeatable: -vvv)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gridready",
                     description="WLCG site readiness: milestones, sweeps and GDB reports.",
                     epilog="Every command exits 3 on an error (bad arguments included), with one line on "
                            "stderr.")
    parser.add_argument("-V", "--version", action="version", version=f"gridready {__version__}")
    _add_verbosity(parser, 0)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(f"gridready.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"gridready.commands.{module}":
                raise
            continue
        mod.add_parser(sub)
    # -v also after the sub-command; SUPPRESS keeps a -v given before it.
    for choice in sub.choices.values():
        _add_verbosity(choice, argparse.SUPPRESS)
        for action in choice._actions:
            if isinstance(action, argparse._SubParsersAction):
                for nested in action.choices.values():
                    _add_verbosity(nested, argparse.SUPPRESS)
    return parser


def verbosity(argv: Sequence[str]) -> int:
    """How many ``-v`` (or ``--debug``/``--verbose``) ``argv`` holds, read without the parser.

    Used when the parser itself failed, so ``-v`` still shows the traceback.
    """
    count = 0
    for arg in argv:
        if arg == "--":
            break
        if arg in ("--debug", "--verbose"):
            count += 1
        elif re.fullmatch(r"-v+", arg):
            count += len(arg) - 1
    return count


def _command_line(argv: Sequence[str]) -> str:
    line = shlex.join(["gridready", *argv])
    return line if len(line) <= _QUOTED_ARGS else line[:_QUOTED_ARGS] + "..."


def _say(text: str) -> None:
    try:
        print(terminal(text), file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass    # stderr is gone too: the exit code is all that is left


def _silence_stdout() -> None:
    """After EPIPE on stdout, point it at /dev/null so the interpreter's exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``gridready`` command; its exit code, 3 for every error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = verbosity(argv)
    try:
        args = build_parser().parse_args(argv)
        verbose = max(verbose, int(getattr(args, "verbose", 0) or 0))
        code: int = args.func(args)
        sys.stdout.flush()
        return code
    except ArgumentError as exc:
        _say(str(exc))
    except GridreadyError as exc:
        _say(f"gridready: {exc}")
    except KeyboardInterrupt:
        _say(f"gridready: interrupted: {_command_line(argv)}")
    except BrokenPipeError:
        # The reader went away (`gridready report | head -1`): nothing to say to anyone.
        _silence_stdout()
    except Exception as exc:
        _say(f"gridready: internal error in `{_command_line(argv)}`: {type(exc).__name__}: {exc}"
             + ("" if verbose else " (run with --debug for the traceback)"))
        if verbose:
            _say_traceback()
    return ERROR_EXIT


def _say_traceback() -> None:
    try:
        sys.stderr.write(terminal(traceback.format_exc(), keep_newlines=True))
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
