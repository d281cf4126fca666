"""report --format html: one self-contained page, loaded in a real headless Chromium.

The page must load with no console message (a script error or a blocked
resource logs one: the page's Content-Security-Policy forbids scripts and
every external load), show one matrix row per site, and keep every untrusted
value as text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gridready.cli import main
from gridready.configfile import load_inventory, load_rules
from gridready.report.matrix import report_sites
from gridready.result import ProbeResult
from gridready.store import Store
from tests.helpers import REPO, write
from tests.test_report_cli import ingest, probe_result

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")

RULES = """
milestones:
  - id: xroot
    title: xroot published
    source: GDB 2010-06
    deadline: 2010-06-09
    warn_days: 30
    scope: {tiers: [0, 1]}
    check: xrootd
  - id: fts
    title: FTS channels
    source: GDB 2010-02
    deadline: 2010-03-31
    scope: {tiers: [1]}
    check: fts_channels
waivers:
  - {milestone: fts, site: pic, reason: "new FTS <b>server</b> & \\"quotes\\"", expires: 2010-07-01}
  - {milestone: fts, site: RAL-LCG2, reason: far away, expires: 2010-12-31}
"""

INVENTORY = """
sites:
  - {name: RAL-LCG2, tier: 1}
  - {name: CERN-PROD, tier: 0}
  - {name: pic, tier: 1}
  - {name: "<script>alert(1)</script>", tier: 1}
  - {name: "x\\"><img src=x onerror=alert(2)>", tier: 1}
  - {name: T2-SITE, tier: 2}
"""


def chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1400,1000",
         *args, url], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)


def console(stderr: str) -> list[str]:
    """What the page logged to its console (errors, CSP violations), from Chromium's log."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def render(page: Path, tmp_path: Path) -> str:
    """Load ``page`` in Chromium twice: a screenshot (a PNG over 10 kB) and a DOM dump, neither
    with a console message; the dumped DOM."""
    shot = tmp_path / "shot.png"
    taken = chromium(page.as_uri(), tmp_path / "profile", f"--screenshot={shot}")
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert console(taken.stderr) == []
    dumped = chromium(page.as_uri(), tmp_path / "profile", "--dump-dom")
    assert dumped.returncode == 0
    assert console(dumped.stderr) == []
    return dumped.stdout


class Elements(HTMLParser):
    """Counts the elements of a DOM dump and collects the matrix rows' site names."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.sites: list[str] = []
        self._in_site_row = False
        self._in_row_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "tr" and ("class", "site") in attrs:
            self._in_site_row = True
        elif tag == "th" and self._in_site_row:
            self._in_row_header = True
            self.sites.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_row_header = False
        elif tag == "tr":
            self._in_site_row = False

    def handle_data(self, data: str) -> None:
        if self._in_row_header:
            self.sites[-1] += data


#: The generated year: daily sweeps of the bundled example's Tier-0/1 sites against the bundled milestones.
YEAR_START = date(2010, 1, 1)
YEAR_DAYS = 365
EXAMPLE_INVENTORY = REPO / "config" / "example" / "sites.yaml"
BUNDLED_RULES = REPO / "config" / "milestones.yaml"
#: Set to a directory to keep the year's report screenshot and plot there (how docs/*.png are made).
DOCS_SHOTS = os.environ.get("GRIDREADY_DOCS_SHOTS")


def switch_day(site: int, milestone: int) -> int | None:
    """The day of the year from which a site passes a milestone (None: never), spread over the year;
    every fifth pair never passes, so no curve is trivially full."""
    if (site + milestone) % 5 == 4:
        return None
    return 20 + (37 * site + 53 * milestone) % 330


def build_year(db: Path) -> dict[str, list[int]]:
    """A year of daily sweeps; returns per milestone the expected compliant sites per day.

    Day 0 goes through ``Store.add`` (both a failing and, an hour earlier, a passing result per site
    and check: the templates); days 1..364 are copies of the template each pair has that day, by SQL
    inside the store's schema, the latest-result index then rebuilt by the store.
    """
    rules, sites = load_rules(BUNDLED_RULES), report_sites(load_inventory(EXAMPLE_INVENTORY).sites)
    waived = {(w.site, w.milestone) for w in rules.waivers}
    template: dict[tuple[str, str, bool], int] = {}
    with Store(db) as store:
        for passing, hour in ((True, 9), (False, 10)):
            for site in sites:
                for m in rules.milestones:
                    state = ("COMPLIANT", "ok") if passing else ("PENDING", "not yet")
                    data = probe_result(site.name, m.check, f"{m.check}.{site.name}",
                                        f"2010-01-01T{hour:02d}:00:00Z", (m.id, state[0], state[1], 10))
                    store.add(ProbeResult.from_json(data, "year"), origin="ingest", target=f"{m.check}.{site.name}")
    con = sqlite3.connect(db, isolation_level=None)
    try:
        for rid, site_name, mid, compliance in con.execute(
                "SELECT r.id, r.site, o.milestone, o.compliance FROM results r JOIN outcomes o ON o.result_id = r.id"):
            template[(site_name, mid, compliance == "COMPLIANT")] = rid
        columns = [row[1] for row in con.execute("PRAGMA table_info(results)") if row[1] not in ("id", "checked_at")]
        ocolumns = [row[1] for row in con.execute("PRAGMA table_info(outcomes)")
                    if row[1] not in ("id", "result_id")]
        con.execute("BEGIN")
        rows = []
        for n in range(1, YEAR_DAYS):
            when = (YEAR_START + timedelta(days=n)).isoformat() + "T10:00:00Z"
            for i, site in enumerate(sites):
                for k, m in enumerate(rules.milestones):
                    day = switch_day(i, k)
                    passing = day is not None and (site.name, m.id) not in waived and n >= day
                    rows.append((when, template[(site.name, m.id, passing)]))
        for when, rid in rows:
            new = con.execute(f"INSERT INTO results ({', '.join(columns)}, checked_at) "
                              f"SELECT {', '.join(columns)}, ? FROM results WHERE id = ?", (when, rid)).lastrowid
            con.execute(f"INSERT INTO outcomes (result_id, {', '.join(ocolumns)}) "
                        f"SELECT ?, {', '.join(ocolumns)} FROM outcomes WHERE result_id = ?", (new, rid))
        con.execute("DELETE FROM latest")       # rebuilt from the whole history by the store below
        con.execute("COMMIT")
    finally:
        con.close()
    Store(db).close()
    expected = {}
    for k, m in enumerate(rules.milestones):
        applies = [(i, s) for i, s in enumerate(sites) if s.tier in m.scope.tiers]
        expected[m.id] = [sum(1 for i, s in applies if (day := switch_day(i, k)) is not None
                              and (s.name, m.id) not in waived and n >= day) for n in range(YEAR_DAYS)]
    return expected


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    db = tmp_path_factory.mktemp("year") / "year.db"
    return db, build_year(db)


def year_args(db: Path) -> list[str]:
    return ["--db", str(db), "--inventory", str(EXAMPLE_INVENTORY), "--milestones", str(BUNDLED_RULES)]


@pytest.fixture()
def page(tmp_path: Path) -> tuple[Path, str]:
    rules = write(tmp_path / "milestones.yaml", RULES)
    inventory = write(tmp_path / "sites.yaml", INVENTORY)
    db = str(tmp_path / "h.db")
    ingest(tmp_path, db,
           probe_result("RAL-LCG2", "xrootd", "a:1094", "2010-06-01T10:00:00Z", ("xroot", "DUE", "root", 8)),
           probe_result("RAL-LCG2", "xrootd", "a:1094", "2010-06-10T10:00:00Z",
                        ("xroot", "COMPLIANT", "published as 'xroot'", -1)),
           probe_result("CERN-PROD", "xrootd", "c:1094", "2010-06-05T10:00:00Z",
                        ("xroot", "DUE", "published as 'root' <i>\"&'", 4)),
           probe_result("pic", "fts_channels", "fts.pic.es", "2010-06-05T10:00:00Z", ("fts", "DUE", "drained", -66)),
           probe_result("<script>alert(1)</script>", "xrootd", "<b>:1094", "2010-06-05T10:00:00Z",
                        ("xroot", "PENDING", "</td></tr></table><script>alert(3)</script>", 4)))
    out = tmp_path / "report.html"
    rc = main(["report", "--db", db, "--milestones", str(rules), "--inventory", str(inventory),
               "--as-of", "2010-06-12", "--since", "2010-06-05", "--format", "html", "-o", str(out)])
    assert rc == 2      # xroot OVERDUE at CERN-PROD since 2010-06-10
    return out, out.read_text(encoding="utf-8")


def test_page_content(page: tuple[Path, str]) -> None:
    _, text = page
    assert text.startswith("<!DOCTYPE html>\n")
    assert "<script" not in text and "<img" not in text and "<link" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "default-src 'none'" in text
    # The cell's message and check time, in the title attribute and the details.
    assert ('<td class="cell c-overdue" title="OVERDUE: published as &#x27;root&#x27; &lt;i&gt;&quot;&amp;&#x27; '
            '(checked 2010-06-05T10:00:00Z on c:1094)"><details><summary>OVERDUE (3d)</summary>'
            "<p>published as &#x27;root&#x27; &lt;i&gt;&quot;&amp;&#x27;</p>"
            '<p class="when">checked 2010-06-05T10:00:00Z on c:1094</p></details></td>') in text
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in text
    # Expiring waivers: pic's (19 days after as-of), not RAL's (202 days).
    assert ('<li><strong>pic</strong> fts: expires 2010-07-01 (19 days) &mdash; new FTS &lt;b&gt;server&lt;/b&gt; '
            "&amp; &quot;quotes&quot;</li>") in text
    assert "far away" not in text
    # Changes since 2010-06-05: RAL xroot DUE -> COMPLIANT, CERN DUE -> OVERDUE.
    assert ('<li>RAL-LCG2 xroot: <span class="c-due">DUE</span> &rarr; <span class="c-compliant">COMPLIANT</span>'
            " (newly-compliant)</li>") in text
    assert ('<li>CERN-PROD xroot: <span class="c-due">DUE</span> &rarr; <span class="c-overdue">OVERDUE</span>'
            " (other)</li>") in text
    # One chart per milestone, the xroot deadline inside the series (first result 2010-06-01 .. 2010-06-12).
    assert text.count("<svg ") == 2
    assert "deadline 2010-06-09</text>" in text
    assert "<td>1/5</td>" in text      # xroot compliant/applicable in the footer


def test_every_compliance_has_its_own_colour() -> None:
    from gridready.report.html import _CSS, CSS_CLASS
    rules = {cls: next(line for line in _CSS.splitlines() if line.startswith(f".{cls}{{"))
             for cls in CSS_CLASS.values()}
    looks = [rule.split("{", 1)[1] for rule in rules.values()]
    assert len(set(looks)) == len(CSS_CLASS) == 7


@needs_chromium
def test_loads_in_chromium_without_console_errors(page: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = page
    dom = Elements()
    dom.feed(render(path, tmp_path))
    assert dom.sites == ["CERN-PROD", "<script>alert(1)</script>", "pic", "RAL-LCG2",
                         'x"><img src=x onerror=alert(2)>']
    assert dom.tags.get("script", 0) == 0 and dom.tags.get("img", 0) == 0
    assert dom.tags["svg"] == 2 and dom.tags["details"] == 10


@needs_chromium
def test_console_check_can_fail(tmp_path: Path) -> None:
    """The console check sees a script error and a blocked load (else the test above proves nothing)."""
    bad = write(tmp_path / "bad.html", "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                "content=\"default-src 'none'\"></head><body><img src=\"http://192.0.2.1/x.png\"></body></html>")
    broken = write(tmp_path / "broken.html", "<!DOCTYPE html><html><body><script>nope();</script></body></html>")
    assert console(chromium(bad.as_uri(), tmp_path / "profile", "--dump-dom").stderr)
    assert any("Uncaught" in line for line in console(chromium(broken.as_uri(), tmp_path / "profile",
                                                                 "--dump-dom").stderr))


def test_output_file_errors_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["report", "--format", "html", "--as-of", "2010-06-08", "-o", str(tmp_path / "no" / "r.html")])
    err = capsys.readouterr().err
    assert rc == 3
    assert err.splitlines()[-1] == f"gridready: {tmp_path}/no/r.html: cannot write the report: No such file or directory"


def test_json_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    rc = main(["report", "--format", "json", "--as-of", "2010-06-08", "-o", str(out)])
    assert rc == 2 and capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8"))["as_of"] == "2010-06-08"


def test_year_history_series_is_exact(year: tuple[Path, dict[str, list[int]]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    db, expected = year
    capsys.readouterr()
    assert main(["history", "--format", "csv", "--from", "2010-01-01", "--to", "2010-12-31", *year_args(db)]) == 0
    totals: dict[str, list[int]] = {}
    for line in capsys.readouterr().out.splitlines()[1:]:
        day, milestone, site, _, compliant, _ = line.split(",")
        if site == "":
            totals.setdefault(milestone, []).append(int(compliant))
    assert totals == expected


#: The compliant line of a chart (report.html.chart): its points as "x,y" pairs.
COMPLIANT_LINE = re.compile(r'<polyline points="([^"]*)" fill="none" stroke="#1a7f37"')


def chart_values(dom: str, top_value: int) -> list[list[int]]:
    """Each chart's compliant series read back from the drawn y coordinates (chart's 170 px box:
    10 px top margin, 136 px plot height)."""
    return [[round((1 - (float(point.split(",")[1]) - 10) / 136) * top_value) for point in points.split()]
            for points in COMPLIANT_LINE.findall(dom)]


@needs_chromium
@pytest.mark.parametrize("case", ["example", "year"])
def test_report_of_example_and_year_in_chromium(case: str, year: tuple[Path, dict[str, list[int]]],
                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled example (no --db: one day) and a generated year, loaded and drawn by Chromium."""
    monkeypatch.chdir(tmp_path)     # no ./gridready.db: the example
    db, expected = year
    out = tmp_path / "report.html"
    args = ["--as-of", "2010-06-08"] if case == "example" else ["--as-of", "2010-12-31", *year_args(db)]
    assert main(["report", "--format", "html", "-o", str(out), *args]) in (0, 1, 2)
    text = render(out, tmp_path)
    dom = Elements()
    dom.feed(text)
    assert dom.sites == [s.name for s in report_sites(load_inventory(EXAMPLE_INVENTORY).sites)]
    assert len(dom.sites) == 12 and dom.tags["svg"] == 4 and dom.tags.get("script", 0) == 0
    if case == "example":
        assert [len(points.split()) for points in COMPLIANT_LINE.findall(text)] == [1, 1, 1, 1]
        assert dom.tags["circle"] == 4          # a one-day series is drawn as a dot
    else:
        # One point per day, at the height of that day's compliant count (all charts share 12 sites
        # as the top except glexec, a Tier-1 milestone: 11).
        values = [chart_values(text, top)[i] for i, top in enumerate((11, 12, 12, 12))]
        assert values == list(expected.values())
        if DOCS_SHOTS:
            # Tall enough to show the charts below the matrix and the summary.
            chromium(out.as_uri(), tmp_path / "profile", "--window-size=1400,1750",
                     f"--screenshot={Path(DOCS_SHOTS) / 'report-example.png'}")
