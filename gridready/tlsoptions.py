"""The grid TLS options every https/STOMP client takes: ``--capath``, ``--cert``, ``--key``, ``--proxy``.

Probes, ``sweep``, ``inventory import`` and ``publish``/``consume`` read them
the same way (``sources.http.default_trust_anchor`` and the credential
readers beside it), so they are declared once, here; only what the
credentials are for differs. Argparse only: this is imported at probe start.
"""

from __future__ import annotations

import argparse

ArgumentContainer = argparse.ArgumentParser | argparse._ArgumentGroup


def add_tls_options(group: ArgumentContainer, purpose: str) -> None:
    """Add the four options to ``group``; ``purpose`` ends the ``--capath`` help ("to verify the FTS3 server")."""
    group.add_argument("--capath", metavar="DIR|FILE",
                       help=f"CA directory or bundle {purpose} (default /etc/grid-security/certificates, "
                            "else the system store; environment variables are ignored)")
    group.add_argument("--cert", metavar="FILE", help="X.509 client certificate (PEM), with --key")
    group.add_argument("--key", metavar="FILE", help="unencrypted private key of --cert")
    group.add_argument("--proxy", metavar="FILE",
                       help="X.509 proxy (certificate, key and chain in one file); wins over --cert/--key")
