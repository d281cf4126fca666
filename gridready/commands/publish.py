"""``gridready publish``: send results to a STOMP broker, spooling what no broker accepted.

Inputs: result files (``gridready.result/1``, read and validated exactly as
``gridready ingest`` does; ``-`` is stdin) and/or stored results (``--db``,
``--since``). Each result goes as JSON to ``--destination`` (what ``gridready
consume`` reads) and/or as a WLCG metricOutput message to
``--metric-destination`` (what SAM/ARGO consumers read).

Order: the spool first (oldest first), then the new results. A result a
probe handed off with ``--spool DIR`` (no destination of its own) goes to
this run's ``--destination`` and/or ``--metric-destination``. When no broker
answers within the bounded retries, or the connection breaks, everything not
receipted goes to ``--spool`` and is sent by the next publish (or
``--flush``). Exit codes: 0 everything delivered, 1 some results are in the
spool for later, 3 an error (a rejected input file, the spool full, no
broker and no spool).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time, timezone
from typing import Any

from gridready.commands import add_db_option, db_to_read
from gridready.escape import terminal
from gridready.tlsoptions import add_tls_options


def add_broker_options(p: argparse.ArgumentParser) -> None:
    """Options shared by publish and consume: brokers, destination, TLS."""
    p.add_argument("--broker", action="append", required=True, metavar="HOST:PORT",
                   help="STOMP broker; repeat for failover (tried in order)")
    p.add_argument("--tls", action="store_true", help="STOMP over TLS (verification always on)")
    add_tls_options(p, "to verify the brokers (with --tls)")
    p.add_argument("--user", help="broker login (STOMP CONNECT)")
    p.add_argument("--password-file", metavar="FILE", help="file holding the broker passcode (first line)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="longest wait for a broker's CONNECTED frame, every broker and retry included, "
                        "and for each receipt (default 10)")


def broker_options(args: argparse.Namespace, destination: str) -> Any:
    from gridready.broker.config import BrokerError, BrokerOptions, check_destination, parse_endpoint
    from gridready.broker.session import quiet_stomp_logging
    from gridready.errors import SourceError
    from gridready.localfile import read_text

    quiet_stomp_logging(int(getattr(args, "verbose", 0) or 0))

    password: str | None = None
    if args.password_file:
        try:
            lines = read_text(args.password_file, max_bytes=4096, what="password file").splitlines()
        except SourceError as exc:
            raise BrokerError(str(exc)) from None
        password = lines[0] if lines else ""
    if not 0 < args.timeout <= 600:
        raise BrokerError(f"--timeout {args.timeout:g}: expected 0 < SECONDS <= 600")
    tls_given = args.capath or args.cert or args.key or args.proxy
    return BrokerOptions(brokers=tuple(parse_endpoint(b) for b in args.broker),
                         destination=check_destination(destination), tls=bool(args.tls or tls_given),
                         capath=args.capath, cert=args.cert, key=args.key, proxy=args.proxy, user=args.user,
                         password=password, timeout=args.timeout)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "publish", help="send results to a STOMP message broker",
        description="Send probe results (gridready.result/1 JSON files, '-' for stdin, and/or stored "
                    "results from --db) to a STOMP broker as JSON (--destination, read by gridready "
                    "consume) and/or WLCG metricOutput (--metric-destination).",
        epilog="Every message waits for the broker's receipt. What no broker confirmed goes to --spool "
               "and is sent first by the next publish or by --flush. Exit codes: 0 all delivered, 1 some "
               "spooled for later, 3 an error (rejected input, spool full, no broker and no spool).")
    p.add_argument("files", nargs="*", metavar="FILE", help="probe JSON result files ('-': stdin)")
    add_db_option(p)
    p.add_argument("--since", metavar="YYYY-MM-DD", type=date.fromisoformat,
                   help="with --db: results checked on or after this day (UTC)")
    p.add_argument("--destination", metavar="DEST", help="destination of gridready.result/1 JSON messages")
    p.add_argument("--metric-destination", metavar="DEST", help="destination of WLCG metricOutput messages")
    p.add_argument("--vo", metavar="NAME", help="voName of the metricOutput messages")
    add_broker_options(p)
    p.add_argument("--spool", metavar="DIR", help="keep what no broker accepted here; sent by later runs")
    p.add_argument("--spool-max-messages", type=int, default=100_000, metavar="N")
    p.add_argument("--spool-max-bytes", type=int, default=512 * 1024 * 1024, metavar="BYTES")
    p.add_argument("--flush", action="store_true", help="send the spool (no new results needed)")
    p.add_argument("--retries", type=int, default=3, metavar="N", help="connection attempts (default 3)")
    p.add_argument("--backoff", type=float, default=1.0, metavar="SECONDS",
                   help="first wait between attempts, doubling (default 1)")
    p.set_defaults(func=run)


def _messages(results: list[Any], args: argparse.Namespace) -> list[Any]:
    from gridready.broker.spool import Message
    from gridready.metricoutput import message as metric_message
    from gridready.result import utc_now

    now = utc_now()
    out = []
    for result in results:
        if args.destination:
            out.append(Message(args.destination, json.dumps(result.to_json()),
                               {"content-type": "application/json"}))
        if args.metric_destination:
            out.append(Message(args.metric_destination, metric_message(result, now, args.vo),
                               {"content-type": "text/plain"}))
    return out


def _address(backlog: list[Any], args: argparse.Namespace) -> list[Any]:
    """The spool's messages to send: a result a probe handed off unaddressed (spool.UNADDRESSED)
    goes to --destination as it is and/or --metric-destination as metricOutput, each part
    naming the same spool file. SpoolError names an entry that is not a valid result."""
    from gridready.broker.spool import UNADDRESSED, Message, SpoolError
    from gridready.errors import SourceError
    from gridready.metricoutput import message as metric_message
    from gridready.result import parse_result, utc_now

    now = utc_now()
    out: list[Any] = []
    for m in backlog:
        if m.destination != UNADDRESSED:
            out.append(m)
            continue
        where = f"{args.spool}/{m.spooled}"
        try:
            result = parse_result(m.body.encode("utf-8"), where, now)
        except SourceError as exc:
            raise SpoolError(f"unreadable spooled message: {exc}") from None
        if args.destination:
            out.append(Message(args.destination, m.body, {"content-type": "application/json"}, m.spooled))
        if args.metric_destination:
            out.append(Message(args.metric_destination, metric_message(result, now, args.vo),
                               {"content-type": "text/plain"}, m.spooled))
    return out


def run(args: argparse.Namespace) -> int:
    from gridready.broker.config import BrokerError, check_destination
    from gridready.broker.publisher import BrokerUnavailable, Publisher
    from gridready.broker.spool import Spool
    from gridready.commands.ingest import read_stdin
    from gridready.errors import SourceError, UsageError
    from gridready.result import MAX_RESULT_BYTES, parse_result, read_result, utc_now
    from gridready.store import Store

    if not args.destination and not args.metric_destination:
        raise UsageError("publish: give --destination and/or --metric-destination")
    for dest in (args.destination, args.metric_destination):
        if dest:
            check_destination(dest)
    if not args.files and not args.db and not args.flush:
        raise UsageError("publish: nothing to send: give result FILEs, --db, or --flush")
    if args.flush and not args.spool:
        raise UsageError("publish: --flush needs --spool DIR")
    if args.since and not args.db:
        raise UsageError("publish: --since needs --db")
    if args.files.count("-") > 1:
        raise UsageError("publish: '-' (stdin) can be named only once")
    if not 1 <= args.retries <= 100 or not 0 <= args.backoff <= 300:
        raise UsageError("publish: --retries must be 1..100 and --backoff 0..300 seconds")
    options = broker_options(args, args.destination or args.metric_destination)
    spool = Spool(args.spool, max_count=args.spool_max_messages, max_bytes=args.spool_max_bytes) \
        if args.spool else None

    results = []
    rejected = 0
    now = utc_now()
    for path in args.files:
        try:
            results.append(parse_result(read_stdin(MAX_RESULT_BYTES), "-", now) if path == "-"
                           else read_result(path, now))
        except SourceError as exc:
            print(terminal(f"gridready publish: rejected {exc}"), file=sys.stderr)
            rejected += 1
    if args.db:
        db = db_to_read(args)
        since = datetime.combine(args.since, time.min, tzinfo=timezone.utc) if args.since else None
        with Store(str(db), readonly=True) as store:
            results.extend(store.results(since))
    new = _messages(results, args)
    backlog = _address(list(spool.messages()), args) if spool else []
    # A spool file goes once every message made from it was confirmed (a handed-off result may
    # make two: JSON and metricOutput).
    parts: dict[str, int] = {}
    for m in backlog:
        parts[m.spooled] = parts.get(m.spooled, 0) + 1

    publisher = Publisher(options, attempts=args.retries, backoff=args.backoff)
    delivered = 0

    def confirmed(message: Any) -> None:
        nonlocal delivered
        delivered += 1
        if message.spooled and spool is not None:
            parts[message.spooled] -= 1
            if parts[message.spooled] == 0:
                spool.remove(message)

    try:
        publisher.connect()
        left = publisher.send([*backlog, *new], confirmed)
        reason = "the connection broke before the broker confirmed them"
    except BrokerUnavailable as exc:
        left = [*backlog, *new]
        reason = str(exc)
    finally:
        publisher.close()
    fresh = [m for m in left if not m.spooled]
    if left and spool is None:
        raise BrokerError(f"{len(left)} messages not delivered and no --spool to keep them: {reason}")
    if fresh and spool is not None:
        spool.add(fresh)
    waiting = len(spool) if spool is not None else 0
    print(terminal(f"published {delivered} message{'s' if delivered != 1 else ''} to "
                   f"{', '.join(args.broker)}" + (f"; {waiting} waiting in {args.spool} ({reason})"
                                                  if left else "")
                   + (f"; rejected {rejected} file{'s' if rejected != 1 else ''}" if rejected else "")))
    if rejected:
        return 3
    return 1 if left else 0
