"""The four probes as check commands of a real Nagios 4, against real loopback services.

One Nagios (Debian nagios4-core) runs with the shipped
config/nagios/gridready-commands.cfg and services that use each of its
commands, against a real xrootd-server and a real slapd serving the example
top-BDII dump (with the pic and BNL-ATLAS xrootd endpoints pointed at the
loopback xrootd), a loopback FTS3 REST server (client certificate required),
an FTS 2 channel dump and a fake worker-node tree. The bundled milestones
decide: pic publishes "xroot" (OK), BNL-ATLAS "root" (CRITICAL after the
2010-09-30 deadline, WARNING within its 30 warn days), an unreachable BDII or
an unreadable rules file is UNKNOWN. Each service must reach the expected
current_state and plugin_output in status.dat. A second part runs what
``gridready nagios-config`` generates for an inventory site.
"""

from __future__ import annotations

import argparse
import grp
import io
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridready.commands import nagios_config
from tests.helpers import REPO, write
from tests.nagios.harness import (CHECK_NRPE, ServiceStatus, nrpe_account, nrpe_python, readable_code, require_nagios,
                                  running_nagios, running_nrpe)
from tests.servers.https import RunningServer, running_https
from tests.servers.slapd import running_slapd
from tests.servers.xrootd import XrootdServer, running_xrootd
from tests.test_fts_rest import RULES as FTS_RULES
from tests.test_fts_rest import SITES as FTS_SITES
from tests.test_fts_rest import fts3_docs, routes
from tests.test_glexec_install import make_node

XROOTD = "org.gridready.xrootd.SE-xrootd-Protocol"
DCACHE = "org.gridready.dcache.SE-dCache-Version"
FTS = "org.gridready.fts.FTS-Channels"
GLEXEC = "org.sam.glexec.WN-gLExec"


@dataclass(frozen=True)
class Grid:
    xrootd: XrootdServer
    bdii: str
    fts3: RunningServer
    closed_port: int
    tmp: Path


