"""The ``plugin`` check: run an existing Nagios plugin (a SAM/ARGO probe, check_http...) and map its result.

The command is a list (argv, run without a shell) whose strings may use
``{host}`` (each storage host of the site, or each xrootd door host, or
``-H HOST``), ``{site}`` and ``{tier}``. It runs once per host when it uses
``{host}``, else once per site; every run is bounded by what is left of the
probe's deadline (killed with its process group when it expires) and keeps
at most 64 KiB of output. ``expect`` grammar::

    expect:
      command: [/usr/lib/nagios/plugins/check_http, -H, "{host}", -p, "2880", --ssl]
      hosts: storage              # storage (default) | doors: what {host} ranges over
      warning: fail               # exit 1 is a failure of WARNING severity (default) | pass
      env: {X509_USER_PROXY: /tmp/x509up_u0}   # optional extra environment

Exit codes, as Nagios reads them: 0 passes, 1 fails with WARNING severity
(never worse than WARNING once overdue; ``warning: pass`` accepts it), 2
fails with CRITICAL severity, 3 and anything else (a signal, a missing
command) are UNKNOWN. The finding is the first output line (without the plugin's
perfdata after ``|``), with the host.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import string
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gridready.child import capture, stop
from gridready.checks.interface import Assessment, Finding, Observation, Request, Severity, unknown_keys
from gridready.checks.hosts import add_host_option, hosts_problems, site_hosts
from gridready.deadline import Deadline
from gridready.errors import UsageError
from gridready.escape import terminal
from gridready.models import Site

EXPECT_KEYS = ("command", "hosts", "warning", "env")
PLACEHOLDERS = ("host", "site", "tier")
HOST_KINDS = ("storage", "doors")
MAX_OUTPUT = 64 * 1024
MAX_RUNS = 100


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    code: int | None
    first_line: str
    problem: str | None = None


def _fields(text: str) -> list[str]:
    return [f or "" for _, f, spec, conv in string.Formatter().parse(text) if f is not None or spec or conv]


def _uses_host(command: Sequence[str]) -> bool:
    return any("{host}" in part for part in command)


def argv_for(expect: Mapping[str, Any], site: Site | None, site_name: str, tier: int,
             given: Sequence[str]) -> list[tuple[str, ...]]:
    command = [str(p) for p in expect["command"]]
    if not _uses_host(command):
        return [tuple(p.format(site=site_name, tier=tier, host="") for p in command)]
    return [tuple(p.format(site=site_name, tier=tier, host=h) for p in command)
            for h in site_hosts(site, str(expect.get("hosts", "storage")), given)]


def run_plugin(argv: Sequence[str], env: Mapping[str, str], deadline: Deadline) -> Run:
    """Run one plugin under the deadline; output capped at MAX_OUTPUT bytes."""
    deadline.remaining()    # no time left: the timeout, before starting anything
    command = list(argv)
    for _ in range(2):
        try:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, **env})
            break
        except OSError as exc:
            if exc.errno == errno.ENOEXEC and command[0] != "/bin/sh":
                # A script without a "#!" line: execvp(3), which Nagios runs plugins with, hands
                # such a file to /bin/sh (POSIX); the file is the script, not a command line.
                command = ["/bin/sh", *argv]
                continue
            return Run(tuple(argv), None, "", f"cannot run {terminal(argv[0])}: {exc.strerror or exc}")
    with deadline.during(f"running {terminal(argv[0])}"):
        try:
            output, _ = capture(proc, deadline, MAX_OUTPUT)
        finally:
            # Also once it exited: a descendant it left (its own session) is not left running.
            stop(proc)
    code = proc.returncode
    text = output.decode("utf-8", "replace")
    # The plugin's perfdata (after '|') must not become ours: Nagios splits our line at the first '|'.
    first = text.split("\n", 1)[0].split("|", 1)[0].strip()
    return Run(tuple(argv), code, terminal(first)[:300])


def _ended(code: int | None) -> str:
    """How the plugin ended, as Nagios would say it: ``exit N`` or ``killed by signal N (SIGNAME)``."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code} ({name})"
    return f"exit {code}"


