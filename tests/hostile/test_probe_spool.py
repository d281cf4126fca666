"""Hostile ``--spool DIR`` for the probes: the result and exit code stand, one escaped line says
why nothing was spooled, no traceback, no hang; and a hostile handed-off entry for publish."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import REPO
from tests.hostile.runner import assert_clean, run

LISTING = str(REPO / "config" / "example" / "fts" / "FZK-LCG2.txt")


def probe(spool: Path | str, *extra: str) -> tuple[str, ...]:
    return ("--channel-list", LISTING, "--site", "FZK-LCG2", "--as-of", "2010-06-08", "--spool", str(spool), *extra)


def test_spool_path_with_control_characters_is_escaped(tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("x")
    done = run("check_fts_channels", *probe(f"{blocker}/\x1b[31m\nx"))
    assert done.code == 1 and "Traceback" not in done.output
    last = done.stdout.splitlines()[-1]
    assert last.startswith("not spooled: ") and "\\x1b" in last and "\x1b" not in done.stdout
    assert len([line for line in done.stdout.splitlines() if "not spooled" in line]) == 1


def test_spool_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    done = run("check_fts_channels", *probe(link))
    assert done.code == 1 and done.stdout.splitlines()[-1] == f"not spooled: {link}: the spool is not a directory"
    assert list(real.iterdir()) == []


def test_spool_lock_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    os.mkfifo(spool / ".lock")
    done = run("check_fts_channels", *probe(spool, "-t", "2"), timeout=20)
    assert done.code == 1 and "Traceback" not in done.output and done.seconds < 10
    # flock works on a FIFO opened read-write (it never blocks on Linux): the result is spooled.
    assert "not spooled" not in done.output
    assert [p.name for p in spool.glob("*.msg")] == ["0000000000000001.msg"]


def test_handed_off_entry_with_a_future_date_is_named_by_publish(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    body = {"schema": "gridready.result/1", "check": "xrootd", "site": "pic", "host": "d", "state": "OK",
            "summary": "s", "checked_at": "2999-01-01T00:00:00Z", "milestones": [], "metrics": {}, "details": []}
    (spool / "0000000000000001.msg").write_text(json.dumps({"destination": "", "headers": {}, "body": json.dumps(body)}))
    done = run("gridready", "publish", "--flush", "--spool", str(spool), "--broker", "127.0.0.1:1",
               "--destination", "/queue/x", "--retries", "1", "--backoff", "0", "--timeout", "2")
    assert_clean(done, 3, within=10, mentions=f"{spool}/0000000000000001.msg")
    assert "in the future" in done.stderr
