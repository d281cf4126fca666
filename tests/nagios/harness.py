"""Test harness: a real Nagios 4 (Debian nagios4-core) in a temp dir, running the shipped commands.

Usage::

    with running_nagios(tmp_path, services_cfg) as nagios:
        status = nagios.wait_checked({("xrootd-door", "org.gridready.xrootd.SE-xrootd-Protocol")})
        assert status[...].state == 2

Everything Nagios writes (log, status.dat, object cache, query socket, lock
file, check results) lives in the temp dir; Debian's /etc/nagios4 is neither
read nor touched. ``interval_length=1`` makes every interval count in seconds,
so services with ``check_interval 1`` run within a second or two of start.
The shipped ``config/nagios/gridready-commands.cfg`` is included unchanged
and ``$USER1$`` points at the repository's ``probes/``, so Nagios runs the
same executables a site copies into its plugin directory. Nagios passes its
own environment to check commands: it is started with the repository on
PYTHONPATH and this interpreter first on PATH (the probes start with
``#!/usr/bin/env python3``).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.servers.process import stop, stop_tree

NAGIOS = Path("/usr/sbin/nagios4")
COMMANDS_CFG = REPO / "config" / "nagios" / "gridready-commands.cfg"
SERVICES_EXAMPLE_CFG = REPO / "config" / "nagios" / "gridready-services.example.cfg"
PROBES = REPO / "probes"
CHECK_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

#: What a stock Nagios sample configuration provides and the shipped files
#: build on: a 24x7 period, a contact, and the generic-host/generic-service
#: templates (as in Debian's /etc/nagios4/objects/templates.cfg). Notifications
#: are off; host checks are not run (services are what is under test).
BASE_OBJECTS = """\
define timeperiod {
    timeperiod_name     24x7
    alias               24 hours a day, 7 days a week
    sunday              00:00-24:00
    monday              00:00-24:00
    tuesday             00:00-24:00
    wednesday           00:00-24:00
    thursday            00:00-24:00
    friday              00:00-24:00
    saturday            00:00-24:00
}

define command {
    command_name        gridready_test_notify_none
    command_line        /bin/true
}

define contact {
    contact_name                    gridready-test
    alias                           gridready test contact
    host_notifications_enabled      0
    service_notifications_enabled   0
    host_notification_period        24x7
    service_notification_period     24x7
    host_notification_options       n
    service_notification_options    n
    host_notification_commands      gridready_test_notify_none
    service_notification_commands   gridready_test_notify_none
}

define host {
    name                    generic-host
    notifications_enabled   0
    check_period            24x7
    notification_period     24x7
    contacts                gridready-test
    max_check_attempts      1
    register                0
}

define service {
    name                    generic-service
    active_checks_enabled   1
    notifications_enabled   0
    check_period            24x7
    notification_period     24x7
    contacts                gridready-test
    max_check_attempts      1
    check_interval          1
    retry_interval          1
    notification_interval   60
    register                0
}
"""


@dataclass(frozen=True)
class ServiceStatus:
    """One ``servicestatus {}`` block of status.dat, the fields the tests read."""

    host: str
    service: str
    checked: bool
    state: int
    output: str
    long_output: str
    check_command: str
    fields: Mapping[str, str]


def parse_status(text: str) -> list[tuple[str, dict[str, str]]]:
    """status.dat as (block type, fields) pairs; a value keeps everything after the first '='."""
    blocks: list[tuple[str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if current is None:
            if stripped.endswith("{"):
                current = {}
                blocks.append((stripped[:-1].strip(), current))
        elif stripped == "}":
            current = None
        elif "=" in stripped:
            key, _, value = stripped.partition("=")
            current[key] = value
    return blocks


def service_statuses(text: str) -> dict[tuple[str, str], ServiceStatus]:
    out: dict[tuple[str, str], ServiceStatus] = {}
    for kind, f in parse_status(text):
        if kind != "servicestatus":
            continue
        key = (f.get("host_name", ""), f.get("service_description", ""))
        # status.dat escapes the newlines of the long output as "\n".
        out[key] = ServiceStatus(host=key[0], service=key[1], checked=f.get("has_been_checked") == "1",
                                 state=int(f.get("current_state", "-1")), output=f.get("plugin_output", ""),
                                 long_output=f.get("long_plugin_output", "").replace("\\n", "\n"),
                                 check_command=f.get("check_command", ""), fields=f)
    return out


def require_nagios() -> None:
    if not os.access(NAGIOS, os.X_OK):
        pytest.skip(f"{NAGIOS} is not installed (Debian package nagios4-core)")


def probe_environment(workdir: Path) -> dict[str, str]:
    """Nagios' environment, inherited by the probes: gridready importable, python3 this interpreter."""
    bindir = Path(sys.executable).parent
    if not (bindir / "python3").exists():
        shim = workdir / "bin"
        shim.mkdir(exist_ok=True)
        (shim / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
        (shim / "python3").chmod(0o755)
        bindir = shim
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bindir), env.get("PATH", "/usr/bin:/bin")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


