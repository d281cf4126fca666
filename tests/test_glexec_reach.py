"""Reachability of SCAS / the Argus PEP: TCP + TLS handshake against loopback servers (test CA)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from gridready.deadline import Deadline
from gridready.errors import CheckTimeout, UsageError
from gridready.glexec.reach import TLSSettings, handshake, split_endpoint
from tests.helpers import REPO, run_py, write
from tests.servers.hostile import Close, Hold, Read, Send, running_hostile
from tests.servers.https import running_https
from tests.test_glexec_install import CONF, HOST, RULES, make_node, overdue, probe, put
from tests.test_glexec_lcmaps import ARGUS, SCAS


def free_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scas_node(root: Path, endpoint: str, ca_file: str | None = None) -> Path:
    node = make_node(root, SCAS.replace("https://scas.example.org:8443", endpoint))
    if ca_file:
        put(node, "/etc/grid-security/test-ca.pem", Path(ca_file).read_text(), 0o644)
    return node


def argus_node(root: Path, *endpoints: str, ca_file: str) -> Path:
    db = ARGUS.replace(" --pep-daemon-endpoint-url https://argus2.example.org:8154/authz", "")
    db = db.replace("https://argus.example.org:8154/authz",
                    " --pep-daemon-endpoint-url ".join(endpoints))
    node = make_node(root, db, conf=CONF.replace("glexec_get_account", "argus"))
    put(node, "/etc/grid-security/test-ca.pem", Path(ca_file).read_text(), 0o644)
    return node


# --- the handshake itself -------------------------------------------------------

def test_handshake_with_trusted_service_is_timed() -> None:
    with running_https({}) as server:
        reach = handshake("argus", server.url("/authz"), 8154, TLSSettings(server.ca_file).context(), Deadline(5))
    assert reach.ok and reach.error is None
    assert (reach.host, reach.port, reach.address) == ("127.0.0.1", server.port, f"127.0.0.1:{server.port}")
    assert reach.tls_version in ("TLSv1.2", "TLSv1.3")
    assert reach.connect_ms is not None and reach.tls_ms is not None and 0 <= reach.connect_ms < 2000
    assert 0 < reach.tls_ms < 2000


def test_client_certificate_is_presented_when_required() -> None:
    with running_https({}, require_client_cert=True) as server:
        proxy = server.proxy_file()
        reach = handshake("scas", server.url(), 8443, TLSSettings(server.ca_file, proxy).context(), Deadline(5))
    assert reach.ok


def test_untrusted_certificate() -> None:
    with running_https({}) as server:
        reach = handshake("scas", server.url(), 8443, TLSSettings(server.other_ca_file).context(), Deadline(5))
    assert reach.error == "TLS handshake failed: certificate not trusted: unable to get local issuer certificate"
    assert reach.connect_ms is not None and reach.tls_ms is None


@pytest.mark.parametrize("script, error", [
    ((Read(100, 0.5), Send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), Close()),
     "TLS handshake failed: wrong version number"),
    ((Close(),), "TLS handshake failed: connection closed by the server"),
])
def test_server_not_speaking_tls(script: tuple[Read | Send | Close, ...], error: str) -> None:
    with running_hostile(*script) as server:
        reach = handshake("scas", f"https://127.0.0.1:{server.port}", 8443, TLSSettings().context(), Deadline(5))
    assert reach.error == error


def test_connection_refused() -> None:
    port = free_port()
    reach = handshake("scas", f"https://127.0.0.1:{port}", 8443, TLSSettings().context(), Deadline(5))
    assert reach.error == "cannot connect: connection refused"
    assert reach.connect_ms is None


def test_silent_server_is_bounded_by_the_deadline() -> None:
    with running_hostile(Hold()) as server:
        start = time.monotonic()
        with pytest.raises(CheckTimeout) as caught:
            handshake("scas", f"https://127.0.0.1:{server.port}", 8443, TLSSettings().context(), Deadline(0.5))
        elapsed = time.monotonic() - start
    assert caught.value.stage == f"TLS handshake with SCAS at 127.0.0.1:{server.port}"
    assert 0.4 < elapsed < 2.0


@pytest.mark.parametrize("url, default, expected", [
    ("https://scas.example.org:8443", 8443, ("scas.example.org", 8443)),
    ("https://argus.example.org/authz", 8154, ("argus.example.org", 8154)),
    ("argus.example.org:8154", 8154, ("argus.example.org", 8154)),
    ("https://[2001:db8::1]:8154/authz", 8154, ("2001:db8::1", 8154)),
])
def test_split_endpoint(url: str, default: int, expected: tuple[str, int]) -> None:
    assert split_endpoint(url, default) == expected


@pytest.mark.parametrize("url, error", [
    ("http://argus.example.org:8154/authz", "endpoint 'http://argus.example.org:8154/authz' is not an https:// URL"),
    ("https://argus.example.org:99999/authz", "endpoint 'https://argus.example.org:99999/authz' has a bad port"),
    ("https://:8443/", "endpoint 'https://:8443/' names no host"),
])
def test_bad_endpoint_urls_are_findings(url: str, error: str) -> None:
    assert handshake("argus", url, 8154, TLSSettings().context(), Deadline(5)).error == error


def test_unusable_trust_and_credential_files(tmp_path: Path) -> None:
    junk = write(tmp_path / "junk.pem", "not a certificate\n")
    with pytest.raises(UsageError, match=f"--capath {junk}: no usable CA certificates"):
        TLSSettings(str(junk)).context()
    with pytest.raises(UsageError, match=f"client certificate {junk}: not a usable PEM certificate and key"):
        TLSSettings(cert=str(junk)).context()


# --- through the probe ------------------------------------------------------------

def test_expect_reachable_scas_ok_with_latency_perfdata(tmp_path: Path) -> None:
    with running_https({}) as server:
        node = scas_node(tmp_path / "wn", f"https://127.0.0.1:{server.port}", server.ca_file)
        code, lines = probe(node, "--capath", "/etc/grid-security/test-ca.pem", "-vv", milestone="reach")
    assert code == 0
    status, perfdata = lines[0].split(" | ")
    assert status.startswith(f"GLEXEC OK - {HOST}: reach COMPLIANT: gLExec /usr/sbin/glexec mode 4755, "
                             f"SCAS (https://127.0.0.1:{server.port}), 127.0.0.1:{server.port} TLS ")
    labels = [item.split("=")[0] for item in perfdata.split()]
    assert labels == ["scas_connect_ms", "scas_tls_ms"]
    assert any(line.startswith(f"SCAS https://127.0.0.1:{server.port}: connected in ") and " handshake in " in line
               for line in lines)


def test_reach_flag_with_two_argus_pep_daemons_one_down(tmp_path: Path) -> None:
    down = free_port()
    with running_https({}) as server:
        node = argus_node(tmp_path / "wn", server.url("/authz"), f"https://127.0.0.1:{down}/authz",
                          ca_file=server.ca_file)
        code, lines = probe(node, "--reach", "--capath", "/etc/grid-security/test-ca.pem")
        assert code == 2
        assert lines[1] == overdue("scas-argus", f"Argus 127.0.0.1:{down}: cannot connect: connection refused")
        assert [item.split("=")[0] for item in lines[0].split(" | ")[1].split()] == [
            "argus_connect_ms", "argus_tls_ms"]
        # Without --reach (and no milestone asking) nothing is dialled.
        code, lines = probe(node)
        assert code == 0 and " | " not in lines[0]


def test_untrusted_service_certificate_is_critical(tmp_path: Path) -> None:
    with running_https({}) as server:
        node = scas_node(tmp_path / "wn", f"https://127.0.0.1:{server.port}")
        put(node, "/etc/grid-security/other-ca.pem", Path(server.other_ca_file).read_text(), 0o644)
        code, lines = probe(node, "--capath", "/etc/grid-security/other-ca.pem", "-v", milestone="reach")
    assert code == 2
    assert lines[1] == overdue("reach", f"SCAS 127.0.0.1:{server.port}: TLS handshake failed: certificate not "
                                        "trusted: unable to get local issuer certificate")
    assert lines[2].startswith(f"    remediation: Check that SCAS at 127.0.0.1:{server.port} is up")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to hash the test CA")
def test_default_capath_is_the_nodes_grid_ca_directory(tmp_path: Path) -> None:
    with running_https({}) as server:
        node = scas_node(tmp_path / "wn", f"https://127.0.0.1:{server.port}")
        digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", server.ca_file], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        put(node, f"/etc/grid-security/certificates/{digest}.0", Path(server.ca_file).read_text(), 0o644)
        code, lines = probe(node, milestone="reach")
        assert code == 0, lines
        (node / f"etc/grid-security/certificates/{digest}.0").unlink()
        code, lines = probe(node, milestone="reach")
        assert code == 2 and "certificate not trusted" in lines[1]


def test_reachable_expected_but_no_endpoint(tmp_path: Path) -> None:
    node = make_node(tmp_path / "wn", SCAS.replace(' " -endpoint https://scas.example.org:8443"', ""))
    node_db = (node / "etc/lcmaps/lcmaps-glexec.db").read_text()
    assert "-endpoint" not in node_db
    code, lines = probe(node, milestone="reach")
    assert code == 2
    # The endpoint-less SCAS plugin fails on its own (it cannot ask anyone), besides having nothing to dial.
    assert lines[1] == overdue("reach", "SCAS plugin 'scasclient' (lcmaps_scas_client.mod, line 7) names no "
                                        "endpoint, so it cannot ask any service; no SCAS or Argus endpoint in "
                                        "the LCMAPS database to test")


def test_bad_capath_is_a_usage_error(tmp_path: Path) -> None:
    node = scas_node(tmp_path / "wn", f"https://127.0.0.1:{free_port()}")
    code, lines = probe(node, "--reach", "--capath", "/nope")
    assert (code, lines) == (3, ["GLEXEC UNKNOWN - bad arguments: --capath /nope: no such file or directory"])


def test_probe_against_silent_service_times_out_with_the_stage(tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.yaml", RULES)
    with running_hostile(Hold()) as server:
        node = scas_node(tmp_path / "wn", f"https://127.0.0.1:{server.port}")
        args = ("--root", str(node), "--milestones", str(rules), "--milestone", "reach", "--as-of", "2010-06-08")
        start = time.monotonic()
        done = run_py(REPO / "probes" / "check_glexec", *args, "-t", "1.5", timeout=20)
        elapsed = time.monotonic() - start
        assert done.returncode == 3 and done.stderr == ""
        stage = f"timeout after 1.5s while TLS handshake with SCAS at 127.0.0.1:{server.port}"
        assert done.stdout.splitlines() == [f"GLEXEC UNKNOWN - reach UNKNOWN: {stage}",
                                            f"[UNKNOWN] reach: {stage} (deadline 2010-05-31)"]
        assert elapsed < 6
        done = run_py(REPO / "probes" / "check_glexec", *args, "-t", "1", "--timeout-state", "critical", timeout=20)
        assert done.returncode == 2
        assert done.stdout.startswith("GLEXEC CRITICAL - reach UNKNOWN: timeout after 1s while TLS handshake with SCAS")
