"""``gridready sweep`` + ``report`` end to end over 12 sites against real loopback services.

The services: a real xrootd server (the live door of CERN-PROD and pic), a
real slapd serving the example top-BDII dump (with those two sites' xrootd
endpoints pointed at the live door), a loopback HTTPS server that wants a
client certificate, serving RAL-LCG2's FTS3 REST, and a public one (another
CA) serving NDGF-T1's SRR; the sweep trusts both CAs from one bundle. The other
FTS data are the example FTS 2 dumps; gLExec comes from result files as sites
would send them. Each command runs as its own process, like in production.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gridready.report.schema import json_schema
from tests.helpers import REPO, run_py, write
from tests.servers.hostile import Hold, running_hostile
from tests.servers.https import Response, RunningServer, running_https
from tests.servers.slapd import running_slapd
from tests.servers.xrootd import XrootdServer, running_xrootd
from tests.test_fts_rest import _link, fts3_docs

EXAMPLE = REPO / "config" / "example"
TIER1 = ("Taiwan-LCG2", "BNL-ATLAS", "FZK-LCG2", "IN2P3-CC", "INFN-T1", "NDGF-T1", "pic", "SARA-MATRIX",
         "TRIUMF-LCG2", "USCMS-FNAL-WC1")


def gridready(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    done = run_py("-m", "gridready.cli", *args, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def glexec_result(site: str, compliance: str, state: str, message: str) -> str:
    return json.dumps({
        "schema": "gridready.result/1", "check": "glexec", "site": site, "host": f"wn001.{site.lower()}.example",
        "state": state, "summary": message, "checked_at": "2010-06-07T22:00:00Z",
        "milestones": [{"id": "glexec-scas-argus-t1", "compliance": compliance, "state": state,
                        "deadline": "2010-05-31", "days_left": -7, "message": message, "waiver": None}],
        "metrics": {}, "details": []})


@dataclass
class Grid:
    tmp: Path
    xrootd: XrootdServer
    bdii: str
    https: RunningServer
    public: RunningServer
    refused: int

    def credentials(self) -> list[str]:
        files = self.https.client_cert_files()
        bundle = self.tmp / "ca-bundle.pem"
        bundle.write_text(Path(self.https.ca_file).read_text() + Path(self.public.ca_file).read_text())
        return ["--capath", str(bundle), "--cert", files.cert, "--key", files.key]


def inventory(grid: Grid) -> Path:
    t = grid.tmp
    write(t / "glexec" / "Taiwan-LCG2.json", glexec_result("Taiwan-LCG2", "COMPLIANT", "OK",
                                                            "gLExec setuid root, LCMAPS via Argus"))
    write(t / "glexec" / "NDGF-T1.json", glexec_result("NDGF-T1", "OVERDUE", "CRITICAL", "no gLExec installed"))
    write(t / "glexec" / "RAL-LCG2.json", glexec_result("RAL-LCG2", "OVERDUE", "CRITICAL",
                                                         "LCMAPS uses local mapping, neither SCAS nor Argus"))
    door = grid.xrootd.door
    https = grid.https.url("").rstrip("/")
    srr = grid.public.url("/srr/NDGF-T1.json")
    lines = ["sites:"]
    for name, tier, extra in [
        ("CERN-PROD", 0, f"xrootd: ['{door}'], storage: [{{host: srm-atlas.cern.ch, implementation: CASTOR}}]"),
        ("Taiwan-LCG2", 1, "glexec: glexec/Taiwan-LCG2.json, storage: [{host: srm2.grid.sinica.edu.tw, "
                           "implementation: CASTOR}]"),
        ("BNL-ATLAS", 1, "storage: [{host: dcsrm.usatlas.bnl.gov, implementation: dCache}]"),
        ("FZK-LCG2", 1, "storage: [{host: atlassrm-fzk.gridka.de, implementation: dCache}]"),
        ("IN2P3-CC", 1, "storage: [{host: ccsrm.in2p3.fr, implementation: dCache}]"),
        ("INFN-T1", 1, "storage: [{host: srm-v2-cms.cr.cnaf.infn.it, implementation: CASTOR}, "
                       "{host: storm-fe.cr.cnaf.infn.it, implementation: StoRM}]"),
        ("NDGF-T1", 1, f"srr: '{srr}', glexec: glexec/NDGF-T1.json, "
                       "storage: [{host: srm.ndgf.org, implementation: dCache}]"),
        ("pic", 1, f"xrootd: ['{door}'], storage: [{{host: srmcms.pic.es, implementation: dCache}}]"),
        ("RAL-LCG2", 1, f"xrootd: ['127.0.0.1:{grid.refused}'], fts: '{https}', glexec: glexec/RAL-LCG2.json, "
                        "storage: [{host: srm-atlas.gridpp.rl.ac.uk, implementation: CASTOR}]"),
        ("SARA-MATRIX", 1, "storage: [{host: srm.grid.sara.nl, implementation: dCache}]"),
        ("TRIUMF-LCG2", 1, "storage: [{host: srm.triumf.ca, implementation: dCache}, "
                           "{host: srm2.triumf.ca, implementation: dCache}]"),
        ("USCMS-FNAL-WC1", 1, "storage: [{host: cmssrm.fnal.gov, implementation: dCache}]"),
    ]:
        bdii = "" if name == "NDGF-T1" else f"bdii: '{grid.bdii}', "
        fts = "" if name == "RAL-LCG2" else f"fts_channels: '{EXAMPLE / 'fts' / (name + '.txt')}', "
        lines.append(f"  - {{name: {name}, tier: {tier}, {bdii}{fts}{extra}}}")
    return write(t / "sites.yaml", "\n".join(lines) + "\n")


def ral_fts3() -> dict[str, Any]:
    links = [_link(f"{site.lower()}-ral", site, "RAL-LCG2") for site in TIER1] + \
            [_link("cern-ral", "CERN-PROD", "RAL-LCG2"), _link("star-ral", "*", "RAL-LCG2", nostreams=1)]
    return fts3_docs(config__links=links)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    tmp = tmp_path_factory.mktemp("e2e")
    with running_xrootd() as xrootd:
        ldif = (EXAMPLE / "bdii.ldif").read_text(encoding="utf-8")
        for host in ("srmcms.pic.es", "srm-atlas.cern.ch"):
            ldif = ldif.replace(f"root://{host}:1094", f"root://{xrootd.door}")
        routes = {f"/{path}": Response(body=json.dumps(doc)) for path, doc in ral_fts3().items()}
        srr = {"/srr/NDGF-T1.json": Response(body=(EXAMPLE / "srr" / "NDGF-T1.json").read_text())}
        with running_slapd(ldif) as bdii, running_https(routes, require_client_cert=True) as https, \
                running_https(srr) as public:
            yield Grid(tmp, xrootd, bdii, https, public, closed_port())


def cells(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {s["name"]: {m["id"]: m["compliance"] for m in s["milestones"]} for s in doc["sites"]}


EXPECTED_MATRIX = {
    #                 glexec-scas-argus-t1  dcache-supported-release  xrootd-protocol-string  fts-t1-channels
    "CERN-PROD":      ("NOT_APPLICABLE",    "NOT_APPLICABLE",         "COMPLIANT",            "COMPLIANT"),
    "BNL-ATLAS":      ("UNKNOWN",           "COMPLIANT",              "WAIVED",               "COMPLIANT"),
    "FZK-LCG2":       ("UNKNOWN",           "COMPLIANT",              "PENDING",              "OVERDUE"),
    "IN2P3-CC":       ("UNKNOWN",           "DUE",                    "COMPLIANT",            "OVERDUE"),
    "INFN-T1":        ("UNKNOWN",           "NOT_APPLICABLE",         "NOT_APPLICABLE",       "OVERDUE"),
    "NDGF-T1":        ("WAIVED",            "COMPLIANT",              "PENDING",              "COMPLIANT"),
    "pic":            ("UNKNOWN",           "COMPLIANT",              "COMPLIANT",            "OVERDUE"),
    "RAL-LCG2":       ("OVERDUE",           "NOT_APPLICABLE",         "PENDING",              "COMPLIANT"),
    "SARA-MATRIX":    ("UNKNOWN",           "COMPLIANT",              "PENDING",              "OVERDUE"),
    "Taiwan-LCG2":    ("COMPLIANT",         "NOT_APPLICABLE",         "NOT_APPLICABLE",       "COMPLIANT"),
    "TRIUMF-LCG2":    ("UNKNOWN",           "UNKNOWN",                "PENDING",              "COMPLIANT"),
    "USCMS-FNAL-WC1": ("UNKNOWN",           "DUE",                    "NOT_APPLICABLE",       "COMPLIANT"),
}
MILESTONES = ("glexec-scas-argus-t1", "dcache-supported-release", "xrootd-protocol-string", "fts-t1-channels")


def swept_on_the_morning_of_2010_06_08(db: str) -> None:
    """Date the live results of a sweep run today as if it had run on 2010-06-08.

    A report as of 2010-06-08 uses only what was known by the end of that day;
    the gLExec result files keep their own 2010-06-07 dates.
    """
    with sqlite3.connect(db) as conn:
        for table in ("results", "latest"):
            conn.execute(f"UPDATE {table} SET checked_at = '2010-06-08T10:00:00Z' "
                         "WHERE checked_at > '2011'")


def test_sweep_and_report_over_twelve_sites(grid: Grid) -> None:
    db = str(grid.tmp / "history.db")
    sites = inventory(grid)
    started = time.monotonic()
    rc, out, err = gridready("sweep", "--inventory", str(sites), "--as-of", "2010-06-08", "--db", db,
                             *grid.credentials())
    assert rc == 0, out + err
    # The closing summary per compliance state goes to stderr.
    assert err == ("sweep: milestones: 16 COMPLIANT, 5 PENDING, 2 DUE, 7 OVERDUE, 1 WAIVED, "
                   "7 NOT_APPLICABLE, 1 UNKNOWN\n"), err
    assert re.fullmatch(r"swept 12 sites: 39 results stored in \S+ \(\d+ with UNKNOWN milestones, 0 timed out\) "
                        r"in \d+\.\ds\n", out), out
    assert time.monotonic() - started < 30
    swept_on_the_morning_of_2010_06_08(db)

    rc, out, err = gridready("report", "--format", "json", "--db", db, "--inventory", str(sites),
                             "--as-of", "2010-06-08")
    doc = json.loads(out)
    jsonschema.validate(doc, json_schema())
    assert [s["name"] for s in doc["sites"]] == list(EXPECTED_MATRIX)
    assert cells(doc) == {site: dict(zip(MILESTONES, row)) for site, row in EXPECTED_MATRIX.items()}
    assert (rc, err) == (2, "")
    summary = {m["id"]: f"{m['compliant']}/{m['applicable']}" for m in doc["milestones"]}
    assert summary == {"glexec-scas-argus-t1": "1/11", "dcache-supported-release": "5/8",
                       "xrootd-protocol-string": "3/9", "fts-t1-channels": "7/12"}

    def cell(site: str, milestone: str) -> dict[str, Any]:
        row = next(s for s in doc["sites"] if s["name"] == site)
        return next(m for m in row["milestones"] if m["id"] == milestone)

    door = grid.xrootd.door
    pic = cell("pic", "xrootd-protocol-string")
    assert pic["host"] == door
    assert re.fullmatch(r"xrootd protocol \d+\.\d+\.\d+, role server \(data server\).*; "
                        r"published as 'xroot' in GLUE 1\.3, GLUE 2 \(2 records\)", pic["message"]), pic["message"]
    ral = cell("RAL-LCG2", "xrootd-protocol-string")
    # The refused door is only unknown (it was a failing finding); not publishing it is the failure.
    assert ral["host"] == f"127.0.0.1:{grid.refused}" and "refused" not in ral["message"]
    assert ral["message"].startswith(f"127.0.0.1:{grid.refused} is not published as an xrootd access protocol")
    ral_fts = cell("RAL-LCG2", "fts-t1-channels")
    assert ral_fts["host"] == grid.https.url("").rstrip("/") and ral_fts["compliance"] == "COMPLIANT"
    ndgf = cell("NDGF-T1", "dcache-supported-release")
    assert (ndgf["host"], ndgf["checked_at"] is not None) == ("srm.ndgf.org", True)
    assert cell("NDGF-T1", "glexec-scas-argus-t1")["message"].startswith("no gLExec installed; waived until ")
    assert cell("pic", "glexec-scas-argus-t1")["message"] == "no result for this check"
    assert cell("RAL-LCG2", "glexec-scas-argus-t1")["checked_at"] == "2010-06-07T22:00:00Z"

    # The same history as a table, and the results as metricOutput messages.
    rc, out, _ = gridready("report", "--db", db, "--inventory", str(sites), "--as-of", "2010-06-08")
    assert rc == 2 and "\ncompliant " in out and "1/11 compliant" in out and "\x1b" not in out
    rc, out, _ = gridready("export", "--db", db)
    assert rc == 0 and out.count("EOT\n") == 39
    assert f"serviceURI: {door}\nhostName: 127.0.0.1\nserviceFlavour: XROOTD\nsiteName: CERN-PROD\n" in out


def test_one_hanging_and_one_unreachable_site(grid: Grid) -> None:
    rules = (REPO / "config" / "milestones.yaml").read_text(encoding="utf-8")
    rules = rules.replace("    check: xrootd\n", "    check: xrootd\n    timeout: 2\n")
    milestones = write(grid.tmp / "hang" / "milestones.yaml", rules)
    with running_hostile(Hold()) as silent:
        sites = write(grid.tmp / "hang" / "sites.yaml", f"""
            sites:
              - {{name: pic, tier: 1, bdii: '{grid.bdii}', xrootd: ['{silent.host}:{silent.port}'],
                 storage: [{{host: srmcms.pic.es, implementation: dCache}}]}}
              - {{name: RAL-LCG2, tier: 1, bdii: 'ldap://127.0.0.1:{grid.refused}'}}
              - {{name: CERN-PROD, tier: 0, bdii: '{grid.bdii}', xrootd: ['{grid.xrootd.door}']}}
            """)
        db = str(grid.tmp / "hang" / "history.db")
        started = time.monotonic()
        rc, out, err = gridready("sweep", "--inventory", str(sites), "--milestones", str(milestones),
                                 "--as-of", "2010-06-08", "--db", db, timeout=30)
        elapsed = time.monotonic() - started
    assert rc == 0, out + err
    assert err == "sweep: milestones: 2 COMPLIANT, 1 NOT_APPLICABLE, 6 UNKNOWN\n", err
    seconds = float(re.search(r" in (\d+\.\d)s$", out.strip()).group(1))  # type: ignore[union-attr]
    assert seconds < 2 + 2, out
    assert elapsed < 2 + 2 + 5                   # plus two interpreter start-ups
    assert "1 timed out" in out

    swept_on_the_morning_of_2010_06_08(db)
    rc, out, _ = gridready("report", "--format", "json", "--db", db, "--inventory", str(sites),
                           "--milestones", str(milestones), "--as-of", "2010-06-08")
    doc = json.loads(out)
    by_site = {s["name"]: {m["id"]: m for m in s["milestones"]} for s in doc["sites"]}
    hung = by_site["pic"]["xrootd-protocol-string"]
    assert (hung["compliance"], hung["state"]) == ("UNKNOWN", "UNKNOWN")
    assert re.fullmatch(r"timeout after 2s while \S.*", hung["message"]), hung["message"]
    assert by_site["pic"]["dcache-supported-release"]["compliance"] == "COMPLIANT"    # the rest of pic still ran
    unreachable = by_site["RAL-LCG2"]["xrootd-protocol-string"]
    assert unreachable["compliance"] == "UNKNOWN" and f"127.0.0.1:{grid.refused}" in unreachable["message"]
    assert by_site["CERN-PROD"]["xrootd-protocol-string"]["compliance"] == "COMPLIANT"
    timeouts = sqlite3.connect(db).execute("SELECT site, timeout FROM results WHERE timeout IS NOT NULL").fetchall()
    assert [site for site, _ in timeouts] == ["pic"]
