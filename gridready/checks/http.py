"""The ``http`` check: GET a site's endpoints over HTTPS and require a status, header or JSON value.

The URL comes from the milestone as a template: ``{host}`` is each storage host
of the site in the inventory (or each xrootd door host with ``hosts: doors``,
or ``-H HOST``), ``{site}`` the site name. The request follows the grid TLS
rules of ``gridready.sources.http`` (verification on, the grid CA directory
or ``--capath``, optional client certificate or proxy, no proxies from the
environment), is bounded by the probe's deadline and reads at most 1 MiB.
Redirects are not followed: a redirect is a status like any other.
``expect`` grammar::

    expect:
      url: "https://{host}:2880/"        # required; http:// is allowed but never needed by a grid milestone
      hosts: storage                     # storage (default) | doors: what {host} ranges over
      status: 200                        # a status or a list of accepted ones (default 200)
      headers:                           # optional: header name (any case) -> requirement
        Server: {matches: "dCache.*"}
      json:                              # optional: dotted path into a JSON body -> requirement
        storageservice.implementation: dCache

Requirements are the glue check's (``equals``, ``one_of``, ``matches``,
``version_at_least``; a scalar means ``equals``). A path segment that is a
number indexes a list; a list of values at the end of a path is each value.

Evidence rule: an endpoint that cannot be reached (refused, DNS, TLS
failure, timeout) is UNKNOWN with the reason; a reply with another status, a
header or JSON value that does not meet the requirement, a missing header or
path (a JSON ``null`` or blank string counts as missing), or a body that is not JSON when
``json`` is asked for *fails*, naming the URL. A site with no hosts for a ``{host}`` template is UNKNOWN.
"""

from __future__ import annotations

import argparse
import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gridready.checks.glue import Test, judge_values, requirements
from gridready.checks.hosts import add_host_option, hosts_problems, site_hosts
from gridready.checks.interface import Assessment, Finding, Observation, Request, unknown_keys
from gridready.deadline import Deadline
from gridready.errors import CheckError, SourceError, UsageError
from gridready.escape import terminal
from gridready.models import Site
from gridready.tlsoptions import add_tls_options

EXPECT_KEYS = ("url", "hosts", "status", "headers", "json")
PLACEHOLDERS = ("host", "site")
HOST_KINDS = ("storage", "doors")
MAX_BODY = 1024 * 1024
MAX_URLS = 200


@dataclass(frozen=True)
class Reply:
    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    problem: str | None = None


def _template_problems(url: Any) -> list[str]:
    if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
        return [f"url: expected an https:// URL template, got {url!r}"]
    try:
        fields = [f or "" for _, f, spec, conv in string.Formatter().parse(url) if f is not None or spec or conv]
    except ValueError as exc:
        return [f"url: bad template: {exc}"]
    return [f"url: unknown placeholder {{{f}}} (known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})"
            for f in fields if f not in PLACEHOLDERS]


def urls_for(expect: Mapping[str, Any], site: Site | None, site_name: str, given: Sequence[str]) -> list[str]:
    """The URLs a milestone asks for (template filled per host)."""
    template = str(expect["url"])
    if "{host}" not in template:
        return [template.format(site=site_name, host="")]
    hosts = site_hosts(site, str(expect.get("hosts", "storage")), given)
    return [template.format(host=h if ":" not in h else f"[{h}]", site=site_name) for h in hosts]


def _get(url: str, request: Request, deadline: Deadline) -> Reply:
    """One GET with the grid TLS rules of gridready.sources.http; failures to reach are ``problem``."""
    from gridready.sources import http as src

    tls = src.TLSOptions(capath=request.opt("capath"), cert=request.opt("cert"), key=request.opt("key"),
                         proxy=request.opt("proxy"))
    try:
        # The helpers are the fetch's own: same verification, credentials and error wording.
        verify = src._verify_setting(url, tls)
        cert = src._cert_setting(url, tls)
        import requests

        with requests.Session() as session:
            session.trust_env = False
            session.proxies.clear()
            with deadline.during(f"requesting {url}"), src._translated(url, tls, deadline):
                left = deadline.remaining()
                response = session.get(url, headers={"Accept": "application/json, */*;q=0.5"}, verify=verify,
                                       cert=cert, timeout=(left, left), stream=True, allow_redirects=False)
            try:
                with deadline.during(f"reading the response body from {url}"), src._translated(url, tls, deadline):
                    body = src._read_body(url, response, deadline, MAX_BODY)
            finally:
                response.close()
    except SourceError as exc:
        return Reply(problem=str(exc))
    headers = {k.lower(): v for k, v in response.headers.items()}
    return Reply(response.status_code, headers, body)