@dataclass(frozen=True)
class Case:
    host: str
    address: str
    service: str
    check_command: str
    state: int
    output: str


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def cases(grid: Grid) -> list[Case]:
    port, bdii = grid.xrootd.port, grid.bdii
    door = f"127.0.0.1:{port}"
    node = make_node(grid.tmp / "wn042")
    certs = grid.fts3.client_cert_files()
    fts_port = int(grid.fts3.url("").rsplit(":", 1)[1].rstrip("/"))
    fts_inventory = write(grid.tmp / "fts-sites.yaml", FTS_SITES)
    fts_rules = write(grid.tmp / "fts-rules.yaml", FTS_RULES)
    dump = REPO / "config" / "example" / "fts" / "FZK-LCG2.txt"
    overdue = (f"XROOTD CRITICAL - {door}: xrootd-protocol-string OVERDUE: GLUE 1.3 dcsrm.usatlas.bnl.gov/root "
               "publishes GlueSEAccessProtocolType 'root', not 'xroot'")
    return [
        Case("pic-xrootd", "127.0.0.1", XROOTD,
             f"check_gridready_xrootd!{port}!--bdii {bdii} --site pic --as-of 2010-10-08", 0,
             f"XROOTD OK - {door}: xrootd-protocol-string COMPLIANT: xrootd protocol "),
        Case("bnl-xrootd-after-deadline", "127.0.0.1", XROOTD,
             f"check_gridready_xrootd!{port}!--bdii {bdii} --site BNL-ATLAS --as-of 2010-10-08 -v", 2, overdue),
        Case("bnl-xrootd-within-warn-days", "127.0.0.1", XROOTD,
             f"check_gridready_xrootd!{port}!--bdii {bdii} --site BNL-ATLAS --as-of 2010-09-20", 1,
             overdue.replace("CRITICAL", "WARNING").replace("OVERDUE", "DUE")),
        Case("srmcms.pic.es", "srmcms.pic.es", DCACHE,
             f"check_gridready_dcache_version!--bdii {bdii} --site pic --as-of 2010-10-08", 0,
             "DCACHE_VERSION OK - srmcms.pic.es: dcache-supported-release COMPLIANT: srmcms.pic.es runs "
             "dCache 1.9.5-19 (golden series 1.9.5"),
        Case("ccsrm.in2p3.fr", "ccsrm.in2p3.fr", DCACHE,
             f"check_gridready_dcache_version!--bdii {bdii} --site IN2P3-CC --as-of 2010-10-08", 2,
             "DCACHE_VERSION CRITICAL - ccsrm.in2p3.fr: dcache-supported-release OVERDUE: ccsrm.in2p3.fr runs "
             "dCache 1.9.4-3, older than the minimum 1.9.5-0"),
        Case("srm.grid.sara.nl", "srm.grid.sara.nl", DCACHE,
             f"check_gridready_dcache_version!--bdii ldap://127.0.0.1:{grid.closed_port} --site SARA-MATRIX", 3,
             f"DCACHE_VERSION UNKNOWN - srm.grid.sara.nl: dcache-supported-release UNKNOWN: "
             f"ldap://127.0.0.1:{grid.closed_port}: connection refused"),
        Case("xrootd-bad-rules", "127.0.0.1", XROOTD,
             f"check_gridready_xrootd!{port}!--milestones {grid.tmp}/no-such-rules.yaml", 3,
             f"XROOTD UNKNOWN - {grid.tmp}/no-such-rules.yaml: no such file"),
        Case("wn042.example.org", "wn042.example.org", GLEXEC,
             f"check_gridready_glexec!--root {node} --site SARA-MATRIX "
             "--as-of 2010-06-08", 0,
             "GLEXEC OK - wn042.example.org: glexec-scas-argus-t1 COMPLIANT: gLExec /usr/sbin/glexec mode 4755, "
             "SCAS (https://scas.example.org:8443)"),
        Case("fts3-ral", "127.0.0.1", FTS,
             f"check_gridready_fts_channels!{fts_port}!--capath {grid.fts3.ca_file} --cert {certs.cert} "
             f"--key {certs.key} --inventory {fts_inventory} --milestones {fts_rules} --site RAL-LCG2 "
             "--as-of 2010-06-08", 0,
             f"FTS_CHANNELS OK - https://127.0.0.1:{fts_port}: fts-t1-channels COMPLIANT: 3/3 required pairs "
             "served, optimizer on"),
        Case("fts2-fzk", "127.0.0.1", FTS,
             f"check_gridready_fts_channel_list!{dump}!--site FZK-LCG2 --as-of 2010-06-08", 1,
             f"FTS_CHANNELS WARNING - {dump}: fts-t1-channels OVERDUE: channel IN2P3-FZK (IN2P3-CC -> FZK-LCG2) "
             "is Drain"),
    ]


def objects(items: list[Case]) -> str:
    hosts = {c.host: c.address for c in items}
    text = "".join(f"define host {{\n    use generic-host\n    host_name {h}\n    address {a}\n}}\n"
                   for h, a in hosts.items())
    return text + "".join(
        f"define service {{\n    use generic-service\n    host_name {c.host}\n"
        f"    service_description {c.service}\n    check_command {c.check_command}\n}}\n" for c in items)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    require_nagios()
    tmp = tmp_path_factory.mktemp("grid")
    with running_xrootd() as xrootd:
        # Point two sites' published xrootd endpoints (GLUE 1.3 and GLUE 2) at the real server.
        ldif = (REPO / "config" / "example" / "bdii.ldif").read_text(encoding="utf-8")
        for host in ("srmcms.pic.es", "dcsrm.usatlas.bnl.gov"):
            ldif = ldif.replace(f"root://{host}:1094", xrootd.url)
        with running_slapd(ldif) as bdii, running_https(routes(fts3_docs()), require_client_cert=True) as fts3:
            yield Grid(xrootd, bdii, fts3, _closed_port(), tmp)


