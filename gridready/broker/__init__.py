"""Results over a STOMP message broker (``gridready publish`` / ``gridready consume``).

- :mod:`.config`: broker addresses and TLS settings (same trust rules as
  :mod:`gridready.sources.http`).
- :mod:`.spool`: the on-disk spool that keeps messages no broker accepted.
- :mod:`.publisher`: sends messages with broker receipts, bounded retries.
- :mod:`.consumer`: the subscriber that validates as ``ingest``, stores,
  then acknowledges.

stomp.py is imported only here, and only when a command actually talks to a
broker.
"""
