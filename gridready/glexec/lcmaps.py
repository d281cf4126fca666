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
    #: The arguments as one string, as liblcmaps passes them before splitting.
    argstring: str = ""

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
# Read as liblcmaps 1.6 reads it: its flex scanner (pdl_lex.l) and bison
# grammar (pdl_yacc.y), checked against the installed library by
# tests/test_glexec_lcmaps_library.py. What that reader does and this one
# follows:
# - line ends are blanks, except that a policy label is a name and ':' with
#   nothing but blanks before it on its line, and that ``path = ...`` ends at
#   its line end; so a rule may run over several lines and two may share one;
# - a comment runs from '#' to the line end, and needs that line end (the
#   scanner refuses a comment on a last line that has none);
# - a value is a run of quoted strings, or one bare name; ``\"`` inside a
#   string is a quote, but only in pairs; strings are joined with a blank
#   unless the second is empty or both end in a quote; the module is what
#   precedes the first space of the joined value, the arguments the rest;
# - names are letters, digits, '_', '.' and '/'; the word ``path`` is the
#   module directory, never a plugin; ``~a -> b`` is ``a -> (end) | b``;
# - a label with no rules is dropped; a name used by a rule but never
#   defined is loaded as a module of that name; a rule naming a policy
#   defined earlier, a name defined twice, a policy defined twice and a file
#   with definitions but no policy are refused.

_NAME = r"[A-Za-z0-9_./]+"
_LABEL = re.compile(rf"[ \t]*({_NAME}):")
_WORD = re.compile(_NAME)
_BLANKS = re.compile(r"[ \t]+")
_STRING = re.compile(r'"[^"\n]*["\n]')

_KIND_WORDS = {"str": "a quoted string", "word": "a name", "label": "a policy label ('name:')",
               "path": "'path'", "pathval": "a directory", "arrow": "'->'", "=": "'='", "|": "'|'",
               "~": "'~'", "end": "end of file"}


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


def _bad(text: str, pos: int, line: int, path: str) -> LcmapsSyntaxError:
    char = text[pos]
    if char == "\r":
        return LcmapsSyntaxError(f"{path}:{line}: a carriage return (DOS line ends), which LCMAPS refuses")
    if char in "\f\v":
        return LcmapsSyntaxError(f"{path}:{line}: a form feed or vertical tab, which LCMAPS refuses")
    if char == "#":
        return LcmapsSyntaxError(f"{path}:{line}: a comment on the last line without a line end "
                                 "(LCMAPS refuses it: end the file with a newline)")
    if char == '"':
        return LcmapsSyntaxError(f"{path}:{line}: unterminated string (a quoted fragment must end on its line)")
    column = pos - text.rfind("\n", 0, pos)
    return LcmapsSyntaxError(f"{path}:{line}: unexpected character at column {column} "
                             "(names are letters, digits, '_', '.' and '/')")


def _string(text: str, pos: int, line: int, path: str, paired: bool) -> tuple[str, int, bool]:
    """One quoted string at ``pos``: (value, where scanning goes on, whether a ``\\"`` pair is open).

    ``paired`` is the scanner's state after a string that ended in ``\\"``:
    the next string starts at that quote and must end in ``\\"`` too.
    """
    m = _STRING.match(text, pos)
    if m is None or m.group().endswith("\n") and (len(m.group()) < 3 or m.group()[-2] != "\\"):
        raise _bad(text, pos, line, path)
    raw = m.group()
    if len(raw) >= 3 and raw[-2] == "\\":
        if raw.endswith("\n"):
            raise LcmapsSyntaxError(f"{path}:{line}: unterminated string (a quoted fragment must end on its line)")
        # The escaped quote ends this string and starts the next one.
        return raw[1:-2] + '"', m.end() - 1, not paired
    if paired:
        raise LcmapsSyntaxError(f"{path}:{line}: unbalanced escaped quote (LCMAPS takes \\\" only in pairs)")
    return raw[1:-1], m.end(), False


