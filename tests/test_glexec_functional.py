"""``check_glexec --functional``: a stand-in glexec returning each of glexec's exit codes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, run_py, write
from tests.test_glexec_install import HOST, RULES, make_node, overdue, probe, put, standin

RUN = "/usr/sbin/glexec /usr/bin/id"


def node_with(tmp_path: Path, body: str) -> Path:
    return make_node(tmp_path / "wn", glexec=standin(body))


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X509_USER_PROXY", raising=False)


def test_identity_switch_passes(tmp_path: Path) -> None:
    node = node_with(tmp_path, 'echo "uid=40123(atlpilot01) gid=40000(atlpilot) groups=40000(atlpilot)"')
    code, lines = probe(node, "--functional", "-vv")
    assert code == 0
    status, perfdata = lines[0].split(" | ")
    assert status == (f"GLEXEC OK - {HOST}: scas-argus COMPLIANT: gLExec /usr/sbin/glexec mode 4755, "
                      "SCAS (https://scas.example.org:8443), payload ran as uid=40123(atlpilot01)")
    assert perfdata.startswith("glexec_run_ms=") and perfdata.endswith("ms;;;0")
    assert any(line.startswith(f"{RUN}: exit 0 in ") and "ran as uid=40123(atlpilot01) (caller uid=" in line
               for line in lines)


@pytest.mark.parametrize("code, meaning", [
    (201, "client error (bad or expired proxy, or the caller is not in user_white_list)"),
    (202, "system error (glexec misconfigured: glexec.conf, LCMAPS or permissions)"),
    (203, "authorization error (SCAS/Argus or LCMAPS refused to map the proxy)"),
    (204, "the payload's exit code overlaps glexec's own codes 201-204"),
    (126, "cannot execute (glexec or the payload is not executable)"),
    (7, "exit code 7"),
])
def test_glexec_exit_codes_are_explained(tmp_path: Path, code: int, meaning: str) -> None:
    node = node_with(tmp_path, f'echo "glexec said no   ({code})" >&2; exit {code}')
    rc, lines = probe(node, "--functional", milestone="functional")
    assert rc == 2
    assert lines[1] == overdue("functional", f"{RUN} failed with exit code {code}, {meaning}: "
                                             f"glexec said no ({code})")


def test_same_identity_is_no_switch_in_setuid_mode(tmp_path: Path) -> None:
    # What a glexec that does not switch does: run the payload as the caller.
    node = node_with(tmp_path, 'exec "$1"')
    code, lines = probe(node, milestone="functional")
    me = os.getuid()
    assert code == 2
    assert lines[1].startswith(f"[CRITICAL] functional: {RUN} ran as the caller's own identity uid={me}(")
    assert lines[1].endswith("): no identity switch (deadline 2010-05-31, overdue 8 days)")
    # A logging-only gLExec is not meant to switch.
    os.chmod(node / "usr/sbin/glexec", 0o755)
    code, lines = probe(node, "--functional", milestone="logging")
    assert code == 0 and lines[1].startswith("[OK] logging: gLExec /usr/sbin/glexec mode 0755")


def test_success_without_id_output(tmp_path: Path) -> None:
    code, lines = probe(node_with(tmp_path, "exit 0"), milestone="functional")
    assert code == 2 and lines[1] == overdue("functional", f"{RUN} succeeded but printed no uid")


def test_binary_that_cannot_be_executed(tmp_path: Path) -> None:
    node = node_with(tmp_path, "exit 0")
    put(node, "/usr/sbin/glexec", "\x7fELF not really", 0o4644)
    code, lines = probe(node, milestone="functional")
    assert code == 2
    assert lines[1].startswith(f"[CRITICAL] functional: {RUN} failed with exit code 126, cannot execute "
                               "(glexec or the payload is not executable): cannot execute /usr/sbin/glexec: ")


def test_missing_binary_is_reported_once(tmp_path: Path) -> None:
    node = node_with(tmp_path, "exit 0")
    (node / "usr/sbin/glexec").unlink()
    code, lines = probe(node, milestone="functional")
    assert code == 2 and lines[1] == overdue("functional", "glexec not found (/usr/sbin/glexec, "
                                                           "/opt/glite/sbin/glexec)")


def test_proxy_is_passed_in_glexec_client_cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = node_with(tmp_path, 'echo "uid=40123(atlpilot01)"; echo "proxy=$GLEXEC_CLIENT_CERT" >&2')
    (node / f"tmp/x509up_u{os.getuid()}").unlink()
    code, lines = probe(node, milestone="functional")
    assert (code, lines) == (3, [f"GLEXEC UNKNOWN - bad arguments: the functional test needs a proxy: "
                                 f"/tmp/x509up_u{os.getuid()} is not a file (give --proxy FILE)"])
    code, lines = probe(node, "--proxy", "/home/pilot/proxy.pem", milestone="functional")
    assert (code, lines) == (3, ["GLEXEC UNKNOWN - bad arguments: the functional test needs a proxy: "
                                 "/home/pilot/proxy.pem is not a file"])
    put(node, "/home/pilot/proxy.pem", "proxy", 0o600)
    code, lines = probe(node, "--proxy", "/home/pilot/proxy.pem", "-vv", milestone="functional")
    assert code == 0
    assert any(line.endswith(f"; stderr: proxy={node}/home/pilot/proxy.pem") for line in lines)
    monkeypatch.setenv("X509_USER_PROXY", "/home/pilot/proxy.pem")
    assert probe(node, milestone="functional")[0] == 0


def test_hanging_glexec_is_killed_at_the_deadline(tmp_path: Path) -> None:
    node = node_with(tmp_path, 'echo "$$" > "$(dirname "$0")/../../pid"; exec sleep 60')
    rules = write(tmp_path / "rules.yaml", RULES)
    start = time.monotonic()
    done = run_py(REPO / "probes" / "check_glexec", "--root", str(node), "--milestones", str(rules),
                  "--milestone", "functional", "--as-of", "2010-06-08", "-t", "1", timeout=20)
    elapsed = time.monotonic() - start
    assert done.returncode == 3 and done.stderr == ""
    assert done.stdout.splitlines()[0] == f"GLEXEC UNKNOWN - functional UNKNOWN: timeout after 1s while running {RUN}"
    assert elapsed < 5
    pid = int((node / "pid").read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), "the stand-in glexec outlived the probe"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False
