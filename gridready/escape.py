"""Escaping of untrusted values for each output gridready writes.

Values from outside (ingested results, inventories, BDII records, server
replies) reach terminals, Nagios configuration, Markdown, HTML, SSB feeds and
metricOutput messages. Each output has its own special characters; this
module is the one place that knows them, and every formatter calls the
function for its output on every untrusted value.
"""

from __future__ import annotations

import re

# C0 and C1 control characters plus DEL; TAB and LF handled per output.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    return f"\\x{ord(char):02x}"


def has_control(text: str) -> bool:
    """True when ``text`` holds any C0/C1 control character (TAB and LF included)."""
    return _CONTROL_ANY.search(text) is not None


def terminal(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` safe for a terminal line: control characters shown as ``\\xNN``.

    An ESC from an untrusted value cannot clear the screen or set the title.
    With ``keep_newlines``, LF and TAB are kept (multi-line long output).
    """
    pattern = _CONTROL if keep_newlines else _CONTROL_ANY
    return pattern.sub(_visible, text)


def one_line(text: str) -> str:
    """``text`` on one line with no control characters (for status lines, feeds, headers)."""
    return terminal(text)
