"""Stopping the real servers the tests start: no process left behind.

Every helper that starts a daemon (slapd, xrootd, Nagios, Icinga 2) stops it
here: SIGTERM, a bounded wait, then SIGKILL. Daemons that spawn children in
sessions of their own (Nagios workers, Icinga 2 processes) are stopped with
their whole tree, found through /proc before the parent goes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any


def _parent_and_state(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[1]), fields[0]


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphaned zombie is init's to reap)."""
    info = _parent_and_state(pid)
    return info is not None and info[1] not in ("Z", "X")


def descendants(root: int) -> list[int]:
    """Pids of every live process below ``root`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _parent_and_state(int(entry.name))
            if info is not None:
                children.setdefault(info[0], []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo and len(found) < 10000:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM, up to ``timeout`` seconds for it to exit, then SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


def stop_tree(process: subprocess.Popen[Any], timeout: float) -> None:
    """Stop ``process`` and then every process that was below it, bounded by ``timeout`` each."""
    spawned = descendants(process.pid)
    stop(process, timeout)
    end = time.monotonic() + timeout
    while any(running(pid) for pid in spawned) and time.monotonic() < end:
        time.sleep(0.05)
    for pid in spawned:
        if running(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
