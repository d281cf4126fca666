"""The dCache series table: which series exist, which are golden, and until when each is supported.

The table (``config/dcache_series.yaml``) lists each series with its release
date and, optionally, its end of support. Where the end is not written it
follows the dCache golden-release policy (config/dcache_series.yaml): a golden series is supported until the
second subsequent golden series is released; a feature series ends with the
support of the golden series before it. A golden series whose second successor
is not in the table yet is supported open-endedly.

A series older than every series in the table is out of support (the table
starts with the first golden release, 1.9.5).

Past the table, the policy is extrapolated rather than giving up: from 3.x on
every ``N.2`` is golden and goldens come about once a year, so golden ``N.2``
after the table's last golden is expected one year per step after it, on the
same day of the year. A golden whose second successor is not in the table (the
table's last two goldens, and any later one) ends on that successor's
*expected* release; a feature series ends with the golden before it. An end of
support that is only expected is trusted to say "still supported" when the
day is more than ``EXTRAPOLATION_MARGIN`` before it; nearer, and after it,
the table cannot tell (None: UNKNOWN with the reason): a site is never failed
on an estimated date, only on a golden release recorded in the table. A series past the table is assumed released (it was
seen running); one that fits neither the table nor the ``N.0/N.1/N.2`` pattern
after it (e.g. ``2.17``, never released) cannot be judged either.

Before its release date (per the table) a series is not "supported": the day
is before the release, so the build is a pre-release or the table's date is
off by a few weeks (the dates are approximate). Treating it as supported
because it is newer than the current golden would pass a development build;
calling it unsupported would fail a site for our own date error. So the
answer is None (UNKNOWN, naming the release date); pre-release versions are
refused separately by the rules (``prerelease``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from gridready.dcache.version import Series, VersionError, is_golden, parse_series, series_name
from gridready.errors import ConfigError

KINDS = ("golden", "feature")
#: Records one problem at a YAML path.
Problem = Callable[[tuple[str | int, ...], str], None]
_ENTRY_KEYS = ("series", "kind", "released", "supported_until", "note")
#: How near an extrapolated end of support the table stops deciding.
EXTRAPOLATION_MARGIN = timedelta(days=60)
#: Extrapolated goldens computed past the table's last one, at most.
_MAX_EXTRAPOLATED = 200


@dataclass(frozen=True)
class SeriesInfo:
    """One series of the table, with its end of support resolved."""

    series: Series
    golden: bool
    released: date
    #: Last day of support (inclusive); None: open, no end known yet.
    supported_until: date | None
    note: str = ""

    @property
    def name(self) -> str:
        return series_name(self.series)

    @property
    def kind(self) -> str:
        return "golden" if self.golden else "feature"

    def supported_on(self, day: date) -> bool:
        return self.supported_until is None or day <= self.supported_until

    def describe(self) -> str:
        """E.g. "golden series 1.9.5, supported until 2012-05-15"."""
        until = f"until {self.supported_until}" if self.supported_until else "with no end date yet"
        return f"{self.kind} series {self.name}, supported {until}"


@dataclass(frozen=True)
class Support:
    """What the table says about one series on one day."""

    series: Series
    #: The table entry, None when the series is not listed.
    info: SeriesInfo | None
    #: True/False when known, None when the table cannot tell.
    supported: bool | None
    message: str


@dataclass(frozen=True)
class SeriesTable:
    entries: tuple[SeriesInfo, ...]
    path: str = ""

    def get(self, series: Series) -> SeriesInfo | None:
        return next((e for e in self.entries if e.series == series), None)

    def support(self, series: Series, day: date) -> Support:
        """Whether ``series`` is supported on ``day``, with a message saying why."""
        name = series_name(series)
        info = self.get(series)
        if info is not None:
            if day < info.released:
                return Support(series, info, None,
                               f"{info.kind} series {name} is not released on {day} per the dCache series "
                               f"table (released {info.released}): a pre-release build, or the table's "
                               "date is early")
            if info.supported_until is not None:
                if info.supported_on(day):
                    return Support(series, info, True, info.describe())
                return Support(series, info, False,
                               f"{info.kind} series {name} is past its end of support "
                               f"({info.supported_until})")
            return self._expected(series, info.golden, info, day)
        if self.entries and series < self.entries[0].series:
            return Support(series, None, False,
                           f"series {name} is out of support (older than {self.entries[0].name}, "
                           "the first series in the dCache series table)")
        if self.entries and series > self.entries[-1].series and _after_table_shape(series):
            return self._expected(series, is_golden(series), None, day)
        return Support(series, None, None,
                       f"series {name} is not in the dCache series table "
                       f"{self.path or '(bundled)'}, so its support cannot be judged")

    def _expected(self, series: Series, golden: bool, info: SeriesInfo | None, day: date) -> Support:
        """Support from the extrapolated golden releases (see the module docstring)."""
        name = series_name(series)
        kind = "golden" if golden else "feature"
        end = self.expected_end(series, golden)
        where = "" if info is not None else " (past the dCache series table; every N.2 is golden)"
        if end is None:
            return Support(series, info, None, f"{kind} series {name}{where}: no earlier golden series "
                                               "to take the end of support from")
        if info is None:
            # Not before the golden it follows (feature) or its own (golden) is expected.
            goldens = self.golden_releases(series)
            start = max((released for g, released in goldens if g <= series), default=None)
            if start is not None and day + EXTRAPOLATION_MARGIN < start:
                return Support(series, info, None,
                               f"{kind} series {name}{where} is not expected before about {start} "
                               f"(extrapolated), yet seen on {day}: a mistyped version, or the table "
                               "is missing series")
        if day + EXTRAPOLATION_MARGIN < end:
            return Support(series, info, True,
                           f"{kind} series {name}{where}, supported until about {end} "
                           "(extrapolated: one N.2 golden a year)")
        if day > end + EXTRAPOLATION_MARGIN:
            # The end is only an estimate (the successor golden's release is not
            # in the table): failing a site on it would be a verdict without evidence.
            return Support(series, info, None,
                           f"{kind} series {name}{where} is past its expected end of support (about {end}, "
                           "extrapolated: one N.2 golden a year), but the golden release that ends it is "
                           "not in the dCache series table, so the table cannot tell: add the goldens "
                           "released since")
        return Support(series, info, None,
                       f"{kind} series {name}{where} is within {EXTRAPOLATION_MARGIN.days} days of its "
                       f"expected end of support (about {end}, extrapolated), so the table cannot tell: "
                       "add the goldens released since to the dCache series table")

    def golden_releases(self, beyond: Series) -> list[tuple[Series, date]]:
        """The table's goldens, then extrapolated ones (N.2, a year apart) until two past ``beyond``."""
        goldens = [(e.series, e.released) for e in self.entries if e.golden]
        if not goldens:
            return goldens
        last, released = goldens[-1]
        major = last[0]
        for _ in range(_MAX_EXTRAPOLATED):
            if sum(1 for g, _ in goldens if g > beyond) >= 2:
                break
            major = max(major + 1, 3)
            step = (major, 2)
            if step <= last:
                continue
            released = _years_later(released, 1)
            goldens.append((step, released))
        return goldens

    def expected_end(self, series: Series, golden: bool) -> date | None:
        """The (possibly extrapolated) last day of support of ``series``; None without an earlier golden."""
        goldens = self.golden_releases(series)
        if not golden:
            earlier = [g for g, _ in goldens if g < series]
            if not earlier:
                return None
            series = earlier[-1]
        later = [released for g, released in goldens if g > series]
        return later[1] if len(later) >= 2 else None


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _after_table_shape(series: Series) -> bool:
    """Whether a series past the table fits the pattern dCache has used since 3.x (N.0, N.1, N.2)."""
    return len(series) == 2 and series[0] >= 3 and 0 <= series[1] <= 2


