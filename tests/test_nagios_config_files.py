"""The shipped Nagios and Icinga 2 definitions are accepted by the real programs and call the probes.

``nagios4 -v`` (Debian nagios4-core) must pass config/nagios/ with no
warnings, and fail a broken service (so the check is not vacuous); Icinga 2
(Debian icinga2-bin, skipped when absent: Nagios is what CI installs) must
validate config/nagios/icinga2/ and run every CheckCommand with the
arguments its custom variables ask for.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from tests.helpers import REPO
from tests.nagios.harness import COMMANDS_CFG, PROBES, SERVICES_EXAMPLE_CFG, Nagios, require_nagios
from tests.nagios.icinga2 import ICINGA_CONF, ICINGA_EXAMPLE, Icinga2, parse_state, running_icinga2
from tests.test_glexec_install import make_node

LDIF = REPO / "config" / "example" / "bdii.ldif"
FZK_DUMP = REPO / "config" / "example" / "fts" / "FZK-LCG2.txt"
PROBE_NAMES = ("check_glexec", "check_fts_channels", "check_dcache_version", "check_xrootd")


def verify(tmp_path: Path, objects: str = "", *cfg_files: Path) -> tuple[int, str]:
    require_nagios()
    done = Nagios(tmp_path / "nagios", objects, cfg_files=cfg_files).verify()
    return done.returncode, done.stdout + done.stderr


def counts(output: str) -> dict[str, int]:
    return {kind: int(n) for n, kind in re.findall(r"Checked (\d+) (services|hosts|host groups|commands)\.", output)}


def test_nagios_accepts_the_shipped_commands_and_example_services(tmp_path: Path) -> None:
    code, output = verify(tmp_path, "", COMMANDS_CFG, SERVICES_EXAMPLE_CFG)
    assert code == 0, output
    assert "Total Warnings: 0" in output and "Total Errors:   0" in output, output
    # 7 gridready commands + the harness's notification command.
    assert counts(output) == {"services": 4, "hosts": 4, "host groups": 1, "commands": 8}


def test_nagios_rejects_a_service_with_an_unknown_command(tmp_path: Path) -> None:
    broken = SERVICES_EXAMPLE_CFG.read_text().replace("check_gridready_xrootd!", "check_gridready_xrootdd!")
    code, output = verify(tmp_path, broken, COMMANDS_CFG)
    assert code != 0
    assert "check_gridready_xrootdd" in output


def test_every_probe_has_a_command_and_commands_call_existing_probes() -> None:
    text = COMMANDS_CFG.read_text()
    lines = dict(re.findall(r"command_name\s+(\S+)\s*\n\s*command_line\s+(.+)", text))
    assert set(lines) == {"check_gridready_xrootd", "check_gridready_dcache_version", "check_gridready_fts_channels",
                          "check_gridready_fts_channel_list", "check_gridready_glexec", "check_gridready_glexec_nrpe",
                          "check_gridready_glexec_nrpe_port"}
    called = {line.split()[0].removeprefix("$USER1$/") for line in lines.values()}
    assert called == {*PROBE_NAMES, "check_nrpe"}
    for name in PROBE_NAMES:
        assert (PROBES / name).stat().st_mode & 0o111, f"probes/{name} is not executable"
    # Probes that talk to a host get it from the host definition.
    assert "-H $HOSTADDRESS$" in lines["check_gridready_xrootd"]
    assert "--se $HOSTADDRESS$" in lines["check_gridready_dcache_version"]
    assert "--fts https://$HOSTADDRESS$:$ARG1$" in lines["check_gridready_fts_channels"]


def test_example_services_use_the_metric_name_scheme() -> None:
    names = re.findall(r"service_description\s+(\S+)", SERVICES_EXAMPLE_CFG.read_text())
    assert sorted(names) == ["org.gridready.dcache.SE-dCache-Version", "org.gridready.fts.FTS-Channels",
                             "org.gridready.xrootd.SE-xrootd-Protocol", "org.sam.glexec.WN-gLExec"]
    icinga = re.findall(r'apply Service "([^"]+)"', ICINGA_EXAMPLE.read_text())
    assert sorted(icinga) == sorted(names)


def test_icinga2_validates_the_shipped_commands_and_example(tmp_path: Path) -> None:
    done = Icinga2(tmp_path / "icinga2", "", includes=(ICINGA_CONF, ICINGA_EXAMPLE)).validate()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Instantiated 4 Services." in done.stdout and "Instantiated 4 Hosts." in done.stdout


def test_icinga2_rejects_a_broken_command(tmp_path: Path) -> None:
    broken = tmp_path / "broken.conf"
    broken.write_text(ICINGA_CONF.read_text().replace('import "gridready-common"', 'import "gridready-commons"', 1))
    done = Icinga2(tmp_path / "icinga2", "", includes=(broken,)).validate()
    assert done.returncode != 0
    assert "gridready-commons" in done.stdout + done.stderr


def test_parse_state_netstrings() -> None:
    text = '12:{"name":"a"},20:{"name":"b","x":[1]},'
    assert parse_state(text) == [{"name": "a"}, {"name": "b", "x": [1]}]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_icinga2_runs_every_check_command(tmp_path: Path) -> None:
    closed = _closed_port()
    node = make_node(tmp_path / "wn042")
    objects = f"""
