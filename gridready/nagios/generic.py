"""``check_gridready --check NAME``: any check, built-in or installed, as a Nagios plugin.

``--check`` is read before anything else (the check decides which further
options exist), then the rest of the command line goes to the common probe
runtime (``gridready.nagios.runtime``) exactly as for the four named probes:
same common options, output and exit codes. Without ``--check``, ``-h`` lists
the checks and every other use is a bad argument (exit 3). Installed checks
are looked up only when the name is not built in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from gridready.compliance import State
from gridready.escape import terminal

TITLE = "GRIDREADY"
USAGE = ("usage: check_gridready --check NAME [common probe options] [options of the check]\n"
         "Runs any gridready check (built-in or installed through the gridready.checks entry points) "
         "as a Nagios plugin; `check_gridready --check NAME --help` shows its options.\n")


def split_check(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """(the ``--check`` value, the other arguments); ValueError for ``--check`` without a value or twice."""
    name: str | None = None
    rest: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            rest += items[i:]
            break
        value: str | None = None
        if arg == "--check":
            if i + 1 >= len(items):
                raise ValueError("--check needs a check name")
            value = items[i + 1]
            i += 1
        elif arg.startswith("--check="):
            value = arg[len("--check="):]
        else:
            rest.append(arg)
        if value is not None:
            if name is not None:
                raise ValueError("--check given twice")
            name = value
        i += 1
    return name, rest


def run_generic(argv: Sequence[str], out: TextIO) -> int:
    from gridready.nagios.runtime import run

    try:
        name, rest = split_check(argv)
    except ValueError as exc:
        out.write(f"{TITLE} UNKNOWN - bad arguments: {exc} (see --help)\n")
        return State.UNKNOWN.value
    if name is None:
        if any(a in ("-h", "--help") for a in rest):
            from gridready.checks import known_names
            out.write(USAGE + "checks: " + ", ".join(known_names()) + "\n")
        elif any(a in ("-V", "--version") for a in rest):
            from gridready import __version__
            out.write(f"check_gridready (gridready) {__version__}\n")
        else:
            out.write(f"{TITLE} UNKNOWN - bad arguments: --check NAME is required (see --help)\n")
        return State.UNKNOWN.value
    from gridready.checks import NAME, load_check
    from gridready.errors import CheckError

    if not NAME.match(name):
        out.write(f"{TITLE} UNKNOWN - bad arguments: bad check name '{terminal(name)[:80]}'\n")
        return State.UNKNOWN.value
    try:
        check = load_check(name)
    except CheckError as exc:
        out.write(f"{TITLE} UNKNOWN - {terminal(str(exc))}\n")
        return State.UNKNOWN.value
    except KeyError as exc:
        out.write(f"{TITLE} UNKNOWN - bad arguments: {terminal(str(exc.args[0]) if exc.args else name)}\n")
        return State.UNKNOWN.value
    return run(name, rest, check, out, prog=f"check_gridready --check {name}")
