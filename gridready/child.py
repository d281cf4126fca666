"""Running a child program (glexec, a Nagios plugin) under a deadline with bounded output.

Both of gridready's children can misbehave: a payload that writes without
end, a plugin that never exits, a child that leaves grandchildren holding the
pipes. :func:`capture` reads every output the child was given (at most
``max_bytes`` kept of each; the rest is read and dropped, so memory stays
bounded) until the child has exited, and raises the deadline's timeout when
it runs past it; :func:`stop` then kills its whole process group (children
are started with ``start_new_session=True``) without ever waiting long.

The child's exit, not the end of its outputs, ends the run: a plugin that
leaves a background process holding its stdout (``daemon & echo OK``) is
judged on what it wrote and its exit status as soon as it exited (a Linux
pidfd wakes the wait): what is already in the pipes is taken, and a
descendant that keeps writing is read for at most :data:`EXIT_GRACE`
seconds, as a monitoring system waits for the plugin process rather than for
its descendants.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time

from gridready.deadline import Deadline

_READ = 65536

#: Longest time the outputs are still read once the child has exited (what it wrote is
#: already in the pipe; only a descendant that goes on writing keeps them busy).
EXIT_GRACE = 0.5


def _exit_fd(proc: subprocess.Popen[bytes]) -> int | None:
    """A descriptor that turns readable when ``proc`` exits (Linux pidfd), or None."""
    try:
        return os.pidfd_open(proc.pid)
    except (AttributeError, OSError):   # not Linux >= 5.3, or already reaped
        return None


def capture(proc: subprocess.Popen[bytes], deadline: Deadline, max_bytes: int) -> tuple[bytes, bytes]:
    """``proc``'s stdout and stderr (b"" for one not piped), at most ``max_bytes`` each, once it exited.

    Raises the deadline's CheckTimeout when the outputs stay open or the
    process runs past it; the caller then :func:`stop`\\ s it.
    """
    pipes = [p for p in (proc.stdout, proc.stderr) if p is not None]
    kept: dict[int, bytearray] = {p.fileno(): bytearray() for p in pipes}
    reading = set(kept)
    exit_fd = _exit_fd(proc)
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        for fd in kept:
            sel.register(fd, selectors.EVENT_READ)
        if exit_fd is not None:
            sel.register(exit_fd, selectors.EVENT_READ)
        try:
            while reading:
                if exited_at is None and proc.poll() is not None:
                    exited_at = time.monotonic()
                if exited_at is None:
                    # The exit wakes the wait when the kernel gives a pidfd; else look again soon.
                    wait = min(deadline.remaining(), 0.5 if exit_fd is not None else 0.05)
                elif time.monotonic() - exited_at >= EXIT_GRACE:
                    break
                else:
                    wait = 0.0    # exited: take what is already in the pipes, wait for nothing
                events = [key for key, _ in sel.select(timeout=wait) if key.fd != exit_fd]
                if exited_at is not None and not events:
                    break
                for key in events:
                    fd = int(key.fd)
                    chunk = os.read(fd, _READ)
                    if not chunk:
                        sel.unregister(fd)
                        reading.discard(fd)
                        continue
                    room = max_bytes - len(kept[fd])
                    if room > 0:
                        kept[fd] += chunk[:room]
                deadline.remaining()
        finally:
            if exit_fd is not None:
                os.close(exit_fd)
    while True:
        try:
            proc.wait(timeout=min(deadline.remaining(), 0.5))
            break
        except subprocess.TimeoutExpired:
            continue
    out = bytes(kept[proc.stdout.fileno()]) if proc.stdout is not None else b""
    err = bytes(kept[proc.stderr.fileno()]) if proc.stderr is not None else b""
    for pipe in pipes:
        pipe.close()
    return out, err


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc``'s process group and reap it, waiting at most a second, and close its pipes.

    A child that switched identity (glexec) may not be signalled by the
    caller; it is then left to finish on its own rather than hang the probe.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=1)
    except subprocess.TimeoutExpired:
        pass
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
