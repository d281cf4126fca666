"""``gridready consume``: a long-running STOMP subscriber that stores results like ``ingest``.

See :mod:`gridready.broker.consumer` for the guarantees (validate as ingest,
ACK after commit, a repeated result stored once, bad messages logged and
ACKed or sent to ``--reject-destination``). SIGTERM stops it cleanly. Exit 0
when stopped or done (``--max-messages``, ``--idle-exit``), 3 on an error.
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

from gridready.commands import add_db_option, db_to_write
from gridready.escape import terminal


def add_parser(sub: Any) -> None:
    from gridready.commands.publish import add_broker_options

    p = sub.add_parser(
        "consume", help="store results received from a STOMP broker",
        description="Subscribe to --destination and store every gridready.result/1 message in the history "
                    "database, validated exactly as `gridready ingest` does. Each message is acknowledged "
                    "only after the database committed it; a result already stored (same site, check, host, "
                    "checked_at) is acknowledged without storing it again.",
        epilog="A message that is not a valid result is logged on stderr (one line) and acknowledged, after "
               "being copied to --reject-destination if given, so it never blocks the queue. SIGTERM stops "
               "after the message in hand. Exit codes: 0 stopped or done, 3 an error.")
    p.add_argument("--destination", required=True, metavar="DEST", help="queue to read, e.g. /queue/gridready")
    add_db_option(p)
    add_broker_options(p)
    p.add_argument("--prefetch", type=int, default=100, metavar="N",
                   help="unacknowledged messages held at once (activemq.prefetchSize; default 100)")
    p.add_argument("--reject-destination", metavar="DEST", help="dead-letter queue for rejected messages")
    p.add_argument("--max-messages", type=int, metavar="N", help="stop after N messages")
    p.add_argument("--idle-exit", type=float, metavar="SECONDS", help="stop after SECONDS without a message")
    p.add_argument("--reconnects", type=int, default=5, metavar="N",
                   help="reconnection attempts when the broker goes away (default 5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gridready.broker.config import check_destination
    from gridready.broker.consumer import Consumer
    from gridready.commands.publish import broker_options
    from gridready.errors import UsageError

    if not 1 <= args.prefetch <= 10_000:
        raise UsageError("consume: --prefetch must be 1..10000")
    if args.max_messages is not None and args.max_messages < 1:
        raise UsageError("consume: --max-messages must be at least 1")
    if args.idle_exit is not None and not 0 < args.idle_exit <= 86400 * 365:
        raise UsageError("consume: --idle-exit must be a positive number of seconds")
    if not 0 <= args.reconnects <= 1000:
        raise UsageError("consume: --reconnects must be 0..1000")
    options = broker_options(args, args.destination)
    reject = check_destination(args.reject_destination) if args.reject_destination else None
    consumer = Consumer(options, db_to_write(args), prefetch=args.prefetch, reject_destination=reject,
                        reconnects=args.reconnects)

    def stop(signum: int, frame: object) -> None:
        consumer.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stats = consumer.run(max_messages=args.max_messages, idle_exit=args.idle_exit)
    print(terminal(f"consumed {stats.handled} message{'' if stats.handled == 1 else 's'}: {stats.stored} stored, "
                   f"{stats.duplicates} already stored, {stats.rejected} rejected"), flush=True)
    return 0