def json_values(document: Any, path: str) -> tuple[str, ...] | None:
    """Values at dotted ``path`` in ``document`` as strings; None when the path is absent.

    A JSON ``null`` or a blank string is no value (as an absent field in the
    srr check), so a requirement such as ``matches: ".*"`` is never met by it."""
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    items = node if isinstance(node, list) else [node]
    return tuple("true" if v is True else "false" if v is False else str(v)
                 for v in items if isinstance(v, (str, int, float)) and not (isinstance(v, str) and not v.strip()))


class HttpCheck:
    name = "http"
    description = ("GETs a site's endpoints (URL template over its storage or door hosts) over HTTPS with "
                   "the grid TLS rules and requires a status, header or JSON value.")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("http options")
        add_host_option(group)
        add_tls_options(group, "to verify the endpoints")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = unknown_keys(expect, EXPECT_KEYS)
        problems += _template_problems(expect.get("url"))
        problems += hosts_problems(expect, "storage")
        status = expect.get("status", 200)
        statuses = status if isinstance(status, list) else [status]
        if not statuses or not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599
                                   for s in statuses):
            problems.append(f"status: expected an HTTP status 100..599 or a list of them, got {status!r}")
        problems += requirements(expect.get("headers"), "headers")[1]
        problems += requirements(expect.get("json"), "json")[1]
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        return [{"host": None}]

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        site = request.inventory.site(request.site) if request.inventory and request.site else None
        given = [str(h) for h in request.opt("host", [])]
        zoned = [h for h in given if "%" in h]
        if zoned:
            # urllib3 hands "fe80::1%25eth0" to the resolver whole: a zone id can never be requested.
            raise UsageError(f"-H {terminal(zoned[0])}: an address with a zone id cannot be requested over "
                             "HTTP; give a routable address or a host name")
        wanted = list(dict.fromkeys(u for e in request.expects if "url" in e
                                    for u in urls_for(e, site, request.site or "", given)))
        if len(wanted) > MAX_URLS:
            raise CheckError(f"{len(wanted)} URLs to check, more than {MAX_URLS}")
        if not request.expects:
            raise UsageError("no milestone of check http applies")
        replies = {url: _get(url, request, deadline) for url in wanted}
        details = [f"GET {terminal(u)}: {r.problem or f'HTTP {r.status}'}" for u, r in replies.items()]
        target = ", ".join(wanted[:2]) + (f" (+{len(wanted) - 2})" if len(wanted) > 2 else "")
        return Observation(target=target or (request.site or ""), data=(site, given, replies), details=details)

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        site, given, replies = observation.data
        urls = urls_for(expect, site, request.site or "", given)
        if not urls:
            return Assessment(unknown=f"no {expect.get('hosts', 'storage')} hosts of {request.site} in the "
                                      "inventory to fill {host} (or give -H HOST)")
        status = expect.get("status", 200)
        statuses = status if isinstance(status, list) else [status]
        headers, _ = requirements(expect.get("headers"), "headers")
        paths, _ = requirements(expect.get("json"), "json")
        findings: list[Finding] = []
        unknown: list[str] = []
        for url in urls:
            reply: Reply = replies.get(url, Reply(problem=f"{url} not requested"))
            shown = terminal(url)
            if reply.problem is not None:
                unknown.append(reply.problem)
                continue
            bad = _judge(shown, reply, statuses, headers, paths)
            findings.append(bad or Finding(True, f"{shown}: HTTP {reply.status}"))
        summary = f"{len(urls)} endpoint{'s' if len(urls) != 1 else ''} answer as required"
        return Assessment(findings=tuple(findings), summary=summary, unknown="; ".join(unknown[:5]))


def _judge(url: str, reply: Reply, statuses: Sequence[int], headers: Mapping[str, tuple[Test, ...]],
           paths: Mapping[str, tuple[Test, ...]]) -> Finding | None:
    if reply.status not in statuses:
        return Finding(False, f"{url}: HTTP {reply.status}, expected {' or '.join(map(str, statuses))}",
                       f"make {url} answer HTTP {statuses[0]}")
    for name, tests in headers.items():
        value = reply.headers.get(name.lower())
        bad, _ = judge_values(url, f"header {name}", (value,) if value is not None else (), tests, "fail", "sends")
        if bad is not None:
            return bad
    if paths:
        try:
            document = json.loads(reply.body)
        except (ValueError, RecursionError):
            return Finding(False, f"{url}: the body is not JSON ({len(reply.body)} bytes)",
                           f"make {url} answer JSON")
        for path, tests in paths.items():
            bad, _ = judge_values(url, f"JSON {path}", json_values(document, path) or (), tests, "fail", "has")
            if bad is not None:
                return bad
    return None


CHECK = HttpCheck()
