"""The facts a topology source yields, before merging, and how a source is read.

A source never raises for one bad record: it records one line per problem
(``where: what``) and goes on, so an import can still be written from the
rest. A source that cannot be read or parsed at all raises SourceError.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit, urlunsplit

from gridready import localfile
from gridready.deadline import Deadline
from gridready.errors import SourceError
from gridready.sources.http import TLSOptions, fetch, html_title, is_url, looks_like_html

#: Kinds of service the inventory has a field for.
STORAGE, XROOTD, FTS, SITE_BDII = "storage", "xrootd", "fts", "site-bdii"

#: Cap on one topology document (a whole-grid GOCDB or CRIC answer is a few MB).
MAX_BYTES = 64 * 1024 * 1024

_DATE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")


@dataclass(frozen=True)
class SiteFact:
    """What one source says about one site. ``tags`` are lower-case grids, scopes and VOs."""

    name: str
    source: str
    tier: int | None = None
    wlcg_name: str = ""
    tags: frozenset[str] = frozenset()
    bdii: str = ""
    #: Why the source says the site is not in production ("" when it is).
    excluded: str = ""
    #: The site's GOCDB primary key (GOCDB ``PRIMARY_KEY``, CRIC ``gocdb_pk``), "" if not given:
    #: it ties a CRIC rcsite named otherwise to its GOCDB site.
    gocdb_key: str = ""


def gocdb_key(value: object) -> str:
    """A GOCDB primary key as compared: ``"1234G0"``, ``1234`` and ``"1234g0"`` are one key; "" if none."""
    text = str(value).strip().upper() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text[:-2] if text.endswith("G0") else text


@dataclass(frozen=True)
class ServiceFact:
    """One service of a site: ``kind`` is one of STORAGE, XROOTD, FTS, SITE_BDII.

    ``address`` is the storage host, the xrootd door ``host:port``, the FTS URL
    or the site BDII ``ldap://host:port``.
    """

    site: str
    kind: str
    address: str
    source: str
    implementation: str = ""
    tags: frozenset[str] = frozenset()


@dataclass
class SourceFacts:
    """Everything one source yielded: ``label`` names it in comments and messages."""

    kind: str
    label: str
    sites: list[SiteFact] = field(default_factory=list)
    services: list[ServiceFact] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: The latest YYYY-MM-DD found in the source's own timestamps, if any.
    stamp: str | None = None

    def note_stamp(self, text: str | None) -> None:
        match = _DATE.match(text or "")
        if match and _real_day(match.group(1)) and (self.stamp is None or match.group(1) > self.stamp):
            self.stamp = match.group(1)


def _real_day(text: str) -> bool:
    """A source's 2010-13-45 (or year 0) is no date to write into the inventory's comments."""
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def label(location: str) -> str:
    """How a source is named in the output: a URL without credentials, or a file's base name.

    File names only, so the same data read from another directory gives the
    same text.
    """
    if is_url(location) or "://" in location:
        parts = urlsplit(location)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return os.path.basename(location.rstrip("/")) or location


def read(location: str, deadline: Deadline, tls: TLSOptions, *, accept: str,
         what: str) -> tuple[str, bytes]:
    """The bytes of ``location`` (http(s) URL or local file) and its content type.

    An HTML page (a login or error page instead of data) raises SourceError
    naming the location, as do unreadable files and HTTP errors.
    """
    if is_url(location):
        content_type, body = fetch(location, deadline, tls, accept=accept, max_bytes=MAX_BYTES)
        verb = "returned"
    else:
        content_type, verb = "", "is"
        body = localfile.read_bytes(location, max_bytes=MAX_BYTES, deadline=deadline, what=what)
    if looks_like_html(content_type, body):
        raise SourceError(f"{location}: {verb} an HTML page, not {what}{html_title(body)}")
    if not body.strip():
        raise SourceError(f"{location}: empty document, expected {what}")
    return content_type, body


def ldap_root(url: str) -> str:
    """``ldap://host:port`` of a site BDII URL such as ``ldap://h:2170/mds-vo-name=S,o=grid``; "" if none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() != "ldap" or not parts.hostname:
        return ""
    return f"ldap://{parts.hostname.lower()}:{port or 2170}"


def door(url: str, default_port: int = 1094) -> str:
    """``host:port`` of an xrootd endpoint URL or ``host[:port]``; "" when it names no host."""
    text = url.strip()
    if "://" not in text:
        text = "root://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return ""
    if not parts.hostname:
        return ""
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port or default_port}"


def url_host(url: str) -> str:
    """The lower-case host of ``url`` ("" when it has none)."""
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""
