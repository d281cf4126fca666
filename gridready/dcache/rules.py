"""Judging dCache versions against a milestone's ``expect`` (plus ``--min``/``--deny``).

``expect`` keys (all optional):

``min``
    Lowest acceptable release, e.g. ``1.9.5-0`` (a later series always passes).
``deny``
    Releases or patterns that are not acceptable: ``1.9.5-20``, ``1.9.6-*``,
    ``2.10.*``; a bare series (``1.9.6``) denies the whole series.
``series``
    The only series allowed, e.g. ``[1.9.5, 1.9.12]``.
``golden``
    true: the series must be a golden series.
``supported``
    true: the series must be within its support period on the evaluation date,
    per the series table (extrapolated past it, see ``gridready.dcache.series``).
    Running a series past its end of support is its own finding; where the
    table cannot decide (a series before its release date, an unknown series,
    near an extrapolated end) the SE is UNKNOWN with the reason, not a failure.
``prerelease``
    false (the default): a pre-release (``2.6.0-SNAPSHOT``, ``3.0.0-rc1``,
    ``1.9.5-20rc1``) fails whatever else the milestone says: production
    milestones want releases, and a development build is not supported. true
    lets pre-releases be judged like releases (e.g. for a test-bed milestone).

The command line's ``--min`` replaces ``min`` and ``--deny`` adds patterns.
Everything here is pure: the series table and the date are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from gridready.checks.interface import Assessment, Finding, Severity
from gridready.dcache.observed import DcacheObservation, StorageElement
from gridready.dcache.series import SeriesTable
from gridready.dcache.version import (DcacheVersion, Series, VersionError, VersionPattern,
                                      parse_series, series_name)

EXPECT_KEYS = ("min", "deny", "series", "golden", "supported", "prerelease")


@dataclass(frozen=True)
class VersionRules:
    minimum: DcacheVersion | None = None
    deny: tuple[VersionPattern, ...] = ()
    series: tuple[Series, ...] = ()
    golden: bool = False
    supported: bool = False
    prerelease: bool = False


def _text_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise VersionError(f"{key}: expected a string or a list of quoted strings, got {value!r}")


def rules_from(expect: Mapping[str, Any], cli_min: str | None = None,
               cli_deny: Sequence[str] = ()) -> VersionRules:
    """The rules of one milestone; raises VersionError naming the bad key and value."""
    unknown = [str(k) for k in expect if k not in EXPECT_KEYS]
    if unknown:
        raise VersionError(f"unknown expect key '{unknown[0]}' (allowed: {', '.join(EXPECT_KEYS)})")
    minimum_text = cli_min if cli_min is not None else expect.get("min")
    minimum: DcacheVersion | None = None
    if minimum_text is not None:
        if not isinstance(minimum_text, str):
            # YAML reads an unquoted 2.10 as the number 2.1.
            raise VersionError(f"min: write the version as a quoted string, got {minimum_text!r}")
        try:
            minimum = DcacheVersion.parse(minimum_text)
        except VersionError as exc:
            raise VersionError(f"min: {exc}") from None
    deny: list[VersionPattern] = []
    for text in _text_list(expect.get("deny", []), "deny") + list(cli_deny):
        try:
            deny.append(VersionPattern.parse(text))
        except VersionError as exc:
            raise VersionError(f"deny: {exc}") from None
    series: list[Series] = []
    for text in _text_list(expect.get("series", []), "series"):
        try:
            series.append(parse_series(text))
        except VersionError as exc:
            raise VersionError(f"series: {exc}") from None
    flags: dict[str, bool] = {}
    for key in ("golden", "supported", "prerelease"):
        value = expect.get(key, False)
        if not isinstance(value, bool):
            raise VersionError(f"{key}: expected true or false, got {value!r}")
        flags[key] = value
    return VersionRules(minimum, tuple(deny), tuple(series), flags["golden"], flags["supported"],
                        flags["prerelease"])


def validate_expect(expect: Mapping[str, Any]) -> list[str]:
    """Problems with a milestone's ``expect``, one line each (empty when fine)."""
    problems: list[str] = []
    for key in expect:
        if key not in EXPECT_KEYS:
            problems.append(f"unknown expect key '{key}' (allowed: {', '.join(EXPECT_KEYS)})")
    known = {k: v for k, v in expect.items() if k in EXPECT_KEYS}
    for key in known:
        try:
            rules_from({key: known[key]})
        except VersionError as exc:
            problems.append(str(exc))
    return problems


