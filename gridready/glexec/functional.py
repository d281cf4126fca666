"""The functional test: run a payload through glexec as a pilot would.

``GLEXEC_CLIENT_CERT=<proxy> glexec /usr/bin/id`` must succeed and, in
setuid mode, print an identity other than the caller's: that is the whole
point of gLExec. glexec reports its own failures with exit codes 201-204
(and 126 when it cannot execute the payload); they are turned into words
here. The payload is run directly, never through a shell, under the
probe's deadline.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gridready.child import capture, stop
from gridready.deadline import Deadline

PAYLOAD = "/usr/bin/id"

#: glexec's exit codes for its own failures (payload exit codes pass through).
EXIT_CODES: Mapping[int, str] = MappingProxyType({
    201: "client error (bad or expired proxy, or the caller is not in user_white_list)",
    202: "system error (glexec misconfigured: glexec.conf, LCMAPS or permissions)",
    203: "authorization error (SCAS/Argus or LCMAPS refused to map the proxy)",
    204: "the payload's exit code overlaps glexec's own codes 201-204",
    126: "cannot execute (glexec or the payload is not executable)",
})

# Keep what a misbehaving glexec prints from swamping the result.
MAX_SHOWN = 200
#: Bytes kept of each of stdout and stderr; the rest is read and dropped, so a
#: payload that writes without end costs no memory and is killed at the deadline.
MAX_CAPTURE = 64 * 1024


@dataclass(frozen=True)
class Identity:
    uid: int
    user: str

    def __str__(self) -> str:
        return f"uid={self.uid}({self.user})" if self.user else f"uid={self.uid}"


@dataclass(frozen=True)
class Functional:
    """What the run gave: exit code, the identity the payload ran as, glexec's words."""

    command: tuple[str, ...]
    exit_code: int
    elapsed_ms: float
    caller: Identity
    identity: Identity | None = None
    stderr: str = ""

    @property
    def meaning(self) -> str:
        if self.exit_code < 0:
            return f"killed by signal {-self.exit_code}"
        return EXIT_CODES.get(self.exit_code, f"exit code {self.exit_code}")

    @property
    def switched(self) -> bool:
        return self.identity is not None and self.identity.uid != self.caller.uid


_ID = re.compile(r"uid=(\d+)(?:\(([^)]*)\))?")


def parse_id(text: str) -> Identity | None:
    """The ``uid=N(name)`` part of ``id`` output, or None when there is none."""
    match = _ID.search(text)
    return Identity(int(match.group(1)), match.group(2) or "") if match else None


def caller() -> Identity:
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = ""
    return Identity(uid, name)


def run(glexec: str, shown: str, proxy: str, deadline: Deadline, payload: str = PAYLOAD) -> Functional:
    """Run ``glexec payload`` with ``proxy`` as the client and source proxy.

    ``glexec`` is the real path to execute, ``shown`` how to name it. Not
    finishing in time raises the deadline's timeout (the child is killed).
    """
    env = dict(os.environ, GLEXEC_CLIENT_CERT=proxy, GLEXEC_SOURCE_PROXY=proxy)
    command = (glexec, payload)
    who = caller()
    start = time.perf_counter()
    with deadline.during(f"running {shown} {payload}"):
        try:
            # Its own session, so a timeout can kill the payload's children too.
            proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd="/", start_new_session=True)
        except OSError as exc:
            # exec itself failed: the shell convention for that is 126.
            return Functional((shown, payload), 126, 0.0, who,
                              stderr=f"cannot execute {shown}: {exc.strerror or exc}")
        try:
            stdout, stderr = capture(proc, deadline, MAX_CAPTURE)
        except BaseException:
            stop(proc)  # the deadline, or e.g. the SIGALRM backstop: leave no child behind
            raise
    elapsed = round((time.perf_counter() - start) * 1000, 1)
    out = stdout.decode("utf-8", "replace")
    err = " ".join(stderr.decode("utf-8", "replace").split())[-MAX_SHOWN:]
    identity = parse_id(out) if proc.returncode == 0 else None
    return Functional((shown, payload), proc.returncode, elapsed, who, identity, err)
