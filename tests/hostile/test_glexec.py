"""Hostile inputs for check_glexec and the glexec result files the sweep reads.

A glexec that floods its outputs, ``--root`` trees whose links and paths try
to leave the root (or reach a secret), FIFOs where files belong: each must
end cleanly (the expected exit code, no traceback, within its bound), read
nothing outside the root and quote no file content.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile.runner import Run, assert_clean, run
from tests.test_glexec_install import CONF, RULES, make_node, standin

SECRET = "TOPSECRET-hunter2-0xDEADBEEF"


def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return path


def probe(tmp_path: Path, node: Path, *args: str, milestone: str = "scas-argus", timeout: float = 30) -> Run:
    return run("check_glexec", "--milestones", str(rules(tmp_path)), "--milestone", milestone,
               "--as-of", "2010-06-08", "--host", "wn.example.org", "--root", str(node), *args, timeout=timeout)


def secret_outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret"
    secret.write_text(f"{SECRET}\nline two\n")
    return secret


def assert_no_secret(result: Run) -> None:
    assert SECRET not in result.output, result.output


# --- a glexec that floods its outputs -----------------------------------------------

def run_with_peak(tmp_path: Path, node: Path, *args: str) -> tuple[Run, int]:
    """Run the probe in a fresh interpreter; also its own peak RSS in KiB.

    The peak is the probe process's VmHWM, written at exit: wait4's ru_maxrss
    would also count the pages the forked child shared with this (large)
    test process before it exec'd the interpreter.
    """
    hwm = tmp_path / "vmhwm"
    code = ("import atexit, sys\n"
            "def hwm():\n"
            "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
            f"    open({str(hwm)!r}, 'w').write(line.split()[1])\n"
            "atexit.register(hwm)\n"
            "from gridready.nagios.entry import check_glexec as f\n"
            "sys.argv[0] = 'check_glexec'\n"
            "sys.exit(f())")
    argv = [sys.executable, "-c", code, "--milestones", str(rules(tmp_path)), "--milestone", "functional",
            "--as-of", "2010-06-08", "--host", "wn.example.org", "--root", str(node), *args]
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        code_ = proc.wait(timeout=60)
    seconds = time.monotonic() - started
    return (Run(code_, out_path.read_text(errors="replace"), err_path.read_text(errors="replace"), seconds),
            int(hwm.read_text()))


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_functional_glexec_flooding_output_is_killed_at_the_deadline(tmp_path: Path, stream: str) -> None:
    # The hostile run's example: a glexec writing without end (4 GB there).
    flood = "exec cat /dev/zero" if stream == "stdout" else "exec cat /dev/zero >&2"
    node = make_node(tmp_path / "wn", glexec=standin(flood))
    result, peak_kib = run_with_peak(tmp_path, node, "--functional", "-t", "2")
    assert_clean(result, 3, within=3.5, mentions="timeout")
    assert "running /usr/sbin/glexec /usr/bin/id" in result.output
    # Interpreter + probe are ~40 MiB; the capture is capped at 64 KiB a stream.
    assert peak_kib < 150 * 1024, f"peak RSS {peak_kib} KiB"


def test_functional_glexec_printing_a_lot_then_exiting_is_judged(tmp_path: Path) -> None:
    # 8 MiB of noise before the id line: the capture keeps the head, glexec still finishes.
    node = make_node(tmp_path / "wn", glexec=standin(
        'echo "uid=40123(atlpilot01) gid=40000(atlpilot)"; head -c 8388608 /dev/zero >&2; exit 0'))
    result, peak_kib = run_with_peak(tmp_path, node, "--functional", "-t", "10")
    assert_clean(result, 0, within=10)
    assert "ran as uid=40123(atlpilot01)" in result.output
    assert peak_kib < 150 * 1024


# --- --root containment -------------------------------------------------------------

def test_symlinked_conf_to_a_secret_outside_the_root_is_not_read(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    secret = secret_outside(tmp_path)
    (node / "etc/glexec.conf").unlink()
    (node / "etc/glexec.conf").symlink_to(secret)
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10, mentions="glexec.conf not found (/etc/glexec.conf")
    assert_no_secret(result)


def test_relative_symlink_climbing_out_of_the_root_stays_inside(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    secret_outside(tmp_path)
    (node / "etc/glexec.conf").unlink()
    # etc/../../secret would be tmp_path/secret from outside; inside the root it clamps at /.
    (node / "etc/glexec.conf").symlink_to("../../../../secret")
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10, mentions="glexec.conf not found")
    assert_no_secret(result)


def test_conf_linked_to_a_non_ini_file_inside_the_root_names_the_line_not_the_content(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    (node / "etc/shadow").write_text(f"[glexec]\n{SECRET}\n")
    os.chmod(node / "etc/shadow", 0o640)
    (node / "etc/glexec.conf").unlink()
    (node / "etc/glexec.conf").symlink_to("/etc/shadow")
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10,
                 mentions="/etc/glexec.conf:2: expected 'key = value' or a [section] heading")
    assert_no_secret(result)


def test_lcmaps_db_as_a_secret_names_the_line_not_the_content(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    (node / "etc/lcmaps/lcmaps-glexec.db").write_text(f"{SECRET} and more\n")
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10, mentions="/etc/lcmaps/lcmaps-glexec.db:1: unexpected character")
    assert_no_secret(result)


def test_lcmaps_db_file_with_dot_dots_stays_inside_the_root(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn", conf=CONF.replace("/etc/lcmaps/lcmaps-glexec.db", "/../../../../secret"))
    secret_outside(tmp_path)
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10,
                 mentions="LCMAPS database /../../../../secret (lcmaps_db_file in /etc/glexec.conf) not found")
    assert_no_secret(result)


def test_glexec_linked_to_a_setuid_binary_of_the_host_is_not_the_nodes(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    (node / "usr/sbin/glexec").unlink()
    (node / "usr/sbin/glexec").symlink_to("/usr/bin/passwd")
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10, mentions="glexec not found (/usr/sbin/glexec, /opt/glite/sbin/glexec)")
    assert "mode 4755" not in result.output


def test_symlinked_directory_component_resolves_inside_the_root(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    # /etc/lcmaps -> /opt/lcmaps (absolute): inside the root that is <root>/opt/lcmaps.
    (node / "opt/lcmaps").mkdir(parents=True)
    (node / "etc/lcmaps/lcmaps-glexec.db").rename(node / "opt/lcmaps/lcmaps-glexec.db")
    (node / "etc/lcmaps").rmdir()
    (node / "etc/lcmaps").symlink_to("/opt/lcmaps")
    result = probe(tmp_path, node)
    assert_clean(result, 0, within=10, mentions="SCAS (https://scas.example.org:8443)")
    # And one pointing at a host directory (the host's /etc) is not the host's.
    (node / "etc/lcmaps").unlink()
    (node / "etc/lcmaps").symlink_to("/usr/share/doc")
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10, mentions="LCMAPS database /etc/lcmaps/lcmaps-glexec.db")


def test_symlink_loop_is_one_clean_line(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    (node / "etc/glexec.conf").unlink()
    (node / "etc/glexec.conf").symlink_to("/etc/loop-a")
    (node / "etc/loop-a").symlink_to("/etc/loop-b")
    (node / "etc/loop-b").symlink_to("loop-a")
    result = probe(tmp_path, node)
    assert_clean(result, 3, within=10, mentions="too many levels of symbolic links")


# --- FIFOs and devices where files belong --------------------------------------------

@pytest.mark.parametrize("path", ["/etc/glexec.conf", "/etc/lcmaps/lcmaps-glexec.db"])
def test_fifo_instead_of_a_file_does_not_block(tmp_path: Path, path: str) -> None:
    node = make_node(tmp_path / "wn")
    real = node / path.lstrip("/")
    real.unlink()
    os.mkfifo(real, 0o600)
    result = probe(tmp_path, node, "-t", "5")
    assert_clean(result, 2, within=5, mentions=f"{path} is not a regular file")


def test_conf_linked_to_a_fifo_does_not_block(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn")
    os.mkfifo(node / "etc/pipe", 0o600)
    (node / "etc/glexec.conf").unlink()
    (node / "etc/glexec.conf").symlink_to("pipe")
    result = probe(tmp_path, node, "-t", "5")
    assert_clean(result, 2, within=5, mentions="/etc/glexec.conf is not a regular file")


def test_sweep_with_a_fifo_as_the_glexec_result_file(tmp_path: Path) -> None:
    fifo = tmp_path / "RAL-LCG2.json"
    os.mkfifo(fifo, 0o600)
    inventory = tmp_path / "sites.yaml"
    inventory.write_text(f"sites:\n  - {{name: RAL-LCG2, tier: 1, glexec: {fifo}}}\n")
    result = run("gridready", "sweep", "--inventory", str(inventory), "--db", str(tmp_path / "g.sqlite"),
                 "--as-of", "2010-06-08", timeout=30)
    assert "Traceback" not in result.output
    assert result.seconds < 10, result.seconds
    # The sweep's results are dated today, so the report is as of today.
    report = run("gridready", "report", "--db", str(tmp_path / "g.sqlite"), "--format", "json",
                 "--inventory", str(inventory))
    glexec = json.loads(report.stdout)["sites"][0]["milestones"][0]
    assert (glexec["id"], glexec["compliance"]) == ("glexec-scas-argus-t1", "UNKNOWN")
    assert str(fifo) in glexec["message"] and "a FIFO (named pipe), not a regular file" in glexec["message"]


# --- LCMAPS databases read the way liblcmaps' scanner reads them ---------------------

def test_lcmaps_db_ending_in_a_secret_comment_without_line_end_is_not_quoted(tmp_path: Path) -> None:
    # liblcmaps refuses a comment with no line end; the message names the line only.
    node = make_node(tmp_path / "wn")
    db = node / "etc/lcmaps/lcmaps-glexec.db"
    db.write_text(db.read_text() + f"# {SECRET}")
    result = probe(tmp_path, node)
    assert_clean(result, 2, within=10, mentions="a comment on the last line without a line end")
    assert_no_secret(result)


@pytest.mark.parametrize("body", [
    # Many thousand policies (every label and name checked once, not against every other).
    "".join(f"p{i}:\na{i} -> b{i} | c{i}\n" for i in range(30000)),
    # A flood of escaped-quote pairs in one value.
    'a = "lcmaps_c_pep.mod"' + ' " \\"x\\""' * 40000 + "\np:\na -> b\n",
    # One rule spread over a line per token, tens of thousands of lines.
    'a = "lcmaps_c_pep.mod"\np:\n' + "\n" * 200000 + "a\n->\nb\n",
    # Tens of thousands of rules in one policy (each source checked against a set, not every
    # earlier rule: this took minutes), as a chain, as unrelated rules, and negated.
    "glexec_get_account:\n" + "".join(f"a{i} -> a{i + 1}\n" for i in range(60000)),
    "glexec_get_account:\n" + "".join(f"a{i} -> b{i}\n" for i in range(60000)),
    "glexec_get_account:\n" + "".join(f"~a{i} -> a{i + 1}\n" for i in range(55000)),
], ids=["many-policies", "escaped-quote-flood", "rule-over-many-lines", "many-rules-chain",
        "many-rules-unrelated", "many-negated-rules"])
def test_large_lcmaps_databases_end_within_the_bound(tmp_path: Path, body: str) -> None:
    node = make_node(tmp_path / "wn", db=body)
    result = probe(tmp_path, node)
    assert result.code in (0, 2, 3)
    assert_clean(result, result.code, within=15)