@pytest.fixture(scope="module")
def run(grid: Grid) -> Iterator[tuple[list[Case], dict[tuple[str, str], ServiceStatus]]]:
    items = cases(grid)
    with running_nagios(grid.tmp / "nagios", objects(items)) as nagios:
        statuses = nagios.wait_checked((c.host, c.service) for c in items)
    yield items, statuses


def test_every_state_reaches_status_dat(run: tuple[list[Case], dict[tuple[str, str], ServiceStatus]]) -> None:
    items, statuses = run
    assert {c.state for c in items} == {0, 1, 2, 3}
    for case in items:
        status = statuses[(case.host, case.service)]
        assert (case.host, status.state, status.output[:len(case.output)]) == (case.host, case.state, case.output)
        # Nagios ran the shipped command with these arguments.
        assert status.check_command == case.check_command


def test_perfdata_and_long_output_reach_status_dat(
        run: tuple[list[Case], dict[tuple[str, str], ServiceStatus]]) -> None:
    _, statuses = run
    ok = statuses[("pic-xrootd", XROOTD)]
    assert "|" not in ok.output
    assert ok.fields["performance_data"].startswith("handshake_ms=")
    assert "protocol_version=50101;;;0" in ok.fields["performance_data"]
    critical = statuses[("bnl-xrootd-after-deadline", XROOTD)].long_output.splitlines()
    assert critical[0].startswith("[CRITICAL] xrootd-protocol-string: GLUE 1.3 dcsrm.usatlas.bnl.gov/root ")
    assert critical[0].endswith("waiver expired 2010-08-31 (deadline 2010-09-30, overdue 8 days)")
    assert critical[1].startswith("    remediation: publish GlueSEAccessProtocolType: xroot for "
                                  "dcsrm.usatlas.bnl.gov/root")


def test_generated_site_configuration_runs(grid: Grid) -> None:
    """``gridready nagios-config`` output for an inventory site, run by Nagios unchanged."""
    inventory = write(grid.tmp / "sites.yaml", f"""
        sites:
          - name: pic
            tier: 1
            bdii: "{grid.bdii}"
            xrootd: ["127.0.0.1:{grid.xrootd.port}"]
            storage: [{{host: srmcms.pic.es, implementation: dCache}}, {{host: castor.pic.es, implementation: CASTOR}}]
            fts_channels: "{REPO / 'config' / 'example' / 'fts' / 'pic.txt'}"
        """)
    out = io.StringIO()
    args = nagios_config_args("--site", "pic", "--inventory", str(inventory), "--plugin-dir", str(REPO / "probes"),
                              "--with-templates")
    assert nagios_config.run(args, out) == 0
    generated = write(grid.tmp / "generated" / "pic.cfg", out.getvalue())
    # base=False: the generated file alone (--with-templates brings the templates it builds on).
    with running_nagios(grid.tmp / "nagios-generated", "", cfg_files=(generated,), base=False) as nagios:
        # Generated services are checked hourly: have Nagios check them now.
        nagios.force_checks(["127.0.0.1", "srmcms.pic.es", "fts-channel-list.pic"])
        statuses = nagios.wait_checked([("127.0.0.1", XROOTD), ("srmcms.pic.es", DCACHE),
                                        ("fts-channel-list.pic", FTS)])
    # The CASTOR SE gets no dCache service; no gLExec without --wn.
    assert set(statuses) == {("127.0.0.1", XROOTD), ("srmcms.pic.es", DCACHE), ("fts-channel-list.pic", FTS)}
    dump = REPO / "config" / "example" / "fts" / "pic.txt"
    # Read and judged (the 2010 dump, judged today, long after the deadline): a channel verdict, not an
    # unreadable file.
    assert statuses[("fts-channel-list.pic", FTS)].output.startswith(
        f"FTS_CHANNELS CRITICAL - {dump}: fts-t1-channels OVERDUE: channel STAR-PIC (* -> pic) has no contact")
    assert statuses[("fts-channel-list.pic", FTS)].check_command.startswith(
        f"check_gridready_fts_channel_list!{dump}!--site pic --inventory ")
    # No --as-of in generated commands: judged today, long after every deadline.
    assert statuses[("127.0.0.1", XROOTD)].output.startswith(
        f"XROOTD OK - 127.0.0.1:{grid.xrootd.port}: xrootd-protocol-string COMPLIANT: xrootd protocol ")
    dcache = statuses[("srmcms.pic.es", DCACHE)]
    assert (dcache.state, dcache.output.split(":")[0]) == (2, "DCACHE_VERSION CRITICAL - srmcms.pic.es")
    assert "1.9.5-19" in dcache.output  # the 1.9.5 golden release left support in 2012


