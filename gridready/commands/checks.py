"""``gridready checks list``: every check a milestone may name, built-in and installed, with its ``expect`` keys.

The ``expect`` keys come from each check module's ``EXPECT_KEYS`` (built-in
checks and plugins that define one); a check that cannot be loaded is listed
with the one-line reason, and the command then exits 3.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from typing import Any

from gridready.escape import terminal


def add_parser(sub: Any) -> None:
    checks = sub.add_parser("checks", help="the checks milestones may use (built-in and installed)")
    actions = checks.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list every check with its origin and expect keys")
    listing.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    listing.set_defaults(func=run_list)


def expect_keys(check: object) -> tuple[str, ...]:
    """The ``expect`` keys a check declares (``EXPECT_KEYS`` on it or its module), else ()."""
    keys = getattr(check, "EXPECT_KEYS", None)
    if keys is None:
        module = inspect.getmodule(type(check))
        keys = getattr(module, "EXPECT_KEYS", None)
        if keys is None and module is not None:
            # dcache_version keeps its grammar in gridready.dcache.rules, imported as ``rules``.
            keys = getattr(getattr(module, "rules", None), "EXPECT_KEYS", None)
    return tuple(str(k) for k in keys) if isinstance(keys, (tuple, list)) else ()


def run_list(args: argparse.Namespace) -> int:
    from gridready.checks import known_names, load_check, plugin_origin
    from gridready.errors import CheckError

    rows: list[dict[str, Any]] = []
    broken = 0
    for name in known_names():
        origin = plugin_origin(name) or "built-in"
        try:
            check = load_check(name)
        except (CheckError, KeyError) as exc:
            broken += 1
            rows.append({"name": name, "origin": origin, "error": str(exc).strip("'\""), "expect": [],
                         "description": ""})
            continue
        rows.append({"name": name, "origin": origin, "expect": list(expect_keys(check)),
                     "description": " ".join(check.description.split())})
    if args.format == "json":
        import json
        sys.stdout.write(json.dumps({"schema": "gridready.checks/1", "checks": rows}, indent=2) + "\n")
    else:
        for row in rows:
            print(terminal(f"{row['name']}  ({row['origin']})"))
            if row.get("error"):
                print(terminal(f"    cannot load: {row['error']}"))
                continue
            print(terminal(f"    {row['description']}"))
            print(terminal(f"    expect: {', '.join(row['expect']) or '(not declared)'}"))
    return 3 if broken else 0
