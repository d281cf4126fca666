"""Bad and partial topology payloads: one line per problem, exit 3 when nothing usable, no file clobbered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gridready.cli import main
from tests.helpers import REPO
from tests.servers.slapd import running_slapd

DATA = REPO / "tests" / "data" / "topology"
GOOD = "sites:\n  - {name: KEEP-ME, tier: 1}\n"


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("gocdb.xml", "cric.json", "bdii.ldif"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "sites.yaml").write_text(GOOD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fails(work: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["inventory", "import", *args, "-o", "sites.yaml"]) == 3
    assert (work / "sites.yaml").read_text(encoding="utf-8") == GOOD
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
    return capsys.readouterr().err


@pytest.mark.parametrize("name, body, message", [
    ("gocdb.html", "<!DOCTYPE html><html><head><title>GOCDB - Login</title></head></html>",
     "gocdb.html: is an HTML page, not GOCDB XML (title: 'GOCDB - Login')"),
    ("gocdb.xml", "<results><SITE><SHORT_NAME>X</SHORT_NAME></results>", "gocdb.xml: malformed XML at line 1"),
    ("gocdb.xml", "<error>Unknown method</error>",
     "gocdb.xml: not a GOCDB programmatic interface answer (root element <error>, expected <results>)"),
    ("gocdb.xml", "", "gocdb.xml: empty document, expected GOCDB XML"),
])
def test_unusable_gocdb(work: Path, capsys: pytest.CaptureFixture[str], name: str, body: str, message: str) -> None:
    (work / name).write_text(body, encoding="utf-8")
    err = fails(work, capsys, "--gocdb", name, "--cric", "cric.json")
    assert err == f"gridready: {message}\n" or message in err.splitlines()[-1], err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("doctype", [
    # billion laughs, external entity, and a bare DTD: all refused before expansion
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><results><SITE NAME="&c;"/></results>',
    '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><results><SITE NAME="&x;"/></results>',
    '<!DOCTYPE results SYSTEM "http://gocdb.example.org/pi.dtd"><results/>',
])
def test_xml_with_a_dtd_is_refused(work: Path, capsys: pytest.CaptureFixture[str], doctype: str) -> None:
    (work / "gocdb.xml").write_text('<?xml version="1.0"?>' + doctype, encoding="utf-8")
    err = fails(work, capsys, "--gocdb", "gocdb.xml")
    assert err.startswith("gridready: gocdb.xml: refused XML with a DTD or entity declaration"), err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("body, message", [
    ("<html><title>502 Bad Gateway</title></html>", "cric.json: is an HTML page, not CRIC JSON"),
    ('{"A": {"rc_tier_level": 1}', "cric.json: malformed JSON at line 1 column 27"),
    ("[1, 2]", "cric.json: expected a JSON object keyed by name, got list"),
    ("[" * 100000, "cric.json: "),
])
def test_unusable_cric(work: Path, capsys: pytest.CaptureFixture[str], body: str, message: str) -> None:
    (work / "cric.json").write_text(body, encoding="utf-8")
    err = fails(work, capsys, "--cric", "cric.json", "--gocdb", "gocdb.xml")
    assert message in err and len(err.splitlines()) == 1, err


def test_partial_payloads_give_one_line_per_problem(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "gocdb.xml").write_text("""<?xml version="1.0" encoding="UTF-8"?>
<results>
  <SITE ID="1"><SHORT_NAME>ONE-T1</SHORT_NAME><TIER>1</TIER></SITE>
  <SITE ID="2"><SHORT_NAME>one-t1</SHORT_NAME><TIER>2</TIER></SITE>
  <SITE ID="3"><OFFICIAL_NAME>nameless</OFFICIAL_NAME></SITE>
  <SITE ID="4"><SHORT_NAME>TWO-T1</SHORT_NAME><TIER>first</TIER></SITE>
  <SERVICE_ENDPOINT><SERVICE_TYPE>SRM</SERVICE_TYPE><SITENAME>ONE-T1</SITENAME><IN_PRODUCTION>Y</IN_PRODUCTION>
  </SERVICE_ENDPOINT>
  <SERVICE_ENDPOINT><HOSTNAME>fts.one.example.org</HOSTNAME><SERVICE_TYPE>FTS</SERVICE_TYPE></SERVICE_ENDPOINT>
