"""Hostile inventories through `gridready nagios-config` in both formats (Nagios 4, Icinga 2).

Each value that would inject syntax is refused with one line naming the site
and field (exit 3, nothing printed); selections that do not fit are one line too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import write
from tests.hostile.runner import assert_clean, run


@pytest.mark.parametrize("fmt", ["nagios", "icinga2"])
@pytest.mark.parametrize("site, mentions", [
    ('{name: MY-T1, tier: 1, bdii: "/d/x\\"; } object Host \\"evil\\" {", xrootd: [d.example.org]}',
     "site MY-T1: inventory bdii"),
    ('{name: MY-T1, tier: 1, bdii: "/d/a b.ldif", xrootd: [d.example.org]}', "site MY-T1: inventory bdii"),
    ('{name: MY-T1, tier: 1, fts_channels: "/d/c\\\\d.txt"}', "site MY-T1: inventory fts_channels"),
    ('{name: MY-T1, tier: 1, fts_channels: "/d/c!d.txt"}', "site MY-T1: inventory fts_channels"),
    ('{name: MY-T1, tier: 1, srr: "https://s/\\"x", storage: [srm.example.org]}', "site MY-T1: inventory srr"),
])
def test_injection_is_refused_in_both_formats(tmp_path: Path, fmt: str, site: str, mentions: str) -> None:
    write(tmp_path / "sites.yaml", f"sites:\n  - {site}\n")
    result = run("gridready", "nagios-config", "--inventory", "sites.yaml", "--all", "--format", fmt, cwd=tmp_path)
    assert_clean(result, 3, within=10, mentions=mentions)
    assert result.stdout == ""


@pytest.mark.parametrize("args, mentions", [
    ((), "--site NAME"),
    (("--all", "--site", "MY-T1"), "either --site or --all"),
    (("--all", "--wn", "wn1.example.org"), "--wn"),
    (("--site", "MY-T1", "--format", "icinga3"), "--format"),
])
def test_selection_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], mentions: str) -> None:
    # Two sites: --all --wn cannot tell whose worker nodes they are.
    write(tmp_path / "sites.yaml", "sites:\n  - {name: MY-T1, tier: 1, xrootd: [d.example.org]}\n"
                                   "  - {name: MY-T2, tier: 1}\n")
    result = run("gridready", "nagios-config", "--inventory", "sites.yaml", *args, cwd=tmp_path)
    assert_clean(result, 3, within=10, mentions=mentions)