class Nagios:
    """A Nagios configuration in ``workdir`` and, once started, the running daemon."""

    def __init__(self, workdir: Path, objects: str, cfg_files: Iterable[Path] = (COMMANDS_CFG,),
                 plugin_dir: Path = PROBES, base: bool = True) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        for sub in ("spool", "tmp"):
            (self.dir / sub).mkdir(exist_ok=True)
        self.status_file = self.dir / "status.dat"
        self.log_file = self.dir / "nagios.log"
        self.output_file = self.dir / "nagios.out"
        (self.dir / "resource.cfg").write_text(f"$USER1$={plugin_dir}\n", encoding="utf-8")
        (self.dir / "base.cfg").write_text(BASE_OBJECTS, encoding="utf-8")
        (self.dir / "objects.cfg").write_text(objects, encoding="utf-8")
        # base=False: the configuration brings its own templates (nagios-config --with-templates).
        files = [*([self.dir / "base.cfg"] if base else []), *cfg_files, self.dir / "objects.cfg"]
        d = self.dir
        self.cfg = d / "nagios.cfg"
        self.cfg.write_text("\n".join([
            *(f"cfg_file={f}" for f in files),
            f"log_file={d / 'nagios.log'}",
            f"object_cache_file={d / 'objects.cache'}",
            f"precached_object_file={d / 'objects.precache'}",
            f"resource_file={d / 'resource.cfg'}",
            f"status_file={self.status_file}",
            f"temp_file={d / 'nagios.tmp'}",
            f"temp_path={d / 'tmp'}",
            f"check_result_path={d / 'spool'}",
            f"command_file={d / 'nagios.cmd'}",
            f"query_socket={d / 'nagios.qh'}",
            f"lock_file={d / 'nagios.lock'}",
            # Nagios runs as whoever starts it (root in CI containers).
            f"nagios_user={pwd.getpwuid(os.getuid()).pw_name}",
            f"nagios_group={grp.getgrgid(os.getgid()).gr_name}",
            # The command pipe, for force_checks(); polled every second.
            "check_external_commands=1",
            "command_check_interval=1s",
            "retain_state_information=0",
            "use_syslog=0",
            "log_initial_states=1",
            "enable_notifications=0",
            "execute_host_checks=0",
            "check_service_freshness=0",
            "check_host_freshness=0",
            # Every interval in seconds; first checks spread over at most 1 s.
            "interval_length=1",
            "max_service_check_spread=1",
            "status_update_interval=1",
            "service_check_timeout=30",
            "illegal_macro_output_chars=`~$&|'\"<>",
            "",
        ]), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def verify(self) -> subprocess.CompletedProcess[str]:
        """``nagios4 -v``: the pre-flight check of the whole configuration."""
        return subprocess.run([str(NAGIOS), "-v", str(self.cfg)], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL, check=False)

    def start(self) -> None:
        with open(self.output_file, "wb") as out:
            # Foreground (no -d) so this object owns the process; its own
            # session so stop() can reach the worker processes and any probe
            # they are running, by the process group id.
            self.process = subprocess.Popen([str(NAGIOS), str(self.cfg)], stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT,
                                            env=probe_environment(self.dir), start_new_session=True)

    def stop(self) -> None:
        """SIGTERM Nagios, then make sure none of its processes outlive the test.

        Nagios' workers and the probes they run put themselves in process
        groups of their own, so they are found by parent pid before Nagios
        goes and waited for (they exit when Nagios closes their sockets);
        any still running after that is killed by its pid.
        """
        process, self.process = self.process, None
        if process is None:
            return
        stop_tree(process, STOP_TIMEOUT)

    def force_checks(self, hosts: Iterable[str], timeout: float = 10.0) -> None:
        """Check every service of ``hosts`` now, as an admin's "reschedule" does.

        For services with production intervals (an hour), whose first check
        Nagios would otherwise spread over that interval. Writes external
        commands to Nagios' command pipe once Nagios has made it.
        """
        end = time.monotonic() + timeout
        pipe = self.dir / "nagios.cmd"
        while not pipe.exists():
            if time.monotonic() > end or (self.process is not None and self.process.poll() is not None):
                pytest.fail(f"Nagios made no command pipe {pipe}\n{self.diagnostics()}")
            time.sleep(0.1)
        now = int(time.time())
        text = "".join(f"[{now}] SCHEDULE_FORCED_HOST_SVC_CHECKS;{host};{now}\n" for host in hosts)
        # Non-blocking: a pipe with no reader must fail the test, not hang it.
        fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def statuses(self) -> dict[tuple[str, str], ServiceStatus]:
        try:
            text = self.status_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return {}
        return service_statuses(text)

    def diagnostics(self) -> str:
        parts = []
        for path in (self.output_file, self.log_file):
            if path.exists():
                parts.append(f"--- {path.name}:\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def wait_checked(self, services: Iterable[tuple[str, str]],
                     timeout: float = CHECK_TIMEOUT) -> dict[tuple[str, str], ServiceStatus]:
        """Poll status.dat until every (host, service) has been checked; fail with Nagios' log if not."""
        wanted = set(services)
        end = time.monotonic() + timeout
        statuses: dict[tuple[str, str], ServiceStatus] = {}
        while time.monotonic() < end:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"nagios4 exited with {self.process.returncode}\n{self.diagnostics()}")
            statuses = self.statuses()
            if all(key in statuses and statuses[key].checked for key in wanted):
                return statuses
            time.sleep(0.2)
        missing = sorted(k for k in wanted if k not in statuses or not statuses[k].checked)
        pytest.fail(f"not checked within {timeout:g}s: {missing}\n{self.diagnostics()}")