def _tokens(text: str, path: str) -> list[_Tok]:
    out: list[_Tok] = []
    line, pos, end = 1, 0, len(text)
    in_path = paired = False
    while pos < end:
        char = text[pos]
        if paired:
            value, pos, paired = _string(text, pos, line, path, True)
            out.append(_Tok("str", value, line))
            continue
        if char == "\n":
            line, pos, in_path = line + 1, pos + 1, False
            continue
        if char == "#":
            close = text.find("\n", pos)
            if close < 0:
                if in_path:
                    break  # the path state has no rule for it: ignored
                raise _bad(text, pos, line, path)
            pos = close  # the line end itself is counted above
            continue
        blanks = _BLANKS.match(text, pos)
        if in_path:
            word = _WORD.match(text, pos)
            if blanks:
                pos = blanks.end()
            elif char in "=|~":
                out.append(_Tok(char, char, line))
                pos += 1
            elif word:
                out.append(_Tok("pathval", word.group(), line))
                pos = word.end()
            else:
                pos += 1  # the scanner echoes anything else on a path line and goes on
            continue
        if pos == 0 or text[pos - 1] == "\n":
            label = _LABEL.match(text, pos)
            if label:
                out.append(_Tok("label", label.group(1), line))
                pos = label.end()
                continue
        if blanks:
            pos = blanks.end()
            continue
        word = _WORD.match(text, pos)
        if word:
            in_path = word.group() == "path"
            out.append(_Tok("path" if in_path else "word", word.group(), line))
            pos = word.end()
        elif text.startswith("->", pos):
            out.append(_Tok("arrow", "->", line))
            pos += 2
        elif char in "=|~":
            out.append(_Tok(char, char, line))
            pos += 1
        elif char == '"':
            value, pos, paired = _string(text, pos, line, path, False)
            out.append(_Tok("str", value, line))
        else:
            raise _bad(text, pos, line, path)
    # Said at the last line with something on it.
    out.append(_Tok("end", "", out[-1].line if out else line))
    return out


def join_fragments(fragments: Sequence[str]) -> str:
    """The value of a definition from its quoted strings, joined as liblcmaps joins them.

    A blank between two strings, except that an empty string adds nothing and
    two strings that both end in a quote (an escaped-quote pair) are joined
    directly (liblcmaps' lcmaps_concat_strings_with_space).
    """
    value = fragments[0] if fragments else ""
    for fragment in fragments[1:]:
        if not fragment:
            continue
        value += fragment if value.endswith('"') and fragment.endswith('"') else " " + fragment
    return value


def split_arguments(argstring: str) -> tuple[str, ...] | None:
    """A plugin's argument string as liblcmaps hands it to the plugin; None when it cannot.

    Words are separated by blanks, tabs and line ends; a word that starts
    with a quote runs to the next quote, blanks included, and loses the
    quotes; a quote that is never closed makes the plugin fail to start
    (liblcmaps' lcmaps_tokenize).
    """
    words: list[str] = []
    pos, end = 0, len(argstring)
    while pos < end:
        if argstring[pos] in " \t\n":
            pos += 1
        elif argstring[pos] == '"':
            close = argstring.find('"', pos + 1)
            if close < 0:
                return None
            words.append(argstring[pos + 1:close])
            pos = close + 1
        else:
            stop = pos
            while stop < end and argstring[stop] not in " \t\n":
                stop += 1
            words.append(argstring[pos:stop])
            pos = stop
    return tuple(words)


