"""HTTP(S) fetching of JSON and text documents for the checks.

Used for FTS3 REST (X.509 client certificate or proxy), the WLCG storage
resource reporting (SRR) JSON, and the dCache info service. A saved copy of
such a document can be given as a local file path instead of a URL.

The whole request, including a server that trickles its body one byte at a
time, is bounded by the check's ``Deadline``; the body is capped in size.
Local files (saved documents, client certificates, keys, proxies, a CA bundle)
are read through :mod:`gridready.localfile`, so a FIFO or a device given as
``--proxy`` fails at once instead of hanging.

Trust: TLS verification is on by default. The trust anchors are ``--capath``
or, without it, the grid CA directory (/etc/grid-security/certificates) if it
exists, else OpenSSL's compiled-in system store; the path is always passed
explicitly, so neither ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (which OpenSSL's
default paths honour) nor ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` change which
CAs are trusted. Other environment settings (``HTTPS_PROXY``, .netrc) are
ignored too, so a probe's result depends only on its arguments.

Redirects are followed by this module, not by requests, at most
:data:`MAX_REDIRECTS`: one that leaves HTTPS (an ``https://`` source sending
the client to ``http://``) or, unless the caller allows it, the host is
refused with a SourceError naming both URLs, so a check is never judged on a
document nobody authenticated. requests is imported only when a URL is
actually fetched.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gridready import __version__
from gridready.errors import CheckTimeout, SourceError
from gridready.escape import one_line
from gridready.localfile import is_regular_file, read_bytes, size_text

if TYPE_CHECKING:
    from gridready.deadline import Deadline

GRID_CA_DIR = "/etc/grid-security/certificates"
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
#: Redirects followed before giving up (requests' default of 30 is far more than a service needs).
MAX_REDIRECTS = 5
#: Largest client certificate, key, proxy or CA bundle file read (a proxy with its chain is a few KiB).
PEM_MAX_BYTES = 1024 * 1024
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024
_TEXT_ACCEPT = "application/xml, text/xml, text/plain;q=0.9, */*;q=0.1"


@dataclass(frozen=True)
class TLSOptions:
    """How to verify the server and which client credentials to present.

    ``capath`` is a hashed CA directory (like /etc/grid-security/certificates)
    or a CA bundle file; None means the grid CA directory if it exists, else
    the system's OpenSSL CA store. ``proxy`` is an X.509 proxy (certificate,
    key and chain in one PEM file) and wins over ``cert``/``key``; ``cert``
    alone must then hold the key too.
    """

    capath: str | None = None
    cert: str | None = None
    key: str | None = None
    proxy: str | None = None
    verify: bool = True


def is_url(location: str) -> bool:
    """Whether ``location`` is an http(s) URL rather than a local file path."""
    return location.lower().startswith(("http://", "https://"))


def _verify_setting(url: str, tls: TLSOptions) -> bool | str:
    """False (verification off) or the explicit CA file/directory to trust.

    Never True: requests would then fall back to its own bundle, and OpenSSL's
    default paths follow ``SSL_CERT_FILE``/``SSL_CERT_DIR``.
    """
    if not tls.verify:
        from urllib3.exceptions import InsecureRequestWarning

        # The operator turned verification off on purpose; urllib3's warning on
        # every request would only add noise to the probe's output.
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        return False
    if tls.capath is not None:
        if not os.path.exists(tls.capath):
            raise SourceError(f"{url}: CA path {tls.capath} does not exist")
        if not os.path.isdir(tls.capath):
            # OpenSSL would block reading a FIFO; this refuses anything irregular.
            _read_pem(url, "CA file", tls.capath)
        return tls.capath
    anchor = default_trust_anchor()
    if anchor is None:
        raise SourceError(f"{url}: no CA certificates to verify the server with ({no_trust_anchor()}); "
                          "give a CA path")
    return anchor


def default_trust_anchor() -> str | None:
    """The CA directory or file trusted without ``--capath``, or None when the machine has none.

    The grid CA directory if it exists, else OpenSSL's compiled-in CA file,
    else its compiled-in CA directory: never ``cafile``/``capath`` of
    ``ssl.get_default_verify_paths()``, which follow ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR``. Shared by every TLS client of gridready (HTTPS sources,
    the STOMP broker).
    """
    if os.path.isdir(GRID_CA_DIR):
        return GRID_CA_DIR
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.openssl_cafile and is_regular_file(paths.openssl_cafile):
        return paths.openssl_cafile
    if paths.openssl_capath and os.path.isdir(paths.openssl_capath):
        return paths.openssl_capath
    return None


def no_trust_anchor() -> str:
    """What was looked for when :func:`default_trust_anchor` found nothing (for the error line)."""
    import ssl

    return f"no {GRID_CA_DIR}, no {ssl.get_default_verify_paths().openssl_cafile}"


def _read_pem(url: str, what: str, path: str) -> bytes:
    """The content of a PEM file, through localfile (regular file, size cap)."""
    try:
        return read_bytes(path, max_bytes=PEM_MAX_BYTES, what=what)
    except SourceError as exc:
        raise SourceError(f"{url}: {exc}") from None


def _readable_pem(url: str, what: str, path: str) -> None:
    if b"ENCRYPTED" in _read_pem(url, what, path):
        # OpenSSL would prompt for a pass phrase on the terminal, which a
        # Nagios plugin does not have.
        raise SourceError(f"{url}: {what} {path} holds an encrypted private key; "
                          "use an unencrypted key or a proxy")


def _cert_setting(url: str, tls: TLSOptions) -> str | tuple[str, str] | None:
    if tls.proxy:
        _readable_pem(url, "proxy file", tls.proxy)
        return tls.proxy
    if tls.key and not tls.cert:
        raise SourceError(f"{url}: a client key ({tls.key}) was given without its certificate")
    if tls.cert and tls.key:
        _readable_pem(url, "client certificate", tls.cert)
        _readable_pem(url, "client key", tls.key)
        return (tls.cert, tls.key)
    if tls.cert:
        _readable_pem(url, "client certificate", tls.cert)
        return tls.cert
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (requests and urllib3 nest deeply)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__,
                  *current.args]
        pending.extend(item for item in nested if isinstance(item, BaseException))


def _tls_problem(url: str, tls: TLSOptions, exc: BaseException) -> str | None:
    """A message for a TLS failure anywhere in ``exc``'s chain, or None."""
    import ssl

    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or cause.reason or str(cause)
            return (f"{url}: TLS verification of the server certificate failed ({reason}); "
                    "is its CA in the CA path?")
    for cause in _causes(exc):
        if not isinstance(cause, ssl.SSLError):
            continue
        text = str(cause)
        lowered = text.lower()
        if "certificate_verify_failed" in lowered:
            return f"{url}: TLS verification of the server certificate failed ({text})"
        if "alert" in lowered and ("certificate" in lowered or "unknown ca" in lowered
                                   or "handshake failure" in lowered):
            if tls.proxy or tls.cert:
                return f"{url}: the server rejected the client certificate ({cause.reason or text})"
            return (f"{url}: the server requires a client certificate and none was given "
                    f"({cause.reason or text}); use a certificate and key or a proxy")
        if isinstance(cause, ssl.SSLEOFError) or "eof occurred" in lowered:
            # With TLS 1.3 the server judges the client certificate after the
            # client thinks the handshake is done; depending on timing the
            # client then sees the alert or just the server hanging up.
            if tls.proxy or tls.cert:
                return (f"{url}: the server closed the TLS connection: it probably rejected "
                        f"the client certificate ({cause.reason or text})")
            return (f"{url}: the server closed the TLS connection: it probably requires a client "
                    f"certificate and none was given ({cause.reason or text}); "
                    "use a certificate and key or a proxy")
        if "pem lib" in lowered or "key values mismatch" in lowered or "no start line" in lowered:
            return f"{url}: cannot load the client certificate/key ({cause.reason or text})"
        return f"{url}: TLS error: {cause.reason or text}"
    return None


