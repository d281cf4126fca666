"""check_glexec on fake worker-node trees (``--root``): installation, permissions, LCMAPS routing.

The tests run as root (here and in CI), so they give files real owners:
root for a good installation, uid 65534 (nobody) for a bad one.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gridready.nagios.runtime import run
from tests.helpers import REPO, run_py, write
from tests.test_glexec_lcmaps import ARGUS, LOCAL, SCAS

NOBODY = 65534
HOST = "wn042.example.org"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing file owners needs root")

CONF = """\
[glexec]
linger = no
user_white_list = .pilot, .atlpilot
user_identity_switch_by = lcmaps
lcmaps_db_file = /etc/lcmaps/lcmaps-glexec.db
lcmaps_log_file = /var/log/glexec/lcas_lcmaps.log
lcmaps_get_account_policy = glexec_get_account
log_destination = syslog
"""

RULES = """\
milestones:
  - id: scas-argus
    title: gLExec with SCAS or Argus
    source: test
    deadline: 2010-05-31
    scope: {tiers: [1]}
    check: glexec
    expect: {authz: [scas, argus], mode: setuid}
    remediation: deploy gLExec
  - id: scas-only
    title: gLExec with SCAS
    source: test
    deadline: 2010-05-31
    check: glexec
    expect: {authz: [scas]}
  - id: logging
    title: gLExec in logging mode
    source: test
    deadline: 2010-05-31
    check: glexec
    expect: {mode: logging}
  - id: reach
    title: authorization service reachable
    source: test
    deadline: 2010-05-31
    check: glexec
    expect: {authz: [scas, argus], reachable: true}
  - id: functional
    title: glexec switches identity
    source: test
    deadline: 2010-05-31
    check: glexec
    expect: {mode: setuid, functional: true}
