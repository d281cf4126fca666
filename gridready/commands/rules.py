"""``gridready rules validate [FILE]``: check a milestones file, every problem with file:line.

Validates the check-specific ``expect`` of each milestone too, so it imports
every check module. Exit 0 when valid, 2 when not, 3 when the file cannot be
read at all (missing, a directory, a device, too large).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from gridready import bundled
from gridready.configfile import load_rules
from gridready.errors import ConfigError, ConfigUnreadable, GridreadyError
from gridready.escape import terminal


def add_parser(sub: Any) -> None:
    rules = sub.add_parser("rules", help="work with milestone rules")
    actions = rules.add_subparsers(dest="action", metavar="ACTION", required=True)
    validate = actions.add_parser("validate", help="validate a milestones file (exit 0 valid, 2 invalid, 3 unreadable)")
    validate.add_argument("file", nargs="?", help="milestones file (default: bundled)")
    validate.set_defaults(func=run_validate)


def expect_problems(check: str, expect: Mapping[str, Any]) -> Sequence[str]:
    from gridready.checks import load_check
    return load_check(check).validate_expect(expect)


def run_validate(args: argparse.Namespace) -> int:
    path = args.file or str(bundled.milestones_file())
    try:
        rules = load_rules(path, validate_expect=expect_problems)
    except ConfigUnreadable as exc:
        # A file that cannot be read at all is an error (exit 3, one line), not invalid rules.
        raise GridreadyError(exc.reason) from None
    except ConfigError as exc:
        for problem in exc.problems:
            print(terminal(problem), file=sys.stderr)
        print(terminal(f"{path}: INVALID ({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''})"))
        return 2
    milestones, waivers = len(rules.milestones), len(rules.waivers)
    print(terminal(f"{path}: OK ({milestones} milestone{'' if milestones == 1 else 's'}, "
                   f"{waivers} waiver{'' if waivers == 1 else 's'})"))
    return 0
