"""The dCache version type: parsing every published form, ordering, series, golden, patterns."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridready.dcache.version import (STAGES, DcacheVersion, VersionError, VersionPattern, is_golden,
                                      parse_series)

V = DcacheVersion.parse


@pytest.mark.parametrize("text, series, patch, canonical, note", [
    ("1.9.5-19", (1, 9, 5), 19, "1.9.5-19", None),
    ("production-1.9.5-23", (1, 9, 5), 23, "1.9.5-23", None),
    ("1.9.5-19 (ns=Chimera)", (1, 9, 5), 19, "1.9.5-19", "ns=Chimera"),
    ("  1.9.5-19 (ns=PNFS) ", (1, 9, 5), 19, "1.9.5-19", "ns=PNFS"),
    ("1.9.12-10", (1, 9, 12), 10, "1.9.12-10", None),
    ("2.10.62", (2, 10), 62, "2.10.62", None),
    ("9.2.21", (9, 2), 21, "9.2.21", None),
    ("10.2.0", (10, 2), 0, "10.2.0", None),
    ("dCache 2.14.3", (2, 14), 3, "2.14.3", None),
    ("1.9.5", (1, 9, 5), None, "1.9.5", None),
    ("2.10", (2, 10), None, "2.10", None),
    # Forms dCache really published (info service, GLUE) or tagged.
    ("2.6.0-SNAPSHOT", (2, 6), 0, "2.6.0-SNAPSHOT", None),
    ("2.13.0-snapshot", (2, 13), 0, "2.13.0-SNAPSHOT", None),
    ("2.8-3 (ns=Chimera)", (2, 8), 3, "2.8.3", "ns=Chimera"),
    ("2.10.62-1", (2, 10), 62, "2.10.62", None),
    ("2.6.0-rc1", (2, 6), 0, "2.6.0-rc1", None),
    ("3.0.0-RC2", (3, 0), 0, "3.0.0-rc2", None),
    ("2.1.0_pre", (2, 1), 0, "2.1.0-pre", None),
    ("1.9.5-20rc1", (1, 9, 5), 20, "1.9.5-20rc1", None),
    ("1.9.3-1rc", (1, 9, 3), 1, "1.9.3-1rc", None),
    ("1.9.5-preview3", (1, 9, 5), None, "1.9.5-preview3", None),
    ("production-1.9.5-19 (ns=PNFS)", (1, 9, 5), 19, "1.9.5-19", "ns=PNFS"),
    ("production-1.8.0-15", (1, 8, 0), 15, "1.8.0-15", None),
    # 1.8.0 patch releases of a patch level, as GLUE 1.3 published them.
    ("1.8.0-15p6", (1, 8, 0), 15, "1.8.0-15p6", None),
    ("production-1.8.0-15p8 (ns=PNFS)", (1, 8, 0), 15, "1.8.0-15p8", "ns=PNFS"),
])
def test_parses_published_forms(text: str, series: tuple[int, ...], patch: int | None,
                                canonical: str, note: str | None) -> None:
    version = V(text)
    assert (version.series, version.patch, version.canonical(), version.note) == \
        (series, patch, canonical, note)
    assert str(version) == canonical
    assert version.text == text.strip()


def test_prerelease_orders_below_its_release() -> None:
    assert V("2.6.0-SNAPSHOT") < V("2.6.0") and V("2.6.0-SNAPSHOT") > V("2.5.12")
    assert V("2.6.0-SNAPSHOT") < V("2.6.0-rc1") < V("2.6.0-rc2") < V("2.6.0")
    assert V("1.9.5-19") < V("1.9.5-20rc1") < V("1.9.5-20")
    assert V("1.9.5-preview3") < V("1.9.5") < V("1.9.5-0")
    assert V("2.6.0-SNAPSHOT").prerelease and not V("2.6.0").prerelease
    # A package build number is the same release; a two-part series' dash number is the bugfix.
    assert V("2.10.62-1") == V("2.10.62-3") == V("2.10.62")
    assert V("2.8-3 (ns=Chimera)") == V("2.8.3") and V("2.8-3") < V("2.8.4")


def test_prerelease_patterns() -> None:
    assert VersionPattern.parse("2.6.*").matches(V("2.6.0-SNAPSHOT"))
    assert not VersionPattern.parse("2.6.0").matches(V("2.6.0-SNAPSHOT"))
    assert VersionPattern.parse("*-SNAPSHOT").matches(V("2.6.0-SNAPSHOT"))
    assert VersionPattern.parse("2.6.0-SNAPSHOT").matches(V("2.6.0-snapshot"))


def test_namespace_note() -> None:
    assert V("1.9.5-19 (ns=Chimera)").namespace == "Chimera"
    assert V("1.9.5-19 (ns=PNFS)").namespace == "PNFS"
    assert V("1.9.5-19").namespace is None


@pytest.mark.parametrize("text", [
    "", "   ", "dCache", "unknown", "1.9", "1.9.5.19", "1.9.5-", "1.9.5-19-2", "2.10.62-1-1",
    "2.6.0-rc1-rc2", "2.13.0-SNAPSHOTS", "2.6.0-final", "0.9.1", "2", "1.9.5-19 (ns=Chimera",
    "v2.10.62", "1.9.5-19 trailing", "2.10.62.1", "2.8-3-1", "SNAPSHOT",
])
def test_unparseable_names_the_string(text: str) -> None:
    with pytest.raises(VersionError) as raised:
        V(text)
    assert f"'{text.strip()}'" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_unparseable_message_is_bounded_and_printable() -> None:
    with pytest.raises(VersionError) as raised:
        V("x\x1b[31m" + "9" * 500)
    message = str(raised.value)
    assert "\x1b" not in message and len(message) < 200


def test_ordering_across_formats() -> None:
    ordered = ["1.9.2-5", "1.9.4-3", "1.9.5", "1.9.5-0", "1.9.5-19 (ns=Chimera)",
               "production-1.9.5-23", "1.9.7-3", "1.9.12-1", "2.2", "2.2.0", "2.2.9",
               "2.10.62", "2.13.0", "3.2.1", "9.2.21", "10.2.0"]
    parsed = [V(t) for t in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert all(a < b for a, b in zip(parsed, parsed[1:]))


def test_equality_ignores_note_and_build_prefix() -> None:
    assert V("1.9.5-19 (ns=Chimera)") == V("1.9.5-19 (ns=PNFS)") == V("production-1.9.5-19")
    assert len({V("1.9.5-19"), V("1.9.5-19 (ns=PNFS)")}) == 1
    assert V("1.9.5-19") != V("1.9.5-20")
    assert V("1.9.5-19") != "1.9.5-19"


def test_series_and_golden() -> None:
    assert V("1.9.5-19").series_name == "1.9.5"
    assert V("9.2.21").series_name == "9.2"
    golden = ["1.9.5-1", "1.9.12-3", "2.2.1", "2.6.0", "2.10.62", "2.13.4", "2.16.1", "3.2.5",
              "9.2.21", "10.2.0"]
    feature = ["1.9.4-3", "1.9.6-1", "1.9.7-3", "1.9.11-2", "1.9.13-1", "2.0.1", "2.11.0",
               "2.14.3", "3.0.1", "3.1.0", "9.1.3", "10.0.0", "11.1.2"]
    assert [V(t).kind for t in golden] == ["golden"] * len(golden)
    assert [V(t).kind for t in feature] == ["feature"] * len(feature)


def test_parse_series() -> None:
    assert parse_series("1.9.5") == (1, 9, 5)
    assert parse_series("2.10") == (2, 10)
    with pytest.raises(VersionError, match="release, not a dCache series"):
        parse_series("1.9.5-19")
    with pytest.raises(VersionError):
        parse_series("1.9")


@pytest.mark.parametrize("pattern, matching, not_matching", [
    ("1.9.6-*", ["1.9.6-0", "1.9.6-3"], ["1.9.5-19", "1.9.7-1", "1.9.6"]),
    ("2.10.*", ["2.10.0", "2.10.62"], ["2.1.0", "2.11.1", "2.10"]),
    ("1.9.5-2?", ["1.9.5-20", "1.9.5-23 (ns=Chimera)"], ["1.9.5-2", "1.9.5-19", "1.9.5-123"]),
    ("1.9.5-20", ["1.9.5-20", "production-1.9.5-20"], ["1.9.5-2", "1.9.5-21"]),
    ("1.9.6", ["1.9.6-0", "1.9.6-11"], ["1.9.5-19", "1.9.7-1"]),       # a bare series: all of it
    ("2.10", ["2.10.0", "2.10.62"], ["2.1.0", "2.11.0"]),
])
def test_patterns(pattern: str, matching: list[str], not_matching: list[str]) -> None:
    compiled = VersionPattern.parse(pattern)
    assert [t for t in matching if compiled.matches(V(t))] == matching
    assert [t for t in not_matching if compiled.matches(V(t))] == []


@pytest.mark.parametrize("pattern", ["", "abc", "1.9.[56]-*", "1.9.5-19; rm", "1.9", "*/x"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(VersionError):
        VersionPattern.parse(pattern)


# --- properties ----------------------------------------------------------------

_patch = st.one_of(st.none(), st.integers(0, 999))
_stage = st.one_of(st.none(), st.none(), st.sampled_from(STAGES))
_stage_number = st.one_of(st.none(), st.integers(0, 9))
_v1 = st.builds(lambda minor, micro, patch, stage, number:
                DcacheVersion((1, minor, micro), patch, stage=stage,
                              stage_number=number if stage else None),
                st.integers(0, 20), st.integers(0, 30), _patch, _stage, _stage_number)
_v2 = st.builds(lambda major, minor, patch, stage, number:
                DcacheVersion((major, minor), patch, stage=stage,
                              stage_number=number if stage else None),
                st.integers(2, 40), st.integers(0, 30), _patch, _stage, _stage_number)
versions = st.one_of(_v1, _v2)


def _published(version: DcacheVersion, prefix: bool, note: str | None) -> str:
    """A way the version could have been published, with decorations."""
    text = version.canonical()
    if prefix and version.series[0] == 1 and version.patch is not None:
        text = "production-" + text
    return f"{text} ({note})" if note else text


@settings(max_examples=300, deadline=None)
@given(versions, st.booleans(), st.sampled_from([None, "ns=Chimera", "ns=PNFS"]))
def test_parse_format_parse_round_trip(version: DcacheVersion, prefix: bool, note: str | None) -> None:
    parsed = V(_published(version, prefix, note))
    assert parsed == version
    assert V(parsed.canonical()) == parsed
    assert V(parsed.canonical()).canonical() == parsed.canonical() == version.canonical()


@settings(max_examples=300, deadline=None)
@given(versions, versions, versions)
def test_ordering_is_a_total_order(a: DcacheVersion, b: DcacheVersion, c: DcacheVersion) -> None:
    # Exactly one of <, ==, > holds; and the order is transitive.
    assert [a < b, a == b, a > b].count(True) == 1
    assert (a <= b) == (a < b or a == b)
    if a <= b and b <= c:
        assert a <= c
    if a == b:
        assert hash(a) == hash(b) and a.canonical() == b.canonical()


@settings(max_examples=300, deadline=None)
@given(versions, versions)
def test_ordering_survives_formatting(a: DcacheVersion, b: DcacheVersion) -> None:
    # Comparing parsed canonical strings gives the same answer as comparing the values.
    pa, pb = V(a.canonical()), V(b.canonical())
    assert (pa < pb, pa == pb) == (a < b, a == b)


@settings(max_examples=200, deadline=None)
@given(versions)
def test_series_start_sorts_first(version: DcacheVersion) -> None:
    start = DcacheVersion(version.series)
    assert start <= version or version.prerelease and version.patch is None
    assert is_golden(version.series) == version.golden


def test_patch_release_of_a_patch_level_orders_between_patch_levels() -> None:
    assert V("1.8.0-15") < V("1.8.0-15p6") < V("1.8.0-15p8") < V("1.8.0-16") < V("1.9.5-0")
    assert V("1.8.0-15p6").subpatch == 6 and V("1.8.0-15").subpatch is None
    with pytest.raises(VersionError, match="only in 1.x"):
        V("2.8-3p1")