</results>
""", encoding="utf-8")
    (work / "cric.json").write_text(
        '{"X": {"rcsite": "ONE-T1", "flavour": "XROOTD", "endpoint": "root://:1094"},'
        ' "Y": {"something": 1}}', encoding="utf-8")
    assert main(["inventory", "import", "--gocdb", "gocdb.xml", "--cric", "cric.json", "-o", "sites.yaml"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "gridready inventory: gocdb.xml: SITE #3: no SHORT_NAME; left out",
        "gridready inventory: gocdb.xml: SITE #4 (TWO-T1): TIER 'first' is not a tier number; ignored",
        "gridready inventory: gocdb.xml: SERVICE_ENDPOINT #1 (SRM, site ONE-T1): no HOSTNAME; left out",
        "gridready inventory: gocdb.xml: SERVICE_ENDPOINT #2 (FTS) fts.one.example.org: no SITENAME; left out",
        "gridready inventory: cric.json: entry 'X' (XROOTD, rcsite ONE-T1): no host in endpoint "
        "'root://:1094'; left out",
        "gridready inventory: cric.json: entry 'Y': neither an rcsite (rc_tier_level, federations) nor a "
        "service (rcsite, flavour, endpoint); left out",
        "gridready inventory: GOCDB gocdb.xml: site 'one-t1' is listed more than once; the first entry is used",
        "gridready inventory: TWO-T1: no source gives a tier (GOCDB gocdb.xml); left out",
        "wrote 1 site to sites.yaml"]
    assert (work / "sites.yaml").read_text(encoding="utf-8").endswith(
        "  # ONE-T1: GOCDB gocdb.xml; undated\n  - name: ONE-T1\n    tier: 1\n")


def test_bad_overlay_and_arguments(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "overlay.yaml").write_text("sites:\n  - {name: A, tier: one, colour: red}\n", encoding="utf-8")
    err = fails(work, capsys, "--gocdb", "gocdb.xml", "--overlay", "overlay.yaml")
    assert "overlay.yaml:2: tier must be a whole number >= 0, got 'one'" in err
    assert len(err.splitlines()) == 1
    (work / "overlay.yaml").write_text("sites:\n  - {name: A, colour: red}\n", encoding="utf-8")
    assert "overlay.yaml:2: unknown key 'colour'" in fails(work, capsys, "--gocdb", "gocdb.xml",
                                                            "--overlay", "overlay.yaml")
    assert "--gocdb" in fails(work, capsys)
    assert "--date '2010-6-8' is not YYYY-MM-DD" in fails(work, capsys, "--gocdb", "gocdb.xml", "--date", "2010-6-8")
    assert "cannot read GOCDB XML" in fails(work, capsys, "--gocdb", "missing.xml")


def test_live_bdii_on_slapd(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_slapd(DATA / "bdii.ldif") as uri:
        assert main(["inventory", "import", "--bdii", uri, "--bdii", "bdii.ldif", "--tier", "0"]) == 0
        live = capsys.readouterr().out
        assert main(["inventory", "import", "--bdii", "bdii.ldif", "--tier", "0"]) == 0
        dump = capsys.readouterr().out
    # The live BDII and its dump give the same site; the live URI comes first as the site's bdii.
    assert f"    bdii: \"{uri}\"\n" in live
    strip = [line for line in live.splitlines() if "bdii" not in line.lower()]
    assert strip == [line for line in dump.splitlines() if "bdii" not in line.lower()]
    assert "      - \"xrootd.t0.example.org:1094\"" in live.splitlines()
