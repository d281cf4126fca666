"""Probe cold start: wall time and peak RSS of a probe run against ``python -c pass``.

Nagios starts every probe as a new process, thousands of times an hour, so
what a probe costs is mostly interpreter start plus imports. This script
measures, with the same interpreter (``sys.executable``) and environment:

* ``python -c pass``                          (the baseline)
* ``probes/check_xrootd -H 127.0.0.1 -p P``   against a real loopback xrootd
  server (tests/servers/xrootd.py): handshake + kXR_protocol + Qconfig
* ``probes/check_dcache_version --bdii config/example/bdii.ldif --site FZK-LCG2``

The three run interleaved (round-robin, after warm-up runs that also fill
the bytecode cache); it prints the median wall time and peak RSS of each as a
ratio to the baseline. Target: <= 2.0x.

Two more sections say where the time goes: the same measurement with
``python -S`` (site.py skipped, site-packages on PYTHONPATH instead), which
takes out what this machine's site-packages ``.pth`` hooks cost every Python
start; and "import floors", ``python -c "import ..."`` for the libraries a
probe needs, so the cost of each dependency is visible. Finally one
``-X importtime`` run of each probe lists the heavy modules it imports that
the baseline does not (pydantic, requests, ldap3, yaml, ...).

Usage: python bench/probe_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import re
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import PYTHON, REPO, Run, Summary, child_env, mib, ms, print_machine, run  # noqa: E402

TARGET_RATIO = 2.0
AS_OF = "2010-06-08"
BASELINE = "python -c pass"
#: Modules that must not be imported on a path that does not use them.
HEAVY = ("pydantic", "requests", "urllib3", "ldap3", "yaml", "nagiosplugin", "tabulate", "ssl", "sqlite3",
         "certifi", "charset_normalizer", "idna", "http.client", "asyncio", "concurrent.futures", "logging")
#: Import floors: what importing the libraries on a probe's path costs, cumulatively.
FLOORS = (
    ("argparse", "import argparse"),
    ("+ dataclasses, json, datetime", "import argparse, dataclasses, json, datetime"),
    ("+ yaml", "import argparse, dataclasses, json, datetime, yaml"),
    ("+ yaml, nagiosplugin", "import argparse, dataclasses, json, datetime, yaml, nagiosplugin"),
    ("gridready.nagios.runtime", "import gridready.nagios.runtime"),
    ("+ gridready.configfile (yaml)", "import gridready.nagios.runtime, gridready.configfile"),
    ("+ gridready.nagios.contexts (nagiosplugin)",
     "import gridready.nagios.runtime, gridready.configfile, gridready.nagios.contexts"),
    ("+ gridready.checks.dcache_version", "import gridready.nagios.runtime, gridready.configfile, "
                                          "gridready.nagios.contexts, gridready.checks.dcache_version"),
    ("+ gridready.checks.xrootd", "import gridready.nagios.runtime, gridready.configfile, "
                                  "gridready.nagios.contexts, gridready.checks.xrootd"),
)
RUN_TIMEOUT = 30.0


@dataclass(frozen=True)
class Command:
    name: str
    argv: list[str]
    #: A probe: its output must be a real result, not an early UNKNOWN.
    probe: bool = False


def commands(xrootd_port: int | None, flags: Sequence[str] = ()) -> list[Command]:
    py = [PYTHON, *flags]
    found = [Command(BASELINE, [*py, "-c", "pass"])]
    if xrootd_port is not None:
        found.append(Command("check_xrootd (live, loopback xrootd)", [
            *py, str(REPO / "probes" / "check_xrootd"), "-H", "127.0.0.1", "-p", str(xrootd_port),
            "--as-of", AS_OF], probe=True))
    found.append(Command("check_dcache_version (LDIF file)", [
        *py, str(REPO / "probes" / "check_dcache_version"), "--bdii", str(REPO / "config/example/bdii.ldif"),
        "--site", "FZK-LCG2", "--as-of", AS_OF], probe=True))
    return found


def problem(command: Command, result: Run) -> str | None:
    """Why a run does not count (a probe that failed early would look fast), or None."""
    if result.killed:
        return f"{command.name}: killed after {RUN_TIMEOUT:g}s"
    first = result.stdout.splitlines()[0] if result.stdout else ""
    if not command.probe:
        return None if result.returncode == 0 else f"{command.name}: exit {result.returncode}: {result.stderr[-300:]}"
    if result.returncode not in (0, 1, 2) or " UNKNOWN " in first or result.stderr:
        return f"{command.name}: exit {result.returncode}: {first or result.stderr.strip()[-300:]}"
    return None


def measure(cmds: Sequence[Command], env: dict[str, str], runs: int, warmup: int) -> dict[str, list[Run]]:
    """Interleaved runs of every command; raises RuntimeError on a run that does not count."""
    for command in cmds:
        for _ in range(warmup):
            why = problem(command, run(command.argv, env, timeout=RUN_TIMEOUT))
            if why:
                raise RuntimeError(why)
    series: dict[str, list[Run]] = {c.name: [] for c in cmds}
    for _ in range(runs):
        for command in cmds:
            result = run(command.argv, env, timeout=RUN_TIMEOUT)
            why = problem(command, result)
            if why:
                raise RuntimeError(why)
            series[command.name].append(result)
    return series


def table(series: dict[str, list[Run]]) -> float:
    """Print the figures as ratios to the baseline; returns the worst probe ratio."""
    base = Summary.of(series[BASELINE])
    print(f"{'command':45} {'wall':>9} {'[min..max]':>15} {'ratio':>6} {'peak RSS':>9} {'ratio':>6}")
    worst = 0.0
    for name, runs in series.items():
        s = Summary.of(runs)
        wall_ratio, rss_ratio = s.wall_median_s / base.wall_median_s, s.rss_median_kib / base.rss_median_kib
        if name != BASELINE:
            worst = max(worst, wall_ratio, rss_ratio)
        spread = f"[{s.wall_min_s * 1000:.0f}..{s.wall_max_s * 1000:.0f}]"
        print(f"{name:45} {ms(s.wall_median_s):>9} {spread:>15} {wall_ratio:>5.2f}x {mib(s.rss_median_kib):>9} "
              f"{rss_ratio:>5.2f}x")
    return worst


def imported(argv: Sequence[str], env: dict[str, str]) -> set[str]:
    """The modules a command imports (from one ``-X importtime`` run)."""
    result = run([argv[0], "-X", "importtime", *argv[1:]], env, timeout=RUN_TIMEOUT)
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \| *(\S+)$", result.stderr, re.M)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each command (default 20, min 10)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs of each first (default 3)")
    parser.add_argument("--no-xrootd", action="store_true", help="skip check_xrootd (no xrootd server)")
    args = parser.parse_args(argv)
    if args.runs < 10:
        parser.error("--runs must be at least 10")

    print_machine()
    with tempfile.TemporaryDirectory(prefix="gridready-bench-pyc-") as pycache:
        env = child_env(pycache)
        print(f"interpreter: {PYTHON} (sys.executable), for the baseline and the probes alike; probes run as "
              f"`python probes/check_<name>` with PYTHONPATH={REPO}; bytecode cached in a temporary "
              "PYTHONPYCACHEPREFIX (an installed package has its .pyc files)")
        try:
            if args.no_xrootd:
                return report(None, env, args)
            from tests.servers.xrootd import running_xrootd
            with running_xrootd() as server:
                print(f"xrootd: real xrootd server at {server.door} (pid {server.pid})")
                return report(server.port, env, args)
        except RuntimeError as exc:
            print(f"cannot measure: {exc}", file=sys.stderr)
            return 1


def report(port: int | None, env: dict[str, str], args: argparse.Namespace) -> int:
    cmds = commands(port)
    series = measure(cmds, env, args.runs, args.warmup)
    print(f"\nRSS floor of the launcher (peak RSS reported for /bin/true): "
          f"{mib(run(['/bin/true'], env, timeout=RUN_TIMEOUT).maxrss_kib)}")
    for command in cmds:
        if command.probe:
            print(f"{command.name}: exit {series[command.name][-1].returncode}: "
                  f"{series[command.name][-1].stdout.splitlines()[0][:140]}")
    print(f"\n== probe cold start, median of {args.runs} interleaved runs each ==")
    worst = table(series)
    verdict = "MET" if worst <= TARGET_RATIO else f"NOT MET (worst ratio {worst:.2f}x)"
    print(f"target <= {TARGET_RATIO:.1f}x the baseline (wall and peak RSS): {verdict}")

    # site.py runs the .pth files of site-packages at every start; -S skips it
    # and PYTHONPATH provides site-packages instead.
    nosite = dict(env, PYTHONPATH=env["PYTHONPATH"] + ":" + sysconfig.get_paths()["purelib"])
    print(f"\n== the same with `python -S` (no site.py, no .pth hooks), median of {args.runs} ==")
    table(measure(commands(port, ["-S"]), nosite, args.runs, 1))

    floors = [Command(BASELINE, [PYTHON, "-c", "pass"])] + [Command(n, [PYTHON, "-c", c]) for n, c in FLOORS]
    print(f"\n== import floors: `python -c \"import ...\"`, median of {args.runs} ==")
    table(measure(floors, env, args.runs, 1))

    base = imported([PYTHON, "-c", "pass"], env)
    print("\n== modules imported beyond the baseline's (one -X importtime run each) ==")
    for command in cmds:
        if command.probe:
            extra = imported(command.argv, env) - base
            heavy = [h for h in HEAVY if h in extra]
            print(f"{command.name}: {len(extra)} modules, "
                  f"{len([m for m in extra if m.startswith('gridready')])} of gridready; "
                  f"heavy: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