"""

PILOT_ID = 'echo "uid=40123(atlpilot01) gid=40000(atlpilot) groups=40000(atlpilot)"'


def standin(body: str = PILOT_ID) -> str:
    """A stand-in glexec: checks the proxy variables and the payload, then runs ``body``."""
    return ("#!/bin/sh\n"
            '[ -n "$GLEXEC_CLIENT_CERT" ] && [ -f "$GLEXEC_CLIENT_CERT" ] && '
            '[ "$GLEXEC_SOURCE_PROXY" = "$GLEXEC_CLIENT_CERT" ] '
            '|| { echo "glexec: no valid proxy in GLEXEC_CLIENT_CERT" >&2; exit 201; }\n'
            '[ "$#" = 1 ] && [ "$1" = /usr/bin/id ] || { echo "unexpected payload: $*" >&2; exit 99; }\n'
            f"{body}\n")


def put(root: Path, path: str, text: str | bytes, mode: int, uid: int = 0) -> Path:
    real = root / path.lstrip("/")
    real.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        real.write_bytes(text)
    else:
        real.write_text(text, encoding="utf-8")
    if os.geteuid() == 0:
        os.chown(real, uid, 0)
    os.chmod(real, mode)  # after chown, which clears the setuid bit
    return real


def make_node(root: Path, db: str = SCAS, *, conf: str = CONF, glexec: str = standin(),
              prefix: str = "") -> Path:
    """A compliant worker node: glexec 4755 root, glexec.conf 0640 root, the LCMAPS db 0644 root."""
    put(root, f"{prefix}/sbin/glexec" if prefix else "/usr/sbin/glexec", glexec, 0o4755)
    put(root, f"{prefix}/etc/glexec.conf" if prefix else "/etc/glexec.conf", conf, 0o640)
    put(root, "/etc/lcmaps/lcmaps-glexec.db", db, 0o644)
    put(root, f"/tmp/x509up_u{os.getuid()}", "-----BEGIN CERTIFICATE-----\n(stand-in proxy)\n", 0o600)
    return root


def probe(node: Path, *args: str, milestone: str = "scas-argus") -> tuple[int, list[str]]:
    """Run the real probe runtime in-process; returns the exit code and output lines."""
    rules = node.parent / "rules.yaml"
    if not rules.exists():
        write(rules, RULES)
    out = io.StringIO()
    code = run("glexec", ["--milestones", str(rules), "--milestone", milestone, "--as-of", "2010-06-08",
                          "--host", HOST, "--root", str(node), *args], None, out)
    return code, out.getvalue().splitlines()


def overdue(milestone: str, message: str) -> str:
    return f"[CRITICAL] {milestone}: {message} (deadline 2010-05-31, overdue 8 days)"


@pytest.fixture()
def node(tmp_path: Path) -> Path:
    return make_node(tmp_path / "wn")


def test_compliant_scas_node(node: Path) -> None:
    code, lines = probe(node)
    message = "gLExec /usr/sbin/glexec mode 4755, SCAS (https://scas.example.org:8443)"
    assert code == 0
    assert lines == [f"GLEXEC OK - {HOST}: scas-argus COMPLIANT: {message}",
                     f"[OK] scas-argus: {message} (deadline 2010-05-31)"]


def test_compliant_argus_node(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn", ARGUS, conf=CONF.replace("glexec_get_account", "argus"))
    code, lines = probe(node)
    assert code == 0
    assert lines[1].startswith("[OK] scas-argus: gLExec /usr/sbin/glexec mode 4755, Argus "
                               "(https://argus.example.org:8154/authz, https://argus2.example.org:8154/authz)")


def test_local_mapping_only_is_critical(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn", LOCAL, conf=CONF.replace("glexec_get_account", "standalone"))
    code, lines = probe(node, "-v")
    assert code == 2
    assert lines[1] == overdue("scas-argus", "local mapping only: account policy standalone maps users "
                                             "without SCAS or Argus")
    assert lines[2].startswith("    remediation: Route the LCMAPS account policy through SCAS")
    # With no authz requirement the same node is compliant and says how it maps.
    code, lines = probe(node, milestone="logging")
    assert code == 0 and "local mapping only" in lines[1]


def test_argus_where_only_scas_is_accepted(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn", ARGUS, conf=CONF.replace("glexec_get_account", "argus"))
    code, lines = probe(node, milestone="scas-only")
    assert code == 2
    assert lines[1].startswith("[CRITICAL] scas-only: account policy argus goes through Argus "
                               "(https://argus.example.org:8154/authz, https://argus2.example.org:8154/authz)"
                               ", not SCAS")


def test_local_fallback_behind_scas_is_critical(tmp_path: Path) -> None:
    db = SCAS.replace("scasclient -> posix_enf", "scasclient -> posix_enf | poolaccount\npoolaccount -> posix_enf")
    db = db.replace("posix_enf = ", 'poolaccount = "lcmaps_poolaccount.mod" " -gridmapdir /etc/grid-security/gridmapdir"\n'
                                     "posix_enf = ")
    code, lines = probe(make_node(tmp_path / "wn", db))
    assert code == 2
    assert lines[1] == overdue("scas-argus", "account policy glexec_get_account can map users without SCAS or "
                                             "Argus: verifyproxy -> poolaccount -> posix_enf")


def _unlink(path: str) -> Callable[[Path], None]:
    return lambda node: (node / path.lstrip("/")).unlink()


def _chmod(path: str, mode: int) -> Callable[[Path], None]:
    return lambda node: os.chmod(node / path.lstrip("/"), mode)


def _rewrite(path: str, text: str | bytes) -> Callable[[Path], None]:
    def rewrite(node: Path) -> None:
        put(node, path, text, 0o640)
    return rewrite


@pytest.mark.parametrize("damage, message", [
    (_unlink("/usr/sbin/glexec"), "glexec not found (/usr/sbin/glexec, /opt/glite/sbin/glexec)"),
    (_chmod("/usr/sbin/glexec", 0o755), "glexec /usr/sbin/glexec is not setuid (mode 0755)"),
    (_chmod("/usr/sbin/glexec", 0o4775), "glexec /usr/sbin/glexec is writable by group (mode 4775)"),
    (_chmod("/usr/sbin/glexec", 0o4757), "glexec /usr/sbin/glexec is writable by others (mode 4757)"),
    (_unlink("/etc/glexec.conf"), "glexec.conf not found (/etc/glexec.conf, /opt/glite/etc/glexec.conf)"),
    (_chmod("/etc/glexec.conf", 0o666),
     "glexec.conf /etc/glexec.conf is writable by group and others (mode 0666)"),
    (_rewrite("/etc/glexec.conf", "[global]\nlinger = no\n"), "/etc/glexec.conf: no [glexec] section"),
    (_rewrite("/etc/glexec.conf", "[glexec]\nlinger no\n"),
     "/etc/glexec.conf:2: expected 'key = value' or a [section] heading"),
    (_rewrite("/etc/glexec.conf", "linger = no\n[glexec]\n"),
     "/etc/glexec.conf:1: setting 'linger' before any [section]"),
    (_rewrite("/etc/glexec.conf", b"[glexec]\nlinger = \xff\n"),
     "/etc/glexec.conf:2: not UTF-8 text"),
    (_rewrite("/etc/glexec.conf", CONF.replace("/etc/lcmaps/lcmaps-glexec.db", "/etc/lcmaps/missing.db")),
     "LCMAPS database /etc/lcmaps/missing.db (lcmaps_db_file in /etc/glexec.conf) not found"),
    (_rewrite("/etc/glexec.conf", CONF.replace("= glexec_get_account", "= get_account")),
     "account policy 'get_account' (lcmaps_get_account_policy) is not defined in /etc/lcmaps/lcmaps-glexec.db"),
    (_chmod("/etc/lcmaps/lcmaps-glexec.db", 0o646),
     "LCMAPS database /etc/lcmaps/lcmaps-glexec.db is writable by others (mode 0646)"),
    (_rewrite("/etc/lcmaps/lcmaps-glexec.db", SCAS.replace("scasclient -> posix_enf", "scasclient posix_enf")),
     "LCMAPS database unusable: /etc/lcmaps/lcmaps-glexec.db:15: a rule in policy 'glexec_get_account' "
     "needs '->' after its first name, got a name"),
    (_rewrite("/etc/lcmaps/lcmaps-glexec.db", SCAS.replace('" -maxuid 1"', '" -maxuid 1')),
     # The lost quote pairs with the next one, leaving the option outside any string.
     "LCMAPS database unusable: /etc/lcmaps/lcmaps-glexec.db:11: unexpected character at column 50 "
     "(names are letters, digits, '_', '.' and '/')"),
])
def test_broken_installations_are_critical_with_the_reason(node: Path, damage: Callable[[Path], None],
                                                           message: str) -> None:
    damage(node)
    code, lines = probe(node)
    assert code == 2
    assert lines[0] == f"GLEXEC CRITICAL - {HOST}: scas-argus OVERDUE: {message}"
    assert lines[1] == overdue("scas-argus", message)


@as_root
@pytest.mark.parametrize("path, what", [("/usr/sbin/glexec", "glexec"), ("/etc/glexec.conf", "glexec.conf"),
                                        ("/etc/lcmaps/lcmaps-glexec.db", "LCMAPS database")])
def test_files_not_owned_by_root(node: Path, path: str, what: str) -> None:
    real = node / path.lstrip("/")
    mode = real.stat().st_mode
    os.chown(real, NOBODY, NOBODY)
    os.chmod(real, mode)  # chown cleared the setuid bit
    code, lines = probe(node)
    assert code == 2
    assert lines[1] == overdue("scas-argus", f"{what} {path} is owned by uid {NOBODY}, not root")


def test_several_faults_are_all_reported(node: Path) -> None:
    os.chmod(node / "usr/sbin/glexec", 0o775)
    os.chmod(node / "etc/glexec.conf", 0o646)
    code, lines = probe(node, "-v")
    assert code == 2
    assert lines[1] == overdue("scas-argus", "glexec /usr/sbin/glexec is writable by group (mode 0775); "
                                             "glexec /usr/sbin/glexec is not setuid (mode 0775); "
                                             "glexec.conf /etc/glexec.conf is writable by others (mode 0646)")
    assert lines[2] == ("    remediation: chown root:root /usr/sbin/glexec && chmod 4755 /usr/sbin/glexec; "
                        "chown root /etc/glexec.conf && chmod 0640 /etc/glexec.conf")


def test_logging_mode_needs_no_setuid_bit(node: Path) -> None:
    os.chmod(node / "usr/sbin/glexec", 0o755)
    code, lines = probe(node, milestone="logging")
    assert code == 0 and lines[1].startswith("[OK] logging: gLExec /usr/sbin/glexec mode 0755")
    os.chmod(node / "etc/glexec.conf", 0o660)
    code, lines = probe(node, milestone="logging")
    assert code == 2 and "glexec.conf /etc/glexec.conf is writable by group (mode 0660)" in lines[1]


def test_glite_layout_and_glite_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = make_node(tmp_path / "glite", prefix="/opt/glite")
    code, lines = probe(node)
    assert code == 0 and lines[1].startswith("[OK] scas-argus: gLExec /opt/glite/sbin/glexec mode 4755, SCAS")
    # The conf next to the binary wins; a stray /etc/glexec.conf does not.
    put(node, "/etc/glexec.conf", "[glexec]\nlcmaps_db_file = /nowhere\n", 0o640)
    assert probe(node)[0] == 0
    other = make_node(tmp_path / "custom", prefix="/srv/glite")
    assert probe(other)[1][1] == overdue("scas-argus", "glexec not found (/usr/sbin/glexec, /opt/glite/sbin/glexec); "
                                                       "glexec.conf not found (/etc/glexec.conf, "
                                                       "/opt/glite/etc/glexec.conf)")
    monkeypatch.setenv("GLITE_LOCATION", "/srv/glite")
    code, lines = probe(other, "-vv")
    assert code == 0 and "glexec: /srv/glite/sbin/glexec (uid 0, gid 0, mode 4755)" in lines


def test_explicit_paths(node: Path) -> None:
    (node / "etc/glexec.conf").rename(node / "etc/glexec-test.conf")
    (node / "etc/lcmaps/lcmaps-glexec.db").rename(node / "etc/lcmaps/other.db")
    code, lines = probe(node, "--conf", "/etc/glexec-test.conf", "--lcmaps-db", "/etc/lcmaps/other.db", "-vv")
    assert code == 0
    assert "LCMAPS db (--lcmaps-db): /etc/lcmaps/other.db (uid 0, gid 0, mode 0644)" in lines
    code, lines = probe(node, "--glexec", "/usr/bin/glexec", "--conf", "/etc/glexec-test.conf")
    assert code == 2
    assert lines[1] == overdue("scas-argus", "glexec not found (/usr/bin/glexec); LCMAPS database "
                                             "/etc/lcmaps/lcmaps-glexec.db (lcmaps_db_file in /etc/glexec-test.conf) "
                                             "not found")


def test_not_a_regular_file(node: Path) -> None:
    (node / "etc/glexec.conf").unlink()
    (node / "etc/glexec.conf").mkdir()
    os.chmod(node / "etc/glexec.conf", 0o755)
    code, lines = probe(node)
    assert code == 2 and lines[1] == overdue("scas-argus", "glexec.conf /etc/glexec.conf is not a regular file")


def test_details_list_every_file_and_route(node: Path) -> None:
    code, lines = probe(node, "-vv")
    assert code == 0
    assert lines[2:] == [
        f"root: {node}",
        "glexec: /usr/sbin/glexec (uid 0, gid 0, mode 4755)",
        "glexec.conf: /etc/glexec.conf (uid 0, gid 0, mode 0640)",
        "LCMAPS db (lcmaps_db_file in /etc/glexec.conf): /etc/lcmaps/lcmaps-glexec.db (uid 0, gid 0, mode 0644)",
        "policy glexec_get_account: verifyproxy -> scasclient -> posix_enf (SCAS)"]


def test_bad_root_and_bad_expect_are_unknown(node: Path, tmp_path: Path) -> None:
    code, lines = probe(node, "--root", str(tmp_path / "nowhere"))
    assert (code, lines) == (3, [f"GLEXEC UNKNOWN - bad arguments: --root {tmp_path / 'nowhere'}: not a directory"])
    rules = write(tmp_path / "bad.yaml", RULES.replace("{authz: [scas]}", "{authz: [scas, gums], moed: setuid}"))
    out = io.StringIO()
    code = run("glexec", ["--milestones", str(rules), "--root", str(node)], None, out)
    assert code == 3
    assert out.getvalue() == (f"GLEXEC UNKNOWN - {rules}:15: milestones[1].expect: unknown key 'moed' "
                              "(known: authz, mode, reachable, functional) (and 1 more problems)\n")


def test_probe_executable_json_and_no_traceback_on_garbage(node: Path, tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.yaml", RULES)
    args = ("--root", str(node), "--milestones", str(rules), "--milestone", "scas-argus", "--as-of", "2010-06-08")
    done = run_py(REPO / "probes" / "check_glexec", *args, "--site", "FZK-LCG2", "--host", HOST, "--format", "json")
    assert done.returncode == 0 and done.stderr == ""
    result = json.loads(done.stdout)
    assert (result["schema"], result["check"], result["site"], result["host"], result["state"]) == (
        "gridready.result/1", "glexec", "FZK-LCG2", HOST, "OK")
    assert [(m["id"], m["compliance"], m["message"]) for m in result["milestones"]] == [
        ("scas-argus", "COMPLIANT", "gLExec /usr/sbin/glexec mode 4755, SCAS (https://scas.example.org:8443)")]
    assert result["details"][1] == "glexec: /usr/sbin/glexec (uid 0, gid 0, mode 4755)"

    put(node, "/etc/lcmaps/lcmaps-glexec.db", b"\x00\x01garbage\xfe", 0o644)
    done = run_py(REPO / "probes" / "check_glexec", *args)
    assert done.returncode == 2 and done.stderr == ""
    assert done.stdout.splitlines()[1].startswith(
        "[CRITICAL] scas-argus: LCMAPS database unusable: /etc/lcmaps/lcmaps-glexec.db:1: not UTF-8 text")


def test_nothing_installed_is_one_finding(tmp_path: Path) -> None:
    empty = tmp_path / "arc-node"
    empty.mkdir()
    code, lines = probe(empty)
    assert code == 2
    assert lines[1] == overdue("scas-argus", "gLExec not installed: no glexec (/usr/sbin/glexec, "
                                             "/opt/glite/sbin/glexec), no glexec.conf (/etc/glexec.conf, "
                                             "/opt/glite/etc/glexec.conf), no LCMAPS database "
                                             "(/etc/lcmaps/lcmaps-glexec.db)")


def test_example_results_ingest_and_give_a_mixed_picture() -> None:
    from gridready.result import ProbeResult

    found = {}
    for path in sorted((REPO / "config" / "example" / "glexec").glob("*.json")):
        result = ProbeResult.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
        assert (result.check, result.site) == ("glexec", path.stem)
        [milestone] = result.milestones
        assert milestone.id == "glexec-scas-argus-t1"
        found[path.stem] = milestone.compliance.value
    assert found.pop("BNL-ATLAS") == "OVERDUE"      # world-writable glexec.conf
    assert found.pop("TRIUMF-LCG2") == "OVERDUE"    # local mapping only
    assert found.pop("NDGF-T1") == "WAIVED"         # no gLExec (ARC), waived
    assert "USCMS-FNAL-WC1" not in found            # sent no result
    assert set(found.values()) == {"COMPLIANT"} and len(found) == 7


@pytest.mark.parametrize("expect, problems", [
    ({"authz": ["scas", "argus"], "mode": "setuid", "reachable": True, "functional": False}, []),
    ({"authz": "argus"}, []),
    ({}, []),
    ({"authz": ["scas", "gums"]}, ["authz: unknown service 'gums' (known: scas, argus)"]),
    ({"authz": {"scas": 1}}, ["authz: expected a list of services (scas, argus), got {'scas': 1}"]),
    ({"mode": "suid"}, ["mode: expected one of setuid, logging, got 'suid'"]),
    ({"reachable": "yes"}, ["reachable: expected true or false, got 'yes'"]),
    ({"functionnal": True}, ["unknown key 'functionnal' (known: authz, mode, reachable, functional)"]),
])
def test_validate_expect(expect: dict[str, object], problems: list[str]) -> None:
    from gridready.checks.glexec import CHECK

    assert list(CHECK.validate_expect(expect)) == problems
