"""``gridready nagios-config --site NAME``: what it generates from the inventory, and its errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gridready.commands.nagios_config import render
from gridready.configfile import load_inventory, load_rules
from gridready.errors import GridreadyError
from gridready.models import Site, Storage
from tests.helpers import REPO, write
from tests.nagios.harness import COMMANDS_CFG, Nagios, require_nagios, running_nagios

SITES = """
sites:
  - name: MY-T1
    tier: 1
    bdii: "ldap://site-bdii.example.org:2170"
    fts: "https://fts.example.org:8443/"
    xrootd: ["xrootd.example.org", "xrootd.example.org:1095", "root://door2.example.org:2094", "door3.example.org"]
    storage: [{host: srm.example.org, implementation: dCache}, {host: castor.example.org, implementation: CASTOR},
              {host: unknown.example.org}]
  - {name: MY-T0, tier: 0, srr: "https://srr.example.org/srr.json", storage: [srm.t0.example.org]}
  - {name: BARE-T1, tier: 1}
  - {name: FILE-FTS, tier: 1, fts: "fts3-config.json", fts_channels: "channels.txt"}
"""


def generate(tmp_path: Path, *args: str, sites: str = SITES) -> subprocess.CompletedProcess[str]:
    inventory = write(tmp_path / "sites.yaml", sites)
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "gridready.cli", "nagios-config", "--inventory", str(inventory),
                           *args], capture_output=True, text=True, timeout=30, env=env, check=False)


def blocks(text: str, kind: str) -> list[dict[str, str]]:
    found = []
    for body in re.findall(r"define " + kind + r" \{\n(.*?)\n\}", text, re.S):
        found.append(dict(line.strip().split(None, 1) for line in body.splitlines()))
    return found


def test_services_for_every_door_se_fts_and_worker_node(tmp_path: Path) -> None:
    done = generate(tmp_path, "--site", "my-t1", "--wn", "wn001.example.org", "--wn", "wn002.example.org")
    assert (done.returncode, done.stderr) == (0, "")
    inventory = str((tmp_path / "sites.yaml").resolve())
    shared = f"--site MY-T1 --inventory {inventory}"
    bdii = "--bdii ldap://site-bdii.example.org:2170"
    services = {(s.get("host_name") or s["hostgroup_name"], s["service_description"]): s["check_command"]
                for s in blocks(done.stdout, "service")}
    assert services == {
        # Two doors on one host: the port tells the services apart.
        ("xrootd.example.org", "org.gridready.xrootd.SE-xrootd-Protocol-1094"):
            f"check_gridready_xrootd!1094!{bdii} {shared}",
        ("xrootd.example.org", "org.gridready.xrootd.SE-xrootd-Protocol-1095"):
            f"check_gridready_xrootd!1095!{bdii} {shared}",
        ("door2.example.org", "org.gridready.xrootd.SE-xrootd-Protocol"): f"check_gridready_xrootd!2094!{bdii} {shared}",
        ("door3.example.org", "org.gridready.xrootd.SE-xrootd-Protocol"): f"check_gridready_xrootd!1094!{bdii} {shared}",
        # dCache and storage of unknown implementation; not CASTOR.
        ("srm.example.org", "org.gridready.dcache.SE-dCache-Version"): f"check_gridready_dcache_version!{bdii} {shared}",
        ("unknown.example.org", "org.gridready.dcache.SE-dCache-Version"):
            f"check_gridready_dcache_version!{bdii} {shared}",
        ("fts.example.org", "org.gridready.fts.FTS-Channels"):
            f"check_gridready_fts_channels!8443!--capath /etc/grid-security/certificates {shared}",
        # gLExec: one service on the site's worker-node hostgroup.
        ("gridready-MY-T1-wn", "org.sam.glexec.WN-gLExec"): "check_gridready_glexec_nrpe!check_glexec",
    }
    hosts = blocks(done.stdout, "host")
    assert [h["host_name"] for h in hosts] == ["xrootd.example.org", "door2.example.org", "door3.example.org",
                                               "srm.example.org", "unknown.example.org", "fts.example.org",
                                               "wn001.example.org", "wn002.example.org"]
    assert all(h["address"] == h["host_name"] for h in hosts)
    assert [h["hostgroups"] for h in hosts] == ["gridready-MY-T1"] * 6 + ["gridready-MY-T1,gridready-MY-T1-wn"] * 2
    assert blocks(done.stdout, "hostgroup") == [
        {"hostgroup_name": "gridready-MY-T1", "alias": "MY-T1 services checked by gridready"},
        {"hostgroup_name": "gridready-MY-T1-wn", "alias": "MY-T1 worker nodes (gLExec)"}]
    assert len(blocks(done.stdout, "command")) == 7  # the shipped commands, check_gridready_glexec_nrpe_port included
    assert "# NOTE: on each worker node of MY-T1, nrpe.cfg needs: command[check_glexec]=/usr/lib/nagios/plugins/" \
           f"check_glexec {shared}" in done.stdout
    assert "--cert F --key F or --proxy F" in done.stdout


def test_output_passes_nagios_verification(tmp_path: Path) -> None:
    require_nagios()
    done = generate(tmp_path, "--site", "MY-T1", "--wn", "wn001.example.org")
    config = write(tmp_path / "my-t1.cfg", done.stdout)
    verified = Nagios(tmp_path / "nagios", "", cfg_files=(config,)).verify()
    assert verified.returncode == 0, verified.stdout
    assert "Total Warnings: 0" in verified.stdout, verified.stdout
    # 6 generated commands + the harness's notification command; gLExec through the WN hostgroup.
    assert "Checked 8 services." in verified.stdout and "Checked 2 host groups." in verified.stdout and "Checked 8 commands." in verified.stdout


def test_only_checks_with_an_applicable_milestone(tmp_path: Path) -> None:
    done = generate(tmp_path, "--site", "MY-T0", "--wn", "wn.t0.example.org", "--no-commands")
    assert done.returncode == 0
    services = [(s["host_name"], s["service_description"], s["check_command"]) for s in blocks(done.stdout, "service")]
    inventory = (tmp_path / "sites.yaml").resolve()
    # The bundled gLExec milestone is for Tier-1s only: no WN service for a Tier-0.
    assert services == [("srm.t0.example.org", "org.gridready.dcache.SE-dCache-Version",
                         f"check_gridready_dcache_version!--srr https://srr.example.org/srr.json "
                         f"--site MY-T0 --inventory {inventory}")]
    assert "# NOTE: no milestone of check glexec applies to MY-T0 (tier 0)" in done.stdout
    assert "define command" not in done.stdout


def test_site_with_nothing_to_monitor_says_why(tmp_path: Path) -> None:
    done = generate(tmp_path, "--site", "BARE-T1")
    assert done.returncode == 0
    assert "define service" not in done.stdout and "define host" not in done.stdout
    notes = [line for line in done.stdout.splitlines() if line.startswith("# NOTE: ")]
    assert notes == [
        "# NOTE: no xrootd doors listed for BARE-T1 in the inventory (xrootd:)",
        "# NOTE: no dCache storage listed for BARE-T1 in the inventory (storage:)",
        "# NOTE: no FTS server listed for BARE-T1 in the inventory (fts: or fts_channels:)",
        "# NOTE: gLExec (org.sam.glexec.WN-gLExec) is tested on a worker node: rerun with --site BARE-T1 "
        "--wn HOST to add it, checked through NRPE"]


def test_fts_source_that_is_not_a_server_url_uses_the_channel_dump(tmp_path: Path) -> None:
    done = generate(tmp_path, "--site", "FILE-FTS", "--no-commands")
    assert done.returncode == 0
    inventory = (tmp_path / "sites.yaml").resolve()
    dump = (tmp_path / "channels.txt").resolve()
    assert [(s["host_name"], s["service_description"], s["check_command"]) for s in blocks(done.stdout, "service")] \
        == [("fts-channel-list.FILE-FTS", "org.gridready.fts.FTS-Channels",
             f"check_gridready_fts_channel_list!{dump}!--site FILE-FTS --inventory {inventory}")]
    # The dump is a file the monitoring host reads: its host is the loopback address.
    assert [(h["host_name"], h["address"]) for h in blocks(done.stdout, "host")] == [
        ("fts-channel-list.FILE-FTS", "127.0.0.1")]


def test_fts_source_that_is_neither_server_url_nor_dump(tmp_path: Path) -> None:
    done = generate(tmp_path, "--site", "FILE-FTS", sites=SITES.replace(', fts_channels: "channels.txt"', ""))
    assert done.returncode == 0
    assert [s["service_description"] for s in blocks(done.stdout, "service")] == []
    assert f"# NOTE: FTS source {(tmp_path / 'fts3-config.json').resolve()} of FILE-FTS is not an " \
           "https://host:port URL of an FTS3 server and there is no channel dump (fts_channels:): no service " \
           "made for it" in done.stdout


def test_fts2_dump_goes_on_the_fts2_server_named_by_fts(tmp_path: Path) -> None:
    sites = """
        sites:
          - {name: OLD-T1, tier: 1, fts_channels: dump.txt,
             fts: "https://fts.old.example.org:8443/glite-data-transfer-fts/services/FileTransfer"}
        """
    done = generate(tmp_path, "--site", "OLD-T1", "--no-commands", sites=sites)
    assert [(h["host_name"], h["address"]) for h in blocks(done.stdout, "host")] == [
        ("fts.old.example.org", "fts.old.example.org")]
    (service,) = blocks(done.stdout, "service")
    assert service["check_command"].startswith(f"check_gridready_fts_channel_list!{(tmp_path / 'dump.txt').resolve()}!")


def test_several_sites_and_all(tmp_path: Path) -> None:
    one = generate(tmp_path, "--site", "MY-T1", "--site", "MY-T0", "--site", "my-t1", "--no-commands")
    every = generate(tmp_path, "--all", "--no-commands")
    assert (one.returncode, every.returncode) == (0, 0)
    assert [g["hostgroup_name"] for g in blocks(one.stdout, "hostgroup")] == ["gridready-MY-T1", "gridready-MY-T0"]
    # BARE-T1 has nothing to monitor: no empty hostgroup (nagios4 -v refuses none, but it says nothing).
    assert [g["hostgroup_name"] for g in blocks(every.stdout, "hostgroup")] == [
        "gridready-MY-T1", "gridready-MY-T0", "gridready-FILE-FTS"]
    assert {s["host_name"] for s in blocks(every.stdout, "service")} >= {"srm.t0.example.org", "srm.example.org"}
    assert "--site MY-T0 " in one.stdout and "--site MY-T1 " in one.stdout


@pytest.mark.parametrize("args, message", [
    ([], "give --site NAME (repeatable) or --all"),
    (["--all", "--site", "MY-T1"], "give either --site or --all"),
    (["--all", "--wn", "wn1.example.org"], "--wn names the worker nodes of one site"),
    (["--site", "MY-T1", "--site", "MY-T0", "--wn", "wn1.example.org"], "--wn names the worker nodes of one site"),
    (["--site", "MY-T1", "--format", "icinga3"], "--format"),
])
def test_site_selection_errors(tmp_path: Path, args: list[str], message: str) -> None:
    done = generate(tmp_path, *args)
    assert (done.returncode, done.stdout) == (3, "")
    assert message in done.stderr and done.stderr.count("\n") == 1


def test_with_templates_alone_passes_nagios_verification(tmp_path: Path) -> None:
    require_nagios()
    done = generate(tmp_path, "--all", "--with-templates")
    assert done.returncode == 0, done.stderr
    config = write(tmp_path / "all.cfg", done.stdout)
    # base=False: nothing but this output (and the harness's nagios.cfg main settings).
    verified = Nagios(tmp_path / "nagios", "", cfg_files=(config,), base=False).verify()
    assert verified.returncode == 0, verified.stdout
    assert "Total Warnings: 0" in verified.stdout and "Total Errors:   0" in verified.stdout
    # 7 xrootd/dCache/FTS3 services of MY-T1, 1 of MY-T0, the FTS 2 dump of FILE-FTS.
    assert "Checked 9 services." in verified.stdout and "Checked 3 host groups." in verified.stdout
    assert "Checked 1 contacts." in verified.stdout and "Checked 1 time periods." in verified.stdout
    # Without the templates the same output is missing what it builds on.
    bare = generate(tmp_path, "--all")
    config = write(tmp_path / "bare.cfg", bare.stdout)
    failed = Nagios(tmp_path / "nagios-bare", "", cfg_files=(config,), base=False).verify()
    assert failed.returncode != 0 and "generic-host" in failed.stdout


def test_plugin_dir_replaces_user1_in_command_lines_only(tmp_path: Path) -> None:
    done = generate(tmp_path, "--site", "MY-T1", "--plugin-dir", "/opt/gridready/probes")
    lines = [c["command_line"] for c in blocks(done.stdout, "command")]
    assert lines[0] == "/opt/gridready/probes/check_xrootd -H $HOSTADDRESS$ -p $ARG1$ $ARG2$"
    assert all("$USER1$" not in line for line in lines)
    # Comments are left as shipped.
    assert any(line.startswith("#") and "$USER1$" in line for line in done.stdout.splitlines())


@pytest.mark.parametrize("args, message", [
    (["--site", "NOPE"], "no site 'NOPE' (known: MY-T1, MY-T0, BARE-T1, FILE-FTS)"),
    (["--site", "MY-T1", "--wn", "wn 1"], "--wn 'wn 1' cannot go into a Nagios definition"),
    (["--site", "MY-T1", "--milestones", "/nonexistent/rules.yaml"], "/nonexistent/rules.yaml: no such file"),
])
def test_errors_are_one_line_and_exit_3(tmp_path: Path, args: list[str], message: str) -> None:
    done = generate(tmp_path, *args)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith("gridready: ") and message in done.stderr
    assert done.stderr.count("\n") == 1


def test_values_reach_the_probe_unchanged_through_nagios_and_the_shell(tmp_path: Path) -> None:
    """Values with ';', '$' or '*' are quoted for Nagios and /bin/sh; a real Nagios passes them on."""
    require_nagios()
    rules = load_rules(REPO / "config" / "milestones.yaml")
    tricky = "/data/bdii;$HOME*.ldif"
    site = Site(name="X-T1", tier=1, bdii=tricky, xrootd=("door.example.org",))
    (service,) = blocks(render(site, rules, ["--site", "X-T1"], [], None), "service")
    assert service["check_command"] == "check_gridready_xrootd!1094!--bdii '/data/bdii\\;$$HOME*.ldif' --site X-T1"
    plugins = tmp_path / "plugins"
    # Nagios turns ';' in plugin output into ':', so the stand-in shows it as '#'.
    echo = write(plugins / "check_xrootd", '#!/bin/sh\nfor a in "$@"; do printf "[%s]" "$a"; done | tr ";" "#"\n')
    echo.chmod(0o755)
    config = write(tmp_path / "x.cfg", render(site, rules, ["--site", "X-T1"], [], None))
    with running_nagios(tmp_path / "nagios", "", cfg_files=(COMMANDS_CFG, config), plugin_dir=plugins) as nagios:
        nagios.force_checks(["door.example.org"])
        status = nagios.wait_checked([("door.example.org", "org.gridready.xrootd.SE-xrootd-Protocol")])
    (only,) = status.values()
    assert only.output == "[-H][door.example.org][-p][1094][--bdii][/data/bdii#$HOME*.ldif][--site][X-T1]"


@pytest.mark.parametrize("bdii", ["/data/my bdii.ldif", "/data/it's.ldif", "a!b", "c:\\bdii"])
def test_values_nagios_cannot_pass_are_refused(bdii: str) -> None:
    rules = load_rules(REPO / "config" / "milestones.yaml")
    site = Site(name="X-T1", tier=1, bdii=bdii, xrootd=("door.example.org",))
    with pytest.raises(GridreadyError, match="cannot go into a Nagios command"):
        render(site, rules, ["--site", "X-T1"], [], None)


def test_bundled_inventory_site(tmp_path: Path) -> None:
    """The bundled inventory (imported, docs/inventory.md) lists SARA's door, storage and FTS 2 source."""
    inventory = load_inventory(REPO / "config" / "sites.yaml")
    sara = inventory.site("SARA-MATRIX")
    assert sara is not None
    text = render(sara, load_rules(REPO / "config" / "milestones.yaml"), ["--site", "SARA-MATRIX"],
                  ["wn1.grid.sara.nl"], None)
    bdii = "--bdii ldap://lcg-bdii.cern.ch:2170 --site SARA-MATRIX"
    dump = REPO / "config" / "example" / "fts" / "SARA-MATRIX.txt"
    assert [(s.get("host_name") or s["hostgroup_name"], s["service_description"], s["check_command"])
            for s in blocks(text, "service")] == [
        ("srm.grid.sara.nl", "org.gridready.xrootd.SE-xrootd-Protocol", f"check_gridready_xrootd!1094!{bdii}"),
        ("srm.grid.sara.nl", "org.gridready.dcache.SE-dCache-Version", f"check_gridready_dcache_version!{bdii}"),
        # The 2010 FTS 2 server: its channel dump is checked, the server itself is not contacted.
        ("fts.grid.sara.nl", "org.gridready.fts.FTS-Channels",
         f"check_gridready_fts_channel_list!{dump}!--site SARA-MATRIX"),
        ("gridready-SARA-MATRIX-wn", "org.sam.glexec.WN-gLExec", "check_gridready_glexec_nrpe!check_glexec")]