def nagios_config_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    nagios_config.add_parser(parser.add_subparsers())
    return parser.parse_args(["nagios-config", *argv])


def test_generated_glexec_service_runs_through_a_real_nrpe(grid: Grid) -> None:
    """The generated gLExec service on the worker-node hostgroup: Nagios -> check_nrpe -> nrpe -> check_glexec."""
    account = nrpe_account()
    # The NRPE account reads the worker-node tree and the code (not the 0700 pytest temp dir nor,
    # maybe, the checkout); glexec.conf stays root-owned 0640, readable by the monitoring group
    # as a site would give it.
    with tempfile.TemporaryDirectory(prefix="gridready-wn-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        code = readable_code(workdir)
        python = nrpe_python(account, code)
        node = make_node(workdir / "wn")
        if account is not None:
            os.chown(node / "etc" / "glexec.conf", 0, grp.getgrnam(account[1]).gr_gid)
        inventory = write(grid.tmp / "wn-sites.yaml", """
            sites:
              - {name: SARA-MATRIX, tier: 1, storage: [{host: srm.grid.sara.nl, implementation: dCache}]}
            """)
        out = io.StringIO()
        probe = [python, str(code / "probes" / "check_glexec"), "--site", "SARA-MATRIX", "--root", str(node)]
        with running_nrpe(workdir, {nagios_config.NRPE_GLEXEC: ["/usr/bin/env", f"PYTHONPATH={code}", *probe]},
                          account) as port:
            args = nagios_config_args("--site", "SARA-MATRIX", "--inventory", str(inventory), "--wn", "127.0.0.1",
                                      "--nrpe-port", str(port), "--check-nrpe", str(CHECK_NRPE),
                                      "--plugin-dir", str(REPO / "probes"), "--with-templates")
            assert nagios_config.run(args, out) == 0
            generated = write(grid.tmp / "generated" / "sara-wn.cfg", out.getvalue())
            text = generated.read_text(encoding="utf-8")
            assert re.search(rf"\n    check_command +check_gridready_glexec_nrpe_port!check_glexec!{port}\n", text)
            assert f"command_line    {CHECK_NRPE} -H $HOSTADDRESS$ -p $ARG2$ -t 30 -c $ARG1$\n" in text
            with running_nagios(grid.tmp / "nagios-nrpe", "", cfg_files=(generated,), base=False) as nagios:
                nagios.force_checks(["127.0.0.1"])
                statuses = nagios.wait_checked([("127.0.0.1", GLEXEC)])
    glexec = statuses[("127.0.0.1", GLEXEC)]
    assert glexec.check_command == f"check_gridready_glexec_nrpe_port!check_glexec!{port}"
    # The probe ran on the "worker node" (its own host name, as NRPE gives no -H) and judged the tree.
    message = "gLExec /usr/sbin/glexec mode 4755, SCAS (https://scas.example.org:8443)"
    assert (glexec.state, re.sub(r" - \S+: ", " - WN: ", glexec.output)) == (
        0, f"GLEXEC OK - WN: glexec-scas-argus-t1 COMPLIANT: {message}")
    assert glexec.long_output.splitlines() == [f"[OK] glexec-scas-argus-t1: {message} (deadline 2010-05-31)"]
