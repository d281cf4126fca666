"""The dCache release version: parsing, total ordering, series and patterns.

dCache has written its version several ways, all of which reach GLUE, SRR and
the info service as they were built (facts from dCache's release tags and its
info provider, which only strips ``production-``):

- up to 1.9.x a three-number series plus a patch level after a dash
  (``1.9.5-19``; 1.8.0 added patch releases of a patch level,
  ``1.8.0-15p6``, as its GLUE publication and packages carry them), as a build string (``production-1.9.5-23``), with the name
  space GLUE publishes (``1.9.5-19 (ns=Chimera)``), and pre-releases
  (``1.9.5-20rc1``, ``1.9.3-1rc``, ``1.9.5-preview3``);
- from 2.0 on plain ``major.minor.bugfix`` (``2.10.62``, ``9.2.21``) whose
  series is ``major.minor``; development builds carry a Maven qualifier
  (``2.6.0-SNAPSHOT``, ``3.0.0-rc1``, ``2.1.0_pre``); a package build number
  may follow (``2.10.62-1``: the same release); a two-part series with a dash
  patch was published too (``2.8-3 (ns=Chimera)``, i.e. 2.8.3).

All parse into one ordered type so a rule like "at least 1.9.5-0" also
accepts ``2.10.62``. A pre-release sorts below the release it precedes
(``2.6.0-SNAPSHOT < 2.6.0``, ``1.9.5-20rc1 < 1.9.5-20``). A version without
its patch level (``1.9.5``, ``2.10``) names the start of its series: it sorts
before every release of that series.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field

from gridready.escape import shorten

Series = tuple[int, ...]

# One published string: optional "dCache " (xrootd kXR_Qconfig answers "dCache 2.14.3")
# and "production-" (1.9 build strings), the numbers, an optional -patch (1.x,
# or 2.x two-part series) or package build (2.x three-part), an optional
# pre-release qualifier, and an optional parenthesised note such as "(ns=Chimera)".
_VERSION = re.compile(
    r"(?:dcache[ \t]+)?(?:production-)?"
    r"(?P<numbers>[0-9]{1,6}(?:\.[0-9]{1,6}){0,3})"
    r"(?:-(?P<patch>[0-9]{1,6})(?:p(?P<sub>[0-9]{1,6}))?)?"
    r"(?:[-_.]?(?P<stage>snapshot|preview|pre|alpha|beta|rc)(?P<stagenum>[0-9]{1,6})?)?"
    r"(?:[ \t]*\((?P<note>[^()]*)\))?",
    re.IGNORECASE)

#: Pre-release qualifiers, lowest first; a release ranks above all of them.
STAGES = ("snapshot", "pre", "preview", "alpha", "beta", "rc")
_RELEASE_RANK = len(STAGES)

# Series published as golden before the "every N.2" rule (config/dcache_series.yaml).
_EARLY_GOLDEN: frozenset[Series] = frozenset({
    (1, 9, 5), (1, 9, 12), (2, 2), (2, 6), (2, 10), (2, 13), (2, 16)})


class VersionError(ValueError):
    """A string that is not a dCache version or pattern; the message names it."""


def series_name(series: Series) -> str:
    return ".".join(str(n) for n in series)


def parse_series(text: str) -> Series:
    """A series name (``1.9.5``, ``2.10``, ``9.2``) as numbers."""
    version = DcacheVersion.parse(text)
    if version.patch is not None or version.stage is not None:
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
    #: Pre-release qualifier (one of STAGES, lower case), None for a release.
    stage: str | None = field(default=None)
    #: Number after the qualifier ("rc1" -> 1), None when there is none.
    stage_number: int | None = field(default=None)
    #: 1.8.0's patch release of a patch level ("1.8.0-15p6" -> 6), None when there is none.
    subpatch: int | None = field(default=None)

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
        dashed = int(match["patch"]) if match["patch"] is not None else None
        note = match["note"].strip() if match["note"] is not None else None
        stage = match["stage"].lower() if match["stage"] is not None else None
        stage_number = int(match["stagenum"]) if match["stagenum"] is not None else None
        subpatch = int(match["sub"]) if match["sub"] is not None else None
        if numbers[0] == 1:
            # 1.x: the series has three numbers and the patch follows a dash.
            if len(numbers) != 3:
                raise VersionError(f"unparseable dCache version '{_short(stripped)}' "
                                   "(1.x releases look like 1.9.5-19)")
            return cls(numbers, dashed, note, stripped, stage, stage_number, subpatch)
        if subpatch is not None:
            raise VersionError(f"unparseable dCache version '{_short(stripped)}' "
                               "(a 'p' patch release exists only in 1.x, e.g. 1.8.0-15p6)")
        if numbers[0] >= 2 and len(numbers) == 3:
            # 2.10.62-1: the dash number is the package build of the same release.
            return cls(numbers[:2], numbers[2], note, stripped, stage, stage_number)
        if numbers[0] >= 2 and len(numbers) == 2:
            # 2.10 is the series; 2.8-3 was published for release 2.8.3.
            return cls(numbers, dashed, note, stripped, stage, stage_number)
        raise VersionError(f"unparseable dCache version '{_short(stripped)}' "
                           "(expected 1.9.5-19 or 2.10.62 style)")

    @property
    def key(self) -> tuple[int, ...]:
        # -1 puts a bare series before its first release (patch 0). Series of one
        # major version all have the same length, so plain tuple order is total.
        # Then the stage: every pre-release below the release (rank len(STAGES)).
        rank = _RELEASE_RANK if self.stage is None else STAGES.index(self.stage)
        number = -1 if self.stage_number is None else self.stage_number
        # 1.8.0-15p6 sorts after 1.8.0-15 and before 1.8.0-16.
        sub = 0 if self.subpatch is None else self.subpatch
        return (*self.series, -1 if self.patch is None else self.patch, sub, rank, number)

    @property
    def prerelease(self) -> bool:
        """A development or candidate build (SNAPSHOT, preview, rc...), not a release."""
        return self.stage is not None

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
        """The release in its own series' form.

        ``1.9.5-19``, ``2.10.62``, the bare series ``2.10``, and pre-releases
        as dCache wrote them: ``1.9.5-20rc1``, ``1.9.5-preview3``, ``2.6.0-SNAPSHOT``.
        """
        if self.patch is None:
            text = self.series_name
        else:
            separator = "-" if self.series[0] == 1 else "."
            text = f"{self.series_name}{separator}{self.patch}"
            if self.subpatch is not None:
                text += f"p{self.subpatch}"
        if self.stage is None:
            return text
        qualifier = "SNAPSHOT" if self.stage == "snapshot" else self.stage
        qualifier += "" if self.stage_number is None else str(self.stage_number)
        # 1.x candidates were tagged "1.9.5-20rc1"; everything else "-qualifier".
        glued = self.series[0] == 1 and self.patch is not None
        return f"{text}{'' if glued else '-'}{qualifier}"

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


# A deny pattern: version characters (qualifiers included) and the glob wildcards * and ?.
_PATTERN = re.compile(r"[0-9*?][0-9A-Za-z.*?_-]*")


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
    return shorten("".join(c if c.isprintable() else "?" for c in text), limit)
