"""The LCMAPS database (``lcmaps-glexec.db``): parser and account-policy routing.

The file defines plugins and policies::

    path = /usr/lib64/lcmaps
    scasclient = "lcmaps_scas_client.mod"
                 " -capath /etc/grid-security/certificates"
                 " -endpoint https://scas.example.org:8443"
    glexec_get_account:
    verifyproxy -> scasclient
    scasclient -> posix_enf | bad

A plugin is a module name plus options, written as quoted fragments that are
concatenated. A policy is a state machine: it starts at the first rule's
plugin, ``a -> b | c`` goes to ``b`` when ``a`` succeeds and to ``c`` when it
fails, and the policy succeeds when a plugin with nowhere further to go
succeeds. So "routes through SCAS" is a property of every successful path,
not of the plugins merely being listed: ``verifyproxy -> scasclient |
localaccount`` falls back to a local mapping whenever SCAS says no.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

#: Authorization services by the module that calls them, with the option that
#: names the service endpoint and the port a URL without one implies.
SERVICES: Mapping[str, tuple[re.Pattern[str], tuple[str, ...], int]] = MappingProxyType({
    "scas": (re.compile(r"(?:lib)?lcmaps_scas_client(?:\.mod|\.so(?:\.\d+)*)\Z"), ("-endpoint",), 8443),
    "argus": (re.compile(r"(?:lib)?lcmaps_c_pep(?:\.mod|\.so(?:\.\d+)*)\Z"),
              ("--pep-daemon-endpoint-url", "-pep-daemon-endpoint-url"), 8154),
})

_DUMMY_BAD = re.compile(r"(?:lib)?lcmaps_dummy_bad(?:\.mod|\.so(?:\.\d+)*)\Z")

#: What the services are called in messages.
LABELS: Mapping[str, str] = MappingProxyType({"scas": "SCAS", "argus": "Argus"})

# A policy with many alternatives has exponentially many paths; real
# databases have a handful. Past this the file is treated as malformed
# rather than letting a probe spin.
MAX_ROUTES = 256


class LcmapsSyntaxError(ValueError):
    """The database cannot be understood; the message is ``path:line: what``."""


@dataclass(frozen=True)
class Plugin:
    """A plugin definition: ``name = "module" " -opt value"...``."""

    name: str
    module: str
    args: tuple[str, ...]
    line: int

    @property
    def always_fails(self) -> bool:
        """``lcmaps_dummy_bad.mod`` exists to end a policy in failure: it never succeeds."""
        return bool(_DUMMY_BAD.match(self.module.rsplit("/", 1)[-1]))

    @property
    def service(self) -> str | None:
        """``scas``/``argus`` when this plugin asks that service, else None."""
        base = self.module.rsplit("/", 1)[-1]
        return next((kind for kind, (pattern, _, _) in SERVICES.items() if pattern.match(base)), None)

    def option(self, *flags: str) -> tuple[str, ...]:
        """Every value given after one of ``flags`` (options may repeat)."""
        return tuple(self.args[i + 1] for i, arg in enumerate(self.args[:-1]) if arg in flags)

    @property
    def endpoints(self) -> tuple[str, ...]:
        kind = self.service
        return self.option(*SERVICES[kind][1]) if kind else ()


@dataclass(frozen=True)
class Rule:
    """``source -> on_success | on_failure`` (both optional)."""

    source: str
    on_success: str | None
    on_failure: str | None
    line: int


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    line: int

    @property
    def start(self) -> str:
        return self.rules[0].source


@dataclass(frozen=True)
class LcmapsDb:
    path: str
    plugins: Mapping[str, Plugin]
    policies: tuple[Policy, ...]
    module_path: str | None = None

    def policy(self, name: str) -> Policy | None:
        return next((p for p in self.policies if p.name == name), None)


@dataclass(frozen=True)
class Endpoint:
    """An authorization service endpoint named by a plugin on an account route."""

    service: str
    url: str
    plugin: str

    @property
    def default_port(self) -> int:
        return SERVICES[self.service][2]


@dataclass(frozen=True)
class Route:
    """One way a policy succeeds: the plugins that succeeded on it, in order."""

    policy: str
    plugins: tuple[str, ...]
    #: The services asked on this way (empty: a purely local mapping).
    services: frozenset[str]

    def __str__(self) -> str:
        return " -> ".join(self.plugins)


@dataclass(frozen=True)
class Routing:
    """How the account policies map a user: through which services, or not."""

    policies: tuple[str, ...]
    routes: tuple[Route, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    #: Policy names glexec.conf asks for that the database lacks.
    missing: tuple[str, ...] = ()

    @property
    def services(self) -> frozenset[str]:
        """Services some successful way goes through."""
        return frozenset().union(*(r.services for r in self.routes))

    @property
    def local_only(self) -> bool:
        return not self.services

    def bypassing(self, allowed: Iterable[str]) -> tuple[Route, ...]:
        """The ways that succeed without asking any of the ``allowed`` services."""
        wanted = frozenset(allowed)
        return tuple(r for r in self.routes if not r.services & wanted)

    def describe(self) -> str:
        """One phrase: ``SCAS (https://...)``, ``Argus (...)`` or ``local mapping only``."""
        if self.local_only:
            return "local mapping only"
        parts = []
        for kind in sorted(self.services):
            urls = [e.url for e in self.endpoints if e.service == kind]
            parts.append(f"{LABELS[kind]} ({', '.join(dict.fromkeys(urls))})" if urls
                         else f"{LABELS[kind]} (no endpoint configured)")
        return " + ".join(parts)


# --- the parser -------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<nl>\n)
  | (?P<space>[ \t\r\f\v]+)
  | (?P<str>"[^"\n]*")
  | (?P<open>")
  | (?P<arrow>->)
  | (?P<punct>[=:|])
  | (?P<word>(?:[^\s"=:|\#>-]|-(?!>))+)
  | (?P<bad>.)
""", re.VERBOSE)


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


def _tokens(text: str, path: str) -> list[_Tok]:
    out: list[_Tok] = []
    line = 1
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "bad"
        value = m.group()
        if kind == "open":
            raise LcmapsSyntaxError(f"{path}:{line}: unterminated string (a quoted fragment must end on its line)")
        if kind == "bad":
            raise LcmapsSyntaxError(f"{path}:{line}: unexpected character {value!r}")
        if kind == "punct":
            kind = value
        if kind not in ("comment", "space"):
            out.append(_Tok(kind, value, line))
        if kind == "nl":
            line += 1
    out.append(_Tok("end", "", line))
    return out


@dataclass
class _Parser:
    toks: list[_Tok]
    path: str
    pos: int = 0
    plugins: dict[str, Plugin] = field(default_factory=dict)
    policies: list[tuple[str, int, list[Rule]]] = field(default_factory=list)
    module_path: str | None = None

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.pos + ahead, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.pos = min(self.pos + 1, len(self.toks) - 1)
        return tok

    def fail(self, tok: _Tok, what: str) -> LcmapsSyntaxError:
        return LcmapsSyntaxError(f"{self.path}:{tok.line}: {what}")

    def end_of_statement(self, after: str) -> None:
        tok = self.peek()
        if tok.kind not in ("nl", "end"):
            raise self.fail(tok, f"unexpected {tok.text!r} after {after}")

    def parse(self) -> None:
        while True:
            tok = self.take()
            if tok.kind == "end":
                return
            if tok.kind == "nl":
                continue
            if tok.kind != "word":
                raise self.fail(tok, f"expected a name, got {tok.text!r}")
            follow = self.peek().kind
            if follow == "=":
                self.take()
                self.definition(tok)
            elif follow == ":":
                self.take()
                self.policy(tok)
            else:
                self.rule(tok)

    def definition(self, name: _Tok) -> None:
        first = self.take()
        if first.kind not in ("str", "word"):
            raise self.fail(first, f"expected a quoted value after '{name.text} ='")
        fragments = [first.text[1:-1] if first.kind == "str" else first.text]
        # Further fragments may follow on the same or the next lines.
        while True:
            ahead = 0
            while self.peek(ahead).kind == "nl":
                ahead += 1
            if self.peek(ahead).kind != "str":
                break
            self.pos += ahead
            fragments.append(self.take().text[1:-1])
        self.end_of_statement(f"the value of '{name.text}'")
        words = "".join(fragments).split()
        if name.text == "path":
            self.module_path = " ".join(words)
            return
        if not words:
            raise self.fail(name, f"plugin '{name.text}' has an empty definition")
        if name.text in self.plugins:
            raise self.fail(name, f"plugin '{name.text}' defined twice "
                                  f"(first on line {self.plugins[name.text].line})")
        if self.policies:
            raise self.fail(name, f"plugin '{name.text}' defined after the first policy")
        self.plugins[name.text] = Plugin(name.text, words[0], tuple(words[1:]), name.line)

    def policy(self, name: _Tok) -> None:
        self.end_of_statement(f"policy '{name.text}:'")
        for other, line, _ in self.policies:
            if other == name.text:
                raise self.fail(name, f"policy '{name.text}' defined twice (first on line {line})")
        self.policies.append((name.text, name.line, []))

    def rule(self, source: _Tok) -> None:
        if not self.policies:
            raise self.fail(source, f"'{source.text}' is neither a definition ('name = ...'), "
                                    "a policy ('name:') nor a rule inside a policy")
        on_success = on_failure = None
        if self.peek().kind == "arrow":
            self.take()
            on_success = self.name_after("->")
            if self.peek().kind == "|":
                self.take()
                on_failure = self.name_after("|")
        self.end_of_statement(f"the rule for '{source.text}'")
        policy, _, rules = self.policies[-1]
        for plugin in (source.text, on_success, on_failure):
            if plugin is not None and plugin not in self.plugins:
                raise self.fail(source, f"policy '{policy}' uses '{plugin}', which is not defined")
        for earlier in rules:
            if earlier.source == source.text:
                raise self.fail(source, f"policy '{policy}' has two rules for '{source.text}' "
                                        f"(first on line {earlier.line})")
        rules.append(Rule(source.text, on_success, on_failure, source.line))

    def name_after(self, what: str) -> str:
        tok = self.take()
        if tok.kind != "word":
            got = "end of line" if tok.kind in ("nl", "end") else repr(tok.text)
            raise self.fail(tok, f"expected a plugin name after '{what}', got {got}")
        return tok.text


def parse(text: str, path: str) -> LcmapsDb:
    """Parse a database; raises LcmapsSyntaxError naming ``path`` and the line."""
    parser = _Parser(_tokens(text, path), path)
    parser.parse()
    policies = []
    for name, line, rules in parser.policies:
        if not rules:
            raise LcmapsSyntaxError(f"{path}:{line}: policy '{name}' has no rules")
        policies.append(Policy(name, tuple(rules), line))
    if not policies:
        raise LcmapsSyntaxError(f"{path}: no policy defined (expected a line 'name:' followed by rules)")
    db = LcmapsDb(path, MappingProxyType(dict(parser.plugins)), tuple(policies), parser.module_path)
    for policy in db.policies:
        # Walking every policy once finds loops and runaway alternatives now,
        # so routing never meets them.
        for _ in _routes(db, policy):
            pass
    return db


# --- routing ----------------------------------------------------------------

def _routes(db: LcmapsDb, policy: Policy) -> Iterator[tuple[str, ...]]:
    """Every successful path through ``policy``: the plugins that succeeded on it, in order."""
    rules = {r.source: r for r in policy.rules}
    count = 0
    # Depth-first over (plugin, succeeded so far, plugins on this path).
    stack: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [(policy.start, (), ())]
    while stack:
        plugin, succeeded, seen = stack.pop()
        if plugin in seen:
            line = rules[seen[-1]].line if seen[-1] in rules else policy.line
            raise LcmapsSyntaxError(f"{db.path}:{line}: policy '{policy.name}' loops back to '{plugin}'")
        count += 1
        if count > MAX_ROUTES * 4:
            raise LcmapsSyntaxError(f"{db.path}:{policy.line}: policy '{policy.name}' has too many "
                                    f"alternative paths (more than {MAX_ROUTES})")
        rule = rules.get(plugin)
        seen += (plugin,)
        # Pushed failure first so the success branch is walked (and reported) first.
        if rule is not None and rule.on_failure is not None:
            stack.append((rule.on_failure, succeeded, seen))
        if db.plugins[plugin].always_fails:
            continue
        if rule is None or rule.on_success is None:
            yield succeeded + (plugin,)
        else:
            stack.append((rule.on_success, succeeded + (plugin,), seen))


def account_policies(db: LcmapsDb, names: Sequence[str]) -> tuple[tuple[Policy, ...], tuple[str, ...]]:
    """The policies glexec runs (``names`` from glexec.conf) and the names missing from ``db``.

    With no names, LCMAPS tries every policy of the database in turn, so every
    one of them counts.
    """
    if not names:
        return db.policies, ()
    found = tuple(p for n in names if (p := db.policy(n)) is not None)
    return found, tuple(n for n in names if db.policy(n) is None)


def routing(db: LcmapsDb, names: Sequence[str] = ()) -> Routing:
    """Every way the account policies succeed, and the services each asks."""
    policies, missing = account_policies(db, names)
    routes: list[Route] = []
    endpoints: dict[tuple[str, str], Endpoint] = {}
    for policy in policies:
        for plugins in _routes(db, policy):
            services = set()
            for name in plugins:
                plugin = db.plugins[name]
                kind = plugin.service
                if kind is None:
                    continue
                services.add(kind)
                for url in plugin.endpoints:
                    endpoints.setdefault((kind, url), Endpoint(kind, url, plugin.name))
            routes.append(Route(policy.name, plugins, frozenset(services)))
    return Routing(tuple(p.name for p in policies), tuple(routes), tuple(endpoints.values()), missing)


def policy_names(setting: str | None) -> tuple[str, ...]:
    """The policy list of glexec.conf's ``lcmaps_get_account_policy`` (commas or blanks)."""
    return tuple(n for n in re.split(r"[\s,]+", setting or "") if n)
