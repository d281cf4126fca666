"""The dCache series table: the bundled file, the support policy, and loader errors."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from gridready.dcache.series import bundled_table, derive_support, load_series_table
from gridready.dcache.version import is_golden, parse_series
from gridready.errors import ConfigError
from tests.helpers import REPO, write

TABLE = REPO / "config" / "dcache_series.yaml"


def test_bundled_table_follows_the_domain_policy() -> None:
    table = load_series_table(TABLE)
    names = [e.name for e in table.entries]
    goldens = [e.name for e in table.entries if e.golden]
    assert names[0] == "1.9.5"
    assert goldens[:8] == ["1.9.5", "1.9.12", "2.2", "2.6", "2.10", "2.13", "2.16", "3.2"]
    assert all(n.endswith(".2") for n in goldens[7:])
    assert {"1.9.6", "1.9.7", "1.9.8", "1.9.9", "1.9.10", "1.9.11"} <= set(names)
    # The kind written in the file agrees with the classification rule...
    assert all(e.golden == is_golden(e.series) for e in table.entries)
    # ...and every written end of support is the policy applied to the release dates.
    derived = derive_support([(e.series, e.golden, e.released) for e in table.entries])
    assert {e.name: e.supported_until for e in table.entries} == \
        {e.name: derived[e.series] for e in table.entries}
    # Release dates increase with the series.
    assert [e.released for e in table.entries] == sorted(e.released for e in table.entries)


def test_policy_examples_from_the_bundled_table() -> None:
    table = bundled_table()
    one95 = table.get((1, 9, 5))
    one912 = table.get((1, 9, 12))
    two2 = table.get((2, 2))
    two6 = table.get((2, 6))
    assert one95 and one912 and two2 and two6
    # Golden: until the second subsequent golden is released.
    assert one95.supported_until == two2.released
    assert one912.supported_until == two6.released
    # Feature series end with the previous golden's support.
    for feature in ("1.9.6", "1.9.7", "1.9.11"):
        entry = table.get(parse_series(feature))
        assert entry is not None and not entry.golden
        assert entry.supported_until == one95.supported_until


def test_support_on_a_date() -> None:
    table = bundled_table()
    june2010 = date(2010, 6, 8)
    assert table.support((1, 9, 5), june2010).supported is True
    assert table.support((1, 9, 7), june2010).supported is True
    entry = table.get((1, 9, 5))
    assert entry is not None and entry.supported_until is not None
    end = entry.supported_until
    assert table.support((1, 9, 5), end).supported is True  # inclusive last day
    past = table.support((1, 9, 5), date.fromordinal(end.toordinal() + 1))
    assert past.supported is False and f"past its end of support ({end})" in past.message
    old = table.support((1, 9, 4), june2010)
    assert old.supported is False and "out of support (older than 1.9.5" in old.message
    # Past the table but not expected for decades: the table cannot tell (was: "not in the table").
    unlisted = table.support((40, 0), june2010)
    assert unlisted.supported is None and "is not expected before about 2053-06-16" in unlisted.message
    never = table.support((2, 17), june2010)
    assert never.supported is None and "not in the dCache series table" in never.message


def test_derive_support_rules() -> None:
    d = date
    ends = derive_support([((1, 0), True, d(2000, 1, 1)), ((1, 1), False, d(2000, 6, 1)),
                           ((2, 0), True, d(2001, 1, 1)), ((3, 0), True, d(2002, 1, 1)),
                           ((3, 1), False, d(2002, 6, 1)), ((0, 5), False, d(1999, 1, 1))])
    assert ends == {(0, 5): None, (1, 0): d(2002, 1, 1), (1, 1): d(2002, 1, 1),
                    (2, 0): None, (3, 0): None, (3, 1): None}


def test_omitted_end_of_support_is_derived(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yaml", """
        series:
          - {series: "1.9.5", released: 2009-11-16}
          - {series: "1.9.7", released: 2010-03-22}
          - {series: "1.9.12", released: 2011-04-18}
          - {series: "2.2", released: 2012-05-07}
          - {series: "2.6", released: 2013-06-03, supported_until: 2099-01-01}
        """)
    table = load_series_table(path)
    assert table.get((1, 9, 7)).supported_until == date(2012, 5, 7)  # type: ignore[union-attr]
    assert table.get((1, 9, 7)).golden is False  # type: ignore[union-attr]
    assert table.get((2, 2)).supported_until is None  # type: ignore[union-attr]
    assert table.get((2, 6)).supported_until == date(2099, 1, 1)  # type: ignore[union-attr]


@pytest.mark.parametrize("body, line, problem", [
    ('series:\n  - {series: 2.10, released: 2014-06-16}\n', 2, "quoted string like '2.10'"),
    ('series:\n  - {series: "2.10", released: 2014-06-31}\n', 2, "bad date '2014-06-31'"),
    ('series:\n  - {series: "1.9.5-19", released: 2009-11-16}\n', 2, "is a release, not a dCache series"),
    ('series:\n  - {series: "2.10", kind: gold, released: 2014-06-16}\n', 2, "kind must be golden or feature"),
    ('series:\n  - {series: "2.10", released: 2014-06-16, until: 2016-01-01}\n', 2, "unknown key 'until'"),
    ('series:\n  - {series: "2.10", released: 2014-06-16}\n  - {series: "2.10", released: 2014-06-16}\n',
     3, "duplicate series 2.10 (first at line 2)"),
    ('series:\n  - {series: "2.11", released: 2014-10-06}\n', 2, "no earlier golden series"),
    ('series:\n  - {series: "2.10", released: 2014-06-16, supported_until: 2013-01-01}\n', 2,
     "is before released"),
    ('series: []\n', 1, "no series listed"),
])
def test_loader_errors_name_file_and_line(tmp_path: Path, body: str, line: int, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_series_table(path)
    assert str(raised.value).startswith(f"{path}:{line}: ")
    assert problem in str(raised.value)


def test_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", "- just a list\n")
    with pytest.raises(ConfigError, match=r"x.yaml:1: expected a mapping with a 'series' list"):
        load_series_table(path)


# --- release day, last day and the day after; extrapolation past the table ---------


@pytest.mark.parametrize("series, released, last", [
    ((1, 9, 5), date(2009, 11, 16), date(2012, 5, 7)),     # golden: until 2.2 (second golden after)
    ((1, 9, 7), date(2010, 3, 22), date(2012, 5, 7)),      # feature: with 1.9.5
    ((2, 10), date(2014, 6, 16), date(2016, 7, 4)),        # golden: until 2.16
    ((3, 2), date(2017, 8, 7), date(2019, 6, 24)),         # golden: until 5.2
    ((8, 1), date(2022, 3, 21), date(2023, 6, 19)),        # feature: with 7.2
    ((9, 2), date(2023, 6, 19), date(2025, 6, 16)),        # golden: until 11.2
])
def test_series_edges(series: tuple[int, ...], released: date, last: date) -> None:
    table = bundled_table()
    day = timedelta(days=1)
    before = table.support(series, released - day)
    assert before.supported is None
    assert f"is not released on {released - day} per the dCache series table (released {released})" \
        in before.message
    assert table.support(series, released).supported is True
    assert table.support(series, last).supported is True
    after = table.support(series, last + day)
    assert after.supported is False and f"past its end of support ({last})" in after.message


@pytest.mark.parametrize("series, day, supported, text", [
    # 10.2's second successor is 12.2, expected about 2026-06-16 (11.2 + one year).
    ((10, 2), date(2026, 3, 31), True, "supported until about 2026-06-16 (extrapolated"),
    ((10, 2), date(2026, 4, 16), True, "supported until about 2026-06-16"),
    ((10, 2), date(2026, 4, 17), None, "within 60 days of its expected end of support (about 2026-06-16"),
    ((10, 2), date(2026, 8, 15), None, "within 60 days"),
    ((10, 2), date(2026, 8, 16), None, "past its expected end of support (about 2026-06-16"),
    # A feature series ends with the golden before it (11.1 with 10.2).
    ((11, 1), date(2026, 3, 31), True, "feature series 11.1, supported until about 2026-06-16"),
    ((11, 1), date(2026, 11, 30), None, "feature series 11.1 is past its expected end of support"),
    ((11, 2), date(2026, 11, 30), True, "golden series 11.2, supported until about 2027-06-16"),
    # Past the table: every N.2 golden, N.0/N.1 feature series.
    ((12, 2), date(2026, 11, 30), True,
     "golden series 12.2 (past the dCache series table; every N.2 is golden), supported until about 2028-06-16"),
    ((12, 0), date(2026, 1, 10), True, "feature series 12.0 (past the dCache series table; every N.2 is golden), "
                                       "supported until about 2027-06-16"),
    ((12, 2), date(2028, 8, 16), None, "past its expected end of support (about 2028-06-16"),
    ((13, 2), date(2026, 11, 30), None, "is not expected before about 2027-06-16"),
    # Not the N.0-N.2 pattern: not a series dCache would release.
    ((12, 5), date(2026, 11, 30), None, "not in the dCache series table"),
])
def test_extrapolation(series: tuple[int, ...], day: date, supported: bool | None, text: str) -> None:
    support = bundled_table().support(series, day)
    assert support.supported is supported, support.message
    assert text in support.message
