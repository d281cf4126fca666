"""Loading and validating ``milestones.yaml`` and ``sites.yaml``.

Each problem becomes one ``file:line: what`` string; all problems of a file
are collected before ConfigError is raised, so ``rules validate`` shows them
together. Unknown keys are errors: a misspelt ``deadlin:`` must not pass.

Values end up in Nagios configuration, terminals, Markdown and SSB feeds, so
every string (keys included, ``expect`` parameters included) is checked at
load time: control characters (C0 including newline and TAB, DEL, C1, ESC)
and the Unicode line/paragraph separators are errors with ``file:line``. The
free-text fields ``title``, ``source``, ``remediation`` and a waiver's
``reason`` may be written over several lines (YAML ``>-`` or ``|``): their
runs of spaces, TABs and newlines are folded into one space, so every output
sees single-line text. Numbers are checked for range and finiteness here too
(``.inf``, ``.nan``, ``1e300``: errors), and ``true`` is not a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from gridready.errors import ConfigError
from gridready.escape import first_control, has_control, terminal
from gridready.models import (CHECKS, MAX_TIMEOUT, Inventory, Milestone, Rules, Scope, Site, Storage, Waiver,
                              valid_timeout)
from gridready.yamlfile import LineMap, Path_, load_yaml

T = TypeVar("T")

_ID = re.compile(r"[a-z0-9-]+\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_FOLD = re.compile(r"[ \t\r\n]+")

#: Largest ``warn_days`` (ten years).
MAX_WARN_DAYS = 3650
#: WLCG tiers are 0 (CERN) to 3.
TIERS = range(0, 4)
#: Free-text fields whose line breaks are folded into spaces, by the key's name.
FREE_TEXT = frozenset({"title", "source", "remediation", "reason"})


class _Invalid(Exception):
    """One field failed; the reader records it and goes on."""


class _Reader:
    """Reads typed fields out of parsed YAML, recording problems with their lines."""

    def __init__(self, lines: LineMap) -> None:
        self.lines = lines
        self.problems: list[str] = []
        #: Values already reported by _clean: one problem per value is enough.
        self.flagged: set[Path_] = set()

    def problem(self, path: Path_, message: str) -> None:
        self.problems.append(f"{self.lines.where(path)}: {_dotted(path)}: {message}"
                             if path else f"{self.lines.where(path)}: {message}")

    def mapping(self, value: Any, path: Path_, allowed: tuple[str, ...],
                required: tuple[str, ...] = ()) -> Mapping[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.problem(path + (str(key),), f"unknown key '{key}' (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.problem(path, f"missing required key '{key}'")
        return value

    def seq(self, value: Any, path: Path_) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {_kind(value)}")
            return []
        return value

    def _flagged(self, path: Path_) -> bool:
        return any(seen[:len(path)] == path for seen in self.flagged)

    def field(self, data: Mapping[str, Any], key: str, path: Path_,
              convert: Callable[[Any], T], default: T) -> T:
        if key not in data or self._flagged(path + (key,)):
            return default
        try:
            return convert(data[key])
        except _Invalid as exc:
            self.problem(path + (key,), str(exc))
            return default


def _clean(r: _Reader, value: Any, path: Path_, free_text: Callable[[Path_], bool]) -> Any:
    """``value`` with free text folded; records control characters and non-finite numbers.

    Runs over the whole parsed document before the fields are read, so no
    string or number anywhere (``expect`` included) escapes the check.
    """
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and has_control(key):
                r.problem(path, f"key {_shown(key)} holds a control character")
                continue
            sub = path + (str(key),)
            out[key] = _clean(r, item, sub, free_text)
        return out
    if isinstance(value, list):
        return [_clean(r, item, path + (i,), free_text) for i, item in enumerate(value)]
    if isinstance(value, str):
        # strip(" "): str.strip() would also drop U+0085 and hide it from the check.
        text = _FOLD.sub(" ", value).strip(" ") if free_text(path) else value
        found = first_control(text)
        if found:
            what = "a line break" if found in "\n\r\u2028\u2029" else f"control character U+{ord(found):04X}"
            r.problem(path, f"{_shown(value)} holds {what}, not allowed in this value")
            r.flagged.add(path)
        return text
    if isinstance(value, float) and not math.isfinite(value):
        r.problem(path, f"{value!r} is not a finite number")
        r.flagged.add(path)
    return value


def _shown(text: str) -> str:
    """An untrusted string for a one-line message: quoted, controls as \\xNN, shortened."""
    shown = terminal(text if len(text) <= 60 else text[:57] + "...")
    return "'" + shown.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "'"


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"expected a non-empty string, got {value!r}")
    return value.strip()


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"expected a whole number, got {value!r}")
    return value


def _int_in(low: int, high: int) -> Callable[[Any], int]:
    """A whole number in ``low..high`` (``true`` is not a number)."""
    def convert(value: Any) -> int:
        number = _int(value)
        if number < 0 <= low:
            raise _Invalid(f"must not be negative, got {number}")
        if not low <= number <= high:
            raise _Invalid(f"must be between {low} and {high}, got {number}")
        return number
    return convert


def _timeout(value: Any) -> float:
    """Seconds: a finite number, more than 0 and at most MAX_TIMEOUT."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"expected a number of seconds, got {value!r}")
    if not valid_timeout(value):
        raise _Invalid(f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {value!r}")
    return float(value)


def parse_date(value: Any) -> date:
    """A YYYY-MM-DD calendar date; anything else is rejected with the reason."""
    text = str(value)
    if not isinstance(value, str) or not _DATE.match(text):
        raise _Invalid(f"bad date {value!r}: expected YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _Invalid(f"bad date '{text}': {exc}") from None


def _strs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of strings, got {value!r}")
    return tuple(_str(v) for v in value)


def _ints(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of tiers, got {value!r}")
    return tuple(_tier(v) for v in value)


def _tier(value: Any) -> int:
    return _int_in(TIERS.start, TIERS.stop - 1)(value)


def _expect(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"expected a mapping of check parameters, got {value!r}")
    return value


_MILESTONE_KEYS = ("id", "title", "source", "deadline", "warn_days", "scope", "check",
                   "expect", "remediation", "timeout")
_WAIVER_KEYS = ("milestone", "site", "reason", "expires")
_SCOPE_KEYS = ("tiers", "sites", "exclude")


def _scope(r: _Reader, value: Any, path: Path_) -> Scope:
    if value is None:
        return Scope()
    data = r.mapping(value, path, _SCOPE_KEYS)
    if data is None:
        return Scope()
    return Scope(tiers=r.field(data, "tiers", path, _ints, ()),
                 sites=r.field(data, "sites", path, _strs, ()),
                 exclude=r.field(data, "exclude", path, _strs, ()))


#: Given a check name and a milestone's ``expect``, the problems with it.
ExpectValidator = Callable[[str, Mapping[str, Any]], Sequence[str]]


def _milestone(r: _Reader, value: Any, path: Path_,
               validate_expect: ExpectValidator | None) -> Milestone | None:
    data = r.mapping(value, path, _MILESTONE_KEYS,
                     required=("id", "title", "source", "deadline", "check"))
    if data is None:
        return None
    before = len(r.problems)
    ident = r.field(data, "id", path, _str, "")
    if ident and not _ID.match(ident):
        r.problem(path + ("id",), f"bad id '{ident}': use lower-case letters, digits and '-'")
    check = r.field(data, "check", path, _str, "")
    if check and check not in CHECKS:
        r.problem(path + ("check",), f"unknown check '{check}' (known: {', '.join(CHECKS)})")
    milestone = Milestone(
        id=ident, title=r.field(data, "title", path, _str, ""),
        source=r.field(data, "source", path, _str, ""),
        deadline=r.field(data, "deadline", path, parse_date, date.min),
        check=check, warn_days=r.field(data, "warn_days", path, _int_in(0, MAX_WARN_DAYS), 30),
        scope=_scope(r, data.get("scope"), path + ("scope",)),
        expect=r.field(data, "expect", path, _expect, {}),
        remediation=r.field(data, "remediation", path, _opt_str, None) or "",
        timeout=r.field(data, "timeout", path, _timeout, 10.0))
    if validate_expect is not None and check in CHECKS and isinstance(data.get("expect"), dict):
        for problem in validate_expect(check, milestone.expect):
            r.problem(path + ("expect",), problem)
    return milestone if len(r.problems) == before else None


def _waiver(r: _Reader, value: Any, path: Path_, known: set[str]) -> Waiver | None:
    data = r.mapping(value, path, _WAIVER_KEYS, required=_WAIVER_KEYS)
    if data is None:
        return None
    before = len(r.problems)
    waiver = Waiver(milestone=r.field(data, "milestone", path, _str, ""),
                    site=r.field(data, "site", path, _str, ""),
                    reason=r.field(data, "reason", path, _str, ""),
                    expires=r.field(data, "expires", path, parse_date, date.min))
    if waiver.milestone and waiver.milestone not in known:
        r.problem(path + ("milestone",), f"waiver for unknown milestone '{waiver.milestone}'")
    return waiver if len(r.problems) == before else None


def _rules_free_text(path: Path_) -> bool:
    """``milestones[i].title/source/remediation`` and ``waivers[i].reason``."""
    return (len(path) == 3 and path[0] in ("milestones", "waivers")
            and isinstance(path[1], int) and path[2] in FREE_TEXT)


def load_rules(path: str | Path, validate_expect: ExpectValidator | None = None) -> Rules:
    """Load and validate a milestones file; raises ConfigError listing every problem.

    ``validate_expect`` checks the check-specific ``expect`` mappings; the
    probes pass one that knows only their own check, so they need not import
    the others.
    """
    parsed, lines = load_yaml(path, "milestones file")
    r = _Reader(lines)
    raw = _clean(r, parsed, (), _rules_free_text)
    top = r.mapping(raw, (), ("milestones", "waivers"), required=("milestones",))
    milestones: list[Milestone] = []
    waivers: list[Waiver] = []
    if top is not None:
        seen: dict[str, int] = {}
        for i, item in enumerate(r.seq(top.get("milestones"), ("milestones",))):
            m = _milestone(r, item, ("milestones", i), validate_expect)
            # The id is compared as written, so a duplicate is reported even
            # when either milestone has other problems ("every problem").
            ident = item.get("id") if isinstance(item, dict) else None
            if isinstance(ident, str) and ident:
                if ident in seen:
                    r.problem(("milestones", i, "id"),
                              f"duplicate id '{ident}' (first at line {lines.line(('milestones', seen[ident]))})")
                    continue
                seen[ident] = i
            if m is not None:
                milestones.append(m)
        known = set(seen) | {str(item.get("id")) for item in top.get("milestones") or []
                             if isinstance(item, dict)}
        for i, item in enumerate(r.seq(top.get("waivers"), ("waivers",))):
            w = _waiver(r, item, ("waivers", i), known)
            if w is not None:
                waivers.append(w)
        if not milestones and not r.problems:
            r.problem(("milestones",), "no milestones defined")
    if r.problems:
        raise ConfigError(r.problems)
    return Rules(milestones=tuple(milestones), waivers=tuple(waivers), path=str(path))


_SITE_KEYS = ("name", "tier", "wlcg_name", "bdii", "srr", "fts", "fts_channels", "storage",
              "xrootd", "glexec", "dns")


def _source(base: Path) -> Callable[[Any], str | None]:
    """Source URIs stay as given; plain relative paths are made relative to the inventory."""
    def convert(value: Any) -> str | None:
        text = _opt_str(value)
        if text is not None and "://" in text:
            _check_url(text)
        if text is None or "://" in text or Path(text).is_absolute():
            return text
        return str(base / text)
    return convert


def _check_url(text: str) -> None:
    """A URI source names a host and, if any, a port in 1..65535."""
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise _Invalid(f"bad port in {_shown(text)}: expected 1..65535") from None
    if port == 0:
        raise _Invalid(f"bad port in {_shown(text)}: expected 1..65535")
    if parts.scheme.lower() != "file" and not parts.hostname:
        raise _Invalid(f"no host in {_shown(text)}")


def _doors(value: Any) -> tuple[str, ...]:
    """xrootd doors: ``host``, ``host:port``, ``[v6]:port`` or a root:// URL, port 1..65535."""
    from gridready.xrootd.published import parse_door

    doors = _strs(value)
    for door in doors:
        try:
            parse_door(door)
        except ValueError as exc:
            raise _Invalid(terminal(str(exc))) from None
    return doors


def _storage(r: _Reader, value: Any, path: Path_) -> tuple[Storage, ...]:
    out: list[Storage] = []
    for i, item in enumerate(r.seq(value, path)):
        if isinstance(item, str):
            out.append(Storage(host=item))
            continue
        data = r.mapping(item, path + (i,), ("host", "implementation"), required=("host",))
        if data is not None and "host" in data:
            out.append(Storage(host=r.field(data, "host", path + (i,), _str, ""),
                               implementation=r.field(data, "implementation", path + (i,), _str, "")))
    return tuple(out)


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate a sites inventory; raises ConfigError listing every problem."""
    parsed, lines = load_yaml(path, "inventory file")
    r = _Reader(lines)
    raw = _clean(r, parsed, (), lambda where: False)
    base = Path(path).resolve().parent
    src = _source(base)
    top = r.mapping(raw, (), ("sites",), required=("sites",))
    sites: list[Site] = []
    seen: set[str] = set()
    for i, item in enumerate(r.seq(top.get("sites") if top else None, ("sites",))):
        p: Path_ = ("sites", i)
        data = r.mapping(item, p, _SITE_KEYS, required=("name", "tier"))
        if data is None:
            continue
        before = len(r.problems)
        site = Site(name=r.field(data, "name", p, _str, ""), tier=r.field(data, "tier", p, _tier, 1),
                    wlcg_name=r.field(data, "wlcg_name", p, _opt_str, None) or "",
                    bdii=r.field(data, "bdii", p, src, None), srr=r.field(data, "srr", p, src, None),
                    fts=r.field(data, "fts", p, src, None),
                    fts_channels=r.field(data, "fts_channels", p, src, None),
                    storage=_storage(r, data.get("storage"), p + ("storage",)),
                    xrootd=r.field(data, "xrootd", p, _doors, ()),
                    glexec=r.field(data, "glexec", p, src, None),
                    dns=r.field(data, "dns", p, src, None))
        if site.name.casefold() in seen:
            r.problem(p + ("name",), f"duplicate site '{site.name}'")
        seen.add(site.name.casefold())
        if len(r.problems) == before:
            sites.append(site)
    if r.problems:
        raise ConfigError(r.problems)
    return Inventory(sites=tuple(sites), path=str(path))