object Host "xrootd-door" {{
  check_command = "dummy"
  address = "127.0.0.1"
  vars.gridready_site = "pic"
  vars.gridready_as_of = "2010-10-08"
  vars.gridready_bdii = "{LDIF}"
}}
object Host "srmcms.pic.es" {{
  check_command = "dummy"
  address = "srmcms.pic.es"
  vars.gridready_site = "pic"
  vars.gridready_as_of = "2010-10-08"
  vars.gridready_bdii = "{LDIF}"
}}
object Host "fts.example.org" {{
  check_command = "dummy"
  address = "127.0.0.1"
  vars.gridready_site = "FZK-LCG2"
  vars.gridready_as_of = "2010-06-08"
}}
object Host "wn042.example.org" {{
  check_command = "dummy"
  address = "127.0.0.1"
  vars.gridready_site = "SARA-MATRIX"
  vars.gridready_as_of = "2010-06-08"
}}
template Service "fast" {{
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
}}
object Service "xrootd" {{
  import "fast"
  host_name = "xrootd-door"
  check_command = "gridready_xrootd"
  vars.gridready_xrootd_port = {closed}
  vars.gridready_verbose = true
}}
object Service "dcache" {{
  import "fast"
  host_name = "srmcms.pic.es"
  check_command = "gridready_dcache_version"
  vars.gridready_dcache_deny = [ "1.9.5-20", "1.9.6-*" ]
}}
object Service "fts-dump" {{
  import "fast"
  host_name = "fts.example.org"
  check_command = "gridready_fts_channels"
  vars.gridready_fts_channel_list = "{FZK_DUMP}"
}}
object Service "fts3" {{
  import "fast"
  host_name = "fts.example.org"
  check_command = "gridready_fts_channels"
  vars.gridready_fts_url = "https://127.0.0.1:{closed}"
  vars.gridready_capath = "/nonexistent-ca-dir"
}}
object Service "glexec" {{
  import "fast"
  host_name = "wn042.example.org"
  check_command = "gridready_glexec"
  vars.gridready_glexec_root = "{node}"
}}
"""
    names = ["xrootd-door!xrootd", "srmcms.pic.es!dcache", "fts.example.org!fts-dump", "fts.example.org!fts3",
             "wn042.example.org!glexec"]
    with running_icinga2(tmp_path / "icinga2", objects) as icinga:
        icinga.wait_finished(names)
    results = icinga.results()
    probe = str(PROBES)

    xrootd = results["xrootd-door!xrootd"]
    assert xrootd["command"] == [f"{probe}/check_xrootd", "-H", "127.0.0.1", "-p", str(closed), "--as-of",
                                 "2010-10-08", "--bdii", str(LDIF), "--site", "pic", "-v"]
    assert xrootd["exit_status"] == 2
    # The closed door alone would be UNKNOWN; not publishing it is the failure that decides.
    assert xrootd["output"].startswith(f"XROOTD CRITICAL - 127.0.0.1:{closed}: xrootd-protocol-string OVERDUE: "
                                       f"127.0.0.1:{closed} is not published as an xrootd access protocol")
    assert "\n    remediation: " in xrootd["output"]

    dcache = results["srmcms.pic.es!dcache"]
    assert dcache["command"] == [f"{probe}/check_dcache_version", "--se", "srmcms.pic.es", "--as-of", "2010-10-08",
                                 "--bdii", str(LDIF), "--deny", "1.9.5-20", "--deny", "1.9.6-*", "--site", "pic"]
    assert (dcache["exit_status"], dcache["output"].split(":")[0]) == (0, "DCACHE_VERSION OK - srmcms.pic.es")

    dump = results["fts.example.org!fts-dump"]
    assert dump["command"] == [f"{probe}/check_fts_channels", "--as-of", "2010-06-08", "--channel-list",
                               str(FZK_DUMP), "--site", "FZK-LCG2"]
    assert (dump["exit_status"], dump["output"].split(":")[0]) == (1, f"FTS_CHANNELS WARNING - {FZK_DUMP}")

    fts3 = results["fts.example.org!fts3"]
    assert fts3["command"] == [f"{probe}/check_fts_channels", "--as-of", "2010-06-08", "--capath",
                               "/nonexistent-ca-dir", "--fts", f"https://127.0.0.1:{closed}", "--site", "FZK-LCG2"]
    assert fts3["exit_status"] == 3 and fts3["output"].startswith("FTS_CHANNELS UNKNOWN - ")

    glexec = results["wn042.example.org!glexec"]
    assert glexec["command"] == [f"{probe}/check_glexec", "--as-of", "2010-06-08", "--host", "wn042.example.org",
                                 "--root", str(node), "--site", "SARA-MATRIX"]
    assert (glexec["exit_status"], glexec["output"].split(":")[0]) == (0, "GLEXEC OK - wn042.example.org")
