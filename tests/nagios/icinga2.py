"""Test harness: a real Icinga 2 (Debian icinga2-bin) in a temp dir, running the shipped CheckCommands.

Every path Icinga 2 writes (cache, state, logs, pid, spool) is redefined
into the temp dir with ``-D Configuration.*``; /etc/icinga2 is not read. The
configuration includes the ITL and the shipped
``config/nagios/icinga2/gridready.conf`` with ``PluginDir`` set to the
repository's ``probes/``. Icinga 2 logs ``Check finished for object 'H!S'``
at debug level and writes each service's last check result (the command it
ran as an argv list, exit status, output) to its state file when it stops.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
from tests.nagios.harness import PROBES, probe_environment
from tests.servers.process import stop_tree

ICINGA_DIR = REPO / "config" / "nagios" / "icinga2"
ICINGA_CONF = ICINGA_DIR / "gridready.conf"
ICINGA_EXAMPLE = ICINGA_DIR / "gridready-services.example.conf"
CHECK_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def find_icinga2() -> str | None:
    return shutil.which("icinga2") or shutil.which("icinga2", path="/usr/sbin:/usr/local/sbin")


def require_icinga2() -> str:
    found = find_icinga2()
    if found is None:
        pytest.skip("icinga2 is not installed (Debian package icinga2-bin)")
    return found


def parse_state(text: str) -> list[dict[str, Any]]:
    """Icinga 2's state file: netstrings ``<length>:<json>,`` one per object."""
    objects: list[dict[str, Any]] = []
    pos = 0
    while pos < len(text) and len(objects) < 100000:
        colon = text.index(":", pos)
        length = int(text[pos:colon])
        objects.append(json.loads(text[colon + 1:colon + 1 + length]))
        pos = colon + 1 + length + 1  # the trailing ','
    return objects


class Icinga2:
    def __init__(self, workdir: Path, objects: str, includes: Sequence[Path] = (ICINGA_CONF,),
                 plugin_dir: Path = PROBES) -> None:
        self.program = require_icinga2()
        self.dir = workdir
        for sub in ("cache", "data", "log", "run", "spool"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "icinga2.conf"
        self.output_file = self.dir / "icinga2.out"
        self.state_file = self.dir / "data" / "icinga2.state"
        lines = [f"const PluginDir = {json.dumps(str(plugin_dir))}", "include <itl>", "include <plugins>",
                 *(f"include {json.dumps(str(p))}" for p in includes), objects]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def defines(self) -> list[str]:
        d = self.dir
        values = {"CacheDir": d / "cache", "DataDir": d / "data", "LogDir": d / "log",
                  "InitRunDir": d / "run", "SpoolDir": d / "spool", "StatePath": self.state_file,
                  "ObjectsPath": d / "cache" / "icinga2.debug", "VarsPath": d / "cache" / "icinga2.vars",
                  "PidPath": d / "run" / "icinga2.pid",
                  "RunAsUser": pwd.getpwuid(os.getuid()).pw_name,
                  "RunAsGroup": grp.getgrgid(os.getgid()).gr_name}
        return [f"-DConfiguration.{k}={v}" for k, v in values.items()]

    def validate(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.program, "daemon", "-C", "-c", str(self.conf), *self.defines()],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)

    def start(self) -> None:
        with open(self.output_file, "wb") as out:
            self.process = subprocess.Popen(
                [self.program, "daemon", "-c", str(self.conf), "-x", "debug", *self.defines()],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=probe_environment(self.dir), start_new_session=True)

    def log(self) -> str:
        return self.output_file.read_text(errors="replace") if self.output_file.exists() else ""

    def wait_finished(self, services: Iterable[str], timeout: float = CHECK_TIMEOUT) -> None:
        """Until every ``host!service`` has finished a check (from the debug log)."""
        wanted = set(services)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"icinga2 exited with {self.process.returncode}\n{self.log()[-4000:]}")
            log = self.log()
            if all(f"Check finished for object '{name}'" in log for name in wanted):
                return
            time.sleep(0.2)
        pytest.fail(f"not checked within {timeout:g}s: {sorted(wanted)}\n{self.log()[-4000:]}")

    def stop(self) -> None:
        """SIGTERM (Icinga 2 then writes its state file) and no process of it left behind."""
        process, self.process = self.process, None
        if process is None:
            return
        stop_tree(process, STOP_TIMEOUT)

    def results(self) -> dict[str, dict[str, Any]]:
        """``host!service`` -> its last check result (command, exit_status, output, ...)."""
        objects = parse_state(self.state_file.read_text(encoding="utf-8"))
        return {o["name"]: o["update"]["last_check_result"] for o in objects
                if o.get("type") == "Service" and o.get("update", {}).get("last_check_result")}


@contextmanager
def running_icinga2(workdir: Path, objects: str,
                    includes: Sequence[Path] = (ICINGA_CONF,)) -> Iterator[Icinga2]:
    icinga = Icinga2(workdir, objects + '\nobject CheckerComponent "checker" { }\n', includes)
    validated = icinga.validate()
    assert validated.returncode == 0, validated.stdout + validated.stderr
    icinga.start()
    try:
        yield icinga
    finally:
        icinga.stop()