def derive_support(entries: Sequence[tuple[Series, bool, date]]) -> dict[Series, date | None]:
    """End of support per series by the dCache policy (see the module docstring).

    ``entries`` are (series, golden, released); a feature series older than
    every golden series gets None (no golden to inherit support from).
    """
    ordered = sorted(entries)
    goldens = [(s, released) for s, golden, released in ordered if golden]
    golden_end: dict[Series, date | None] = {}
    for index, (series, _) in enumerate(goldens):
        golden_end[series] = goldens[index + 2][1] if index + 2 < len(goldens) else None
    ends: dict[Series, date | None] = {}
    for series, golden, _ in ordered:
        if golden:
            ends[series] = golden_end[series]
            continue
        previous = [g for g, _ in goldens if g < series]
        ends[series] = golden_end[previous[-1]] if previous else None
    return ends


def load_series_table(path: str | Path) -> SeriesTable:
    """Read and validate the table; raises ConfigError with ``file:line`` per problem."""
    # The YAML reader is shared with the rules loader, which a probe has already
    # imported by the time it gets here.
    from gridready.yamlfile import load_yaml

    raw, lines = load_yaml(path)
    problems: list[str] = []

    def problem(where: tuple[str | int, ...], message: str) -> None:
        problems.append(f"{lines.where(where)}: {message}")

    if not isinstance(raw, dict) or not isinstance(raw.get("series"), list):
        raise ConfigError([f"{lines.where(())}: expected a mapping with a 'series' list"])
    for key in raw:
        if key != "series":
            problem((str(key),), f"unknown key '{key}' (allowed: series)")

    rows: list[tuple[Series, bool, date, date | None, bool, str]] = []
    seen: dict[Series, int] = {}
    for index, item in enumerate(raw["series"]):
        where: tuple[str | int, ...] = ("series", index)
        if not isinstance(item, dict):
            problem(where, f"series[{index}]: expected a mapping, got {type(item).__name__}")
            continue
        unknown = [k for k in item if k not in _ENTRY_KEYS]
        for key in unknown:
            problem(where + (str(key),), f"series[{index}]: unknown key '{key}' "
                                         f"(allowed: {', '.join(_ENTRY_KEYS)})")
        row = _row(item, index, where, problem)
        if row is None or unknown:
            continue
        if row[0] in seen:
            problem(where + ("series",), f"series[{index}]: duplicate series {series_name(row[0])} "
                                         f"(first at line {lines.line(('series', seen[row[0]]))})")
            continue
        seen[row[0]] = index
        rows.append(row)
    if not rows and not problems:
        problem(("series",), "no series listed")
    if problems:
        raise ConfigError(problems)

    derived = derive_support([(s, golden, released) for s, golden, released, *_ in rows])
    entries: list[SeriesInfo] = []
    for series, golden, released, until, explicit, note in sorted(rows):
        if not explicit:
            until = derived[series]
            if until is None and not golden:
                problem(("series", seen[series]),
                        f"series {series_name(series)}: no earlier golden series to inherit "
                        "support from; give supported_until")
        entries.append(SeriesInfo(series, golden, released, until, note))
    if problems:
        raise ConfigError(problems)
    return SeriesTable(tuple(entries), str(path))


