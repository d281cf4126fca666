"""``gridready inventory import``: build ``sites.yaml`` from GOCDB, WLCG CRIC and a BDII.

Each source is read whole (URL with the probes' TLS rules and grid
credentials, or a local file), bounded by ``-t``; a source that cannot be used
at all (unreachable, an HTML error page, malformed or hostile XML/JSON) stops
the import with exit 3 and nothing is written. Problems with single records (a
site without a tier, an endpoint without a host, a name listed twice) are one
line each on stderr; the rest is imported. The result is checked with the
sweep's own inventory loader and then written atomically (``-o``) or printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from gridready.tlsoptions import add_tls_options



def add_parser(sub: Any) -> None:
    p = sub.add_parser("inventory", help="build the site inventory (sites.yaml) from topology sources",
                       description="Site inventory tools.")
    inner = p.add_subparsers(dest="inventory_command", metavar="ACTION", required=True)
    q = inner.add_parser(
        "import", help="import sites from GOCDB, CRIC and a BDII into sites.yaml",
        description="Merge GOCDB (names, production status, services), WLCG CRIC (tiers, federations, "
                    "services) and a BDII (storage elements, xrootd doors, FTS) into a sites.yaml inventory. "
                    "See docs/inventory.md for which field comes from which source.",
        epilog="Exit codes: 0 written (problems with single records are listed on stderr), "
               "3 a source unusable, no site left, or bad arguments; nothing is written then.")
    q.add_argument("--gocdb", action="append", default=[], metavar="URL|FILE",
                   help="GOCDB programmatic interface base URL (get_site and get_service_endpoint are read), "
                        "a PI query URL, or a saved XML answer; repeatable")
    q.add_argument("--cric", action="append", default=[], metavar="URL|FILE",
                   help="WLCG CRIC base URL (rcsite and service queries are read), an /api/ query URL, "
                        "or a saved JSON answer; repeatable")
    q.add_argument("--bdii", action="append", default=[], metavar="URI|FILE",
                   help="top or site BDII ldap://host[:2170], or an LDIF dump; repeatable")
    q.add_argument("--tier", action="append", type=int, default=[], metavar="N", help="keep tier N (repeatable)")
    q.add_argument("--site", action="append", default=[], metavar="NAME", help="keep site NAME (repeatable)")
    q.add_argument("--grid", action="append", default=[], metavar="NAME",
                   help="keep sites a source marks with this grid or scope, e.g. WLCG (repeatable)")
    q.add_argument("--vo", action="append", default=[], metavar="VO",
                   help="keep sites a source marks as serving VO (GOCDB scope, CRIC usage) (repeatable)")
    q.add_argument("--overlay", metavar="FILE", help="hand-kept per-site fields applied after the import")
    q.add_argument("--date", metavar="YYYY-MM-DD",
                   help="date written in each site's comment (default: the sources' own timestamps)")
    q.add_argument("-o", "--output", metavar="FILE", help="write here atomically (default: standard output)")
    q.add_argument("-t", "--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="bound on reading all sources (default 60)")
    add_tls_options(q, "to verify https sources")
    q.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from gridready.errors import UsageError

    if not (args.gocdb or args.cric or args.bdii):
        raise UsageError("inventory import: give at least one source (--gocdb, --cric or --bdii)")
    if args.date is not None:
        from gridready.result import parse_day

        try:
            parse_day(args.date, "--date")    # a real date in ASCII digits: it goes into every comment
        except ValueError as exc:
            raise UsageError(f"inventory import: {exc}") from None
    from gridready.models import MAX_TIMEOUT, valid_timeout

    if not valid_timeout(args.timeout):
        # inf (or 1e400) would leave every fetch unbounded; 1e20 overflows a socket's time_t
        raise UsageError(f"inventory import: -t must be more than 0 and at most {MAX_TIMEOUT:g} seconds, "
                         f"got {args.timeout:g}")
    if any(t < 0 for t in args.tier):
        raise UsageError("inventory import: --tier must not be negative")
    if args.proxy and (args.cert or args.key):
        raise UsageError("inventory import: give either --cert and --key, or --proxy")
    if args.key and not args.cert:
        raise UsageError("inventory import: --key needs --cert")


def _bdii_value(uri: str, output: Path | None) -> str:
    """What an imported site's ``bdii:`` says for BDII source ``uri``.

    A URI as given; a dump's path relative to the output file (the inventory
    loader resolves it from there), or as given when printing.
    """
    if "://" in uri and not uri.lower().startswith("file://"):
        return uri
    path = uri[len("file://"):] if uri.lower().startswith("file://") else uri
    if output is None or os.path.isabs(path):
        return path
    return os.path.relpath(os.path.abspath(path), output.resolve().parent)


def run(args: argparse.Namespace) -> int:
    from gridready.deadline import Deadline
    from gridready.errors import GridreadyError
    from gridready.sources.http import TLSOptions
    from gridready.topology import bdii, cric, gocdb, merge, writer
    from gridready.topology.overlay import load_overlay

    _check(args)
    output = Path(args.output) if args.output else None
    output_dir = output.resolve().parent if output else Path.cwd()
    if output is not None:
        # Before any fetch: an -o naming a FIFO or a directory fails in no time.
        from gridready.localfile import check_writable

        check_writable(output)
        if not output_dir.is_dir():
            raise GridreadyError(f"{output}: cannot write: directory {output_dir} does not exist")
    overlay = load_overlay(args.overlay, output_dir) if args.overlay else None
    tls = TLSOptions(capath=args.capath, cert=args.cert, key=args.key, proxy=args.proxy)
    deadline = Deadline(args.timeout)

    sources = []
    for location in args.gocdb:
        sources.append(gocdb.read_gocdb(location, deadline, tls))
    for location in args.cric:
        sources.append(cric.read_cric(location, deadline, tls))
    bdii_values: dict[str, str] = {}
    for location in args.bdii:
        facts = bdii.read_bdii(location, deadline)
        bdii_values[facts.label] = _bdii_value(location, output)
        sources.append(facts)

    filters = merge.Filters(tiers=frozenset(args.tier), sites=frozenset(s.casefold() for s in args.site),
                            tags=frozenset(t.lower() for t in args.grid + args.vo))
    sites, problems = merge.merge(sources, bdii_values, filters, args.date, overlay)
    for source in sources:
        for line in source.problems:
            _warn(line)
    for line in problems:
        _warn(line)
    if not sites:
        raise GridreadyError("inventory import: no site left to write "
                             "(check the sources and the --tier/--site/--grid/--vo filters)")
    header = ["Written by `gridready inventory import` (format: docs/inventory.md); edit the overlay, "
              "not this file.",
              "Sources: " + ", ".join([f"{s.kind} {s.label}" for s in sources]
                                      + ([f"overlay {overlay.label}"] if overlay else [])) + "."]
    text = writer.render(sites, header)
    writer.validate(text, output_dir if output else Path(tempfile.gettempdir()))
    if output is None:
        sys.stdout.write(text)
    else:
        from gridready.localfile import write_atomic

        write_atomic(output, text)
        print(f"wrote {len(sites)} site{'s' if len(sites) != 1 else ''} to {output}", file=sys.stderr)
    return 0


def _warn(line: str) -> None:
    from gridready.escape import terminal

    print(f"gridready inventory: {terminal(line)}", file=sys.stderr)
