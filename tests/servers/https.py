"""Test helper: a loopback HTTP(S) server with canned responses and a throwaway CA.

Usage from any test module::

    from tests.servers.https import Response, running_https

    routes = {"/optimizer": Response(body='{"optimizer": true}')}
    with running_https(routes, require_client_cert=True) as server:
        files = server.client_cert_files()              # .cert, .key, .combined
        tls = TLSOptions(capath=server.ca_file, cert=files.cert, key=files.key)
        fetch_json(server.url("/optimizer"), deadline, tls)

The server listens on 127.0.0.1 on a free port, serves from a thread, and is
shut down (including responses still dripping) when the block exits. Its
certificate comes from a trustme CA made for this server; ``ca_file`` holds that
CA, ``other_ca_file`` an unrelated one (for "untrusted server" tests).
``proxy_file()`` writes a real RFC 3820 proxy (proxy cert, its key, the user
cert), which the server accepts like a grid service does. Unknown paths get a
404 HTML page, like Apache or Tomcat in front of a grid service would send.
"""

from __future__ import annotations

import datetime
import secrets
import ssl
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

NOT_FOUND_PAGE = (b"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n"
                  b"<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
                  b"<p>The requested URL was not found on this server.</p>\n</body></html>\n")

# RFC 3820 ProxyCertInfo: SEQUENCE { proxyPolicy SEQUENCE { id-ppl-inheritAll } }
_PROXY_CERT_INFO_OID = "1.3.6.1.5.5.7.1.14"
_PROXY_CERT_INFO_INHERIT_ALL = bytes.fromhex("300c300a06082b06010505071501")


@dataclass(frozen=True)
class Response:
    """A canned response; ``drip`` sends the body one byte per ``drip`` seconds."""

    status: int = 200
    content_type: str = "application/json"
    body: bytes | str = b""
    delay_seconds: float = 0.0
    drip: float | None = None
    send_length: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class ClientFiles:
    """A client certificate and key, separately and combined in one PEM file."""

    cert: str
    key: str
    combined: str


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    client_subject: tuple[Any, ...] | None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        server = self.server
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        subject: Any = (peer or {}).get("subject")
        server.seen.append(SeenRequest("GET", self.path, dict(self.headers.items()), subject))
        route = server.routes.get(self.path) or server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            route = Response(status=404, content_type="text/html; charset=iso-8859-1",
                             body=NOT_FOUND_PAGE)
        if route.delay_seconds and server.stopping.wait(route.delay_seconds):
            return
        body = route.data
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.send_length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in route.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if route.drip is None:
            self.wfile.write(body)
            return
        for index in range(len(body)):
            if server.stopping.is_set():
                return
            self.wfile.write(body[index:index + 1])
            self.wfile.flush()
            server.stopping.wait(route.drip)

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass  # the client gave up (e.g. its deadline expired): expected in these tests

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, routes: Mapping[str, Response], context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = dict(routes)
        self.context = context
        self.stopping = threading.Event()
        self.seen: list[SeenRequest] = []

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the per-connection thread, so a client
        # that stalls or fails it cannot block the accept loop.
        connection: Any = request
        if self.context is not None:
            request.settimeout(10)
            try:
                connection = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
        try:
            handler: Any = self.RequestHandlerClass
            handler(connection, client_address, self)
        finally:
            if connection is not request:
                connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a broken client connection is part of the tests, not a server bug


