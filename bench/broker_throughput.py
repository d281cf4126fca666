"""End-to-end broker throughput: results/s from ``gridready publish`` to stored by ``gridready consume``.

Starts a real ActiveMQ on 127.0.0.1 (tests/servers/activemq.py), writes N
result files, starts the consumer as its own process, publishes all files,
and waits until the consumer has stored N results (``--idle-exit``). Prints
publish rate (receipted by the broker), end-to-end rate (first publish ->
last stored), the consumer's peak RSS (VmHWM from /proc), and the CPU
seconds (user + system) each part used during the run: the publisher (this
process), the consumer and the broker's JVM, from /proc/PID/stat, so "what
limits it" is a measurement: with 2 cores, parts that together use about
2 CPU-seconds per wall second saturate the machine.

    python bench/broker_throughput.py [N]        # default 10000
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridready.cli import main  # noqa: E402
from tests.servers.activemq import running_activemq  # noqa: E402
from tests.test_broker_e2e import results, stored  # noqa: E402


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(count: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, running_activemq() as broker:
        paths = results(Path(tmp), count)
        db = Path(tmp) / "h.db"
        code = "import sys; from gridready.cli import main; sys.exit(main(sys.argv[1:]))"
        consumer = subprocess.Popen([sys.executable, "-c", code, "consume", "--broker", broker.address,
                                     "--destination", "/queue/bench", "--db", str(db), "--idle-exit", "3600",
                                     "--max-messages", str(count)], stdout=subprocess.PIPE)
        assert broker.process is not None
        jvm = broker.process.pid
        peak = 0
        consumer_cpu = 0.0
        jvm_before, me_before = cpu_seconds(jvm), own_cpu()
        started = time.monotonic()
        assert main(["publish", "--broker", broker.address, "--destination", "/queue/bench", *paths]) == 0
        published = time.monotonic() - started
        publisher_cpu = own_cpu() - me_before
        while consumer.poll() is None:
            peak = max(peak, peak_rss_kib(consumer.pid))
            try:
                consumer_cpu = cpu_seconds(consumer.pid)
            except (OSError, IndexError):
                pass
            time.sleep(0.05)
        done = time.monotonic() - started
        jvm_cpu = cpu_seconds(jvm) - jvm_before
        assert len(stored(db)) == count
        return {"results": count, "publish_per_s": count / published, "end_to_end_per_s": count / done,
                "seconds": done, "consumer_peak_rss_mib": peak / 1024,
                "cpu_s_publisher": round(publisher_cpu, 2), "cpu_s_consumer": round(consumer_cpu, 2),
                "cpu_s_broker_jvm": round(jvm_cpu, 2),
                "cpu_s_per_wall_s": round((publisher_cpu + consumer_cpu + jvm_cpu) / done, 2)}


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000), indent=1))
