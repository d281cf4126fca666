"""The probe runtime: the one boundary that owns stdout and the exit code.

It parses the command line, loads rules and inventory, runs the check through
the engine under a whole-probe deadline, and prints one result. Whatever goes
wrong below it becomes a single UNKNOWN line (a traceback only at ``-vvv``);
an expired ``-t`` becomes ``--timeout-state`` naming the stage that hung.
SIGALRM backs the deadline up for code that blocks without asking it.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from types import FrameType
from typing import Any, NoReturn, TextIO

from gridready.checks.interface import Check, Request
from gridready.compliance import State
from gridready.deadline import Deadline
from gridready.errors import CheckTimeout, GridreadyError, UsageError
from gridready.nagios.args import UsageExit, build_parser
from gridready.nagios.output import clean, json_text, nagios_text, status_line


def main(name: str, argv: Sequence[str] | None = None, check: Check | None = None) -> NoReturn:
    """Console-script entry: run the probe and exit with its Nagios code."""
    sys.exit(run(name, sys.argv[1:] if argv is None else argv, check, sys.stdout))


def run(name: str, argv: Sequence[str], check: Check | None, out: TextIO, prog: str | None = None) -> int:
    title = name.upper()
    verbose = 0
    deadline: Deadline | None = None
    timeout_state = State.UNKNOWN
    try:
        if check is None:
            from gridready.checks import load_check
            check = load_check(name)
        args = build_parser(check, prog).parse_args(list(argv))
        verbose = args.verbose
        timeout_state = State[args.timeout_state.upper()]
        deadline = Deadline(args.timeout)
        _arm_alarm(deadline)
        try:
            return _probe(check, args, deadline, out)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except UsageExit as exc:
        if exc.status:
            out.write(exc.status + "\n")
        return State.UNKNOWN.value
    except UsageError as exc:
        out.write(f"{title} UNKNOWN - bad arguments: {clean(str(exc))}\n")
        return State.UNKNOWN.value
    except CheckTimeout as exc:
        out.write(status_line(title, timeout_state, str(exc)) + "\n")
        return timeout_state.value
    except GridreadyError as exc:
        out.write(status_line(title, State.UNKNOWN, str(exc)) + "\n")
        return State.UNKNOWN.value
    except Exception as exc:
        out.write(status_line(title, State.UNKNOWN, f"internal error: {type(exc).__name__}: {exc}") + "\n")
        if verbose >= 3:
            import traceback  # only for -vvv; costs ~5 ms at every start otherwise

            out.write(traceback.format_exc())
        return State.UNKNOWN.value


def _arm_alarm(deadline: Deadline) -> None:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise deadline.timeout()
    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, deadline.seconds)


def _probe(check: Check, args: Any, deadline: Deadline, out: TextIO) -> int:
    from gridready import bundled
    # The cache returns the validated rules/inventory without importing PyYAML and configfile.
    from gridready.cache import load_inventory, load_rules
    from gridready.engine import run_check

    with deadline.during("loading milestone rules"):
        rules = load_rules(args.milestones or bundled.milestones_file(), check)
    milestones = rules.for_check(check.name)
    if args.milestone:
        chosen = rules.milestone(args.milestone)
        if chosen is None:
            raise UsageError(f"no milestone '{args.milestone}' in {rules.path}")
        if chosen.check != check.name:
            raise UsageError(f"milestone '{chosen.id}' uses check {chosen.check}, not {check.name}")
        milestones = (chosen,)

    site, tier, inventory = args.site, args.tier, None
    if args.site or args.inventory:
        with deadline.during("loading the site inventory"):
            inventory = load_inventory(args.inventory or bundled.inventory_file())
        known = inventory.site(args.site) if args.site else None
        if known is not None:
            site = known.name
            tier = known.tier if tier is None else tier
    as_of = args.as_of or datetime.now(timezone.utc).date()
    options: Mapping[str, Any] = vars(args)
    request = Request(options=options, site=site, tier=1 if tier is None else tier, inventory=inventory,
                      as_of=as_of)
    result = run_check(check, request, milestones, rules.waivers, as_of, deadline)

    from gridready.nagios.contexts import evaluate
    evaluated = evaluate(result)
    result.state = State(evaluated.state.code)
    if result.timeout is not None:
        result.state = State[args.timeout_state.upper()]
    note = _hand_off(args.spool, result) if args.spool else None
    if args.format == "json":
        out.write(json_text(result))
        if note:
            sys.stderr.write(note + "\n")      # stdout stays one JSON document
    else:
        out.write(nagios_text(result, result.state, evaluated.perfdata, args.verbose))
        if note:
            out.write(clean(note) + "\n")
    return result.state.value


def _hand_off(directory: str, result: Any) -> str | None:
    """Write ``result`` into the publish spool ``directory``; None when done, else the one line
    saying why not. The probe's state is decided already and a spool problem does not change it."""
    if not result.site:
        return f"not spooled to {directory}: no site (give --site; gridready consume needs it)"
    from gridready.broker.spool import SpoolError, hand_off

    try:
        hand_off(directory, json_text(result))
    except SpoolError as exc:
        return f"not spooled: {exc}"
    except CheckTimeout:
        # The probe's -t alarm fired while writing: the result stands, the spool did not get it.
        return f"not spooled to {directory}: the probe's timeout expired while writing it"
    return None
