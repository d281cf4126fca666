"""Hostile HTTPS sources, through the real probes (tests/hostile/runner.py).

An https:// source that redirects to plain http:// (or to another host), trust
anchors smuggled in through SSL_CERT_FILE and friends, a proxy from the
environment, a FIFO given as a credential file: each must end UNKNOWN (exit 3)
with one line naming the source, within the probe's time bound, and the
unauthenticated document must never be judged.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.runner import Run, assert_clean, run
from tests.servers.https import Response, RunningServer, running_http, running_https

REPO = Path(__file__).resolve().parents[2]
SRR = (REPO / "config" / "example" / "srr" / "BNL-ATLAS.json").read_text(encoding="utf-8")
AS_OF = ("--site", "BNL-ATLAS", "--as-of", "2010-06-08")
COMPLIANT = "DCACHE_VERSION OK - dcsrm.usatlas.bnl.gov: dcache-supported-release COMPLIANT"


@pytest.fixture(scope="module")
def plain() -> Iterator[RunningServer]:
    """The unauthenticated copy of a compliant SRR document."""
    with running_http({"/srr": Response(body=SRR)}) as server:
        yield server


@pytest.fixture(scope="module")
def secure(plain: RunningServer) -> Iterator[RunningServer]:
    with running_https({"/srr": Response(body=SRR),
                        "/to-http": Response(status=302, headers={"Location": plain.url("/srr")}),
                        "/to-http-301": Response(status=301, headers={"Location": plain.url("/srr")}),
                        "/hop": Response(status=307, headers={"Location": "/to-http"}),
                        }) as server:
        yield server


def srr(url: str, *options: str, env: dict[str, str] | None = None) -> Run:
    return run("check_dcache_version", "--srr", url, *AS_OF, *options, env=env, timeout=30)


def status_line(result: Run) -> str:
    return result.stdout.splitlines()[0]


def test_the_same_document_is_compliant_when_authenticated(secure: RunningServer) -> None:
    result = srr(secure.url("/srr"), "--capath", secure.ca_file)
    assert_clean(result, 0, within=10)
    assert status_line(result).startswith(COMPLIANT)


@pytest.mark.parametrize("path", ["/to-http", "/to-http-301", "/hop"])
def test_https_redirect_to_http_is_unknown(secure: RunningServer, plain: RunningServer, path: str) -> None:
    before = len(plain.seen)
    result = srr(secure.url(path), "--capath", secure.ca_file)
    assert_clean(result, 3, within=10)
    assert status_line(result) == (
        f"DCACHE_VERSION UNKNOWN - dcache-supported-release UNKNOWN: {secure.url(path)}: redirect to "
        f"{plain.url('/srr')} refused: it leaves HTTPS (the document would not be authenticated)")
    assert len(plain.seen) == before


def test_info_service_redirect_to_http_is_unknown(secure: RunningServer, plain: RunningServer) -> None:
    result = run("check_dcache_version", "--info", secure.url("/to-http"), "--se", "dcsrm.usatlas.bnl.gov",
                 *AS_OF, "--capath", secure.ca_file, timeout=30)
    assert_clean(result, 3, within=10, mentions=f"redirect to {plain.url('/srr')} refused: it leaves HTTPS")


def test_fts_redirect_to_http_is_unknown(plain: RunningServer) -> None:
    away = Response(status=302, headers={"Location": plain.url("/srr")})
    routes = {path: away for path in ("/config/links", "/config/se", "/optimizer", "/whoami")}
    with running_https(routes, require_client_cert=True) as fts:
        result = run("check_fts_channels", "--fts", fts.url("/"), "--capath", fts.ca_file,
                     "--proxy", fts.proxy_file(), "--site", "RAL-LCG2", "--as-of", "2010-06-08", timeout=30)
    assert_clean(result, 3, within=10, mentions=f"redirect to {plain.url('/srr')} refused: it leaves HTTPS")
    assert "COMPLIANT" not in result.stdout


def test_redirect_to_another_host_is_unknown(secure: RunningServer) -> None:
    target = f"https://localhost:{secure.port}/srr"
    with running_https({"/srr": Response(status=302, headers={"Location": target})}) as other:
        result = srr(other.url("/srr"), "--capath", other.ca_file)
    assert_clean(result, 3, within=10, mentions=f"{other.url('/srr')}: redirect to {target} refused: another host")


def hashed_dir(tmp_path: Path, ca_file: str) -> str:
    """A CA directory with ``ca_file`` under its OpenSSL subject hash, as SSL_CERT_DIR expects."""
    subject_hash = subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", ca_file],
                                  capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    (tmp_path / f"{subject_hash}.0").write_bytes(Path(ca_file).read_bytes())
    return str(tmp_path)


@pytest.mark.parametrize("capath", [None, "other"])
def test_ca_environment_does_not_make_a_server_trusted(secure: RunningServer, tmp_path: Path,
                                                       capath: str | None) -> None:
    env = {"SSL_CERT_FILE": secure.ca_file, "REQUESTS_CA_BUNDLE": secure.ca_file,
           "CURL_CA_BUNDLE": secure.ca_file, "SSL_CERT_DIR": hashed_dir(tmp_path, secure.ca_file)}
    options = ("--capath", secure.other_ca_file) if capath else ()
    result = srr(secure.url("/srr"), *options, env=env)
    assert_clean(result, 3, within=10,
                 mentions=f"{secure.url('/srr')}: TLS verification of the server certificate failed")


def test_proxy_from_the_environment_is_not_used(secure: RunningServer) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = {name: dead for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")}
    env.update(NO_PROXY="", no_proxy="")
    result = srr(secure.url("/srr"), "--capath", secure.ca_file, env=env)
    assert_clean(result, 0, within=10)
    assert status_line(result).startswith(COMPLIANT)


@pytest.mark.parametrize("option", ["--proxy", "--cert", "--key", "--capath"])
def test_fifo_as_credential_file_does_not_hang(secure: RunningServer, tmp_path: Path, option: str) -> None:
    fifo = tmp_path / "x509up_u0"
    os.mkfifo(fifo)
    files = secure.client_cert_files()
    extra = {"--proxy": ("--proxy", str(fifo)), "--cert": ("--cert", str(fifo), "--key", files.key),
             "--key": ("--cert", files.cert, "--key", str(fifo)), "--capath": ("--capath", str(fifo))}[option]
    if option != "--capath":
        extra = (*extra, "--capath", secure.ca_file)
    what = {"--proxy": "proxy file", "--cert": "client certificate", "--key": "client key",
            "--capath": "CA file"}[option]
    result = srr(secure.url("/srr"), *extra)
    assert_clean(result, 3, within=10, mentions=f"{secure.url('/srr')}: {fifo}: cannot read {what}: "
                                                 "a FIFO (named pipe), not a regular file")
