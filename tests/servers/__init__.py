"""Real servers for tests: an OpenLDAP slapd loaded with GLUE data and a loopback HTTPS server.

They run on 127.0.0.1 on free ports and are stopped when their context manager
exits, so tests exercise the real client libraries against real protocol peers.
"""