def assess(observation: DcacheObservation, rules: VersionRules, table: SeriesTable,
           as_of: date) -> Assessment:
    """Judge every dCache SE; the site result is the worst of them."""
    dcache = observation.dcache
    if not dcache:
        others = "; ".join(f"{e.name} runs {e.implementation}, not dCache" for e in observation.others)
        return Assessment(applicable=False, summary=others or f"no dCache storage in {observation.where}")
    findings: list[Finding] = []
    unknown: list[str] = []
    for element in dcache:
        judged, why = _judge(element, rules, table, as_of)
        findings.extend(judged)
        if why:
            unknown.append(why)
    return Assessment(tuple(findings), unknown="; ".join(unknown))


def _judge(element: StorageElement, rules: VersionRules, table: SeriesTable,
           as_of: date) -> tuple[list[Finding], str]:
    """The SE's findings, and why its support could not be decided ("" when it could)."""
    version = element.version
    name = element.name
    support = table.support(version.series, as_of)
    # (message tail, remediation, severity); the subject is prepended below.
    failed: list[tuple[str, str, Severity]] = []
    undecided = ""

    if version.prerelease and not rules.prerelease:
        failed.append((", a pre-release (development build), not a release",
                       f"install a dCache release on {name} (not a SNAPSHOT, rc or preview build)",
                       Severity.CRITICAL))
    if rules.minimum is not None and version < rules.minimum:
        failed.append((f", older than the minimum {rules.minimum}",
                       f"upgrade {name} to dCache {rules.minimum} or later", Severity.CRITICAL))
    denied = next((p for p in rules.deny if p.matches(version)), None)
    if denied is not None:
        why = f"matches '{denied}'" if denied.text != version.canonical() else "listed"
        failed.append((f", a denied release ({why})",
                       f"move {name} to a dCache release that is not denied", Severity.CRITICAL))
    if rules.series and version.series not in rules.series:
        allowed = ", ".join(series_name(s) for s in rules.series)
        failed.append((f", series {version.series_name}, not an allowed series ({allowed})",
                       f"move {name} to one of the series {allowed}", Severity.CRITICAL))
    if rules.golden and not version.golden:
        failed.append((f", feature series {version.series_name}; a golden series is required",
                       f"move {name} to a golden dCache series{_goldens(table, as_of)}",
                       Severity.CRITICAL))
    if rules.supported and support.supported is False:
        # Its own finding: an old-but-minimum-passing series is a different
        # problem (and a different fix) from a too-old release.
        failed.append((f": {support.message}",
                       f"upgrade {name} to a supported series{_goldens(table, as_of)}",
                       Severity.CRITICAL))
    elif rules.supported and support.supported is None:
        # Not a failure: the table cannot tell (evidence rule: UNKNOWN with the reason).
        undecided = f"{name} runs dCache {version}: {support.message}"
    if not failed:
        context = support.message if support.supported else (
            support.info.describe() if support.info is not None else f"{version.kind} series")
        return [Finding(True, f"{element.describe()} ({context})")], undecided
    # The first failure says what the SE publishes (both versions when sources
    # disagree); the others only name it, to keep the status line readable.
    subjects = [element.describe()] + [f"{name} runs dCache {version}"] * (len(failed) - 1)
    return [Finding(False, subject + tail, remedy, severity)
            for subject, (tail, remedy, severity) in zip(subjects, failed)], undecided


def _goldens(table: SeriesTable, as_of: date) -> str:
    names = [e.name for e in table.entries
             if e.golden and table.support(e.series, as_of).supported is True]
    return f" (golden series supported on {as_of}: {', '.join(names)})" if names else ""
