"""`gridready inventory import` on recorded GOCDB, CRIC and BDII payloads (tests/data/topology/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gridready.cli import main
from gridready.configfile import load_inventory
from tests.helpers import REPO

DATA = REPO / "tests" / "data" / "topology"
SOURCES = ("gocdb.xml", "cric.json", "bdii.ldif", "overlay.yaml")


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    for name in SOURCES:
        shutil.copy(DATA / name, tmp_path / "src" / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def imported(*extra: str) -> list[str]:
    return ["inventory", "import", "--gocdb", "src/gocdb.xml", "--cric", "src/cric.json",
            "--bdii", "src/bdii.ldif", *extra]


def test_recorded_payloads_give_the_expected_inventory_exactly(work: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = main(imported("--tier", "0", "--tier", "1", "--overlay", "src/overlay.yaml", "-o", "sites.yaml"))
    assert code == 0
    text = (work / "sites.yaml").read_text(encoding="utf-8")
    assert text == (DATA / "expected-sites.yaml").read_text(encoding="utf-8")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "gridready inventory: BETA-T1: sources disagree on the tier (1 from GOCDB gocdb.xml, 1 from CRIC "
        "cric.json, 2 from BDII bdii.ldif); using 1",
        "gridready inventory: DELTA-T1: GOCDB CERTIFICATION_STATUS is Closed; left out",
        "wrote 4 sites to sites.yaml"]
    inventory = load_inventory(work / "sites.yaml")
    t0 = inventory.site("EXAMPLE-T0")
    assert t0 is not None and t0.fts == "https://fts3.t0.example.org:8446"  # CRIC wins over the BDII's FTS 2
    assert t0.bdii == str(work / "src" / "bdii.ldif")
    alpha = inventory.site("ALPHA-T1")
    assert alpha is not None and alpha.xrootd == ("xrootd.alpha.example.org:1094",)
    assert [(s.host, s.implementation) for s in alpha.storage] == [
        ("srm.alpha.example.org", "dCache"), ("storm.alpha.example.org", "StoRM")]
    assert alpha.fts_channels == str(work / "src" / "fts" / "ALPHA-T1.txt")


def test_rerun_is_byte_identical_and_replaces_the_file(work: Path) -> None:
    args = imported("--tier", "0", "--tier", "1", "--overlay", "src/overlay.yaml", "-o", "sites.yaml")
    assert main(args) == 0
    first = (work / "sites.yaml").read_bytes()
    assert main(args) == 0
    assert (work / "sites.yaml").read_bytes() == first
    assert sorted(p.name for p in work.iterdir()) == ["sites.yaml", "src"]  # no temp file left


def test_stdout_filters_and_date(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(imported("--site", "gamma-t2", "--date", "2010-06-30")) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2:] == [
        "sites:",
        "  # GAMMA-T2: GOCDB gocdb.xml, CRIC cric.json; as of 2010-06-30",
        "  - name: GAMMA-T2",
        "    tier: 2",
        "    wlcg_name: XA-T2",
        "    storage:",
        "      - {host: se.gamma.example.org, implementation: DPM}"]
    assert main(imported("--tier", "1", "--vo", "cms")) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("  - name:")] == ["  - name: BETA-T1"]
    assert main(imported("--tier", "0", "--grid", "WLCG")) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("  - name:")] == [
        "  - name: EXAMPLE-T0"]


def test_overlay_survives_reimport_and_can_remove_fields(work: Path) -> None:
    (work / "src" / "overlay.yaml").write_text(
        "defaults: {bdii: \"ldap://top-bdii.example.org:2170\"}\n"
        "sites:\n  - {name: ALPHA-T1, xrootd: null, tier: 2}\n", encoding="utf-8")
    assert main(imported("--site", "ALPHA-T1", "--overlay", "src/overlay.yaml", "-o", "sites.yaml")) == 0
    site = load_inventory(work / "sites.yaml").site("ALPHA-T1")
    assert site is not None
    assert (site.tier, site.bdii, site.xrootd) == (2, "ldap://top-bdii.example.org:2170", ())


def test_cric_only_site_without_tier_and_gocdb_only_source(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GOCDB alone gives ALPHA-T1 no tier (no TIER element): left out with one line.
    assert main(["inventory", "import", "--gocdb", "src/gocdb.xml", "--site", "ALPHA-T1"]) == 3
    err = capsys.readouterr().err
    assert "ALPHA-T1: no source gives a tier (GOCDB gocdb.xml); left out" in err
    assert "gridready: inventory import: no site left to write" in err