class PluginCheck:
    name = "plugin"
    description = ("Runs an existing Nagios plugin (a SAM/ARGO probe) with templated arguments for each "
                   "host of a site and maps its exit code and first line to a finding.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("plugin options")
        add_host_option(group)

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = unknown_keys(expect, EXPECT_KEYS)
        command = expect.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(p, str) for p in command):
            problems.append(f"command: expected a list of strings (program and arguments, no shell), got {command!r}")
        else:
            if not command[0] or "{" in command[0]:
                problems.append(f"command: the program must be a fixed path, got {command[0]!r}")
            for part in command:
                try:
                    bad = [f for f in _fields(part) if f not in PLACEHOLDERS]
                except ValueError as exc:
                    problems.append(f"command: bad template {part!r}: {exc}")
                    continue
                problems += [f"command: unknown placeholder {{{f}}} in {part!r} (known: "
                             f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)})" for f in bad]
        problems += hosts_problems(expect, "storage")
        if expect.get("warning", "fail") not in ("fail", "pass"):
            problems.append(f"warning: expected fail or pass, got {expect.get('warning')!r}")
        env = expect.get("env", {})
        if not isinstance(env, Mapping) or not all(isinstance(k, str) and k and "=" not in k and isinstance(v, str)
                                                   for k, v in env.items()):
            problems.append(f"env: expected a mapping of NAME: string, got {env!r}")
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        return [{"host": None}]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        site = request.inventory.site(request.site) if request.inventory and request.site else None
        given = [str(h) for h in request.opt("host", [])]
        if not request.expects:
            raise UsageError("no milestone of check plugin applies")
        runs: dict[tuple[str, ...], Run] = {}
        for expect in request.expects:
            env = {str(k): str(v) for k, v in dict(expect.get("env", {})).items()}
            for argv in argv_for(expect, site, request.site or "", request.tier, given):
                if argv not in runs:
                    if len(runs) >= MAX_RUNS:
                        raise UsageError(f"more than {MAX_RUNS} plugin runs")
                    runs[argv] = run_plugin(argv, env, deadline)
        details = [f"{' '.join(terminal(a) for a in r.argv)}: exit {r.code}: {r.first_line or r.problem}"
                   for r in runs.values()]
        return Observation(target=request.site or ", ".join(given), data=(site, given, runs), details=details)

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        site, given, runs = observation.data
        argvs = argv_for(expect, site, request.site or "", request.tier, given)
        if not argvs:
            return Assessment(unknown=f"no {expect.get('hosts', 'storage')} hosts of {request.site} in the "
                                      "inventory to fill {host} (or give -H HOST)")
        uses_host = _uses_host([str(p) for p in expect["command"]])
        hosts = site_hosts(site, str(expect.get("hosts", "storage")), given) if uses_host else []
        findings: list[Finding] = []
        unknown: list[str] = []
        for index, argv in enumerate(argvs):
            run: Run = runs[argv]
            who = terminal(hosts[index]) if uses_host else (request.site or terminal(argv[0]))
            said = run.first_line or "(no output)"
            if run.problem is not None:
                unknown.append(f"{who}: {run.problem}")
            elif run.code == 0 or (run.code == 1 and expect.get("warning", "fail") == "pass"):
                findings.append(Finding(True, f"{who}: {said}"))
            elif run.code in (1, 2):
                findings.append(Finding(False, f"{who}: {said}", f"fix what {terminal(argv[0])} reports on {who}",
                                        Severity.WARNING if run.code == 1 else Severity.CRITICAL))
            else:
                unknown.append(f"{who}: {terminal(argv[0])} {_ended(run.code)}: {said}")
        return Assessment(findings=tuple(findings), unknown="; ".join(unknown[:5]))


CHECK = PluginCheck()