@dataclass
class _Parser:
    toks: list[_Tok]
    path: str
    pos: int = 0
    plugins: dict[str, Plugin] = field(default_factory=dict)
    policies: list[tuple[str, int, list[Rule]]] = field(default_factory=list)
    module_path: str | None = None
    # Policy name -> line, so a file of many thousand labels is not quadratic.
    policy_lines: dict[str, int] = field(default_factory=dict)

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.pos + ahead, len(self.toks) - 1)]

    def take(self) -> _Tok:
        tok = self.peek()
        self.pos = min(self.pos + 1, len(self.toks) - 1)
        return tok

    def fail(self, tok: _Tok, what: str) -> LcmapsSyntaxError:
        return LcmapsSyntaxError(f"{self.path}:{tok.line}: {what}")

    def parse(self) -> None:
        defined = False
        while self.peek().kind in ("word", "path"):
            name = self.take()
            if self.peek().kind != "=":
                raise self.fail(name, "a statement that is neither a definition ('name = ...') nor a policy "
                                      "('name:') before the first policy")
            self.take()
            if name.kind == "path":
                self.directory()
            else:
                self.definition(name)
            defined = True
        if self.peek().kind == "end":
            if defined:
                raise self.fail(self.peek(), "definitions but no policy (LCMAPS refuses a database without "
                                             "policy rules)")
            return
        while self.peek().kind == "label":
            self.policy(self.take())
        tok = self.peek()
        if tok.kind == "end":
            return
        if tok.kind in ("word", "path") and self.peek(1).kind == "=":
            raise self.fail(tok, f"'{tok.text}' defined after the first policy (LCMAPS refuses that)")
        if tok.kind == "word":
            raise self.fail(self.peek(1), f"a rule in policy '{self.policies[-1][0]}' needs '->' after "
                                          f"its first name, got {self.peek(1).described}")
        raise self.fail(tok, f"expected a name at the start of a statement, got {tok.described}")

    def directory(self) -> None:
        # ``path =`` with no value is allowed (ignored); a second path is ignored.
        if self.peek().kind == "pathval":
            value = self.take().text
            if self.module_path is None:
                self.module_path = value
        if self.peek().kind == "pathval":
            raise self.fail(self.peek(), "'path' has more than one value (a directory name holds only "
                                         "letters, digits, '_', '.' and '/')")

    def definition(self, name: _Tok) -> None:
        first = self.take()
        if first.kind == "word":
            joined = first.text  # a bare name takes no quoted strings after it
        elif first.kind == "str":
            fragments = [first.text]
            while self.peek().kind == "str":
                fragments.append(self.take().text)
            joined = join_fragments(fragments)
        else:
            raise self.fail(name, f"expected a quoted value after '{name.text} =', got {first.described}")
        if self.peek().kind not in ("word", "path", "label", "end"):
            raise self.fail(self.peek(), f"unexpected {self.peek().described} after the value of '{name.text}'")
        if name.text in self.plugins:
            raise self.fail(name, f"plugin '{name.text}' defined twice "
                                  f"(first on line {self.plugins[name.text].line})")
        module, _, argstring = joined.partition(" ")
        if not module:
            raise self.fail(name, f"plugin '{name.text}' names no module (its value is empty or starts "
                                  "with a blank, so LCMAPS would load a module with an empty name)")
        args = split_arguments(argstring)
        if args is None:
            raise self.fail(name, f"the arguments of plugin '{name.text}' open a quote they never close "
                                  "(the plugin would fail to start)")
        self.plugins[name.text] = Plugin(name.text, module, args, name.line, argstring=argstring)

    def policy(self, label: _Tok) -> None:
        rules: list[Rule] = []
        # Source name -> its rule's line, so a policy of many thousand rules is not quadratic.
        sources: dict[str, int] = {}
        while self.peek().kind in ("word", "~"):
            if self.peek().kind == "word" and self.peek(1).kind == "=":
                break  # a definition after a policy: refused by the caller
            rules.append(self.rule(label.text, sources))
        if not rules:
            return  # LCMAPS drops a label with no rules
        if label.text in self.policy_lines:
            raise self.fail(label, f"policy '{label.text}' defined twice "
                                   f"(first on line {self.policy_lines[label.text]})")
        self.policies.append((label.text, label.line, rules))
        self.policy_lines[label.text] = label.line

    def rule(self, policy: str, sources: dict[str, int]) -> Rule:
        negated = self.peek().kind == "~"
        if negated:
            self.take()
        source = self.take()
        if source.kind != "word":
            raise self.fail(source, f"expected a plugin name after '~', got {source.described}")
        if self.peek().kind != "arrow":
            raise self.fail(self.peek(), f"a rule in policy '{policy}' needs '->' after its first name, "
                                         f"got {self.peek().described}")
        self.take()
        target = self.name_after("->")
        on_success: str | None = target
        on_failure = None
        if negated:
            # ``~a -> b``: b when a fails; the policy ends when a succeeds.
            on_success, on_failure = None, target
        elif self.peek().kind == "|":
            self.take()
            on_failure = self.name_after("|")
        for name in (source.text, on_success, on_failure):
            if name is None:
                continue
            earlier = self.policy_lines.get(name)
            if earlier is not None:
                raise self.fail(source, f"a rule of policy '{policy}' names policy '{name}' (line {earlier}); "
                                        "LCMAPS refuses that")
            if name not in self.plugins:
                # LCMAPS loads an undefined name as the module of that name.
                self.plugins[name] = Plugin(name, name, (), source.line, defined=False)
        if source.text in sources:
            raise self.fail(source, f"policy '{policy}' has two rules for '{source.text}' "
                                    f"(first on line {sources[source.text]})")
        sources[source.text] = source.line
        return Rule(source.text, on_success, on_failure, source.line)

    def name_after(self, what: str) -> str:
        tok = self.take()
        if tok.kind != "word":
            raise self.fail(tok, f"expected a plugin name after '{what}', got {tok.described}")
        return tok.text


def parse(text: str, path: str) -> LcmapsDb:
    """Parse a database; raises LcmapsSyntaxError naming ``path`` and the line.

    Refuses what liblcmaps refuses (see the notes above). An empty database,
    or one of comments only, parses with no policy: LCMAPS accepts it, and
    routing then finds no way to succeed. Error messages never quote the
    file's text.
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
