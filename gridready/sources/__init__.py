"""Data sources the checks read: BDII/GLUE (live LDAP or an LDIF dump) and HTTP(S).

Each source turns every failure into a one-line ``SourceError`` naming the URI,
host or file, and bounds every blocking step by the check's ``Deadline``. The
heavy client libraries (ldap3, requests) are imported only on the code path that
needs them, because probes are started thousands of times per hour.
"""
