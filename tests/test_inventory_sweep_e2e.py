"""``gridready inventory import`` then ``gridready sweep`` over what it wrote, on loopback services.

The GOCDB, CRIC and top-BDII payloads in tests/data/topology/loopback/ have
the recorded payloads' shape; their endpoints are templates (``@DOOR@``,
``@FTS@``) replaced at run time by a real xrootd door, and a loopback FTS3
REST server that wants a client certificate. The BDII is the dump served by a
real slapd, so the importer reads it over LDAP and writes that URI as every
site's ``bdii:``. The sweep must then contact every endpoint kind the import
produced (xrootd doors, the BDII, the FTS3 servers) and judge each: no
"no FTS source" / "no xrootd door" UNKNOWN, handshake metrics stored, the
dCache versions read from the BDII, the FTS3 REST paths requested.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO, run_py
from tests.servers.https import Response, RunningServer, running_https
from tests.servers.slapd import running_slapd
from tests.servers.xrootd import XrootdServer, running_xrootd
from tests.test_fts_rest import fts3_docs

TEMPLATES = REPO / "tests" / "data" / "topology" / "loopback"
#: FTS3 servers by URL path prefix (GOCDB names ALPHA-T1's, CRIC the others').
FTS_PREFIXES = ("t0", "alpha", "beta")


def gridready(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    done = run_py("-m", "gridready.cli", *args, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


@dataclass
class Grid:
    tmp: Path
    xrootd: XrootdServer
    bdii: str
    fts: RunningServer

    def credentials(self) -> list[str]:
        files = self.fts.client_cert_files()
        return ["--capath", self.fts.ca_file, "--cert", files.cert, "--key", files.key]


def payload(name: str, xrootd: XrootdServer, fts: RunningServer) -> str:
    fts_hostport = fts.url("").split("://", 1)[1].rstrip("/")
    return (TEMPLATES / name).read_text(encoding="utf-8").replace("@DOOR@", xrootd.door) \
        .replace("@FTS@", fts_hostport)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    tmp = tmp_path_factory.mktemp("import-sweep")
    # Optimizer on, no link configuration: every pair is served (fts-rest).
    docs = fts3_docs(config__links=[])
    routes = {f"/{prefix}/{path}": Response(body=json.dumps(doc)) for prefix in FTS_PREFIXES
              for path, doc in docs.items()}
    with running_xrootd() as xrootd, running_https(routes, require_client_cert=True) as fts:
        with running_slapd(payload("bdii.ldif", xrootd, fts)) as bdii:
            for name in ("gocdb.xml", "cric.json"):
                (tmp / name).write_text(payload(name, xrootd, fts), encoding="utf-8")
            yield Grid(tmp, xrootd, bdii, fts)


def test_imported_inventory_is_swept_on_every_endpoint_kind(grid: Grid) -> None:
    started = time.monotonic()
    sites = grid.tmp / "sites.yaml"
    rc, out, err = gridready("inventory", "import", "--gocdb", str(grid.tmp / "gocdb.xml"),
                             "--cric", str(grid.tmp / "cric.json"), "--bdii", grid.bdii,
                             "--tier", "0", "--tier", "1", "--date", "2010-06-08", "-o", str(sites))
    assert (rc, out) == (0, ""), err
    assert err.splitlines()[-1] == f"wrote 3 sites to {sites}"
    door, fts = grid.xrootd.door, grid.fts.url("").rstrip("/")
    text = sites.read_text(encoding="utf-8")
    for expected in (f'bdii: "{grid.bdii}"', f'fts: "{fts}/t0"', f'fts: "{fts}/alpha"', f'fts: "{fts}/beta"',
                     f'- "{door}"'):
        assert expected in text, text
    assert "GAMMA-T2" not in text      # tier 2: filtered out

    db = str(grid.tmp / "history.db")
    rc, out, err = gridready("sweep", "--inventory", str(sites), "--as-of", "2010-06-08", "--db", db,
                             *grid.credentials())
    assert rc == 0, out + err
    assert "0 timed out" in out, out

    rows = sqlite3.connect(db).execute(
        "SELECT site, check_name, host, state, summary, metrics FROM results ORDER BY site, check_name").fetchall()
    results = {(site, check): (host, state, summary.split(": ", 1)[1], json.loads(metrics))
               for site, check, host, state, summary, metrics in rows}
    assert len(rows) == len(results) == 9      # three sites x three checks swept (gLExec is ingested)
    for site, check in results:
        host, state, summary, _ = results[(site, check)]
        # Every kind was judged from what was collected, none for want of a source.
        assert "no FTS source" not in summary and "no xrootd door" not in summary and "not reached" not in summary

    # xrootd: the door answered the handshake for every site, and the published strings were judged.
    for site, compliance, published in [
            ("ALPHA-T1", "PENDING", "GLUE 1.3 srm.alpha.example.org/xrootd publishes GlueSEAccessProtocolType "
                                    "'root', not 'xroot'"),
            ("BETA-T1", "COMPLIANT", "published as 'xroot' in GLUE 1.3 (1 record)"),
            ("EXAMPLE-T0", "COMPLIANT", "published as 'xroot' in GLUE 2 (1 record)")]:
        host, state, summary, metrics = results[(site, "xrootd")]
        assert (host, state) == (door, "OK")
        assert summary.startswith(f"xrootd-protocol-string {compliance}: ") and summary.endswith(published), summary
        assert metrics["handshake_ms"] > 0 and metrics["protocol_version"] >= 50000, metrics

    # dCache: the versions come from the slapd serving the dump (GLUE 1.3 and GLUE 2).
    assert {site: (host, state, summary) for (site, check), (host, state, summary, _) in results.items()
            if check == "dcache_version"} == {
        "ALPHA-T1": ("srm.alpha.example.org", "OK", "dcache-supported-release COMPLIANT: srm.alpha.example.org "
                     "runs dCache 1.9.5-19 (golden series 1.9.5, supported until 2012-05-07)"),
        "BETA-T1": ("srm.beta.example.org", "WARNING", "dcache-supported-release DUE: srm.beta.example.org "
                    "runs dCache 1.9.4-3, older than the minimum 1.9.5-0; srm.beta.example.org runs dCache 1.9.4-3: "
                    "series 1.9.4 is out of support (older than 1.9.5, the first series in "
                    "the dCache series table)"),
        "EXAMPLE-T0": ("srm.t0.example.org", "OK", "dcache-supported-release COMPLIANT: srm.t0.example.org "
                       "runs dCache 1.9.5-22 (golden series 1.9.5, supported until 2012-05-07)")}

    # FTS3 REST: each server was asked, with the client certificate, and judged.
    for site, prefix in (("ALPHA-T1", "alpha"), ("BETA-T1", "beta"), ("EXAMPLE-T0", "t0")):
        host, state, summary, metrics = results[(site, "fts_channels")]
        assert (host, state, summary) == (f"{fts}/{prefix}", "OK", "fts-t1-channels COMPLIANT: 2/2 required "
                                          "pairs served, optimizer on")
        asked = {r.path for r in grid.fts.seen if r.path.startswith(f"/{prefix}/")}
        assert {f"/{prefix}/config/links", f"/{prefix}/optimizer"} <= asked, asked
        assert all(r.client_subject for r in grid.fts.seen)
    assert time.monotonic() - started < 15
