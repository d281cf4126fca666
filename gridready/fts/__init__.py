"""FTS channel data for check_fts_channels.

``channels`` parses FTS 2 ``glite-transfer-channel-list -v`` dumps, ``rest``
reads an FTS3 server's configuration over its REST API, and ``matrix``
derives from the inventory which channels a site's FTS must serve. All three
produce plain data; the rules live in ``gridready.checks.fts_channels``.
"""
