"""Probe start-up against a clean interpreter and against the tools an admin would run instead.

Nagios starts every probe as a new process, thousands of times an hour, so
what a probe costs is mostly interpreter start plus imports. This script
builds a fresh venv (``python -m venv --without-pip``: no ``.pth`` hook, no
site-packages but gridready's own dependencies), installs gridready into it
from a git revision (``--source``, default HEAD; not editable), and runs,
interleaved, with the venv's own console scripts:

* ``python -c pass`` in that venv (the baseline; what it loads is printed);
* each probe on file inputs (check_glexec on an empty ``--root``,
  check_fts_channels on a channel-list dump, check_dcache_version on the
  example LDIF, check_xrootd on a saved SRR document);
* the two ``ldap://`` probes against a real slapd on loopback
  (tests/servers/slapd.py) serving the example LDIF;
* check_xrootd -H against a real xrootd on loopback (tests/servers/xrootd.py),
  with a saved SRR document that describes that door;
* the peers, on the same servers: ``xrdfs HOST:PORT query config version``,
  ``check_tcp`` and ``check_ldap`` (monitoring-plugins), ``ldapsearch``.

It prints medians as ratios (probe / clean ``python -c pass``; check_xrootd
/ xrdfs; check_dcache_version over LDAP / ldapsearch and / check_ldap).
Targets: file-input probes <= 4x, ``ldap://`` probes <= 7x, live
check_xrootd <= 4x xrdfs. A probe run that ends UNKNOWN is rejected (a probe
that fails early looks fast). Finally one ``-X importtime`` run of each probe
lists the modules it imports beyond the baseline's, the heaviest first.

The rules/inventory cache (gridready.cache) lives in a temporary
XDG_CACHE_HOME that the warm-up runs fill, as on a Nagios host where the
YAML does not change between checks.

Usage: python bench/probe_startup.py [--source HEAD] [--runs 20]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import (REPO, Run, Summary, build_venv, clean_env, mib, ms,  # noqa: E402
                           print_machine, run)

AS_OF = "2010-06-08"
EXAMPLE = REPO / "config" / "example"
PLUGINS = Path("/usr/lib/nagios/plugins")
TARGETS = {"file": 4.0, "ldap": 7.0, "live": 4.0}
#: Modules that must not be imported on a path that does not use them.
HEAVY = ("pydantic", "requests", "urllib3", "ldap3", "pyasn1", "yaml", "nagiosplugin", "tabulate", "ssl",
         "sqlite3", "certifi", "charset_normalizer", "idna", "http.client", "asyncio", "concurrent.futures",
         "logging", "tempfile", "inspect")
RUN_TIMEOUT = 30.0
BASELINE = "python -c pass (clean venv)"


@dataclass(frozen=True)
class Command:
    name: str
    argv: list[str]
    #: "file", "ldap" or "live" for a probe (its output must be a real result), "" otherwise.
    kind: str = ""
    #: The peer this probe is compared with, besides the baseline.
    peers: tuple[str, ...] = ()


def commands(bin_dir: Path, root: Path, xrootd_port: int | None, ldap_uri: str | None) -> list[Command]:
    py = str(bin_dir / "python")
    probe = lambda name: str(bin_dir / name)  # noqa: E731
    found = [
        Command(BASELINE, [py, "-c", "pass"]),
        Command("check_glexec --root EMPTY (files)", [
            probe("check_glexec"), "--root", str(root), "--site", "SARA-MATRIX", "--as-of", AS_OF], "file"),
        Command("check_fts_channels --channel-list", [
            probe("check_fts_channels"), "--channel-list", str(EXAMPLE / "fts" / "FZK-LCG2.txt"),
            "--site", "FZK-LCG2", "--as-of", AS_OF], "file"),
        Command("check_dcache_version --bdii LDIF", [
            probe("check_dcache_version"), "--bdii", str(EXAMPLE / "bdii.ldif"), "--site", "FZK-LCG2",
            "--as-of", AS_OF], "file"),
        Command("check_xrootd --srr FILE", [
            probe("check_xrootd"), "--srr", str(EXAMPLE / "srr" / "NDGF-T1.json"), "--site", "NDGF-T1",
            "--as-of", AS_OF], "file"),
    ]
    if ldap_uri is not None:
        port = ldap_uri.rsplit(":", 1)[1]
        found += [
            Command("check_dcache_version --bdii ldap://", [
                probe("check_dcache_version"), "--bdii", ldap_uri, "--site", "FZK-LCG2", "--as-of", AS_OF],
                "ldap", ("ldapsearch", "check_ldap")),
            Command("check_xrootd --bdii ldap://", [
                probe("check_xrootd"), "--bdii", ldap_uri, "--site", "NDGF-T1", "--as-of", AS_OF], "ldap",
                ("ldapsearch",)),
            Command("ldapsearch", ["/usr/bin/ldapsearch", "-x", "-LLL", "-H", ldap_uri, "-b",
                                   "Mds-Vo-name=FZK-LCG2,Mds-Vo-name=local,o=grid", "(objectClass=GlueSE)"]),
            Command("check_ldap", [str(PLUGINS / "check_ldap"), "-H", "127.0.0.1", "-p", port, "-b", "o=grid",
                                   "-3"]),
        ]
    if xrootd_port is not None:
        found += [
            Command("check_xrootd -H (live xrootd)", [
                probe("check_xrootd"), "-H", "127.0.0.1", "-p", str(xrootd_port), "--srr",
                str(door_srr(root.parent, xrootd_port)), "--as-of", AS_OF], "live",
                ("xrdfs query config version", "check_tcp")),
            Command("xrdfs query config version", ["/usr/bin/xrdfs", f"127.0.0.1:{xrootd_port}", "query",
                                                   "config", "version"]),
            Command("check_tcp", [str(PLUGINS / "check_tcp"), "-H", "127.0.0.1", "-p", str(xrootd_port)]),
        ]
    return [c for c in found if Path(c.argv[0]).exists()]


def door_srr(work: Path, port: int) -> Path:
    """An SRR document describing the loopback door, so the live probe judges it (not UNKNOWN)."""
    path = work / f"srr-127.0.0.1-{port}.json"
    path.write_text(json.dumps({"storageservice": {
        "name": "127.0.0.1", "id": "127.0.0.1", "implementation": "xrootd", "implementationversion": "5",
        "storageendpoints": [{"name": "127.0.0.1-xroot", "endpointurl": f"root://127.0.0.1:{port}",
                              "interfacetype": "xroot", "interfaceversion": "5", "assignedshares": ["all"]}],
    }}))
    return path


def problem(command: Command, result: Run) -> str | None:
    """Why a run does not count (a probe that failed early would look fast), or None."""
    if result.killed:
        return f"{command.name}: killed after {RUN_TIMEOUT:g}s"
    first = result.stdout.splitlines()[0] if result.stdout else ""
    if not command.kind:
        return None if result.returncode == 0 else f"{command.name}: exit {result.returncode}: " \
                                                   f"{(result.stderr or result.stdout)[-300:]}"
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


def table(cmds: Sequence[Command], series: dict[str, list[Run]]) -> list[str]:
    """Print the figures with their ratios; returns the targets missed."""
    base = Summary.of(series[BASELINE]).wall_median_s
    print(f"{'command':38} {'wall':>9} {'[min..max]':>11} {'x pass':>7} {'x peer':>20} {'peak RSS':>9} "
          f"{'target':>14}")
    missed = []
    for command in cmds:
        s = Summary.of(series[command.name])
        spread = f"[{s.wall_min_s * 1000:.0f}..{s.wall_max_s * 1000:.0f}]"
        peer_ratios = [f"{s.wall_median_s / Summary.of(series[p]).wall_median_s:.1f}x {p.split()[0]}"
                       for p in command.peers if p in series]
        verdict = ""
        if command.kind:
            limit = TARGETS[command.kind]
            ratio = s.wall_median_s / (Summary.of(series[command.peers[0]]).wall_median_s
                                       if command.kind == "live" and command.peers[0] in series else base)
            verdict = f"<= {limit:g}x {'met' if ratio <= limit else 'NOT MET'}"
            if ratio > limit:
                missed.append(f"{command.name}: {ratio:.2f}x > {limit:g}x")
        print(f"{command.name:38} {ms(s.wall_median_s):>9} {spread:>11} {s.wall_median_s / base:>6.2f}x "
              f"{', '.join(peer_ratios):>20} {mib(s.rss_median_kib):>9} {verdict:>14}")
    return missed


def importtime(argv: Sequence[str], env: dict[str, str]) -> dict[str, int]:
    """Module -> cumulative import microseconds, from one ``-X importtime`` run."""
    result = run([argv[0] if argv[0].endswith("python") else str(Path(argv[0]).parent / "python"),
                  "-X", "importtime", *(argv[1:] if argv[0].endswith("python") else argv)], env,
                 timeout=RUN_TIMEOUT)
    return {m.group(2): int(m.group(1)) for m in
            re.finditer(r"^import time:\s+\d+ \|\s+(\d+) \| *(\S+)$", result.stderr, re.M)}


def baseline_composition(bin_dir: Path, env: dict[str, str]) -> None:
    py = str(bin_dir / "python")
    mods = importtime([py, "-c", "pass"], env)
    site = next((bin_dir.parent / "lib").glob("python3*/site-packages"))
    pth = sorted(p.name for p in site.glob("*.pth"))
    print(f"baseline: {py} -c pass imports {len(mods)} modules (-X importtime): {', '.join(sorted(mods))}")
    print(f"baseline: .pth files in {site}: {', '.join(pth) or 'none'}")
    base_cfg = (bin_dir.parent / "pyvenv.cfg").read_text()
    print("baseline: pyvenv.cfg: " + "; ".join(line.strip() for line in base_cfg.splitlines() if line.strip()))


@contextlib.contextmanager
def servers(want_xrootd: bool, want_ldap: bool) -> Iterator[tuple[int | None, str | None]]:
    with contextlib.ExitStack() as stack:
        port = uri = None
        if want_xrootd:
            from tests.servers.xrootd import running_xrootd
            server = stack.enter_context(running_xrootd())
            port = server.port
            print(f"xrootd: real xrootd server at {server.door} (pid {server.pid})")
        if want_ldap:
            from tests.servers.slapd import running_slapd
            uri = stack.enter_context(running_slapd(EXAMPLE / "bdii.ldif"))
            print(f"slapd: real slapd at {uri} serving {EXAMPLE / 'bdii.ldif'}")
        yield port, uri


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="HEAD", help="git revision to install, or 'worktree' (default HEAD)")
    parser.add_argument("--venv", type=Path, help="reuse this venv's bin/ (built by an earlier run) instead")
    parser.add_argument("--keep", type=Path, help="build the venv here and keep it")
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each command (default 20, min 5)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured runs of each first (default 3)")
    parser.add_argument("--no-xrootd", action="store_true", help="skip the xrootd server and its commands")
    parser.add_argument("--no-ldap", action="store_true", help="skip the slapd server and its commands")
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    print_machine()
    with tempfile.TemporaryDirectory(prefix="gridready-bench-startup-") as tmp:
        work = Path(tmp)
        if args.venv:
            bin_dir = args.venv
        else:
            dest = args.keep or work / "build"
            bin_dir = build_venv(dest, args.source)
            print(f"venv: {bin_dir.parent} (python -m venv --without-pip), gridready {args.source} installed "
                  "from a copy of the source, not editable, with its dependencies")
        root = work / "empty-root"
        root.mkdir()
        env = clean_env({"XDG_CACHE_HOME": str(work / "cache"), "HOME": str(work)})
        baseline_composition(bin_dir, env)
        try:
            with servers(not args.no_xrootd, not args.no_ldap) as (port, uri):
                return report(commands(bin_dir, root, port, uri), env, args)
        except RuntimeError as exc:
            print(f"cannot measure: {exc}", file=sys.stderr)
            return 1
        finally:
            if args.keep is None and not args.venv:
                shutil.rmtree(work / "build", ignore_errors=True)


def report(cmds: list[Command], env: dict[str, str], args: argparse.Namespace) -> int:
    series = measure(cmds, env, args.runs, args.warmup)
    for command in cmds:
        out = series[command.name][-1].stdout.splitlines()
        print(f"{command.name}: exit {series[command.name][-1].returncode}: {(out[0] if out else '')[:120]}")
    print(f"\n== start-up, median of {args.runs} interleaved runs each (ratio to the clean baseline; "
          "to the peer on the same server) ==")
    missed = table(cmds, series)
    print("targets: " + ("all met" if not missed else "NOT MET: " + "; ".join(missed)))

    base = importtime(cmds[0].argv, env)
    print("\n== modules imported beyond the baseline's (one -X importtime run each; cumulative ms) ==")
    for command in cmds:
        if not command.kind:
            continue
        mods = importtime(command.argv, env)
        extra = {m: t for m, t in mods.items() if m not in base}
        top = sorted((t, m) for m, t in extra.items() if "." not in m or m.startswith("gridready"))[::-1][:8]
        heavy = [h for h in HEAVY if h in extra]
        print(f"{command.name}: {len(extra)} modules ({statistics.fsum(t for m, t in extra.items() if '.' not in m) / 1000:.1f} ms "
              f"top-level); heavy: {', '.join(heavy) or 'none'}; top: "
              + ", ".join(f"{m} {t / 1000:.1f}" for t, m in top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
