"""check_glexec on production LCMAPS databases, and the evidence rule.

The databases of tests/data/lcmaps/ (checked against liblcmaps by
test_glexec_lcmaps_library) installed on a stand-in worker node: what the
probe concludes. A pass the routing cannot support (no policy, an empty
policy, a module the database never defines, a construct gridready does not
evaluate) is UNKNOWN with the reason; a SCAS/Argus plugin without an
endpoint fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_glexec_install import CONF, make_node, overdue, probe

DATA = Path(__file__).parent / "data" / "lcmaps"
OK = "GLEXEC OK - wn042.example.org: 1 milestone"


def node_with(tmp_path: Path, db: str, policy: str = "glexec_get_account") -> Path:
    return make_node(tmp_path / "wn", db, conf=CONF.replace("= glexec_get_account", f"= {policy}"))


@pytest.mark.parametrize("name, policy, summary", [
    # The example: Argus written by the standard generators.
    ("argus-generator.db", "glexec_get_account", "Argus (https://argus.example.org:8154/authz)"),
    ("argus-setuid-two-pepd.db", "glexec_get_account",
     "Argus (https://argus01.example.org:8154/authz, https://argus02.example.org:8154/authz)"),
    ("args-in-module-string.db", "glexec_get_account", "Argus (https://argus.example.org:8154/authz)"),
    ("odd-whitespace.db", "glexec_get_account", "Argus (https://argus.example.org:8154/authz)"),
    ("scas-yaim.db", "glexec_get_account", "SCAS (https://scas.example.org:8443)"),
    ("gums-osg.db", "glexec",
     "SCAS (https://gums.example.org:8443/gums/services/GUMSXACMLAuthorizationServicePort)"),
    # Both PEP daemons after one option: both are endpoints (and both are --reach'ed).
    ("argus-two-urls-one-option.db", "glexec_get_account",
     "Argus (https://argus01.example.org:8154/authz, https://argus02.example.org:8154/authz)"),
    # SAZ then GUMS, both the SCAS client module under other names; policies colon-separated.
    ("osg-saz-gums.db", "authorize_only:glexec",
     "SCAS (https://saz.example.org:8443/saz/services/SAZ, "
     "https://gums.example.org:8443/gums/services/GUMSXACMLAuthorizationServicePort)"),
    ("osg-saz-gums.db", "glexec, authorize_only",
     "SCAS (https://saz.example.org:8443/saz/services/SAZ, "
     "https://gums.example.org:8443/gums/services/GUMSXACMLAuthorizationServicePort)"),
])
def test_production_databases_are_compliant(tmp_path: Path, name: str, policy: str, summary: str) -> None:
    code, lines = probe(node_with(tmp_path, (DATA / name).read_text(), policy))
    assert code == 0, lines
    assert lines[1] == f"[OK] scas-argus: gLExec /usr/sbin/glexec mode 4755, {summary} (deadline 2010-05-31)"


def test_argus_without_endpoint_is_critical(tmp_path: Path) -> None:
    code, lines = probe(node_with(tmp_path, (DATA / "argus-no-endpoint.db").read_text()))
    assert code == 2
    assert lines[1] == overdue("scas-argus", "Argus plugin 'pepc' (lcmaps_c_pep.mod, line 2) names no endpoint, "
                                             "so it cannot ask any service")


def test_gums_client_without_endpoint_is_critical(tmp_path: Path) -> None:
    db = (DATA / "gums-osg.db").read_text().replace(
        '             "--endpoint https://gums.example.org:8443/gums/services/GUMSXACMLAuthorizationServicePort"\n', "")
    code, lines = probe(node_with(tmp_path, db, "glexec"))
    assert code == 2
    assert lines[1] == overdue("scas-argus", "SCAS plugin 'gumsclient' (lcmaps_gums_client.mod, line 4) names no "
                                             "endpoint, so it cannot ask any service")


def test_local_pool_accounts_and_local_fallback_stay_critical(tmp_path: Path) -> None:
    code, lines = probe(node_with(tmp_path, (DATA / "local-pool-only.db").read_text()))
    assert code == 2 and "local mapping only" in lines[1]
    code, lines = probe(make_node(tmp_path / "wn2", (DATA / "scas-fallback-local.db").read_text()))
    assert code == 2 and "can map users without SCAS or Argus: verifyproxy -> poolaccount -> posix_enf" in lines[1]


@pytest.mark.parametrize("db, policy, code, line", [
    # What liblcmaps reads definitely is judged, not UNKNOWN.
    # liblcmaps drops a label with no rules: the policy glexec asks for does not exist.
    ((DATA / "empty-policy-first.db").read_text(), "placeholder", 2,
     "[CRITICAL] scas-argus: account policy 'placeholder' (lcmaps_get_account_policy) is not defined in "
     "/etc/lcmaps/lcmaps-glexec.db"),
    # ``~a -> b``: b maps locally whenever SCAS says no.
    ('a = "lcmaps_scas_client.mod" "-endpoint https://s:8443"\nb = "lcmaps_posix_enf.mod"\np:\n~a -> b\n', "p", 2,
     "[CRITICAL] scas-argus: account policy p can map users without SCAS or Argus: b"),
    # Routing without evidence is UNKNOWN with the reason.
    ((DATA / "undefined-module-typo.db").read_text(), "glexec_get_account", 3,
     "[UNKNOWN] scas-argus: account policy uses 'poxix_enf' (line 6 of /etc/lcmaps/lcmaps-glexec.db), which the "
     "database does not define: LCMAPS would load a module of that name, which gridready cannot inspect "
     "(deadline 2010-05-31)"),
    # No policy named in glexec.conf and none in the database.
    ("# nothing yet\n", "", 3,
     "[UNKNOWN] scas-argus: LCMAPS database /etc/lcmaps/lcmaps-glexec.db defines no policy: no account policy to "
     "judge (deadline 2010-05-31)"),
])
def test_routing_is_judged_when_liblcmaps_reads_it_and_unknown_without_evidence(
        tmp_path: Path, db: str, policy: str, code: int, line: str) -> None:
    got, lines = probe(node_with(tmp_path, db, policy))
    assert got == code, lines
    assert lines[1].startswith(line), lines


def test_failures_still_win_over_missing_evidence(tmp_path: Path) -> None:
    node = node_with(tmp_path, (DATA / "undefined-module-typo.db").read_text())
    (node / "etc/glexec.conf").chmod(0o666)
    code, lines = probe(node)
    assert code == 2
    assert lines[1] == overdue("scas-argus", "glexec.conf /etc/glexec.conf is writable by group and others "
                                             "(mode 0666)")


def test_without_authz_expectation_no_routing_evidence_is_needed(tmp_path: Path) -> None:
    node = node_with(tmp_path, "# nothing yet\n", "")
    code, lines = probe(node, milestone="logging")
    assert code == 0, lines


@pytest.mark.parametrize("db, plugin, module, line", [
    # '-endpoint' followed by the next option: no endpoint (not "-resourcetype").
    ((DATA / "scas-endpoint-without-value.db").read_text(), "scasclient", "lcmaps_scas_client.mod", 6),
    ('v = "lcmaps_verify_proxy.mod"\np = "lcmaps_c_pep.mod" "--pep-daemon-endpoint-url" " -resourceid x"\n'
     "glexec_get_account:\nv -> p\n", "p", "lcmaps_c_pep.mod", 2),
    ('v = "lcmaps_verify_proxy.mod"\ns = "lcmaps_saz_client.mod" "-capath /etc/grid-security/certificates"\n'
     "glexec_get_account:\nv -> s\n", "s", "lcmaps_saz_client.mod", 2),
])
def test_option_without_a_value_names_no_endpoint(tmp_path: Path, db: str, plugin: str, module: str,
                                                  line: int) -> None:
    code, lines = probe(node_with(tmp_path, db))
    assert code == 2, lines
    label = "Argus" if "pep" in module else "SCAS"
    assert lines[1] == overdue("scas-argus", f"{label} plugin '{plugin}' ({module}, line {line}) names no endpoint, "
                                             "so it cannot ask any service")


@pytest.mark.parametrize("setting, where", [
    # A relative lcmaps_db_file is read from LCMAPS' directory, as liblcmaps does.
    ("lcmaps-glexec.db", "/etc/lcmaps/lcmaps-glexec.db"),
    ("./lcmaps-glexec.db", "/etc/lcmaps/lcmaps-glexec.db"),
    ("/etc/lcmaps/lcmaps-glexec.db", "/etc/lcmaps/lcmaps-glexec.db"),
])
def test_relative_lcmaps_db_file(tmp_path: Path, setting: str, where: str) -> None:
    node = make_node(tmp_path / "wn", (DATA / "scas-yaim.db").read_text(),
                     conf=CONF.replace("/etc/lcmaps/lcmaps-glexec.db", setting))
    code, lines = probe(node, "-vv")
    assert code == 0, lines
    assert f"LCMAPS db (lcmaps_db_file in /etc/glexec.conf): {where} (uid 0, gid 0, mode 0644)" in lines


@pytest.mark.parametrize("setting", ["lcmaps_db_file = lcmaps-glexec.db\n", ""])
def test_glite_install_reads_its_own_lcmaps_directory(tmp_path: Path, setting: str) -> None:
    conf = CONF.replace("lcmaps_db_file = /etc/lcmaps/lcmaps-glexec.db\n", setting)
    node = make_node(tmp_path / "wn", (DATA / "scas-yaim.db").read_text(), conf=conf, prefix="/opt/glite")
    (node / "etc/lcmaps/lcmaps-glexec.db").rename(node / "opt/glite/etc/lcmaps-glexec.db.unused")
    (node / "opt/glite/etc/lcmaps").mkdir()
    (node / "opt/glite/etc/lcmaps-glexec.db.unused").rename(node / "opt/glite/etc/lcmaps/lcmaps-glexec.db")
    code, lines = probe(node, "-vv")
    assert code == 0, lines
    named = "lcmaps_db_file in /opt/glite/etc/glexec.conf" if setting else "the default"
    assert f"LCMAPS db ({named}): /opt/glite/etc/lcmaps/lcmaps-glexec.db (uid 0, gid 0, mode 0644)" in lines
