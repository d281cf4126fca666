"""Shared benchmark plumbing: run a child process, time it, read its peak RSS.

Each measured program is spawned by a tiny launcher (see ``LAUNCHER``) and
reaped with ``os.wait4``, which returns that one child's ``rusage``:
``ru_maxrss`` is its peak resident set (KiB on Linux), so runs never blur
into each other the way ``RUSAGE_CHILDREN`` maxima do. Wall time is taken
around spawn and reap with ``time.perf_counter_ns``. A watchdog kills a
program that outlives its bound, so no run can hang a benchmark.

The interpreter is always ``sys.executable`` (the real binary, never a pyenv
shim script), for the baseline and the measured programs alike.
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    wall_s: float
    maxrss_kib: int
    returncode: int
    stdout: str
    stderr: str
    killed: bool = False


def child_env(pycache: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured child: the repository on PYTHONPATH.

    With ``pycache``, bytecode is read from and written to that directory
    (PYTHONPYCACHEPREFIX) and PYTHONDONTWRITEBYTECODE is dropped: an installed
    package has its .pyc files, and a probe start must not be charged for
    compiling gridready on every run just because this shell disables
    bytecode writing. The baseline gets the same environment.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    env.update(extra or {})
    return env


#: Starts the measured program and reports its own wall time and peak RSS.
#: A child's ru_maxrss is at least the RSS of the process it was spawned from
#: (Linux carries the pre-exec high-water mark over exec), so the measured
#: program is spawned from this small ``python -I -S`` (about 8 MiB, below any
#: Python program's peak) rather than from the benchmark (25+ MiB). Timing
#: inside the launcher leaves the launcher's own start-up out of the figure.
LAUNCHER = """
import os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter_ns()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter_ns() - started
with open(report, "w") as fh:
    fh.write(f"{wall} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run(argv: Sequence[str], env: Mapping[str, str], *, timeout: float = 60.0,
        cwd: str | Path | None = None) -> Run:
    """Run ``argv`` (argv[0] an absolute path) to completion: wall time, peak RSS, output.

    The program is killed, with everything in its session, after ``timeout`` seconds.
    """
    if not os.path.isabs(argv[0]):
        raise ValueError(f"give the program as an absolute path, not {argv[0]!r}")
    with tempfile.TemporaryDirectory(prefix="gridready-bench-run-") as tmp, \
            open(os.path.join(tmp, "out"), "w+b") as out, open(os.path.join(tmp, "err"), "w+b") as err:
        report = os.path.join(tmp, "report")
        started = time.perf_counter()
        # Its own session, so the watchdog can kill the program and anything it started.
        launcher = subprocess.Popen([PYTHON, "-I", "-S", "-c", LAUNCHER, report, *argv],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(env),
                                    cwd=cwd, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                os.killpg(launcher.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        watchdog = threading.Timer(timeout, kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            launcher.wait()
        finally:
            watchdog.cancel()
        outside = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        try:
            with open(report, encoding="ascii") as fh:
                wall_ns, maxrss, code = (int(x) for x in fh.read().split())
        except (OSError, ValueError):
            # Killed (or the launcher failed): no figures, only the time it was given.
            return Run(wall_s=outside, maxrss_kib=0, returncode=launcher.returncode, stdout=stdout,
                       stderr=stderr, killed=killed.is_set())
        return Run(wall_s=wall_ns / 1e9, maxrss_kib=maxrss, returncode=code, stdout=stdout, stderr=stderr,
                   killed=killed.is_set())


@dataclass(frozen=True)
class Summary:
    """Median and spread of a series of runs."""

    runs: int
    wall_median_s: float
    wall_min_s: float
    wall_max_s: float
    rss_median_kib: float
    rss_max_kib: int

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Summary:
        if not runs:
            raise ValueError("no runs to summarise")
        walls = [r.wall_s for r in runs]
        rss = [r.maxrss_kib for r in runs]
        return cls(len(runs), statistics.median(walls), min(walls), max(walls),
                   statistics.median(rss), max(rss))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def machine() -> dict[str, str]:
    """The facts RESULTS.md records next to every figure."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count() or "unknown"),
        "memory": _memory(),
        "cpu": _cpu_model(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()} ({PYTHON})",
    }


def print_machine() -> None:
    facts = machine()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))


#: gridready's runtime dependencies, installed into the clean venv at the versions this interpreter has.
DEPENDENCIES = ("requests", "pydantic", "nagiosplugin", "PyYAML", "tabulate", "ldap3", "defusedxml")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child environment with no PYTHON* variable (no PYTHONPATH, no bytecode switches)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(extra or {})
    return env


def build_venv(dest: Path, source: str) -> Path:
    """A fresh venv at ``dest`` (``--without-pip``) with gridready installed, not editable.

    ``source`` is a git revision of this repository (``HEAD``, a commit) or
    ``worktree`` for the checkout as it is. The source is copied (``git
    archive`` for a revision), built and installed with this interpreter's pip
    (``pip --python``), together with gridready's dependencies pinned at the
    versions installed here; pip compiles the bytecode. Returns the venv's
    ``bin`` directory. Raises RuntimeError when a step fails.
    """
    from importlib import metadata

    src = dest / "src"
    src.mkdir(parents=True)
    if source == "worktree":
        files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
                               capture_output=True, check=True).stdout.decode().split("\0")
        for name in filter(None, files):
            if (REPO / name).is_file():
                (src / name).parent.mkdir(parents=True, exist_ok=True)
                (src / name).write_bytes((REPO / name).read_bytes())
    else:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", source], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    venv = dest / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    pins = [f"{name}=={metadata.version(name)}" for name in DEPENDENCIES]
    done = subprocess.run([PYTHON, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                           "--disable-pip-version-check", str(src), *pins],
                          capture_output=True, text=True, env=clean_env())
    if done.returncode != 0:
        raise RuntimeError(f"installing gridready ({source}) into {venv} failed: {done.stderr[-2000:]}")
    return venv / "bin"
