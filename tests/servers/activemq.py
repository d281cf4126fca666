"""Test helper: the real Debian ActiveMQ 5.17 broker with a STOMP connector on a free loopback port.

Usage::

    with running_activemq() as broker:       # broker.host, broker.port, broker.address ("127.0.0.1:PORT")
        broker.stop(); broker.start()        # same port, same data: persistent messages survive

    amq = activemq_fixture()                 # a module-scoped fixture yielding a started broker

The JVM runs ``/usr/share/activemq/bin/activemq.jar start xbean:file:CONF``
directly (what /usr/bin/activemq does, without its init-script handling), with
``activemq.base``/``conf``/``data`` in a temporary directory, JMX off, a
small heap and KahaDB persistence in that directory. Startup waits for the
STOMP port to accept connections (bounded by START_TIMEOUT); stop is TERM to
the PID, then KILL. Only a missing ActiveMQ or Java skips; in CI
(GRIDREADY_REQUIRE_SERVERS=1) a skip is a failure.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.servers.process import stop

HOME = Path("/usr/share/activemq")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

_CONFIG = """<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
  http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false" brokerName="gridready-test"
          dataDirectory="{data}" schedulerSupport="false" advisorySupport="false">
    <persistenceAdapter><kahaDB directory="{data}/kahadb"/></persistenceAdapter>
    <systemUsage><systemUsage>
      <memoryUsage><memoryUsage limit="64 mb"/></memoryUsage>
      <storeUsage><storeUsage limit="1 gb"/></storeUsage>
      <tempUsage><tempUsage limit="256 mb"/></tempUsage>
    </systemUsage></systemUsage>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:{port}?transport.maxFrameSize=8388608"/>
    </transportConnectors>
  </broker>
</beans>
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _java() -> str | None:
    return shutil.which("java")


class ActiveMQ:
    """One broker instance in ``base``; ``start``/``stop`` keep port and data."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.host = "127.0.0.1"
        self.port = free_port()
        self.process: subprocess.Popen[Any] | None = None
        (base / "conf").mkdir(parents=True, exist_ok=True)
        (base / "data").mkdir(exist_ok=True)
        (base / "conf" / "activemq.xml").write_text(_CONFIG.format(data=base / "data", port=self.port))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self) -> None:
        java = _java()
        assert java is not None
        conf = self.base / "conf"
        log = open(self.base / "activemq.log", "ab")
        self.process = subprocess.Popen(
            [java, "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "--add-reads=java.xml=java.logging", "--add-opens", "java.base/java.lang=ALL-UNNAMED",
             f"-Dactivemq.classpath={conf}", f"-Dactivemq.home={HOME}", f"-Dactivemq.base={self.base}",
             f"-Dactivemq.conf={conf}", f"-Dactivemq.data={self.base / 'data'}",
             "-jar", str(HOME / "bin" / "activemq.jar"), "start", f"xbean:file:{conf / 'activemq.xml'}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.base)
        log.close()
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self.process.poll() is not None:
                break
            if self._accepts():
                return
            time.sleep(0.1)
        tail = (self.base / "activemq.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"ActiveMQ did not open 127.0.0.1:{self.port} within {START_TIMEOUT:g}s: {tail}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, STOP_TIMEOUT)
            self.process = None
        end = time.monotonic() + STOP_TIMEOUT
        while self._accepts() and time.monotonic() < end:
            time.sleep(0.1)


def available() -> bool:
    return (HOME / "bin" / "activemq.jar").is_file() and _java() is not None


@contextmanager
def running_activemq() -> Iterator[ActiveMQ]:
    if not available():
        pytest.skip("ActiveMQ (Debian activemq) or java not installed")
    base = Path(tempfile.mkdtemp(prefix="gridready-amq-"))
    broker = ActiveMQ(base)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(base, ignore_errors=True)


def activemq_fixture() -> Any:
    @pytest.fixture(scope="module")
    def amq() -> Iterator[ActiveMQ]:
        with running_activemq() as broker:
            yield broker
    return amq
