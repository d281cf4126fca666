"""The dCache release version: parsing, total ordering, series and patterns.

dCache has written its version two ways. Up to 1.9.x a release is a
three-number series plus a patch level after a dash (``1.9.5-19``), often as a
build string (``production-1.9.5-23``) or with the name space the SE publishes
in GLUE (``1.9.5-19 (ns=Chimera)``). From 2.0 on it is plain ``major.minor.bugfix``
(``2.10.62``, ``9.2.21``) whose series is ``major.minor``. Both forms parse into
one ordered type so a rule like "at least 1.9.5-0" also accepts ``2.10.62``.

A version without its patch level (``1.9.5``, ``2.10``) names the start of its
series: it sorts before every release of that series.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field

Series = tuple[int, ...]

# One published string: optional "dCache " (xrootd kXR_Qconfig answers "dCache 2.14.3")
# and "production-" (1.9 build strings), the numbers, an optional -patch (1.x only)
# and an optional parenthesised note such as "(ns=Chimera)".
_VERSION = re.compile(
    r"(?:dcache[ \t]+)?(?:production-)?"
    r"(?P<numbers>[0-9]{1,6}(?:\.[0-9]{1,6}){0,3})"
    r"(?:-(?P<patch>[0-9]{1,6}))?"
    r"(?:[ \t]*\((?P<note>[^()]*)\))?",
    re.IGNORECASE)

# Series published as golden before the "every N.2" rule (DOMAIN.md).
_EARLY_GOLDEN: frozenset[Series] = frozenset({
    (1, 9, 5), (1, 9, 12), (2, 2), (2, 6), (2, 10), (2, 13), (2, 16)})


class VersionError(ValueError):
    """A string that is not a dCache version or pattern; the message names it."""


def series_name(series: Series) -> str:
    return ".".join(str(n) for n in series)


def parse_series(text: str) -> Series:
    """A series name (``1.9.5``, ``2.10``, ``9.2``) as numbers."""
    version = DcacheVersion.parse(text)
    if version.patch is not None:
        raise VersionError(f"'{text.strip()}' is a release, not a dCache series "
                           f"(the series is {version.series_name})")
    return version.series


def is_golden(series: Series) -> bool:
    """Whether ``series`` is a golden (long-term support) series.

    1.9.5, 1.9.12, 2.2, 2.6, 2.10, 2.13 and 2.16 were named golden; from 3.x on
    every ``N.2`` is. Everything else is a feature series.
    """
    if series in _EARLY_GOLDEN:
        return True
    return len(series) == 2 and series[0] >= 3 and series[1] == 2


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class DcacheVersion:
    """One dCache release (or, without ``patch``, the start of a series).

    Equality and ordering use ``series`` and ``patch`` only: the note and the
    original text do not change which release it is.
    """

    series: Series
    patch: int | None = None
    #: The parenthesised note GLUE carries, e.g. "ns=Chimera".
    note: str | None = field(default=None)
    #: The string as it was published.
    text: str = field(default="")

    @classmethod
    def parse(cls, text: str) -> DcacheVersion:
        """Parse any published form; raises VersionError naming ``text``."""
        if not isinstance(text, str):
            raise VersionError(f"not a dCache version: {text!r}")
        stripped = text.strip()
        match = _VERSION.fullmatch(stripped)
        if not match:
            raise VersionError(f"unparseable dCache version '{_short(stripped)}'")
        numbers = tuple(int(n) for n in match["numbers"].split("."))
        patch = int(match["patch"]) if match["patch"] is not None else None
        note = match["note"].strip() if match["note"] is not None else None
        if numbers[0] == 1:
            # 1.x: the series has three numbers and the patch follows a dash.
            if len(numbers) != 3:
                raise VersionError(f"unparseable dCache version '{_short(stripped)}' "
                                   "(1.x releases look like 1.9.5-19)")
            return cls(numbers, patch, note, stripped)
        if numbers[0] >= 2 and patch is None and len(numbers) in (2, 3):
            series = numbers[:2]
            return cls(series, numbers[2] if len(numbers) == 3 else None, note, stripped)
        raise VersionError(f"unparseable dCache version '{_short(stripped)}' "
                           "(expected 1.9.5-19 or 2.10.62 style)")

    @property
    def key(self) -> tuple[int, ...]:
        # -1 puts a bare series before its first release (patch 0). Series of one
        # major version all have the same length, so plain tuple order is total.
        return (*self.series, -1 if self.patch is None else self.patch)

    @property
    def series_name(self) -> str:
        return series_name(self.series)

    @property
    def golden(self) -> bool:
        return is_golden(self.series)

    @property
    def kind(self) -> str:
        """"golden" or "feature"."""
        return "golden" if self.golden else "feature"

    @property
    def namespace(self) -> str | None:
        """The name space implementation from a "(ns=...)" note (PNFS, Chimera)."""
        if self.note and self.note.lower().startswith("ns="):
            return self.note[3:].strip() or None
        return None

    def canonical(self) -> str:
        """The release in its own series' form: ``1.9.5-19``, ``2.10.62``, or the bare series."""
        if self.patch is None:
            return self.series_name
        separator = "-" if self.series[0] == 1 else "."
        return f"{self.series_name}{separator}{self.patch}"

    def __str__(self) -> str:
        return self.canonical()

    def __repr__(self) -> str:
        return f"DcacheVersion('{self.canonical()}')"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DcacheVersion):
            return NotImplemented
        return self.key == other.key

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DcacheVersion):
            return NotImplemented
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)


# A deny pattern: version characters and the glob wildcards * and ?.
_PATTERN = re.compile(r"[0-9*?][0-9.*?-]*")


@dataclass(frozen=True)
class VersionPattern:
    """A glob over canonical versions (``1.9.6-*``, ``2.10.*``) or one version or series.

    Without wildcards the pattern is a version: a release (``1.9.5-20``)
    matches that release, a bare series (``1.9.6``, ``2.10``) every release of it.
    """

    text: str

    @classmethod
    def parse(cls, text: str) -> VersionPattern:
        if not isinstance(text, str):
            raise VersionError(f"not a dCache version pattern: {text!r}")
        stripped = text.strip()
        if not _PATTERN.fullmatch(stripped):
            raise VersionError(f"bad dCache version pattern '{_short(stripped)}' "
                               "(use digits, '.', '-' and the wildcards * and ?)")
        if "*" not in stripped and "?" not in stripped:
            DcacheVersion.parse(stripped)  # must at least be a version
        return cls(stripped)

    @property
    def exact(self) -> DcacheVersion | None:
        """The version this pattern names when it has no wildcards."""
        if "*" in self.text or "?" in self.text:
            return None
        return DcacheVersion.parse(self.text)

    def matches(self, version: DcacheVersion) -> bool:
        exact = self.exact
        if exact is None:
            return fnmatch.fnmatchcase(version.canonical(), self.text)
        if exact.patch is None:
            return version.series == exact.series
        return version == exact

    def __str__(self) -> str:
        return self.text


def _short(text: str, limit: int = 60) -> str:
    """Untrusted text for a one-line message: printable and bounded."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."