@contextmanager
def running_nagios(workdir: Path, objects: str, cfg_files: Iterable[Path] = (COMMANDS_CFG,),
                   plugin_dir: Path = PROBES, base: bool = True) -> Iterator[Nagios]:
    """A started Nagios whose configuration passed ``nagios4 -v``; stopped on exit."""
    require_nagios()
    nagios = Nagios(workdir, objects, cfg_files, plugin_dir, base)
    verified = nagios.verify()
    assert verified.returncode == 0, verified.stdout + verified.stderr
    nagios.start()
    try:
        yield nagios
    finally:
        nagios.stop()


# --- NRPE (Debian nagios-nrpe-server / nagios-nrpe-plugin) ---------------------------------

NRPE = Path("/usr/sbin/nrpe")
CHECK_NRPE = Path("/usr/lib/nagios/plugins/check_nrpe")
#: The account nrpe drops to when started as root: it refuses to run commands as root.
NRPE_USER = "nagios"


def require_nrpe() -> None:
    for path, package in ((NRPE, "nagios-nrpe-server"), (CHECK_NRPE, "nagios-nrpe-plugin")):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{path} is not installed (Debian package {package})")


def nrpe_account() -> tuple[str, str] | None:
    """(user, group) nrpe runs commands as: NRPE_USER when root (nrpe refuses root), else None (as is)."""
    if os.getuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(NRPE_USER)
    except KeyError:
        pytest.skip(f"no user {NRPE_USER} (made by Debian nagios-nrpe-server) for nrpe to run commands as")
    return entry.pw_name, grp.getgrgid(entry.pw_gid).gr_name


