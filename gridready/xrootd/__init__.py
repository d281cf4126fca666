"""A small native xrootd client and the xrootd protocol-string rules.

``protocol`` encodes requests and decodes replies (pure, no I/O), ``client``
talks to a server over a socket bounded by the check's Deadline, and
``published`` reads and judges the protocol strings a site publishes in
GLUE 1.3, GLUE 2 and SRR. Only the standard library is used, so a probe that
imports this package stays cheap to start.
"""
