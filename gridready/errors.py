"""Exception types shared by the whole package.

Every error that reaches a user carries a one-line message that names the file
or host and what was wrong; the runtime boundaries (probe runtime, CLI) turn
them into output and exit codes, nothing below them prints.
"""

from __future__ import annotations

from collections.abc import Sequence


class GridreadyError(Exception):
    """Base class: an expected failure with a one-line, user-facing message."""


class ConfigError(GridreadyError):
    """A configuration file (rules, inventory) could not be loaded.

    ``problems`` holds one ``file:line: what`` string per problem found, so
    ``gridready rules validate`` can report them all at once.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__(self.problems[0] if len(self.problems) == 1 else
                         f"{self.problems[0]} (and {len(self.problems) - 1} more problems)")


class ConfigUnreadable(ConfigError):
    """The configuration file could not be read at all (missing, not a regular file, too large).

    ``reason`` is the reader's own line (``PATH: cannot read WHAT: why``);
    ``gridready rules validate`` reports it as an error (exit 3), not as
    invalid rules (exit 2).
    """

    def __init__(self, problems: Sequence[str], reason: str) -> None:
        super().__init__(problems)
        self.reason = reason


class UsageError(GridreadyError):
    """The probe was called with options that do not fit together (exit 3)."""


class CheckError(GridreadyError):
    """A check could not run or its data source gave no usable answer.

    Evaluates to compliance UNKNOWN for every milestone of that check.
    """


class SourceError(CheckError):
    """A data source (BDII, LDIF dump, HTTP service, file) failed.

    The message names the source (URI, host or path) and what was wrong.
    """


class CheckTimeout(CheckError):
    """The probe's deadline expired; ``stage`` names what it was waiting for."""

    def __init__(self, stage: str, seconds: float) -> None:
        self.stage = stage
        self.seconds = seconds
        super().__init__(f"timeout after {seconds:g}s while {stage}")