def readable_code(workdir: Path) -> Path:
    """A copy of the gridready package, probes and bundled config under ``workdir``, for an account that cannot read the checkout.

    The checkout may sit under a 0700 home directory (CI clones wherever it
    likes); the copy is world-readable, as a plugin directory would be.
    """
    code = workdir / "code"
    shutil.copytree(REPO / "gridready", code / "gridready", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "probes", code / "probes")
    shutil.copytree(REPO / "config", code / "config")  # the bundled rules, found beside the package
    for path in [code, *code.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or path.parent.name == "probes" else 0o644)
    return code


def nrpe_python(account: tuple[str, str] | None, code: Path = REPO) -> str:
    """A python3 the NRPE account can run the probes with (gridready from ``code`` on PYTHONPATH).

    The test's own interpreter may sit where that account cannot go (pyenv
    under a 0700 /root); Debian's /usr/bin/python3 with python3-yaml and
    python3-nagiosplugin (which .ci/run installs) runs them as well.
    """
    tried = []
    for python in dict.fromkeys((sys.executable, "/usr/bin/python3")):
        command = ["env", f"PYTHONPATH={code}", python, "-c", "import gridready.checks.glexec, nagiosplugin, yaml"]
        if account is not None:
            command = ["runuser", "-u", account[0], "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                              check=False)
        if done.returncode == 0:
            return python
        tried.append(f"{python}: {(done.stderr.strip().splitlines() or ['exit ' + str(done.returncode)])[-1]}")
    pytest.skip(f"no python3 that user {account[0] if account else 'of the test'} can run the probes with "
                f"({'; '.join(tried)})")


@contextmanager
def running_nrpe(workdir: Path, commands: Mapping[str, Sequence[str]],
                 account: tuple[str, str] | None) -> Iterator[int]:
    """A real nrpe in the foreground on 127.0.0.1 (a free port), defining ``commands``; yields the port.

    ``workdir`` must be one the NRPE account can read. No arguments from
    clients (dont_blame_nrpe=0), only loopback clients; check_nrpe's default
    anonymous-DH TLS. Stopped by its pid (TERM, then KILL) on exit.
    """
    require_nrpe()
    for name, argv in commands.items():
        for value in (name, *argv):
            if not value or any(c in value for c in "\n\r!$`'\"\\|;&<>()*?[]{} \t"):
                raise ValueError(f"NRPE command {name}: {value!r} cannot go into nrpe.cfg as a plain word")
    process: subprocess.Popen[bytes] | None = None
    log = workdir / "nrpe.out"
    try:
        for attempt in range(3):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            cfg = workdir / "nrpe.cfg"
            cfg.write_text("\n".join([
                f"pid_file={workdir / 'nrpe.pid'}", "server_address=127.0.0.1", f"server_port={port}",
                *([f"nrpe_user={account[0]}", f"nrpe_group={account[1]}"] if account else []),
                "allowed_hosts=127.0.0.1", "dont_blame_nrpe=0", "allow_bash_command_substitution=0",
                "debug=0", "command_timeout=30", "connection_timeout=30",
                *(f"command[{name}]={' '.join(argv)}" for name, argv in commands.items()), ""]), encoding="utf-8")
            cfg.chmod(0o644)
            with open(log, "wb") as out:
                process = subprocess.Popen([str(NRPE), "-c", str(cfg), "-f"], stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=subprocess.STDOUT)
            if _wait_port(process, port):
                break
            stop(process, STOP_TIMEOUT)
            if attempt == 2:
                pytest.fail(f"nrpe did not listen on 127.0.0.1:{port}: exit {process.returncode}\n"
                            + log.read_text(errors="replace")[-2000:])
        yield port
    finally:
        if process is not None:
            stop(process, STOP_TIMEOUT)


def _wait_port(process: subprocess.Popen[bytes], port: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and process.poll() is None:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False