class RunningServer:
    """What ``running_https`` yields: addresses, CA files and client credentials."""

    def __init__(self, server: _Server, ca: trustme.CA, workdir: Path, scheme: str) -> None:
        self._server = server
        self.ca = ca
        self.workdir = workdir
        self.scheme = scheme
        self.port = int(server.server_address[1])
        self.ca_file = str(workdir / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        self.other_ca_file = str(workdir / "other-ca.pem")
        trustme.CA().cert_pem.write_to_path(self.other_ca_file)

    @property
    def seen(self) -> list[SeenRequest]:
        """Requests received so far (method, path, headers, client cert subject)."""
        return self._server.seen

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def client_cert_files(self, name: str = "client", ca: trustme.CA | None = None) -> ClientFiles:
        """A user certificate issued by this server's CA (or ``ca``), written as PEM files."""
        issued = (ca or self.ca).issue_cert(f"{name}.users.example.org",
                                            common_name=f"gridready test user {name}")
        cert = self.workdir / f"{name}-cert.pem"
        key = self.workdir / f"{name}-key.pem"
        combined = self.workdir / f"{name}-combined.pem"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        combined.write_bytes(issued.cert_chain_pems[0].bytes() + issued.private_key_pem.bytes())
        for path in (key, combined):
            path.chmod(0o600)
        return ClientFiles(str(cert), str(key), str(combined))

    def proxy_file(self, name: str = "client") -> str:
        """An RFC 3820 proxy of a user cert from this CA: proxy cert, proxy key, user cert."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        user = self.client_cert_files(name)
        user_cert = x509.load_pem_x509_certificate(Path(user.cert).read_bytes())
        user_key: Any = serialization.load_pem_private_key(Path(user.key).read_bytes(), None)
        proxy_key = ec.generate_private_key(ec.SECP256R1())
        serial = secrets.randbits(31) + 1
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([*user_cert.subject,
                             x509.NameAttribute(NameOID.COMMON_NAME, str(serial))])
        proxy = (x509.CertificateBuilder()
                 .subject_name(subject)
                 .issuer_name(user_cert.subject)
                 .public_key(proxy_key.public_key())
                 .serial_number(serial)
                 .not_valid_before(now - datetime.timedelta(minutes=5))
                 .not_valid_after(now + datetime.timedelta(hours=12))
                 .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                              key_encipherment=True, data_encipherment=False,
                                              key_agreement=False, key_cert_sign=False,
                                              crl_sign=False, encipher_only=False,
                                              decipher_only=False), critical=True)
                 .add_extension(x509.UnrecognizedExtension(
                     x509.ObjectIdentifier(_PROXY_CERT_INFO_OID), _PROXY_CERT_INFO_INHERIT_ALL),
                     critical=True)
                 .sign(user_key, hashes.SHA256()))
        path = self.workdir / f"x509up_{name}"
        path.write_bytes(proxy.public_bytes(serialization.Encoding.PEM)
                         + proxy_key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.TraditionalOpenSSL,
                                                   serialization.NoEncryption())
                         + user_cert.public_bytes(serialization.Encoding.PEM))
        path.chmod(0o600)
        return str(path)


def _context(ca: trustme.CA, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
        # Grid services accept RFC 3820 proxies; OpenSSL does only when asked.
        context.verify_flags |= ssl.VERIFY_ALLOW_PROXY_CERTS
    return context


@contextmanager
def running_https(routes: Mapping[str, Response], *, require_client_cert: bool = False,
                  tls: bool = True) -> Iterator[RunningServer]:
    """Serve ``routes`` over HTTPS (``tls=False``: plain HTTP) on 127.0.0.1 until the block exits."""
    ca = trustme.CA()
    context = _context(ca, require_client_cert) if tls else None
    with tempfile.TemporaryDirectory(prefix="gridready-https-") as tmp:
        server = _Server(routes, context)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="test https server", daemon=True)
        thread.start()
        try:
            yield RunningServer(server, ca, Path(tmp), "https" if tls else "http")
        finally:
            server.stopping.set()
            server.shutdown()
            server.server_close()
            thread.join(5)


def running_http(routes: Mapping[str, Response]) -> Any:
    """Plain-HTTP variant of ``running_https`` (e.g. a dCache info service on :2288)."""
    return running_https(routes, tls=False)


__all__ = ["ClientFiles", "Response", "RunningServer", "SeenRequest", "running_http",
           "running_https"]