def _where(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if parts.scheme.lower() == "https" else 80
    return f"{parts.hostname}:{port or default}"


def _translate(url: str, tls: TLSOptions, exc: Exception, deadline: Deadline) -> Exception:
    """Turn a requests/urllib3/socket failure into CheckTimeout or a one-line SourceError."""
    import requests
    import urllib3.exceptions

    if isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
        return deadline.timeout()
    problem = _tls_problem(url, tls, exc)
    if problem:
        return SourceError(problem)
    causes = list(_causes(exc))
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return SourceError(f"{url}: connection refused by {_where(url)}")
    if any(isinstance(cause, urllib3.exceptions.NameResolutionError) for cause in causes):
        return SourceError(f"{url}: cannot resolve host {urlsplit(url).hostname}")
    if any(isinstance(cause, (ConnectionResetError, BrokenPipeError)) for cause in causes) \
            or "RemoteDisconnected" in str(exc):
        hint = ""
        if url.lower().startswith("https") and not (tls.proxy or tls.cert):
            hint = " (does it require a client certificate?)"
        return SourceError(f"{url}: connection closed by the server{hint}")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return SourceError(f"{url}: invalid URL")
    if isinstance(exc, requests.TooManyRedirects):
        return SourceError(f"{url}: too many redirects")
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return SourceError(f"{url}: connection broken while reading the response: {exc}")
    return SourceError(f"{url}: request failed: {exc}")


def _status_problem(url: str, status: int, reason: str) -> str:
    from http import HTTPStatus

    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    text = f"{url}: HTTP {status} {reason}".rstrip()
    if status == 404:
        return text + " (not supported by this server?)"
    if status in (401, 403):
        return text + " (is the client certificate or proxy authorised?)"
    return text


def _read_body(url: str, response: Any, deadline: Deadline, max_bytes: int) -> bytes:
    """The body, read in pieces, each bounded by what is left of the deadline.

    The socket timeout alone is per read, so a server dripping a byte at a time
    would never trip it; re-arming it from the deadline before every read (and
    reading at most one network chunk at a time) bounds the total.
    """
    length = response.headers.get("Content-Length")
    if length and length.strip().isdigit() and int(length) > max_bytes:
        raise SourceError(f"{url}: response of {int(length)} bytes exceeds the "
                          f"{size_text(max_bytes)} limit")
    raw = response.raw
    read_one = getattr(raw, "read1", None)  # urllib3 >= 2; older: read(n) may wait for n bytes
    pieces: list[bytes] = []
    total = 0
    while True:
        left = deadline.remaining()
        connection = getattr(raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(left)
        piece = read_one(_CHUNK, decode_content=True) if read_one else \
            raw.read(_CHUNK, decode_content=True)
        if not piece:
            return b"".join(pieces)
        total += len(piece)
        if total > max_bytes:
            raise SourceError(f"{url}: response body exceeds the {size_text(max_bytes)} limit")
        pieces.append(piece)


@contextmanager
def _translated(url: str, tls: TLSOptions, deadline: Deadline) -> Iterator[None]:
    """Map client-library failures inside the current stage (so a timeout names it)."""
    import requests
    import urllib3.exceptions

    try:
        yield
    except (CheckTimeout, SourceError):
        raise
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _translate(url, tls, exc, deadline) from None


def _redirect_target(url: str, current: str, location: str | None, other_hosts: bool) -> str:
    """The absolute URL a redirect from ``current`` points to, if it may be followed.

    Raises SourceError (naming ``url`` and the target) for a redirect without
    a Location, to another scheme than http/https, from HTTPS to plain HTTP,
    or to another host unless ``other_hosts``.
    """
    from urllib.parse import urljoin

    if not location:
        raise SourceError(f"{url}: redirect without a Location header")
    target = urljoin(current, location.strip())
    shown = one_line(target)
    parts, here = urlsplit(target), urlsplit(current)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(f"{url}: redirect to {shown} refused: not an http(s) URL")
    if urlsplit(url).scheme.lower() == "https" and scheme != "https":
        raise SourceError(f"{url}: redirect to {shown} refused: it leaves HTTPS (the document "
                          "would not be authenticated)")
    if not other_hosts and (parts.hostname or "").lower() != (here.hostname or "").lower():
        raise SourceError(f"{url}: redirect to {shown} refused: another host")
    return target


def fetch(url: str, deadline: Deadline, tls: TLSOptions = TLSOptions(), *,
          accept: str = "application/json", max_bytes: int = DEFAULT_MAX_BYTES,
          other_hosts: bool = False) -> tuple[str, bytes]:
    """GET ``url``; returns (content type, body). Errors: SourceError or CheckTimeout.

    Redirects are followed (at most MAX_REDIRECTS) only within HTTPS when
    ``url`` is HTTPS, and only on the same host unless ``other_hosts``.
    """
    if not is_url(url):
        raise SourceError(f"{url}: not an http:// or https:// URL")
    verify = _verify_setting(url, tls)
    cert = _cert_setting(url, tls)
    import requests

    session = requests.Session()
    session.trust_env = False  # no proxies, CA bundle or .netrc from the environment
    session.proxies.clear()
    headers = {"Accept": accept, "User-Agent": f"gridready/{__version__}"}
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            with deadline.during(f"requesting {current}"), _translated(current, tls, deadline):
                left = deadline.remaining()
                response = session.get(current, headers=headers, verify=verify, cert=cert,
                                       timeout=(left, left), stream=True, allow_redirects=False)
            if response.status_code not in _REDIRECT_STATUSES:
                break
            location = response.headers.get("Location")
            response.close()
            current = _redirect_target(url, current, location, other_hosts)
        else:
            raise SourceError(f"{url}: more than {MAX_REDIRECTS} redirects")
        try:
            if response.status_code >= 400:
                raise SourceError(_status_problem(current, response.status_code, response.reason))
            content_type = response.headers.get("Content-Type", "")
            with deadline.during(f"reading the response body from {current}"), \
                    _translated(current, tls, deadline):
                body = _read_body(current, response, deadline, max_bytes)
        finally:
            response.close()
    finally:
        session.close()
    return content_type, body


def local_path(location: str) -> str:
    """The file a non-URL source names: a plain path, or the path of a ``file://`` URI."""
    return urlsplit(location).path if location.lower().startswith("file://") else location


def read_local(path: str, deadline: Deadline, max_bytes: int, what: str = "saved document") -> bytes:
    """A local regular file (or file:// URI), at most ``max_bytes``, read under the deadline.

    Through localfile: a FIFO, device or directory is refused at once;
    ``what`` names the file's role in messages (``SRR file``).
    """
    name = local_path(path)
    with deadline.during(f"reading {name}"):
        return read_bytes(name, max_bytes=max_bytes, deadline=deadline, what=what)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def html_title(body: bytes) -> str:
    """`` (title: '...')`` of an HTML page (its first 80 characters), or "" without a title."""
    match = re.search(rb"<title[^>]*>(.*?)</title>", body[:64 * 1024], re.I | re.S)
    if not match:
        return ""
    title = " ".join(match.group(1).decode("utf-8", "replace").split())
    return f" (title: {title[:80]!r})" if title else ""


def looks_like_html(content_type: str, body: bytes) -> bool:
    """Whether a body meant to be JSON is really an (error or login) HTML page."""
    if _media_type(content_type) in ("text/html", "application/xhtml+xml"):
        return True
    start = body.lstrip()[:64].lower()
    return start.startswith((b"<!doctype html", b"<html"))


def parse_json(body: bytes, content_type: str, where: str, *, from_url: bool = True) -> Any:
    """Decode a JSON document; HTML pages and malformed JSON raise SourceError."""
    if looks_like_html(content_type, body):
        verb = "returned" if from_url else "is"
        raise SourceError(f"{where}: {verb} an HTML page, not JSON{html_title(body)}")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{where}: JSON is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise SourceError(f"{where}: empty document, expected JSON")
    try:
        return json.loads(text)
    except RecursionError:
        # json recurses once per nesting level; ``[[[[...`` must not be a traceback.
        raise SourceError(f"{where}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{where}: malformed JSON at line {exc.lineno} column {exc.colno}: "
                          f"{exc.msg}") from None
    except ValueError:
        # Python refuses to convert an integer of more than 4300 digits (sys.int_info); no
        # producer of these documents writes one.
        raise SourceError(f"{where}: JSON holds a number too long to read "
                          f"(more than {sys.get_int_max_str_digits()} digits)") from None


def fetch_json(url: str, deadline: Deadline, tls: TLSOptions = TLSOptions(), *,
               accept: str = "application/json",
               max_bytes: int = DEFAULT_MAX_BYTES, what: str = "saved document") -> Any:
    """The JSON document at ``url`` (http/https) or in a local file (``what`` names it in messages)."""
    if is_url(url):
        content_type, body = fetch(url, deadline, tls, accept=accept, max_bytes=max_bytes)
        return parse_json(body, content_type, url)
    return parse_json(read_local(url, deadline, max_bytes, what), "", local_path(url), from_url=False)


def fetch_text(url: str, deadline: Deadline, tls: TLSOptions = TLSOptions(), *,
               accept: str = _TEXT_ACCEPT, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The text (XML, plain) at ``url`` or in a local file, decoded per its charset."""
    if not is_url(url):
        return read_local(url, deadline, max_bytes).decode("utf-8", "replace")
    content_type, body = fetch(url, deadline, tls, accept=accept, max_bytes=max_bytes)
    match = re.search(r"charset=\"?([A-Za-z0-9._-]+)", content_type, re.I)
    charset = match.group(1) if match else "utf-8"
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")