def test_bundled_inventory_is_what_the_import_rebuilds(tmp_path: Path) -> None:
    """config/sites.yaml is the output of the README's rebuild command, byte for byte."""
    # A copy of config/ (the output's own directory decides the relative paths in it).
    example = tmp_path / "config" / "example"
    shutil.copytree(REPO / "config" / "example", example)
    out = tmp_path / "config" / "sites.yaml"
    done = subprocess.run([sys.executable, "-m", "gridready.cli", "inventory", "import",
                           "--gocdb", str(example / "topology" / "gocdb.xml"), "--bdii", str(example / "bdii.ldif"),
                           "--tier", "0", "--tier", "1", "--overlay", str(example / "overlay.yaml"),
                           "-o", str(out)], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stderr
    rebuilt = out.read_text(encoding="utf-8")
    assert rebuilt == (REPO / "config" / "sites.yaml").read_text(encoding="utf-8")
    sites = load_inventory(REPO / "config" / "sites.yaml").sites
    assert len(sites) == 12
    assert all(s.bdii == "ldap://lcg-bdii.cern.ch:2170" and s.storage and s.fts and s.fts_channels for s in sites)
    # No xrootd access protocol published in the June 2010 BDII dump for these three.
    assert [s.name for s in sites if not s.xrootd] == ["INFN-T1", "Taiwan-LCG2", "USCMS-FNAL-WC1"]


# --- untrusted values: the escaping holds on its own, whatever the inventory loader lets through ----------

EVIL = "define command {\n    command_name evil\n    command_line /bin/touch /tmp/gridready-pwned\n}\n"
BUNDLED_RULES = REPO / "config" / "milestones.yaml"


def injected(site: Site, wns: tuple[str, ...] = ("wn1.example.org",)) -> str:
    """render() for a Site built directly (the loader refuses these values; render must not rely on it)."""
    rules = load_rules(BUNDLED_RULES)
    return render(site, rules, ["--site", site.name], wns,
                  (REPO / "config" / "nagios" / "gridready-commands.cfg").read_text(encoding="utf-8"))


@pytest.mark.parametrize("site", [
    # A note quotes the FTS value that is not a server URL: a line break would start a live define.
    Site("MY-T1", 1, bdii="ldap://b.example.org:2170", fts="x\n" + EVIL + "#", xrootd=("door.example.org",)),
    Site("MY-T1", 1, fts="x\r" + EVIL, xrootd=("door.example.org",)),
])
def test_a_line_break_in_a_noted_value_stays_in_its_comment(site: Site, tmp_path: Path) -> None:
    text = injected(site)
    assert "command_name evil" not in [line.strip() for line in text.splitlines()]
    assert all(line.startswith("#") for line in text.split("\n\n")[0].splitlines())
    assert not any(line.rstrip(" ").endswith("\\") for line in text.splitlines())
    require_nagios()
    config = write(tmp_path / "site.cfg", text)
    verified = Nagios(tmp_path / "nagios", "", cfg_files=(config,)).verify()
    assert verified.returncode == 0, verified.stdout
    # Only the 7 shipped commands + the harness's notification command: nothing injected.
    assert "Checked 8 commands." in verified.stdout, verified.stdout
    assert "Checked 2 services." in verified.stdout, verified.stdout


def test_nagios_itself_would_run_the_injected_command_unescaped(tmp_path: Path) -> None:
    # The example is real: written raw, the same value gives nagios4 -v one more command.
    require_nagios()
    base = injected(Site("MY-T1", 1, xrootd=("door.example.org",)))
    config = write(tmp_path / "raw.cfg", base + "# NOTE: FTS source x\n" + EVIL)
    verified = Nagios(tmp_path / "nagios", "", cfg_files=(config,)).verify()
    assert verified.returncode == 0 and "Checked 9 commands." in verified.stdout, verified.stdout


@pytest.mark.parametrize("site, message", [
    (Site("MY\nT1", 1, xrootd=("door.example.org",)), "site name 'MY\\nT1' cannot go into a Nagios definition"),
    (Site("MY;T1", 1, xrootd=("door.example.org",)), "site name 'MY;T1' cannot go into a Nagios definition"),
    (Site("MY-T1", 1, bdii="ldap://b\n" + EVIL, xrootd=("door.example.org",)),
     "site MY-T1: inventory bdii 'ldap://b\\ndefine command"),
    (Site("MY-T1", 1, srr="https://s/x!y", xrootd=("door.example.org",)), "site MY-T1: inventory srr 'https://s/x!y'"),
    (Site("MY-T1", 1, srr="https://s/x\\y", xrootd=("door.example.org",)), "site MY-T1: inventory srr"),
    (Site("MY-T1", 1, srr="https://s/\x1b[2J", xrootd=("door.example.org",)), "site MY-T1: inventory srr"),
    (Site("MY-T1", 1, bdii="ldap://b:2170", storage=(Storage("srm$USER1$.org", "dCache"),)),
     "site MY-T1: dCache SE host 'srm$USER1$.org' cannot go into a Nagios definition"),
    (Site("MY-T1", 1, fts="https://fts;x.org:8446/"), "site MY-T1: FTS server host"),
    # A channel dump is now a service argument (it was only noted): refused, not noted.
    (Site("MY-T1", 1, fts_channels="c.txt\n" + EVIL), "site MY-T1: inventory fts_channels 'c.txt\\ndefine"),
    (Site("MY-T1", 1, fts_channels="/d/it's.txt"), "site MY-T1: inventory fts_channels"),
    (Site("MY-T1", 1, fts="https://fts$x.org:8443/glite-data-transfer-fts/", fts_channels="c.txt"),
     "site MY-T1: FTS 2 channel dump host 'fts$x.org'"),
])
def test_a_value_that_cannot_be_written_safely_is_refused_naming_site_and_field(site: Site, message: str) -> None:
    with pytest.raises(GridreadyError) as caught:
        injected(site)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_macros_and_comment_characters_are_escaped_in_arguments() -> None:
    text = injected(Site("MY-T1", 1, srr="https://s.example.org/srr;v=$HOSTNAME$", xrootd=("door.example.org",)))
    commands = [s["check_command"] for s in blocks(text, "service") if "xrootd" in s["check_command"]]
    assert commands == ["check_gridready_xrootd!1094!--srr 'https://s.example.org/srr\\;v=$$HOSTNAME$$' --site MY-T1"]


def test_a_comment_never_ends_in_a_backslash() -> None:
    # Nagios joins a line ending in a backslash with the next (nagios4 -v swallows the next define).
    text = render(Site("MY-T1", 1, xrootd=("door.example.org",)), load_rules(BUNDLED_RULES), ["--site", "MY-T1"],
                  (), None, inventory_path="/srv/inv\\", rules_path="/srv/rules\\")
    assert "#   inventory  /srv/inv\\ \n#   milestones /srv/rules\\ \n" in text


# --- Icinga 2 ------------------------------------------------------------------------------------------------------

def icinga2_render(site: Site, wns: tuple[str, ...] = ()) -> str:
    from gridready.commands.icinga2_config import render_plan
    from gridready.commands.nagios_config import Plan, add_site

    plan = Plan()
    add_site(plan, site, load_rules(BUNDLED_RULES), ["--site", site.name], wns)
    from gridready.commands.icinga2_config import check_commands

    return render_plan(plan, check_commands(None), "/srv/sites.yaml", "/srv/rules.yaml")


def icinga2_validate(tmp_path: Path, text: str) -> str:
    from tests.nagios.icinga2 import Icinga2, require_icinga2

    require_icinga2()
    done = Icinga2(tmp_path / "icinga2", text, includes=()).validate()
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_icinga2_output_with_its_check_commands_validates(tmp_path: Path) -> None:
    done = generate(tmp_path, "--site", "MY-T1", "--format", "icinga2", "--wn", "wn001.example.org",
                    "--wn", "wn002.example.org")
    assert done.returncode == 0, done.stderr
    log = icinga2_validate(tmp_path, done.stdout)
    # 4 doors + 2 SEs + FTS3 + 2 worker nodes (the gLExec apply rule on the WN hostgroup).
    assert "Instantiated 9 Services." in log and "Instantiated 8 Hosts." in log
    assert "Instantiated 2 HostGroups." in log
    inventory = (tmp_path / "sites.yaml").resolve()
    assert ('object Service "org.gridready.xrootd.SE-xrootd-Protocol-1095" {\n'
            '  host_name = "xrootd.example.org"\n  check_command = "gridready_xrootd"\n'
            '  check_interval = 1h\n  retry_interval = 15m\n  max_check_attempts = 3\n'
            '  vars.gridready_bdii = "ldap://site-bdii.example.org:2170"\n  vars.gridready_site = "MY-T1"\n'
            f'  vars.gridready_inventory = "{inventory}"\n  vars.gridready_xrootd_port = 1095\n}}\n') in done.stdout
    assert 'vars.gridready_fts_url = "https://fts.example.org:8443"' in done.stdout
    assert 'assign where "gridready-MY-T1-wn" in host.groups' in done.stdout


def test_icinga2_all_sites_with_a_channel_dump_validates(tmp_path: Path) -> None:
    done = generate(tmp_path, "--all", "--format", "icinga2")
    assert done.returncode == 0, done.stderr
    log = icinga2_validate(tmp_path, done.stdout)
    assert "Instantiated 9 Services." in log and "Instantiated 3 HostGroups." in log
    dump = (tmp_path / "channels.txt").resolve()
    assert f'  vars.gridready_fts_channel_list = "{dump}"\n' in done.stdout


def test_icinga2_bundled_inventory_validates(tmp_path: Path) -> None:
    done = generate(tmp_path, "--all", "--format", "icinga2", sites=(REPO / "config" / "sites.yaml").read_text())
    # generate() writes the inventory elsewhere: the dumps are then missing, which only the probes notice.
    assert done.returncode == 0, done.stderr
    log = icinga2_validate(tmp_path, done.stdout)
    assert "Instantiated 12 HostGroups." in log


#: Values that would close the object, call a function or expand a macro if written raw. (Blanks, quotes and
#: backslashes are refused for both formats alike: the plan is checked once, by the Nagios rules.)
ICINGA_EVIL = ["/d/x;}object_Host_evil{", "/d/{{log(1)}}.ldif", "/d/$host.name$.ldif", "/d/a$$b", "/d/}}{{"]


@pytest.mark.parametrize("value", ICINGA_EVIL)
def test_icinga2_values_stay_inside_their_string(value: str, tmp_path: Path) -> None:
    text = icinga2_render(Site("MY-T1", 1, bdii=value, xrootd=("door.example.org",)))
    log = icinga2_validate(tmp_path, text)
    assert "Instantiated 1 Host." in log and "Instantiated 1 Service." in log
    (line,) = [line for line in text.splitlines() if line.strip().startswith("vars.gridready_bdii =")]
    # Reading the literal back as JSON-like string gives the value with every $ doubled.
    assert json.loads(line.split(" = ", 1)[1]) == value.replace("$", "$$")


@pytest.mark.parametrize("site, message", [
    (Site("MY-T1", 1, bdii="ldap://b\n}\nobject Host \"evil\" {", xrootd=("d.example.org",)),
     "site MY-T1: inventory bdii 'ldap://b\\n}"),
    (Site("MY-T1", 1, srr="https://s/\x1b[2J", xrootd=("d.example.org",)), "site MY-T1: inventory srr"),
    (Site('MY"T1', 1, xrootd=("d.example.org",)), "site name 'MY\"T1' cannot go into a Nagios definition"),
    (Site("MY-T1", 1, xrootd=('d"x.example.org',)), "site MY-T1: xrootd door host 'd\"x.example.org'"),
    (Site("MY-T1", 1, bdii='/d/x"; } object Host "evil" {', xrootd=("d.example.org",)),
     "site MY-T1: inventory bdii '/d/x\"; }"),
    (Site("MY-T1", 1, bdii="/d/back\\slash", xrootd=("d.example.org",)), "site MY-T1: inventory bdii"),
    (Site("MY-T1", 1, fts_channels="c.txt\r\nx"), "site MY-T1: inventory fts_channels"),
])
def test_icinga2_refuses_what_cannot_be_written(site: Site, message: str) -> None:
    with pytest.raises(GridreadyError) as caught:
        icinga2_render(site, ("wn1.example.org",))
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("args", "message"), [
    (["--nrpe-port", "5667"], "--nrpe-port apply to the gLExec service: give --wn HOST"),
    (["--wn", "wn1.example.org", "--nrpe-port", "0"], "--nrpe-port must be a port number 1-65535, got 0"),
    (["--wn", "wn1.example.org", "--nrpe-port", "65536"], "--nrpe-port must be a port number 1-65535, got 65536"),
    (["--wn", "wn1.example.org", "--check-nrpe", "bin/check_nrpe"],
     "--check-nrpe must be an absolute path, got 'bin/check_nrpe'"),
    (["--wn", "wn1.example.org", "--nrpe-port", "5667", "--check-nrpe", "/usr/bin/check_nrpe", "--format", "icinga2"],
     "--nrpe-port and --check-nrpe apply to --format nagios only"),
    (["--wn", "wn1.example.org", "--check-nrpe", "/opt/my plugins/check_nrpe"],
     "--check-nrpe '/opt/my plugins/check_nrpe' cannot go into a Nagios definition"),
])
def test_nrpe_options_refused_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                            message: str) -> None:
    from gridready.cli import main

    inventory = write(tmp_path / "sites.yaml", SITES)
    assert main(["nagios-config", "--inventory", str(inventory), "--site", "MY-T1", *args]) == 3
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err


