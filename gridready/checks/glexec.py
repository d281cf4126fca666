"""The glexec check: is gLExec deployed on this worker node with SCAS or Argus?

Run on a worker node by the site's Nagios (the WLCG metric of the same test
is ``org.sam.glexec.WN-gLExec``). ``collect`` inspects the installation
under ``--root``: the binary, glexec.conf, the LCMAPS database and the
routing of its account policy; it tests the authorization service's TLS
endpoint when ``--reach`` is given or a milestone expects ``reachable``,
and runs ``glexec /usr/bin/id`` when ``--functional`` is given or a milestone
expects ``functional``. ``assess`` judges those facts against a milestone's
``expect``:

- ``authz``: services the account policy must go through (``[scas, argus]``:
  either); every way the policy can succeed must ask one of them.
- ``mode``: ``setuid`` (binary setuid root, payload runs as another user) or
  ``logging`` (log-only gLExec, no identity switch).
- ``reachable``: every configured SCAS/Argus endpoint completes a TLS handshake.
- ``functional``: the functional run succeeds (and switches identity in setuid mode).

Ownership and write permissions of the binary, glexec.conf and the LCMAPS
database are always checked: whoever can write them can become root.
glexec is local-only, so the sweep has nothing to run: sites send the
probe's JSON results, which ``gridready ingest`` stores.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from gridready.checks.interface import Assessment, Finding, Observation, PerfValue, Request, unknown_keys
from gridready.deadline import Deadline
from gridready.errors import CheckError, UsageError
from gridready.glexec import install, lcmaps
from gridready.glexec.install import ConfError, FileFacts
from gridready.models import Site

if TYPE_CHECKING:
    # ssl and subprocess are imported only by runs that dial out or execute glexec.
    from gridready.glexec.functional import Functional
    from gridready.glexec.reach import Reach

EXPECT_KEYS = ("authz", "mode", "reachable", "functional")
MODES = ("setuid", "logging")

FIX_INSTALL = ("Install gLExec on the worker nodes (glexec package): the binary owned by root with mode 4755, "
               "glexec.conf and the LCMAPS database owned by root and writable only by root")
FIX_AUTHZ = ("Route the LCMAPS account policy through SCAS (lcmaps_scas_client.mod -endpoint "
             "https://scas.host:8443) or Argus (lcmaps_c_pep.mod --pep-daemon-endpoint-url "
             "https://argus.host:8154/authz), with no fallback to a local mapping")


@dataclass(frozen=True)
class GlexecFacts:
    """Everything ``collect`` found; paths as the worker node sees them."""

    root: str
    binary: FileFacts | None
    binary_searched: tuple[str, ...]
    conf: FileFacts | None
    conf_searched: tuple[str, ...]
    settings: Mapping[str, str]
    conf_error: str | None
    #: The LCMAPS database path and who named it.
    db_path: str
    db_named_by: str
    db: FileFacts | None
    db_error: str | None
    routing: lcmaps.Routing | None
    #: Why the database was not evaluated although LCMAPS would accept it.
    db_unsupported: str | None = None
    #: None when not tested.
    reach: tuple[Reach, ...] | None = None
    functional: Functional | None = None


class GlexecCheck:
    name = "glexec"
    description = ("Checks gLExec on this worker node: binary and glexec.conf ownership and modes, "
                   "LCMAPS account policy through SCAS or Argus, optionally the authorization "
                   "service's TLS endpoint (--reach) and a functional run (--functional).")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("gLExec options (every path is looked up under --root)")
        group.add_argument("--root", metavar="DIR", help="the worker node's / (a chroot or test tree)")
        group.add_argument("--glexec", metavar="PATH",
                           help="the glexec binary (default: /usr/sbin/glexec, /opt/glite/sbin/glexec, "
                                "$GLITE_LOCATION/sbin/glexec)")
        group.add_argument("--conf", metavar="PATH",
                           help="glexec.conf (default: /etc/glexec.conf, /opt/glite/etc/glexec.conf)")
        group.add_argument("--lcmaps-db", metavar="PATH",
                           help=f"LCMAPS database (default: lcmaps_db_file of glexec.conf, "
                                f"else {install.DEFAULT_LCMAPS_DB})")
        group.add_argument("--proxy", metavar="FILE",
                           help="proxy for --functional (default: $X509_USER_PROXY, /tmp/x509up_u<uid>)")
        group.add_argument("--functional", action="store_true",
                           help="run glexec /usr/bin/id with the proxy and check the identity switch")
        group.add_argument("--reach", action="store_true",
                           help="TCP + TLS handshake with the SCAS/Argus endpoints of the LCMAPS database")
        group.add_argument("--capath", metavar="DIR|FILE",
                           help="CA certificates for --reach (default /etc/grid-security/certificates)")
        group.add_argument("--cert", metavar="FILE",
                           help="client certificate for --reach, for services that require one "
                                "(PEM; a proxy file holds its key too)")
        group.add_argument("--key", metavar="FILE", help="client key for --reach")
        group.add_argument("--host", metavar="NAME",
                           help="worker node name in results (default: this host's name)")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        problems = unknown_keys(expect, EXPECT_KEYS)
        authz = expect.get("authz", [])
        values = [authz] if isinstance(authz, str) else authz
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"authz: expected a list of services (scas, argus), got {authz!r}")
        else:
            problems += [f"authz: unknown service '{v}' (known: scas, argus)"
                         for v in values if v not in lcmaps.SERVICES]
        if "mode" in expect and expect["mode"] not in MODES:
            problems.append(f"mode: expected one of {', '.join(MODES)}, got {expect['mode']!r}")
        for key in ("reachable", "functional"):
            if key in expect and not isinstance(expect[key], bool):
                problems.append(f"{key}: expected true or false, got {expect[key]!r}")
        return problems

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        return []

    # --- collect: I/O only --------------------------------------------------

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        root = request.opt("root", "")
        if root and not os.path.isdir(root):
            raise UsageError(f"--root {root}: not a directory")
        glite = os.environ.get("GLITE_LOCATION") or None
        with deadline.during("inspecting the gLExec installation"):
            facts = _inspect(root, request, glite, deadline)
        want_reach = bool(request.opt("reach")) or any(e.get("reachable") for e in request.expects)
        want_functional = bool(request.opt("functional")) or any(e.get("functional") for e in request.expects)
        reach = None
        if want_reach:
            reach = _reach(facts, request, deadline)
        functional = None
        if want_functional and facts.binary is not None:
            functional = _functional(facts, request, deadline)
        facts = replace(facts, reach=reach, functional=functional)
        target = request.opt("host") or os.uname().nodename
        observation = Observation(target=target, data=facts, metrics=_metrics(facts), details=_details(facts))
        # Evidence rule: a milestone that would pass although what it needs
        # was not collected is UNKNOWN with the reason, never COMPLIANT.
        for expect in request.expects:
            gaps = evidence_gaps(facts, expect)
            if gaps and self.assess(observation, expect, request).passed:
                raise CheckError("; ".join(gaps))
        return observation

    # --- assess: pure ---------------------------------------------------------

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        facts: GlexecFacts = observation.data
        mode = expect.get("mode")
        authz = expect.get("authz") or []
        allowed = [authz] if isinstance(authz, str) else list(authz)
        findings: list[Finding] = []
        if facts.binary is None and facts.conf is None and facts.db is None:
            # Nothing of gLExec at all: one finding, not three consequences of it.
            findings.append(Finding(False, f"gLExec not installed: no glexec ({', '.join(facts.binary_searched)}), "
                                           f"no glexec.conf ({', '.join(facts.conf_searched)}), "
                                           f"no LCMAPS database ({facts.db_path})", FIX_INSTALL))
        else:
            findings += _binary_findings(facts, mode == "setuid")
            findings += _conf_findings(facts)
            findings += _db_findings(facts)
        findings += _authz_findings(facts, allowed)
        if expect.get("reachable") or request.opt("reach"):
            findings += _reach_findings(facts)
        if expect.get("functional") or facts.functional is not None:
            findings += _functional_findings(facts, mode)
        return Assessment(tuple(findings), summary=_summary(facts))


CHECK = GlexecCheck()


# --- collection helpers -------------------------------------------------------

def _inspect(root: str, request: Request, glite: str | None, deadline: Deadline) -> GlexecFacts:
    searched = install.binary_candidates(request.opt("glexec"), glite)
    binary = install.find(root, searched)
    conf_searched = install.conf_candidates(request.opt("conf"), binary.path if binary else None, glite)
    conf = install.find(root, conf_searched)
    settings: Mapping[str, str] = {}
    conf_error = None
    if conf is not None and conf.regular:
        try:
            settings = install.parse_conf(install.read_text(conf, deadline), conf.path)
        except ConfError as exc:
            conf_error = str(exc)

    db_path, named_by = request.opt("lcmaps_db"), "--lcmaps-db"
    if not db_path:
        db_path, named = install.lcmaps_db(settings.get("lcmaps_db_file"), binary.path if binary else None,
                                           conf.path if conf else None)
        named_by = f"lcmaps_db_file in {conf.path if conf else ''}" if named else "the default"
    db = install.find(root, (db_path,))
    db_error = unsupported = None
    routing = None
    if db is not None and db.regular:
        try:
            parsed = lcmaps.parse(install.read_text(db, deadline), db.path)
            routing = lcmaps.routing(parsed, lcmaps.policy_names(settings.get("lcmaps_get_account_policy")))
        except lcmaps.LcmapsUnsupported as exc:
            unsupported = str(exc)
        except (ConfError, lcmaps.LcmapsSyntaxError) as exc:
            db_error = str(exc)
    return GlexecFacts(root, binary, searched, conf, conf_searched, settings, conf_error,
                       db_path, named_by, db, db_error, routing, unsupported)


def _proxy(request: Request, root: str) -> str:
    """The real path of the proxy for the functional run; UsageError when there is none."""
    given = request.opt("proxy") or os.environ.get("X509_USER_PROXY") or f"/tmp/x509up_u{os.getuid()}"
    real = install.under(root, given)
    if not os.path.isfile(real):
        how = "" if request.opt("proxy") else " (give --proxy FILE)"
        raise UsageError(f"the functional test needs a proxy: {given} is not a file{how}")
    return real


def _reach(facts: GlexecFacts, request: Request, deadline: Deadline) -> tuple[Reach, ...]:
    from gridready.glexec.reach import TLSSettings, default_capath, handshake

    if facts.routing is None or not facts.routing.endpoints:
        return ()
    root = facts.root

    def real(path: str | None) -> str | None:
        return install.under(root, path) if path else None

    capath = real(request.opt("capath"))
    if capath is None:
        capath = default_capath(root)
    elif not os.path.exists(capath):
        raise UsageError(f"--capath {request.opt('capath')}: no such file or directory")
    cert = real(request.opt("cert"))
    key = real(request.opt("key"))
    if key and not cert:
        raise UsageError("--key needs --cert")
    ctx = TLSSettings(capath, cert, key).context()
    return tuple(handshake(e.service, e.url, e.default_port, ctx, deadline) for e in facts.routing.endpoints)


def _functional(facts: GlexecFacts, request: Request, deadline: Deadline) -> Functional:
    from gridready.glexec.functional import run

    assert facts.binary is not None
    return run(facts.binary.real, facts.binary.path, _proxy(request, facts.root), deadline)


def _metrics(facts: GlexecFacts) -> list[PerfValue]:
    out: list[PerfValue] = []
    counts: dict[str, int] = {}
    for r in facts.reach or ():
        counts[r.service] = counts.get(r.service, 0) + 1
        label = r.service if counts[r.service] == 1 else f"{r.service}_{counts[r.service]}"
        if r.connect_ms is not None:
            out.append(PerfValue(f"{label}_connect_ms", r.connect_ms, "ms", min=0))
        if r.tls_ms is not None:
            out.append(PerfValue(f"{label}_tls_ms", r.tls_ms, "ms", min=0))
    if facts.functional is not None:
        out.append(PerfValue("glexec_run_ms", facts.functional.elapsed_ms, "ms", min=0))
    return out


def _describe_file(f: FileFacts) -> str:
    return f"{f.path} (uid {f.uid}, gid {f.gid}, mode {f.perms})"


def _details(facts: GlexecFacts) -> list[str]:
    lines = [f"root: {facts.root}"] if facts.root else []
    lines.append(f"glexec: {_describe_file(facts.binary)}" if facts.binary
                 else f"glexec: not found ({', '.join(facts.binary_searched)})")
    lines.append(f"glexec.conf: {_describe_file(facts.conf)}" if facts.conf
                 else f"glexec.conf: not found ({', '.join(facts.conf_searched)})")
    lines.append(f"LCMAPS db ({facts.db_named_by}): " +
                 (_describe_file(facts.db) if facts.db else f"{facts.db_path} not found"))
    if facts.routing is not None:
        for route in facts.routing.routes:
            asked = ", ".join(lcmaps.LABELS[s] for s in sorted(route.services)) or "local mapping"
            lines.append(f"policy {route.policy}: {route} ({asked})")
    for r in facts.reach or ():
        lines.append(f"{lcmaps.LABELS[r.service]} {r.url}: " + (
            f"connected in {r.connect_ms} ms, {r.tls_version} handshake in {r.tls_ms} ms" if r.ok
            else str(r.error)))
    f = facts.functional
    if f is not None:
        lines.append(f"{' '.join(f.command)}: exit {f.exit_code} in {f.elapsed_ms} ms, ran as "
                     f"{f.identity or 'unknown'} (caller {f.caller})" + (f"; stderr: {f.stderr}" if f.stderr else ""))
    return lines


# --- assessment helpers ---------------------------------------------------------

def _ok(message: str) -> Finding:
    return Finding(True, message)


def _binary_findings(facts: GlexecFacts, want_setuid: bool) -> list[Finding]:
    b = facts.binary
    if b is None:
        return [Finding(False, f"glexec not found ({', '.join(facts.binary_searched)})", FIX_INSTALL)]
    mode = "4755" if want_setuid else "0755"
    fix = f"chown root:root {b.path} && chmod {mode} {b.path}"
    problems = b.problems("glexec", want_setuid)
    if problems:
        return [Finding(False, p, fix) for p in problems]
    return [_ok(f"glexec {b.path} root-owned, mode {b.perms}")]


def _conf_findings(facts: GlexecFacts) -> list[Finding]:
    c = facts.conf
    if c is None:
        return [Finding(False, f"glexec.conf not found ({', '.join(facts.conf_searched)})",
                        f"Create {facts.conf_searched[0]} with a [glexec] section (lcmaps_db_file, "
                        "user_white_list, ...), owned by root, mode 0640")]
    out = [Finding(False, p, f"chown root {c.path} && chmod 0640 {c.path}") for p in c.problems("glexec.conf")]
    if facts.conf_error:
        out.append(Finding(False, facts.conf_error, f"Fix {c.path}: an ini file with a [glexec] section"))
    return out


def _db_findings(facts: GlexecFacts) -> list[Finding]:
    d = facts.db
    if d is None:
        return [Finding(False, f"LCMAPS database {facts.db_path} ({facts.db_named_by}) not found",
                        "Install the LCMAPS database for gLExec and name it in lcmaps_db_file of glexec.conf")]
    out = [Finding(False, p, f"chown root {d.path} && chmod 0644 {d.path}")
           for p in d.problems("LCMAPS database")]
    if facts.db_error:
        out.append(Finding(False, f"LCMAPS database unusable: {facts.db_error}", f"Fix the syntax of {d.path}"))
    routing = facts.routing
    if routing is not None and routing.missing:
        out += [Finding(False, f"account policy '{name}' (lcmaps_get_account_policy) is not defined in {d.path}",
                        f"Define policy '{name}' in {d.path} or fix lcmaps_get_account_policy")
                for name in routing.missing]
    return out


def _authz_findings(facts: GlexecFacts, allowed: Sequence[str]) -> list[Finding]:
    routing = facts.routing
    if routing is None or not routing.routes:
        return []
    if not allowed:
        return [_ok(f"account policy: {routing.describe()}")]
    wanted = " or ".join(lcmaps.LABELS[a] for a in allowed)
    names = ", ".join(routing.policies)
    unnamed = [Finding(False, f"{lcmaps.LABELS[p.service or '']} plugin '{p.name}' ({p.module}, line {p.line}) "
                              "names no endpoint, so it cannot ask any service",
                       f"Add {'--pep-daemon-endpoint-url https://argus.host:8154/authz' if p.service == 'argus' else '-endpoint https://scas.host:8443'} "
                       f"to '{p.name}' in {facts.db_path}")
               for p in routing.no_endpoint if p.service in allowed]
    if unnamed:
        return unnamed
    if routing.local_only:
        return [Finding(False, f"local mapping only: account policy {names} maps users without {wanted}",
                        FIX_AUTHZ)]
    bypass = routing.bypassing(allowed)
    if not bypass:
        return [_ok(f"account policy through {routing.describe()}")]
    if len(bypass) == len(routing.routes):
        return [Finding(False, f"account policy {names} goes through {routing.describe()}, not {wanted}",
                        FIX_AUTHZ)]
    first = bypass[0]
    more = f" (+{len(bypass) - 1} more ways)" if len(bypass) > 1 else ""
    return [Finding(False, f"account policy {first.policy} can map users without {wanted}: {first}{more}",
                    FIX_AUTHZ)]


def _reach_findings(facts: GlexecFacts) -> list[Finding]:
    if facts.routing is None:
        return []  # the database finding already says why there is nothing to test
    if not facts.reach:
        return [Finding(False, "no SCAS or Argus endpoint in the LCMAPS database to test",
                        "Name the service with -endpoint (SCAS) or --pep-daemon-endpoint-url (Argus)")]
    out = []
    for r in facts.reach:
        label = lcmaps.LABELS[r.service]
        if r.ok:
            out.append(_ok(f"{label} {r.address} answers TLS ({r.tls_ms} ms)"))
        else:
            out.append(Finding(False, f"{label} {r.address if r.host else r.url}: {r.error}",
                               f"Check that {label} at {r.address} is up, open to the worker nodes and "
                               "has a host certificate from a CA in the worker nodes' CA directory"))
    return out


def _functional_findings(facts: GlexecFacts, mode: str | None) -> list[Finding]:
    f = facts.functional
    if f is None:
        if facts.binary is None:
            return []  # nothing to run; the binary finding says so
        return [Finding(False, "functional test not run", "Run the probe with --functional --proxy FILE")]
    run = " ".join(f.command)
    if f.exit_code != 0:
        said = f": {f.stderr}" if f.stderr else ""
        return [Finding(False, f"{run} failed with exit code {f.exit_code}, {f.meaning}{said}",
                        "See glexec's log (log_destination in glexec.conf) for the cause")]
    if f.identity is None:
        return [Finding(False, f"{run} succeeded but printed no uid",
                        "Check that glexec passes the payload's output through")]
    if mode == "setuid" and not f.switched:
        return [Finding(False, f"{run} ran as the caller's own identity {f.caller}: no identity switch",
                        "Install glexec setuid root and map pilot proxies to other accounts")]
    return [_ok(f"{run} ran as {f.identity}")]


def evidence_gaps(facts: GlexecFacts, expect: Mapping[str, Any]) -> list[str]:
    """Why ``expect``'s authz requirement cannot be judged from ``facts`` (empty when it can).

    Only the authorization routing can pass on missing evidence: every other
    expectation fails when its fact is absent. A database LCMAPS accepts but
    gridready does not evaluate, no account policy (or none with a rule), or
    a way that loads a module the database never defines gives no ground for
    a pass.
    """
    if not expect.get("authz") or facts.db is None or facts.db_error:
        return []
    where = f"LCMAPS database {facts.db_path}"
    if facts.db_unsupported:
        return [f"{where} not evaluated: {facts.db_unsupported}"]
    routing = facts.routing
    if routing is None:
        return []
    if not routing.policies:
        return [f"{where} defines no policy: no account policy to judge"]
    gaps = []
    if not routing.routes:
        gaps.append(f"account policy {', '.join(routing.policies)} in {facts.db_path} has no rule that can succeed: "
                    "nothing to judge")
    for p in routing.undefined:
        gaps.append(f"account policy uses '{p.name}' (line {p.line} of {facts.db_path}), which the database "
                    "does not define: LCMAPS would load a module of that name, which gridready cannot inspect")
    return gaps


def _summary(facts: GlexecFacts) -> str:
    parts = []
    if facts.binary is not None:
        parts.append(f"gLExec {facts.binary.path} mode {facts.binary.perms}")
    if facts.routing is not None:
        parts.append(facts.routing.describe())
    if facts.reach:
        parts.append(", ".join(f"{r.address} TLS {r.tls_ms} ms" for r in facts.reach if r.ok))
    if facts.functional is not None and facts.functional.identity is not None:
        parts.append(f"payload ran as {facts.functional.identity}")
    return ", ".join(p for p in parts if p)
