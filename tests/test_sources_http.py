"""HTTP(S) fetching against a real loopback TLS server with a throwaway CA."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from gridready.deadline import Deadline
from gridready.errors import CheckTimeout, SourceError
from gridready.sources.http import TLSOptions, fetch, fetch_json, fetch_text
from tests.servers.https import Response, RunningServer, running_http, running_https

REPO = Path(__file__).resolve().parent.parent

LINKS = [{"symbolicname": "CERN-RAL", "source": "srm://srm-atlas.cern.ch",
          "destination": "srm://srm-atlas.gridpp.rl.ac.uk", "min_active": 2, "max_active": 20,
          "nostreams": 1, "tcp_buffer_size": 0, "optimizer_mode": 1, "no_delegation": False}]

ROUTES = {
    "/config/links": Response(body=json.dumps(LINKS)),
    "/optimizer": Response(body="true"),
    "/login": Response(content_type="text/html; charset=utf-8",
                       body="<!DOCTYPE html>\n<html><head><title>FTS3 Web Monitoring</title>"
                            "</head><body>sign in</body></html>"),
    "/html-as-json": Response(body="<html><body>oops</body></html>"),
    "/broken": Response(body='{"links": [\n  {"source": "a",}\n]}'),
    "/empty": Response(body=""),
    "/gone": Response(status=500, content_type="text/plain", body="Internal error"),
    "/slow-drip": Response(body=b"[" + b"1," * 500 + b"1]", drip=0.02),
    "/slow-start": Response(body="[]", delay_seconds=5),
    "/huge": Response(body=b"[" + b"0," * 600_000 + b"0]"),
    "/huge-unannounced": Response(body=b"[" + b"0," * 600_000 + b"0]", send_length=False),
    "/gzip": Response(body=gzip.compress(json.dumps(LINKS).encode()),
                      headers={"Content-Encoding": "gzip"}),
    "/info": Response(content_type="application/xml; charset=iso-8859-1",
                      body="<dCache><version>production-1.9.5-19 \u00e9</version></dCache>"
                      .encode("iso-8859-1")),
}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_https(ROUTES) as running:
        yield running


@pytest.fixture(scope="module")
def cert_server() -> Iterator[RunningServer]:
    with running_https(ROUTES, require_client_cert=True) as running:
        yield running


def trusted(server: RunningServer, *, cert: str | None = None, key: str | None = None,
            proxy: str | None = None) -> TLSOptions:
    return TLSOptions(capath=server.ca_file, cert=cert, key=key, proxy=proxy)


def test_json_with_verification_on(server: RunningServer) -> None:
    assert fetch_json(server.url("/config/links"), Deadline(5), trusted(server)) == LINKS
    assert fetch_json(server.url("/optimizer"), Deadline(5), trusted(server)) is True
    assert server.seen[-1].headers["Accept"] == "application/json"


def test_ca_directory_like_grid_security_certificates(server: RunningServer,
                                                      tmp_path: Path) -> None:
    # OpenSSL looks CAs up in a directory by subject hash (<hash>.0 files), as
    # in /etc/grid-security/certificates; other files there are ignored.
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not available to compute the subject hash")
    subject_hash = subprocess.run([openssl, "x509", "-noout", "-subject_hash", "-in",
                                   server.ca_file], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
    (tmp_path / f"{subject_hash}.0").write_bytes(Path(server.ca_file).read_bytes())
    (tmp_path / f"{subject_hash}.signing_policy").write_text("# not a certificate\n")
    assert fetch_json(server.url("/optimizer"), Deadline(5),
                      TLSOptions(capath=str(tmp_path))) is True


@pytest.mark.parametrize("tls", ["other-ca", "default"])
def test_untrusted_server_certificate_fails(server: RunningServer, tls: str) -> None:
    options = TLSOptions(capath=server.other_ca_file) if tls == "other-ca" else TLSOptions()
    with pytest.raises(SourceError) as caught:
        fetch_json(server.url("/optimizer"), Deadline(5), options)
    message = str(caught.value)
    assert message.startswith(server.url("/optimizer") + ": ")
    assert "TLS verification of the server certificate failed" in message


def test_verification_can_be_turned_off(server: RunningServer) -> None:
    assert fetch_json(server.url("/optimizer"), Deadline(5), TLSOptions(verify=False)) is True


def test_missing_ca_path(server: RunningServer) -> None:
    with pytest.raises(SourceError, match="CA path /nonexistent/certificates does not exist"):
        fetch_json(server.url("/optimizer"), Deadline(5),
                   TLSOptions(capath="/nonexistent/certificates"))


@pytest.mark.parametrize("kind", ["cert+key", "combined", "proxy"])
def test_client_certificate_required_and_given(cert_server: RunningServer, kind: str) -> None:
    files = cert_server.client_cert_files()
    options = {"cert+key": trusted(cert_server, cert=files.cert, key=files.key),
               "combined": trusted(cert_server, cert=files.combined),
               "proxy": trusted(cert_server, proxy=cert_server.proxy_file())}[kind]
    assert fetch_json(cert_server.url("/config/links"), Deadline(5), options) == LINKS
    subject = dict(pair[0] for pair in cert_server.seen[-1].client_subject or ())
    assert subject["commonName"] != ""  # the server saw a verified client certificate


def test_client_certificate_required_but_missing(cert_server: RunningServer) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_json(cert_server.url("/config/links"), Deadline(5), trusted(cert_server))
    message = str(caught.value)
    assert message.startswith(cert_server.url("/config/links") + ": ")
    assert "client certificate" in message
    assert "\n" not in message


def test_client_certificate_from_another_ca_is_rejected(cert_server: RunningServer) -> None:
    stranger = cert_server.client_cert_files("stranger", ca=trustme.CA())
    with pytest.raises(SourceError, match="rejected the client certificate"):
        fetch_json(cert_server.url("/config/links"), Deadline(5),
                   trusted(cert_server, cert=stranger.cert, key=stranger.key))


def test_client_credential_file_problems(cert_server: RunningServer, tmp_path: Path) -> None:
    url = cert_server.url("/config/links")
    with pytest.raises(SourceError, match="/nonexistent/x509up_u0: cannot read proxy file: No such file"):
        fetch_json(url, Deadline(5), trusted(cert_server, proxy="/nonexistent/x509up_u0"))
    with pytest.raises(SourceError, match="without its certificate"):
        fetch_json(url, Deadline(5), trusted(cert_server, key=str(tmp_path / "key.pem")))
    encrypted = tmp_path / "userkey.pem"
    encrypted.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                         "-----END ENCRYPTED PRIVATE KEY-----\n")
    files = cert_server.client_cert_files()
    with pytest.raises(SourceError, match="encrypted private key"):
        fetch_json(url, Deadline(5), trusted(cert_server, cert=files.cert, key=str(encrypted)))


def test_html_page_instead_of_json(server: RunningServer) -> None:
    for path in ("/login", "/html-as-json"):
        with pytest.raises(SourceError, match="returned an HTML page, not JSON"):
            fetch_json(server.url(path), Deadline(5), trusted(server))
    with pytest.raises(SourceError, match=r"\(title: 'FTS3 Web Monitoring'\)"):
        fetch_json(server.url("/login"), Deadline(5), trusted(server))


def test_404_means_not_supported(server: RunningServer) -> None:
    url = server.url("/api/v1/srr")
    with pytest.raises(SourceError) as caught:
        fetch_json(url, Deadline(5), trusted(server))
    assert str(caught.value) == f"{url}: HTTP 404 Not Found (not supported by this server?)"


def test_other_http_errors(server: RunningServer) -> None:
    with pytest.raises(SourceError, match=r"/gone: HTTP 500 Internal Server Error$"):
        fetch(server.url("/gone"), Deadline(5), trusted(server))


def test_malformed_json_names_line_and_column(server: RunningServer) -> None:
    with pytest.raises(SourceError, match=r"/broken: malformed JSON at line 2 column 18: Expecting property name"):
        fetch_json(server.url("/broken"), Deadline(5), trusted(server))
    with pytest.raises(SourceError, match=r"/empty: empty document, expected JSON"):
        fetch_json(server.url("/empty"), Deadline(5), trusted(server))


@pytest.mark.parametrize(("path", "stage"), [
    ("/slow-drip", "reading the response body from"),
    ("/slow-start", "requesting"),
])
def test_slow_server_bounded_by_the_deadline(server: RunningServer, path: str,
                                             stage: str) -> None:
    timeout = 1.0
    started = time.monotonic()
    with pytest.raises(CheckTimeout) as caught:
        fetch_json(server.url(path), Deadline(timeout), trusted(server))
    elapsed = time.monotonic() - started
    assert elapsed < timeout + 1.0
    assert f"while {stage} {server.url(path)}" in str(caught.value)


@pytest.mark.parametrize("path", ["/huge", "/huge-unannounced"])
def test_oversize_body_is_capped(server: RunningServer, path: str) -> None:
    with pytest.raises(SourceError, match=r"exceeds the 1 MiB limit"):
        fetch_json(server.url(path), Deadline(5), trusted(server), max_bytes=1024 * 1024)
    assert len(fetch_json(server.url(path), Deadline(5), trusted(server))) == 600_001


def test_compressed_body_is_decoded(server: RunningServer) -> None:
    assert fetch_json(server.url("/gzip"), Deadline(5), trusted(server)) == LINKS


def test_fetch_returns_content_type_and_bytes(server: RunningServer) -> None:
    content_type, body = fetch(server.url("/optimizer"), Deadline(5), trusted(server))
    assert (content_type, body) == ("application/json", b"true")


def test_fetch_text_uses_the_charset(server: RunningServer) -> None:
    text = fetch_text(server.url("/info"), Deadline(5), trusted(server))
    assert text == "<dCache><version>production-1.9.5-19 \u00e9</version></dCache>"
    assert "application/xml" in server.seen[-1].headers["Accept"]


def test_plain_http_and_connection_refused() -> None:
    with running_http({"/info": Response(body="{}")}) as plain:
        assert fetch_json(plain.url("/info"), Deadline(5)) == {}
        port = plain.port
    with pytest.raises(SourceError) as caught:
        fetch_json(f"http://127.0.0.1:{port}/info", Deadline(5))
    assert str(caught.value) == (f"http://127.0.0.1:{port}/info: connection refused by "
                                 f"127.0.0.1:{port}")


def test_dns_failure() -> None:
    with pytest.raises(SourceError, match=r"cannot resolve host no-such-fts\.invalid"):
        fetch_json("https://no-such-fts.invalid:8446/optimizer", Deadline(5))


def test_local_json_file(tmp_path: Path) -> None:
    saved = tmp_path / "srr.json"
    saved.write_text('{"storageservice": {"implementationversion": "1.9.5-19"}}')
    assert fetch_json(str(saved), Deadline(5)) == \
        {"storageservice": {"implementationversion": "1.9.5-19"}}
    assert fetch_json(saved.as_uri(), Deadline(5))["storageservice"]
    srr = REPO / "config" / "example" / "srr" / "BNL-ATLAS.json"
    assert fetch_json(str(srr), Deadline(5))["storageservice"]["implementation"] == "dCache"
    with pytest.raises(SourceError, match=r"missing\.json: cannot read saved document: No such file"):
        fetch_json(str(tmp_path / "missing.json"), Deadline(5))
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "a": [1, 2,,]\n}')
    with pytest.raises(SourceError, match=r"broken\.json: malformed JSON at line 2 column 14: Expecting value"):
        fetch_json(str(broken), Deadline(5))
    page = tmp_path / "saved.json"
    page.write_text("<!doctype html><html><title>Error</title></html>")
    with pytest.raises(SourceError, match=r"saved\.json: is an HTML page, not JSON"):
        fetch_json(str(page), Deadline(5))


def test_not_a_url() -> None:
    with pytest.raises(SourceError, match="not an http:// or https:// URL"):
        fetch("ftp://example.org/x", Deadline(5))


def test_local_file_does_not_import_requests(tmp_path: Path) -> None:
    saved = tmp_path / "links.json"
    saved.write_text(json.dumps(LINKS))
    code = ("import sys\n"
            "from gridready.sources.http import fetch_json, fetch_text\n"
            "from gridready.deadline import Deadline\n"
            "assert 'requests' not in sys.modules and 'urllib3' not in sys.modules\n"
            f"assert fetch_json({str(saved)!r}, Deadline(5))[0]['symbolicname'] == 'CERN-RAL'\n"
            f"fetch_text({str(saved)!r}, Deadline(5))\n"
            "assert 'requests' not in sys.modules and 'urllib3' not in sys.modules\n"
            "assert 'ldap3' not in sys.modules\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


# --- redirects: never out of HTTPS, by default never to another host ------------------


def test_redirect_from_https_to_http_is_refused(server: RunningServer) -> None:
    with running_http({"/srr": Response(body='{"storageservice": {}}')}) as plain:
        target = plain.url("/srr")
        with running_https({"/srr": Response(status=302, headers={"Location": target})}) as secure:
            url = secure.url("/srr")
            with pytest.raises(SourceError) as caught:
                fetch_json(url, Deadline(5), trusted(secure))
        assert str(caught.value) == (f"{url}: redirect to {target} refused: it leaves HTTPS (the "
                                     "document would not be authenticated)")
        assert plain.seen == []  # the unauthenticated document was never even requested


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_within_https_and_host_is_followed(status: int) -> None:
    routes = {"/old": Response(status=status, headers={"Location": "/new?x=1"}),
              "/new": Response(body="[1]")}
    with running_https(routes) as secure:
        assert fetch_json(secure.url("/old"), Deadline(5), trusted(secure)) == [1]
        assert [seen.path for seen in secure.seen] == ["/old", "/new?x=1"]


def test_redirect_to_another_host_is_refused_unless_allowed() -> None:
    routes: dict[str, Response] = {"/new": Response(body="[2]")}
    with running_https(routes) as secure:
        target = f"https://localhost:{secure.port}/new"
        secure._server.routes["/old"] = Response(status=302, headers={"Location": target})
        url = secure.url("/old")
        with pytest.raises(SourceError) as caught:
            fetch_json(url, Deadline(5), trusted(secure))
        assert str(caught.value) == f"{url}: redirect to {target} refused: another host"
        assert fetch(url, Deadline(5), trusted(secure), other_hosts=True)[1] == b"[2]"


def test_redirect_from_http_to_https_on_the_same_host_is_followed() -> None:
    with running_https({"/srr": Response(body="[3]")}) as secure:
        with running_http({"/srr": Response(status=301, headers={"Location": secure.url("/srr")})}) as plain:
            assert fetch_json(plain.url("/srr"), Deadline(5), trusted(secure)) == [3]


@pytest.mark.parametrize("location, why", [
    ("ftp://127.0.0.1/srr", "redirect to ftp://127.0.0.1/srr refused: not an http(s) URL"),
    ("file:///etc/passwd", "redirect to file:///etc/passwd refused: not an http(s) URL"),
    ("http://127.0.0.1/\x1b[2J", r"redirect to http://127.0.0.1/\x1b[2J refused: it leaves HTTPS"),
    (None, "redirect without a Location header"),
])
def test_bad_redirect_targets(location: str | None, why: str) -> None:
    headers = {"Location": location} if location is not None else {}
    with running_https({"/srr": Response(status=302, headers=headers)}) as secure:
        with pytest.raises(SourceError) as caught:
            fetch_json(secure.url("/srr"), Deadline(5), trusted(secure))
        assert str(caught.value).startswith(f"{secure.url('/srr')}: {why}")


def test_redirect_loop_is_bounded() -> None:
    with running_https({"/a": Response(status=302, headers={"Location": "/b"}),
                        "/b": Response(status=302, headers={"Location": "/a"})}) as secure:
        with pytest.raises(SourceError, match=r"/a: more than 5 redirects$"):
            fetch_json(secure.url("/a"), Deadline(5), trusted(secure))
        assert len(secure.seen) == 6


# --- trust anchors and proxies do not come from the environment -------------------------


CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.mark.parametrize("capath", ["default", "other-ca"])
def test_ca_environment_variables_do_not_add_trust(server: RunningServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capath: str) -> None:
    # Each variable names a bundle that would make the test server trusted.
    for name in CA_VARIABLES:
        monkeypatch.setenv(name, server.ca_file)
    hashed = tmp_path / "certs"
    hashed.mkdir()
    openssl = shutil.which("openssl")
    if openssl is not None:
        subject_hash = subprocess.run([openssl, "x509", "-noout", "-subject_hash", "-in", server.ca_file],
                                      capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        (hashed / f"{subject_hash}.0").write_bytes(Path(server.ca_file).read_bytes())
    monkeypatch.setenv("SSL_CERT_DIR", str(hashed))
    options = TLSOptions() if capath == "default" else TLSOptions(capath=server.other_ca_file)
    with pytest.raises(SourceError, match="TLS verification of the server certificate failed"):
        fetch_json(server.url("/optimizer"), Deadline(5), options)
    # ...while --capath itself still works with the variables set.
    assert fetch_json(server.url("/optimizer"), Deadline(5), trusted(server)) is True


def test_proxy_environment_variables_are_not_used(server: RunningServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    # Through the dead proxy this would be "connection refused"; directly it works.
    assert fetch_json(server.url("/optimizer"), Deadline(5), trusted(server)) is True
    with running_http({"/info": Response(body="{}")}) as plain:
        assert fetch_json(plain.url("/info"), Deadline(5)) == {}


# --- local credential and CA files: regular files only ------------------------------------


@pytest.mark.parametrize("role", ["proxy", "cert", "key", "capath"])
def test_fifo_as_credential_or_ca_file_fails_at_once(cert_server: RunningServer, tmp_path: Path,
                                                     role: str) -> None:
    fifo = tmp_path / "x509up_u0"
    os.mkfifo(fifo)
    files = cert_server.client_cert_files()
    options = {"proxy": trusted(cert_server, proxy=str(fifo)),
               "cert": trusted(cert_server, cert=str(fifo), key=files.key),
               "key": trusted(cert_server, cert=files.cert, key=str(fifo)),
               "capath": TLSOptions(capath=str(fifo))}[role]
    what = {"proxy": "proxy file", "cert": "client certificate", "key": "client key",
            "capath": "CA file"}[role]
    url = cert_server.url("/config/links")
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        fetch_json(url, Deadline(5), options)
    assert time.monotonic() - started < 2
    assert str(caught.value) == f"{url}: {fifo}: cannot read {what}: a FIFO (named pipe), not a regular file"


def test_local_document_fifo_and_device_fail_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "srr.json"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match=r"srr\.json: cannot read saved document: a FIFO"):
        fetch_json(str(fifo), Deadline(5))
    with pytest.raises(SourceError, match=r"^/dev/zero: cannot read saved document: a character device"):
        fetch_text("/dev/zero", Deadline(5))


def test_deeply_nested_json_is_one_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SourceError, match=r"deep\.json: JSON nested too deeply$"):
        fetch_json(str(deep), Deadline(5))
