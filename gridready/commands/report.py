"""``gridready report``: the per-Tier-1 compliance matrix for the GDB, as table, markdown, JSON or SSB.

Reads the latest result per site, milestone and target from the history
and re-evaluates it against the current rules on ``--as-of``; ``--since``
adds what changed. With no ``--db`` named and no ``./gridready.db`` it shows
the bundled example grid snapshot (file sources only, no network), saying so
first on stderr; a named ``--db`` that does not exist is an error.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from gridready import escape
from gridready.commands import DEFAULT_DB, add_db_option, db_to_read
from gridready.errors import UsageError

if TYPE_CHECKING:
    from gridready.history import History
    from gridready.models import Inventory, Rules, Site
    from gridready.report.matrix import Report
    from gridready.store import Store

#: The bundled example grid snapshot was taken on this day, at this time.
SNAPSHOT_DATE = date(2010, 6, 8)
SNAPSHOT_TIME = datetime(2010, 6, 8, 10, 0, 0, tzinfo=timezone.utc)
FORMATS = ("table", "markdown", "json", "ssb", "html")
#: The first line on stderr whenever the report is of the example, not of a history.
EXAMPLE_NOTE = f"showing the bundled example grid snapshot of {SNAPSHOT_DATE}, not a sweep of yours"


def day(text: str) -> date:
    """An argparse type for YYYY-MM-DD (only that: not ``20101008`` or ``2010-W40-5``,
    which ``date.fromisoformat`` would also take)."""
    from gridready.result import parse_day

    try:
        return parse_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date '{text}', expected YYYY-MM-DD") from None


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="the per-Tier-1 compliance matrix (table, markdown, json, ssb, html)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The Tier-0/Tier-1 x milestone compliance matrix from the latest stored results, "
                    "re-evaluated against the current rules and waivers on --as-of.\n"
                    f"With no --db given and no {DEFAULT_DB} it shows the bundled example grid snapshot "
                    f"of {SNAPSHOT_DATE} (and says so on stderr); a --db that does not exist is an error.",
        epilog="--as-of D uses what was known on day D: per site and milestone the latest result checked "
               "by the end of D (UTC).\n"
               "--since D compares with the matrix on day D (results checked by the end of D): newly-compliant "
               "(now COMPLIANT), regression (was COMPLIANT, now fails), other (e.g. DUE -> OVERDUE).\n"
               "Exit codes: 0 all compliant, pending, waived, not applicable or unknown; 1 some DUE; "
               "2 some OVERDUE; 3 an error (bad database or configuration).")
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default table)")
    p.add_argument("--as-of", type=day, metavar="YYYY-MM-DD", help="evaluation date (default: today, UTC)")
    p.add_argument("--since", type=day, metavar="YYYY-MM-DD", help="also show what changed since this day")
    add_db_option(p)
    p.add_argument("--inventory", metavar="FILE", help="site inventory (default: bundled config/sites.yaml)")
    p.add_argument("--milestones", metavar="FILE", help="milestone rules (default: bundled)")
    p.add_argument("--milestone", action="append", metavar="ID", help="only this milestone (repeatable)")
    p.add_argument("--ssb-url", default="", metavar="TEMPLATE",
                   help="url column of the SSB feed; may use {site} and {milestone} (default empty)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the report to FILE instead of stdout (html: one self-contained page)")
    p.add_argument("--schema", action="store_true",
                   help="print the JSON Schema of the json format (gridready.report/1) and exit")
    p.set_defaults(func=run)


def example_snapshot(rules: Rules, inventory: Inventory | None = None, when: date | None = None) -> Store:
    """An in-memory history holding a sweep of the bundled example grid (file sources only).

    With ``inventory`` (an example grid whose every source is a local file,
    see ``offline_inventory``), that grid is swept instead, as on ``when`` at
    23:59:59 UTC (e.g. config/example-2026/ with config/milestones-2026.yaml):
    the report takes results checked up to the end of the as-of day, so the
    inventory's worker-node result files dated that day are not refused as
    "in the future".
    """
    from gridready import bundled
    from gridready.configfile import load_inventory
    from gridready.store import Store, end_of_day
    from gridready.sweep import Done, Sweeper

    day_, at = SNAPSHOT_DATE, SNAPSHOT_TIME
    if inventory is not None and when is not None:
        day_, at = when, end_of_day(when)
    if inventory is None:
        inventory = load_inventory(bundled.example_dir() / "sites.yaml")
    store = Store(":memory:")

    def emit(done: Done) -> None:
        store.add(done.result, done.outcomes, origin=done.origin, target=done.target, source=done.source)

    Sweeper(inventory, rules, day_, now=lambda: at).run(emit)
    return store


def offline_inventory(inventory: Inventory) -> bool:
    """Whether every source of ``inventory`` is a local file (an example grid): only such an
    inventory is swept for a report without a history (no network)."""
    sources = [v for s in inventory.sites
               for v in (s.bdii, s.srr, s.fts, s.fts_channels, s.glexec, s.dns) if v]
    return bool(sources) and not any("://" in v and not v.lower().startswith("file://") for v in sources)


def run(args: argparse.Namespace) -> int:
    if args.schema:
        from gridready.report.schema import json_schema_text
        sys.stdout.write(json_schema_text())
        return 0

    from gridready import bundled
    from gridready.configfile import load_inventory, load_rules
    from gridready.models import Rules
    from gridready.report import matrix as mx
    from gridready.store import Store

    rules = load_rules(args.milestones or bundled.milestones_file())
    if args.milestone:
        unknown = [m for m in args.milestone if rules.milestone(m) is None]
        if unknown:
            raise UsageError(f"no milestone '{unknown[0]}' in {rules.path}")
        rules = Rules(milestones=tuple(m for m in rules.milestones if m.id in args.milestone),
                      waivers=rules.waivers, path=rules.path)
    if args.ssb_url:
        try:
            args.ssb_url.format(site="S", milestone="M")
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(f"bad --ssb-url template {args.ssb_url!r}: use {{site}} and {{milestone}} ({exc})") \
                from None
    as_of = args.as_of or datetime.now(timezone.utc).date()
    if args.since is not None and args.since > as_of:
        raise UsageError(f"--since {args.since} is later than --as-of {as_of}: nothing can have changed yet")

    if args.output:
        # Before any work: an -o naming a FIFO, device or directory fails at once.
        from gridready.localfile import check_writable

        check_writable(args.output, what="the report")
    # Said once the report is computed, so an error stays the only line on stderr.
    notes: list[str] = []
    db = db_to_read(args)
    named_inventory = None
    if db is None:
        # Loaded once: the offline test, the example sweep and the matrix all use it.
        named_inventory = load_inventory(args.inventory) if args.inventory else None
        if named_inventory is not None and offline_inventory(named_inventory):
            # An example grid of local files (config/example-2026/): swept as on --as-of.
            notes.append(f"showing a sweep of the example grid {escape.terminal(args.inventory)} as of {as_of} "
                         f"(file sources only): no --db given and {DEFAULT_DB} does not exist")
            inventory_file = args.inventory
            source = f"example grid {args.inventory} as of {as_of}"
            store = example_snapshot(rules, named_inventory, as_of)
        else:
            notes.append(f"{EXAMPLE_NOTE}: no --db given and {DEFAULT_DB} does not exist")
            inventory_file = args.inventory or bundled.example_dir() / "sites.yaml"
            source = f"bundled example grid snapshot of {SNAPSHOT_DATE}"
            store = example_snapshot(rules)
    else:
        store = Store(db, readonly=True)
        if store.count() == 0:
            notes.append(f"{escape.terminal(db)} holds no results yet: every milestone is UNKNOWN "
                         "(gridready sweep or ingest fill it)")
        inventory_file = args.inventory or bundled.inventory_file()
        source = db
    with store:
        inventory = named_inventory or load_inventory(inventory_file)
        sites = mx.report_sites(inventory.sites)
        matrix = mx.build_matrix(sites, rules, store.as_of(as_of), as_of)
        changes = None
        if args.since is not None:
            before = mx.build_matrix(sites, rules, store.as_of(args.since), args.since)
            changes = tuple(mx.changes(before, matrix))
        history = _html_history(store, sites, rules, as_of) if args.format == "html" else None
    report = mx.Report(matrix=matrix, generated_at=datetime.now(timezone.utc).replace(microsecond=0),
                       data_source=source, since=args.since, changes=changes)
    if args.format == "html":
        from gridready.report import html
        text = html.render(report, history, [w for w in rules.waivers if rules.milestone(w.milestone)])
    else:
        text = render(report, args.format, args.ssb_url, colour=args.output is None)
    # What the report is on comes first, once everything that can fail has been
    # read and computed (an error stays the only line on stderr).
    for note in notes:
        print(note, file=sys.stderr, flush=True)
    _write(text, args.output)
    return mx.exit_code(matrix)


#: How far back the HTML report's charts go (days before --as-of).
HTML_HISTORY_DAYS = 365


def _html_history(store: Store, sites: list[Site], rules: Rules, as_of: date) -> History:
    """The daily series the HTML charts show: from the first stored result (at most a year back) to as_of."""
    from gridready import history as hs
    from gridready.store import shift_day

    span = store.span()
    first = max(span[0] if span else as_of, shift_day(as_of, -(HTML_HISTORY_DAYS - 1)))
    return hs.compute(sites, rules, hs.days_between(min(first, as_of), as_of), store.as_of)


def _write(text: str, output: str | None) -> None:
    """``text`` to stdout, or to ``output`` (replaced whole by localfile.write_atomic:
    a FIFO, device or directory named by -o is refused, never replaced or blocked on)."""
    if output is None:
        sys.stdout.write(text)
        return
    from gridready.localfile import write_atomic

    write_atomic(output, text, what="the report")


def render(report: Report, fmt: str, ssb_url: str = "", *, colour: bool = True) -> str:
    """The report in ``fmt``; the table is coloured only when ``colour`` and stdout is a terminal
    without NO_COLOR."""
    if fmt == "json":
        from gridready.report import jsonout
        return jsonout.render(report)
    if fmt == "markdown":
        from gridready.report import markdown
        return markdown.render(report)
    if fmt == "ssb":
        from gridready.report import ssb
        return ssb.render(report, ssb_url)
    from gridready.report import table
    from gridready.report.words import use_colour
    return table.render(report, colour=colour and use_colour(sys.stdout))
