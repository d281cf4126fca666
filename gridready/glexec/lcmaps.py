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

#: Authorization services by the module that calls them, with the options that
#: name the service endpoint and the port a URL without one implies. OSG ships
#: the SCAS client also as ``lcmaps_gums_client.mod`` (a link to the same
#: module, speaking the SCAS protocol to GUMS) and as ``lcmaps_saz_client.mod``
#: (a copy of it, for SAZ; OSG's lcmaps-plugins-saz-client spec files); its
#: files spell the option ``--endpoint`` where gLite's YAIM writes ``-endpoint``.
SERVICES: Mapping[str, tuple[re.Pattern[str], tuple[str, ...], int]] = MappingProxyType({
    "scas": (re.compile(r"(?:lib)?lcmaps_(?:scas|gums|saz)_client(?:\.mod|\.so(?:\.\d+)*)\Z"),
             ("-endpoint", "--endpoint"), 8443),
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
    #: False for a name a policy uses without defining it (LCMAPS loads it as a module name).
    defined: bool = True

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
        """Every value given after one of ``flags``.

        Options may repeat, and one option may be followed by several values
        (site generators write ``--pep-daemon-endpoint-url URL1 URL2`` for
        failover as well as the option twice). A word starting with ``-`` is
        the next option, never a value: ``-endpoint -resourcetype wn`` names
        no endpoint.
        """
        values: list[str] = []
        taking = False
        for arg in self.args:
            if arg in flags:
                taking = True
            elif arg.startswith("-"):
                taking = False
            elif taking:
                values.append(arg)
        return tuple(values)

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
    def start(self) -> str | None:
        """The first rule's plugin; None for a policy with no rules (it never succeeds)."""
        return self.rules[0].source if self.rules else None


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
    #: SCAS/Argus plugins on some successful way that name no endpoint.
    no_endpoint: tuple[Plugin, ...] = ()
    #: Names used on some successful way that the database never defines.
    undefined: tuple[Plugin, ...] = ()

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
# Read as liblcmaps 1.6 reads it (its policy-language reader, checked against
# the installed library by tests/test_glexec_lcmaps_library.py): the quoted
# fragments of a definition are joined with a blank between them, the module
# is what precedes the first blank of the joined text and the arguments are
# everything after it; names are letters, digits, '_', '.' and '/'; a rule
# needs '->'; a name a policy uses without defining it is loaded as a module
# of that name.

_TOKEN = re.compile(r"""
    (?P<comment>\#[^\n]*)
  | (?P<nl>\n)
  | (?P<space>[ \t]+)
  | (?P<ctrl>[\r\f\v])
  | (?P<str>"[^"\n]*")
  | (?P<open>")
  | (?P<arrow>->)
  | (?P<punct>[=:|~])
  | (?P<word>[A-Za-z0-9_./]+)
  | (?P<bad>.)
""", re.VERBOSE)

_KIND_WORDS = {"str": "a quoted string", "word": "a name", "arrow": "'->'", "=": "'='", ":": "':'",
               "|": "'|'", "~": "'~'", "nl": "end of line", "end": "end of file"}


class LcmapsUnsupported(LcmapsSyntaxError):
    """LCMAPS accepts the construct but gridready does not evaluate it (the verdict is UNKNOWN)."""


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int

    @property
    def described(self) -> str:
        # Never the text itself: a file that is not a database (a secret
        # reached through a bad path) must not be quoted into a result.
        return _KIND_WORDS.get(self.kind, "a character")


def _tokens(text: str, path: str) -> list[_Tok]:
    out: list[_Tok] = []
    line = 1
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "bad"
        value = m.group()
        if kind == "open":
            raise LcmapsSyntaxError(f"{path}:{line}: unterminated string (a quoted fragment must end on its line)")
        if kind == "ctrl":
            what = "a carriage return (DOS line ends)" if value == "\r" else "a form feed or vertical tab"
            raise LcmapsSyntaxError(f"{path}:{line}: {what}, which LCMAPS refuses")
        if kind == "bad":
            raise LcmapsSyntaxError(f"{path}:{line}: unexpected character at column "
                                    f"{m.start() - text.rfind(chr(10), 0, m.start())} "
                                    "(names are letters, digits, '_', '.' and '/')")
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
            raise self.fail(tok, f"unexpected {tok.described} after {after}")

    def parse(self) -> None:
        while True:
            tok = self.take()
            if tok.kind == "end":
                return
            if tok.kind == "nl":
                continue
            if tok.kind == "~":
                raise LcmapsUnsupported(f"{self.path}:{tok.line}: a rule negated with '~' "
                                        "(gridready does not evaluate negated rules)")
            if tok.kind != "word":
                raise self.fail(tok, f"expected a name at the start of a statement, got {tok.described}")
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
            raise self.fail(first, f"expected a quoted value after '{name.text} =', got {first.described}")
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
        if self.peek().kind not in ("nl", "end", "word"):
            raise self.fail(self.peek(), f"unexpected {self.peek().described} after the value of '{name.text}'")
        if self.policies:
            raise self.fail(name, f"'{name.text}' defined after the first policy (LCMAPS refuses that)")
        joined = " ".join(f for f in fragments if f)
        if name.text == "path":
            self.module_path = joined.strip()
            return
        if name.text in self.plugins:
            raise self.fail(name, f"plugin '{name.text}' defined twice "
                                  f"(first on line {self.plugins[name.text].line})")
        module, _, args = joined.partition(" ")
        if not module:
            raise self.fail(name, f"plugin '{name.text}' names no module (its value is empty or starts "
                                  "with a blank, so LCMAPS would load a module with an empty name)")
        self.plugins[name.text] = Plugin(name.text, module, tuple(args.split()), name.line)

    def policy(self, name: _Tok) -> None:
        for other, line, _ in self.policies:
            if other == name.text:
                raise self.fail(name, f"policy '{name.text}' defined twice (first on line {line})")
        self.policies.append((name.text, name.line, []))
        # LCMAPS takes a rule on the same line as the policy's name.
        if self.peek().kind == "word":
            self.rule(self.take())
        else:
            self.end_of_statement(f"policy '{name.text}:'")

    def rule(self, source: _Tok) -> None:
        if not self.policies:
            raise self.fail(source, "a statement that is neither a definition ('name = ...') nor a policy "
                                    "('name:') before the first policy")
        policy, _, rules = self.policies[-1]
        if self.peek().kind != "arrow":
            raise self.fail(self.peek(), f"a rule in policy '{policy}' needs '->' after its first name, "
                                         f"got {self.peek().described}")
        self.take()
        on_success = self.name_after("->")
        on_failure = None
        if self.peek().kind == "|":
            self.take()
            on_failure = self.name_after("|")
        self.end_of_statement(f"a rule of policy '{policy}'")
        for plugin in (source.text, on_success, on_failure):
            if plugin is not None and plugin not in self.plugins:
                # LCMAPS loads an undefined name as the module of that name.
                self.plugins[plugin] = Plugin(plugin, plugin, (), source.line, defined=False)
        for earlier in rules:
            if earlier.source == source.text:
                raise self.fail(source, f"policy '{policy}' has two rules for '{source.text}' "
                                        f"(first on line {earlier.line})")
        rules.append(Rule(source.text, on_success, on_failure, source.line))

    def name_after(self, what: str) -> str:
        tok = self.take()
        if tok.kind == "~":
            raise LcmapsUnsupported(f"{self.path}:{tok.line}: a rule negated with '~' "
                                    "(gridready does not evaluate negated rules)")
        if tok.kind != "word":
            raise self.fail(tok, f"expected a plugin name after '{what}', got {tok.described}")
        return tok.text


def parse(text: str, path: str) -> LcmapsDb:
    """Parse a database; raises LcmapsSyntaxError naming ``path`` and the line.

    LcmapsUnsupported (a subclass) marks what LCMAPS accepts but this parser
    does not evaluate. A database with no policy, or with empty policies,
    parses: LCMAPS accepts both, and routing then finds no way to succeed.
    Error messages never quote the file's text.
    """
    parser = _Parser(_tokens(text, path), path)
    parser.parse()
    policies = tuple(Policy(name, tuple(rules), line) for name, line, rules in parser.policies)
    db = LcmapsDb(path, MappingProxyType(dict(parser.plugins)), policies, parser.module_path)
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
    if policy.start is None:
        return
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
    no_endpoint: dict[str, Plugin] = {}
    undefined: dict[str, Plugin] = {}
    for policy in policies:
        for plugins in _routes(db, policy):
            services = set()
            for name in plugins:
                plugin = db.plugins[name]
                if not plugin.defined:
                    undefined.setdefault(name, plugin)
                kind = plugin.service
                if kind is None:
                    continue
                services.add(kind)
                if not plugin.endpoints:
                    no_endpoint.setdefault(name, plugin)
                for url in plugin.endpoints:
                    endpoints.setdefault((kind, url), Endpoint(kind, url, plugin.name))
            routes.append(Route(policy.name, plugins, frozenset(services)))
    return Routing(tuple(p.name for p in policies), tuple(routes), tuple(endpoints.values()), missing,
                   tuple(no_endpoint.values()), tuple(undefined.values()))


def policy_names(setting: str | None) -> tuple[str, ...]:
    """The policy list of glexec.conf's ``lcmaps_get_account_policy``.

    Separated by ``:`` (the form glexec documents and site configuration
    modules write, ``policy1:policy2``), commas or blanks; a policy name
    itself never contains any of them (LCMAPS names are letters, digits,
    ``_``, ``.`` and ``/``).
    """
    return tuple(n for n in re.split(r"[\s,:]+", setting or "") if n)