def _row(item: Mapping[str, Any], index: int, where: tuple[str | int, ...],
         problem: Problem) -> tuple[Series, bool, date, date | None, bool, str] | None:
    label = f"series[{index}]"
    name = item.get("series")
    if not isinstance(name, str):
        # Unquoted 2.10 is the float 2.1 in YAML: insist on strings.
        problem(where + ("series",), f"{label}: series must be a quoted string like '2.10', "
                                     f"got {name!r}")
        return None
    try:
        series = parse_series(name)
    except VersionError as exc:
        problem(where + ("series",), f"{label}: {exc}")
        return None
    kind = item.get("kind", "golden" if is_golden(series) else "feature")
    if kind not in KINDS:
        problem(where + ("kind",), f"{label}: kind must be golden or feature, got {kind!r}")
        return None
    released = _date(item.get("released"), f"{label}.released", where + ("released",), problem)
    if released is None:
        return None
    explicit = "supported_until" in item
    until: date | None = None
    if explicit and item["supported_until"] is not None:
        until = _date(item["supported_until"], f"{label}.supported_until",
                      where + ("supported_until",), problem)
        if until is None:
            return None
        if until < released:
            problem(where + ("supported_until",),
                    f"{label}: supported_until {until} is before released {released}")
            return None
    note = item.get("note") or ""
    if not isinstance(note, str):
        problem(where + ("note",), f"{label}: note must be text")
        return None
    return series, kind == "golden", released, until, explicit, note


def _date(value: Any, label: str, where: tuple[str | int, ...], problem: Problem) -> date | None:
    if not isinstance(value, str):
        problem(where, f"{label}: expected a date YYYY-MM-DD, got {value!r}")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problem(where, f"{label}: bad date '{value}', expected YYYY-MM-DD")
        return None


_BUNDLED: SeriesTable | None = None


def bundled_table() -> SeriesTable:
    """The table shipped in ``config/dcache_series.yaml``, read once per process."""
    global _BUNDLED
    if _BUNDLED is None:
        from gridready import bundled
        from gridready.cache import cached

        # Validated once and cached (gridready.cache): a probe start needs no YAML parser.
        path = bundled.config_dir() / "dcache_series.yaml"
        _BUNDLED = cached("dcache-series", path, lambda: load_series_table(path), SeriesTable, (__file__,))
    return _BUNDLED
