"""Run a gridready command or probe as a user would, bounded, and judge it clean.

A clean failure (docs/cli.md, docs/probes.md): the expected exit code, one
line naming the file or host and what was wrong, no Python traceback, within
a time bound.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_ENTRY = {
    "gridready": "gridready.cli:main",
    "check_glexec": "gridready.nagios.entry:check_glexec",
    "check_fts_channels": "gridready.nagios.entry:check_fts_channels",
    "check_dcache_version": "gridready.nagios.entry:check_dcache_version",
    "check_xrootd": "gridready.nagios.entry:check_xrootd",
    "check_gridready": "gridready.nagios.entry:check_gridready",
}


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(command: str, *args: str, timeout: float = 30, cwd: Path | None = None,
        env: dict[str, str] | None = None, stdin: bytes | None = None) -> Run:
    """Run ``command`` (a console script name) with ``args`` in a fresh interpreter."""
    module, func = _ENTRY[command].split(":")
    code = f"import sys; from {module} import {func} as f; sys.argv[0] = {command!r}; sys.exit(f())"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=timeout,
                          input=stdin if stdin is not None else b"")
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"),
               proc.stderr.decode("utf-8", "replace"), time.monotonic() - started)


def assert_clean(result: Run, code: int, *, within: float, mentions: str | None = None) -> None:
    """``result`` exited ``code`` within ``within`` seconds, without a traceback.

    For a gridready command (exit 3) the error is one line; a probe prints its
    Nagios status line first. ``mentions`` must appear in the output (the file
    or host named).
    """
    assert "Traceback" not in result.output, result.output
    assert result.code == code, (result.code, result.output)
    assert result.seconds < within, f"took {result.seconds:.1f}s (bound {within}s): {result.output}"
    if mentions is not None:
        assert mentions in result.output, result.output
    assert "\x1b" not in result.output, repr(result.output)
