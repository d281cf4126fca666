"""Topology import: build a ``sites.yaml`` inventory from GOCDB, WLCG CRIC and a BDII.

One module per source (``gocdb``, ``cric``, ``bdii``) turns what that source
publishes into :mod:`~gridready.topology.records` facts; ``merge`` decides,
per field, which source wins and applies the hand-kept overlay; ``writer``
renders the stable YAML text and replaces the output file atomically.
The CLI front end is ``gridready.commands.inventory``.
"""
