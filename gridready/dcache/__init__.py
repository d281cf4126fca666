"""dCache domain knowledge: release version strings and the golden/feature series table.

Pure and light (stdlib only, plus the YAML reader for the series table), so the
probe can import it at start-up.
"""
