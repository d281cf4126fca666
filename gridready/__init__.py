"""gridready: WLCG grid site readiness compliance checker.

The package is imported by every Nagios probe start, so this module stays empty
of imports: each probe loads only what its own code path needs.
"""

__version__ = "0.1.0"
