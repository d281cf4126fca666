"""Escaping of untrusted values for each output gridready writes.

Values from outside (ingested results, inventories, BDII records, server
replies) reach terminals, Nagios configuration, Markdown, HTML, SSB feeds and
metricOutput messages. Each output has its own special characters; this
module is the one place that knows them, and every formatter calls the
function for its output on every untrusted value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# C0 and C1 control characters plus DEL; TAB and LF handled per output.
# Also the Unicode bidirectional controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI:
# they reorder what a terminal shows, e.g. a site name displayed backwards
# over the verdict next to it) and the line/paragraph separators U+2028/U+2029
# (str.splitlines() and some viewers break lines there: a second "line").
_UNICODE = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_UNICODE}]")
_CONTROL_ANY = re.compile(f"[\x00-\x1f\x7f-\x9f{_UNICODE}]")


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def first_control(text: str) -> str | None:
    """The first character of ``text`` that :func:`has_control` refuses, or None."""
    found = _CONTROL_ANY.search(text)
    return found.group(0) if found else None


def has_control(text: str) -> bool:
    """True when ``text`` holds any C0/C1 control character (TAB and LF included) or a
    Unicode bidirectional control or line separator."""
    return _CONTROL_ANY.search(text) is not None


def terminal(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` safe for a terminal line: control characters shown as ``\\xNN``,
    bidirectional controls and U+2028/U+2029 as ``\\uNNNN``.

    An ESC from an untrusted value cannot clear the screen or set the title.
    With ``keep_newlines``, LF and TAB are kept (multi-line long output).
    """
    pattern = _CONTROL if keep_newlines else _CONTROL_ANY
    return pattern.sub(_visible, text)


def one_line(text: str) -> str:
    """``text`` on one line with no control characters (for status lines, feeds, headers)."""
    return terminal(text)


def shorten(text: str, limit: int = 60) -> str:
    """At most ``limit`` characters of ``text``, then '...' when cut: a foreign value of any
    length (a table name, an SRR service name) stays one readable line."""
    return text if len(text) <= limit else text[:limit] + "..."


def listed(names: Sequence[str], most: int, limit: int = 60) -> str:
    """Up to ``most`` of ``names``, each cut by :func:`shorten` to ``limit``, comma-separated; ', ...' for the rest."""
    return ", ".join(shorten(n, limit) for n in names[:most]) + (", ..." if len(names) > most else "")
