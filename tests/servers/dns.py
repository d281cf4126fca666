"""Test helper: a real DNS server (dnsmasq) answering from a hosts file on a free loopback port.

Usage::

    from tests.servers.dns import running_dnsmasq

    with running_dnsmasq(hosts_text, local_domains=("example.org",)) as (ip, port):
        ...

Names under ``local_domains`` are answered by dnsmasq itself: a name in the
hosts file without an address of the asked type is NOERROR with no data, a
name not in it is NXDOMAIN. Any other name is REFUSED (``--no-resolv``: no
upstream). Only a missing dnsmasq skips a test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers.process import stop

DNSMASQ = "/usr/sbin/dnsmasq"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_dnsmasq(hosts: str, local_domains: Sequence[str] = ("example.org",)) -> Iterator[tuple[str, int]]:
    program = DNSMASQ if Path(DNSMASQ).exists() else shutil.which("dnsmasq")
    if not program:
        pytest.skip("dnsmasq not installed (Debian dnsmasq-base)")
    with tempfile.TemporaryDirectory(prefix="gridready-dns-") as tmp:
        hosts_file = Path(tmp) / "hosts"
        hosts_file.write_text(hosts, encoding="utf-8")
        port = _free_udp_port()
        argv = [program, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", f"--addn-hosts={hosts_file}", "--pid-file=", "--log-facility=-"]
        argv += [f"--local=/{d}/" for d in local_domains]
        log = open(Path(tmp) / "log", "wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_answering(process, port, Path(tmp) / "log")
            yield "127.0.0.1", port
        finally:
            stop(process, 5.0)
            log.close()


def _wait_answering(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    import dns.exception
    import dns.message
    import dns.query

    end = time.monotonic() + 10
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"dnsmasq exited {process.returncode}: {log.read_text(errors='replace')}")
        try:
            dns.query.udp(dns.message.make_query("ready.invalid.", "A"), "127.0.0.1", port=port, timeout=0.3)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"dnsmasq did not answer on port {port}: {log.read_text(errors='replace')}")
