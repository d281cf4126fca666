"""``gridready history``: the daily compliance series (``gridready.history/1``) as JSON or CSV.

Day D of the series is exactly the matrix ``gridready report --as-of D``
would show (gridready.history). Also the loader ``plot`` and the HTML
report share: rules, sites and store chosen the way ``report`` chooses them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from gridready.commands import DEFAULT_DB, add_db_option, db_to_read
from gridready.errors import UsageError

if TYPE_CHECKING:
    from gridready.history import History
    from gridready.models import Rules, Site
    from gridready.store import Store


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "history", help="the daily compliance series (json or csv)",
        description="Per day from --from to --to: each site's compliance with each milestone and, per "
                    "milestone, how many sites are compliant of how many it applies to. Day D is what "
                    "`gridready report --as-of D` shows.",
        epilog="Default --to: today (UTC; the snapshot day for the bundled example); default --from: the "
               "day of the first stored result, at most 3660 days before --to.\n"
               "CSV columns: date,milestone,site,compliance,compliant,applicable; per day and milestone one "
               "total row (site and compliance empty) then one row per site.\n"
               "Exit codes: 0 done, 3 an error.")
    p.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default json)")
    p.add_argument("--site", action="append", metavar="NAME",
                   help="only this site of the inventory, any tier (repeatable; default the report's Tier-0/1)")
    p.add_argument("--milestone", action="append", metavar="ID", help="only this milestone (repeatable)")
    add_series_options(p)
    p.set_defaults(func=run)


def add_series_options(p: argparse.ArgumentParser) -> None:
    """The day range and inputs every command over the daily series takes (history, plot)."""
    from gridready.commands.report import day
    p.add_argument("--from", dest="first", type=day, metavar="YYYY-MM-DD", help="first day")
    p.add_argument("--to", dest="last", type=day, metavar="YYYY-MM-DD", help="last day")
    add_db_option(p)
    p.add_argument("--inventory", metavar="FILE", help="site inventory (default: bundled config/sites.yaml)")
    p.add_argument("--milestones", metavar="FILE", help="milestone rules (default: bundled)")


@dataclass
class Inputs:
    rules: Rules
    sites: list[Site]
    store: Store
    #: The day "today" means: the snapshot day for the bundled example.
    today: date
    example: bool
    #: What the series is of, when not the named history (the bundled example): the caller says it
    #: first on stderr once everything that can fail has run, so an error stays the only line.
    note: str | None = None


def load_inputs(args: argparse.Namespace, *, any_tier: bool = True) -> Inputs:
    """Rules (``--milestones``, narrowed by ``--milestone``), sites (``--site`` or the report's) and
    the store (``--db``, ``./gridready.db`` or the bundled example, as ``report``)."""
    from gridready import bundled
    from gridready.commands.report import EXAMPLE_NOTE, SNAPSHOT_DATE, example_snapshot
    from gridready.configfile import load_inventory, load_rules
    from gridready.models import Rules
    from gridready.report.matrix import report_sites
    from gridready.store import Store

    rules = load_rules(args.milestones or bundled.milestones_file())
    wanted = getattr(args, "milestone", None)
    if wanted:
        unknown = [m for m in wanted if rules.milestone(m) is None]
        if unknown:
            raise UsageError(f"no milestone '{unknown[0]}' in {rules.path}")
        rules = Rules(milestones=tuple(m for m in rules.milestones if m.id in wanted),
                      waivers=rules.waivers, path=rules.path)
    db = db_to_read(args)
    note = None
    if db is None:
        note = f"{EXAMPLE_NOTE}: no --db given and {DEFAULT_DB} does not exist"
        inventory = load_inventory(args.inventory or bundled.example_dir() / "sites.yaml")
        store, today, example = example_snapshot(rules), SNAPSHOT_DATE, True
    else:
        inventory = load_inventory(args.inventory or bundled.inventory_file())
        store, today, example = Store(db, readonly=True), datetime.now(timezone.utc).date(), False
    names = getattr(args, "site", None)
    if names and any_tier:
        by_key = {s.name.casefold(): s for s in inventory.sites}
        missing = [n for n in names if n.casefold() not in by_key]
        if missing:
            store.close()
            raise UsageError(f"no site '{missing[0]}' in the inventory {inventory.path}")
        sites = [by_key[n.casefold()] for n in dict.fromkeys(n.casefold() for n in names)]
    else:
        sites = report_sites(inventory.sites)
    return Inputs(rules, sites, store, today, example, note)


def compute(inputs: Inputs, first: date | None, last: date | None) -> History:
    """The series from ``first`` (default: first stored result) to ``last`` (default: today)."""
    from gridready import history as hs
    from gridready.store import shift_day

    last = last or inputs.today
    if first is None:
        span = inputs.store.span()
        first = span[0] if span else last
        first = max(first, shift_day(last, -(hs.MAX_DAYS - 1)))
        first = min(first, last)
    try:
        days = hs.days_between(first, last)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return hs.compute(inputs.sites, inputs.rules, days, inputs.store.as_of)


def run(args: argparse.Namespace) -> int:
    from gridready import history as hs

    if args.first is not None and args.last is not None:
        try:    # before anything is loaded: a bad range is the one line said
            hs.days_between(args.first, args.last)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    inputs = load_inputs(args)
    with inputs.store:
        series = compute(inputs, args.first, args.last)
    text = hs.json_text(series) if args.format == "json" else hs.csv_text(series)
    if inputs.note:
        print(inputs.note, file=sys.stderr, flush=True)
    sys.stdout.write(text)
    return 0
