"""gLExec on a worker node: the pieces ``check_glexec`` is made of.

``install`` finds the binary and glexec.conf and judges their ownership and
modes; ``lcmaps`` parses the LCMAPS database and works out whether the
account policy goes through SCAS or Argus; ``reach`` tests the authorization
service with a TCP + TLS handshake; ``functional`` runs glexec on a payload.
Only the standard library is used, since the probe starts on every worker
node thousands of times per hour.
"""