def test_nrpe_port_and_plugin_path_go_into_the_glexec_service(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from gridready.cli import main

    inventory = write(tmp_path / "sites.yaml", SITES)
    base = ["nagios-config", "--inventory", str(inventory), "--site", "MY-T1", "--wn", "wn1.example.org"]
    assert main([*base, "--nrpe-port", "5667", "--check-nrpe", "/usr/lib/nagios/plugins/check_nrpe"]) == 0
    text = capsys.readouterr().out
    glexec = [s for s in blocks(text, "service") if s.get("hostgroup_name") == "gridready-MY-T1-wn"]
    assert [s["check_command"] for s in glexec] == ["check_gridready_glexec_nrpe_port!check_glexec!5667"]
    commands = {c["command_name"]: c["command_line"] for c in blocks(text, "command")}
    assert commands["check_gridready_glexec_nrpe_port"] == \
        "/usr/lib/nagios/plugins/check_nrpe -H $HOSTADDRESS$ -p $ARG2$ -t 30 -c $ARG1$"
    assert commands["check_gridready_glexec_nrpe"] == \
        "/usr/lib/nagios/plugins/check_nrpe -H $HOSTADDRESS$ -t 30 -c $ARG1$"
    assert commands["check_gridready_xrootd"].startswith("$USER1$/check_xrootd ")   # the probes stay in $USER1$
    # NRPE's own default port needs no port argument.
    assert main([*base, "--nrpe-port", "5666"]) == 0
    glexec = [s for s in blocks(capsys.readouterr().out, "service") if s.get("hostgroup_name") == "gridready-MY-T1-wn"]
    assert [s["check_command"] for s in glexec] == ["check_gridready_glexec_nrpe!check_glexec"]
