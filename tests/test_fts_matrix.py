"""The required channel matrix, and the FTS 2 rules over the bundled inventory and example dumps."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from gridready import bundled
from gridready.checks.fts_channels import CHECK, FtsData
from gridready.checks.interface import Request, Severity
from gridready.compliance import Compliance
from gridready.configfile import load_inventory, load_rules
from gridready.deadline import Deadline
from gridready.engine import run_check
from gridready.errors import CheckError, UsageError
from gridready.fts.matrix import (
    EndpointResolver, RequiredChannel, endpoint_site, host_of, required_channels, storage_site)
from gridready.models import Inventory, Scope, Site, Storage
from tests.helpers import REPO, run_py, write

INVENTORY = load_inventory(bundled.inventory_file())
RULES = load_rules(bundled.milestones_file())
MILESTONE = RULES.milestone("fts-t1-channels")
EXAMPLES = REPO / "config" / "example" / "fts"
PROBE = REPO / "probes" / "check_fts_channels"
# The order of config/sites.yaml, which `gridready inventory import` sorts by tier then name.
TIER1 = ["BNL-ATLAS", "FZK-LCG2", "IN2P3-CC", "INFN-T1", "NDGF-T1", "pic", "RAL-LCG2",
         "SARA-MATRIX", "Taiwan-LCG2", "TRIUMF-LCG2", "USCMS-FNAL-WC1"]


def test_matrix_for_tier0_tier1_and_tier2() -> None:
    assert [s.name for s in INVENTORY.tier(1)] == TIER1
    cern = required_channels(INVENTORY, "CERN-PROD", 0)
    assert [c.name for c in cern] == [f"CERN-PROD-{t1}".upper() for t1 in TIER1]
    ral = required_channels(INVENTORY, "ral-lcg2", 1)
    assert len(ral) == 11 and ral[-1] == RequiredChannel("*", "RAL-LCG2")
    assert ral[-1].name == "STAR-RAL-LCG2" and ral[0].name == "BNL-ATLAS-RAL-LCG2"
    assert all(c.destination == "RAL-LCG2" for c in ral)
    assert {c.source for c in ral[:-1]} == set(TIER1) - {"RAL-LCG2"}
    assert required_channels(INVENTORY, "UKI-SCOTGRID-GLASGOW", 2) == ()


def test_endpoints_resolve_by_site_name_wlcg_name_and_storage_host() -> None:
    inventory = Inventory((Site("RAL-LCG2", 1, wlcg_name="UK-T1-RAL",
                                storage=(Storage("srm-atlas.gridpp.rl.ac.uk"),)),))
    for endpoint in ("ral-lcg2", "UK-T1-RAL", "srm://srm-atlas.gridpp.rl.ac.uk:8443/srm/managerv2",
                     "srm-atlas.gridpp.rl.ac.uk", "SRM-ATLAS.GRIDPP.RL.AC.UK:8443"):
        assert endpoint_site(endpoint, inventory) == "RAL-LCG2", endpoint
    assert endpoint_site("*", inventory) == endpoint_site("STAR", inventory) == "*"
    assert endpoint_site("srm://elsewhere.example", inventory) == "srm://elsewhere.example"
    need = RequiredChannel("*", "RAL-LCG2")
    assert need.matches("*", "ral-lcg2") and not need.matches("FZK-LCG2", "RAL-LCG2")
    assert not RequiredChannel("FZK-LCG2", "RAL-LCG2").matches("*", "RAL-LCG2")


def _run(site: str, listing: Path, as_of: str,
         expect: dict[str, object] | None = None) -> tuple[Compliance, str, dict[str, float]]:
    assert MILESTONE is not None
    milestone = MILESTONE if expect is None else replace(MILESTONE, expect=expect)
    known = INVENTORY.site(site)
    assert known is not None
    request = Request(options={"channel_list": str(listing)}, site=site, tier=known.tier, inventory=INVENTORY)
    result = run_check(CHECK, request, [milestone], RULES.waivers, date.fromisoformat(as_of), Deadline(10))
    (only,) = result.milestones
    return only.compliance, only.message, {p.label: p.value for p in result.perfdata}


# The bundled snapshot: each site's own FTS dump, evaluated after the deadline.
EXPECTED = {
    "CERN-PROD": (Compliance.COMPLIANT, "11/11 required channels Active and configured"),
    "Taiwan-LCG2": (Compliance.COMPLIANT, "11/11"),
    "BNL-ATLAS": (Compliance.COMPLIANT, "11/11"),
    "NDGF-T1": (Compliance.COMPLIANT, "11/11"),
    "TRIUMF-LCG2": (Compliance.COMPLIANT, "11/11"),
    "USCMS-FNAL-WC1": (Compliance.COMPLIANT, "11/11"),
    "RAL-LCG2": (Compliance.COMPLIANT, "11/11"),
    "FZK-LCG2": (Compliance.OVERDUE, "channel IN2P3-FZK (IN2P3-CC -> FZK-LCG2) is Drain "
                                 "(draining for the dCache 1.9.5 upgrade of the FZK pools)"),
    "SARA-MATRIX": (Compliance.OVERDUE, "channel NDGF-SARA (NDGF-T1 -> SARA-MATRIX) is Stopped"),
    "INFN-T1": (Compliance.OVERDUE, "channel TRIUMF-LCG2-INFN-T1 (TRIUMF-LCG2 -> INFN-T1) missing"),
    "pic": (Compliance.OVERDUE, "channel STAR-PIC (* -> pic) has no contact ((null))"),
    "IN2P3-CC": (Compliance.OVERDUE, "channel STAR-IN2P3 (* -> IN2P3-CC): VO 'alice' share is 0"),
}


@pytest.mark.parametrize("site", sorted(EXPECTED))
def test_bundled_snapshot_gives_the_documented_picture(site: str) -> None:
    compliance, message, perf = _run(site, EXAMPLES / f"{site}.txt", "2010-06-08")
    want, text = EXPECTED[site]
    assert compliance is want
    assert message.startswith(text) and ";" not in message
    assert perf["channels_required"] == 11
    assert perf["channels_missing"] == (1 if site == "INFN-T1" else 0)
    assert perf["channels_ok"] == (10 if site in ("INFN-T1", "FZK-LCG2", "SARA-MATRIX") else 11)


def _ral_listing(tmp_path: Path, **changes: str | None) -> Path:
    """RAL's dump with the channel named by each key set to a state (None: removed)."""
    blocks = (EXAMPLES / "RAL-LCG2.txt").read_text(encoding="utf-8").split("\n\n")
    out = []
    for block in blocks:
        name = next((line[len("Channel: "):] for line in block.splitlines() if line.startswith("Channel: ")), "")
        key = name.replace("-", "_")
        if key in changes:
            if changes[key] is None:
                continue
            block = block.replace("State: Active", f"State: {changes[key]}")
        out.append(block)
    return write(tmp_path / "ral.txt", "\n\n".join(out))


@pytest.mark.parametrize("state, severity", [("Drain", Severity.WARNING), ("Inactive", Severity.WARNING),
                                             ("Stopped", Severity.CRITICAL), ("Halted", Severity.CRITICAL),
                                             ("Archived", Severity.CRITICAL), ("Paused", Severity.CRITICAL),
                                             (None, Severity.CRITICAL)])
def test_tier1_matrix_state_mapping(tmp_path: Path, state: str | None, severity: Severity) -> None:
    listing = _ral_listing(tmp_path, FZK_RAL=state)
    # Every failure is OVERDUE after the deadline; a drained (WARNING) one alarms WARNING (probe exit 1).
    cases = [("2010-01-15", Compliance.PENDING), ("2010-03-20", Compliance.DUE), ("2010-06-08", Compliance.OVERDUE)]
    for as_of, want in cases:
        compliance, message, perf = _run("RAL-LCG2", listing, as_of)
        assert compliance is want, (as_of, message)
    missing = state in (None, "Archived")
    if state is None:
        assert message == "channel FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2) missing"
    elif state == "Archived":
        # the old STAR-RALLCG2 is also Archived, but the Active STAR-RAL counts for * -> RAL-LCG2
        assert message == "channel FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2) missing (only Archived channel FZK-RAL)"
    elif state == "Paused":
        assert message == "channel FZK-RAL (FZK-LCG2 -> RAL-LCG2) in unknown state 'Paused'"
    else:
        assert message == f"channel FZK-RAL (FZK-LCG2 -> RAL-LCG2) is {state}"
    assert (perf["channels_ok"], perf["channels_missing"]) == (10, 1 if missing else 0)


def test_several_failures_are_all_named(tmp_path: Path) -> None:
    listing = _ral_listing(tmp_path, STAR_RAL=None, PIC_RAL="Drain", BNL_RAL="Stopped")
    compliance, message, perf = _run("RAL-LCG2", listing, "2010-06-08")
    assert compliance is Compliance.OVERDUE
    # missing channels first, then the others in matrix order
    assert message.split("; ") == ["channel STAR-RAL-LCG2 (* -> RAL-LCG2) missing (only Archived channel "
                                   "STAR-RALLCG2)",
                                   "channel BNL-RAL (BNL-ATLAS -> RAL-LCG2) is Stopped",
                                   "channel PIC-RAL (pic -> RAL-LCG2) is Drain"]
    assert perf == {"channels_required": 11, "channels_ok": 8, "channels_missing": 1}


def test_ranges_vos_and_switches(tmp_path: Path) -> None:
    ral = EXAMPLES / "RAL-LCG2.txt"
    compliance, message, _ = _run("RAL-LCG2", ral, "2010-06-08", {"streams": [1, 4], "files": [11, 50]})
    assert compliance is Compliance.OVERDUE
    parts = message.split("; ")
    assert "channel ASGC-RAL (Taiwan-LCG2 -> RAL-LCG2): 10 files, expected 11-50" in parts
    assert "channel STAR-RAL (* -> RAL-LCG2): 5 streams, expected 1-4" in parts
    assert len(parts) == 11 + 3  # every channel's streams, and the three with 10 files
    compliance, message, _ = _run("RAL-LCG2", ral, "2010-06-08", {"vos": ["alice"]})
    assert message.split("; ") == [f"channel {c}: no share for VO 'alice'" for c in (
        "BNL-RAL (BNL-ATLAS -> RAL-LCG2)", "PIC-RAL (pic -> RAL-LCG2)", "ASGC-RAL (Taiwan-LCG2 -> RAL-LCG2)",
        "TRIUMF-RAL (TRIUMF-LCG2 -> RAL-LCG2)", "FNAL-RAL (USCMS-FNAL-WC1 -> RAL-LCG2)")]
    pic = EXAMPLES / "pic.txt"
    assert _run("pic", pic, "2010-06-08", {"contact": False})[0] is Compliance.COMPLIANT
    in2p3 = EXAMPLES / "IN2P3-CC.txt"
    assert _run("IN2P3-CC", in2p3, "2010-06-08", {"vo_shares": False})[0] is Compliance.COMPLIANT
    # Without the matrix every listed channel is checked: INFN's missing one no longer counts.
    infn = EXAMPLES / "INFN-T1.txt"
    compliance, message, _ = _run("INFN-T1", infn, "2010-06-08", {"matrix": False})
    assert (compliance, message) == (Compliance.COMPLIANT, "10/10 channels Active and configured")
    sara = EXAMPLES / "SARA-MATRIX.txt"
    assert _run("SARA-MATRIX", sara, "2010-06-08", {"matrix": False})[0] is Compliance.OVERDUE


def test_unreadable_lines_are_noted_and_other_channels_still_checked(tmp_path: Path) -> None:
    text = (EXAMPLES / "RAL-LCG2.txt").read_text(encoding="utf-8").replace(
        "Channel: PIC-RAL\n", "Channel: PIC-RAL\n@@@ line noise @@@\n")
    listing = write(tmp_path / "ral.txt", text)
    compliance, message, _ = _run("RAL-LCG2", listing, "2010-06-08")
    assert compliance is Compliance.COMPLIANT
    assert message == "11/11 required channels Active and configured; 1 unreadable line skipped (see -vv)"


def test_site_out_of_the_matrix_and_tier0_dump_for_a_tier1(tmp_path: Path) -> None:
    listing = EXAMPLES / "CERN-PROD.txt"
    compliance, message, _ = _run("RAL-LCG2", listing, "2010-06-08")
    assert compliance is Compliance.OVERDUE and message.count("missing") == 11
    # A Tier-2 in scope (scope: all sites) serves no matrix: not applicable, said by the check.
    assert MILESTONE is not None
    everyone = replace(MILESTONE, scope=Scope())
    request = Request(options={"channel_list": str(listing)}, site="CERN-PROD", tier=2, inventory=INVENTORY)
    result = run_check(CHECK, request, [everyone], (), date(2010, 6, 8), Deadline(10))
    assert (result.milestones[0].compliance, result.milestones[0].message) == (
        Compliance.NOT_APPLICABLE, "site CERN-PROD (tier 2) has no FTS channel matrix to serve")


@pytest.mark.parametrize("options, site, why", [
    ({}, "RAL-LCG2", "give one of --fts URL or --channel-list FILE"),
    ({"channel_list": "x", "proxy": "p"}, "RAL-LCG2", "apply only to --fts"),
    ({"fts": "https://h", "cert": "c"}, "RAL-LCG2", "--cert and --key go together"),
    ({"fts": "https://h", "cert": "c", "key": "k", "proxy": "p"}, "RAL-LCG2", "either --cert and --key, or --proxy"),
    ({"channel_list": "x"}, None, "--site NAME is required"),
    ({"channel_list": "x"}, "NOWHERE", "site 'NOWHERE' is not in the inventory"),
])
def test_option_combinations_that_do_not_fit(options: dict[str, str], site: str | None, why: str) -> None:
    with pytest.raises(UsageError, match=why.replace("-", "\\-")):
        CHECK.collect(Request(options=options, site=site, inventory=None), Deadline(5))


def test_validate_expect_and_sweep_requests() -> None:
    assert CHECK.validate_expect({"streams": [1, 10], "files": [1, 50], "vos": ["atlas"], "matrix": True}) == []
    assert CHECK.validate_expect({"stream": 1, "files": [5, 2], "streams": "1-10", "vos": "atlas",
                                  "contact": "yes"}) == [
        "unknown expect key 'stream' (allowed: matrix, contact, vo_shares, optimizer, streams, files, vos)",
        "contact: expected true or false, got 'yes'",
        "streams: expected [LOW, HIGH] (whole numbers >= 0), got '1-10'",
        "files: LOW 5 is above HIGH 2",
        "vos: expected a list of VO names, got 'atlas'"]
    assert CHECK.requests_for_site(Site("A", 1, fts="https://f:8446", fts_channels="/x")) == [{"fts": "https://f:8446"}]
    assert CHECK.requests_for_site(Site("A", 1, fts_channels="/x")) == [{"channel_list": "/x"}]
    with pytest.raises(CheckError, match="no FTS source for A in the inventory"):
        CHECK.requests_for_site(Site("A", 1))


def test_observation_data_is_the_matched_matrix() -> None:
    request = Request(options={"channel_list": str(EXAMPLES / "INFN-T1.txt")}, site="INFN-T1", inventory=None)
    observation = CHECK.collect(request, Deadline(5))
    data = observation.data
    assert isinstance(data, FtsData) and data.site == "INFN-T1" and len(data.required) == 11
    assert observation.details[0].endswith("10 channels; site INFN-T1 (tier 1) needs 11")
    assert "TRIUMF-LCG2-INFN-T1 (TRIUMF-LCG2 -> INFN-T1): missing" in observation.details


@pytest.mark.parametrize("site, code, first", [
    ("RAL-LCG2", 0, "FTS_CHANNELS OK - {f}: fts-t1-channels COMPLIANT: 11/11 required channels Active and configured"
                    " | channels_missing=0;;;0;11 channels_ok=11;;;0;11 channels_required=11;;;0"),
    ("FZK-LCG2", 1, "FTS_CHANNELS WARNING - {f}: fts-t1-channels OVERDUE: channel IN2P3-FZK (IN2P3-CC -> FZK-LCG2) is Drain"),
    ("SARA-MATRIX", 2, "FTS_CHANNELS CRITICAL - {f}: fts-t1-channels OVERDUE: channel NDGF-SARA"),
])
def test_probe_exit_codes(site: str, code: int, first: str) -> None:
    listing = str(EXAMPLES / f"{site}.txt")
    done = run_py(PROBE, "--channel-list", listing, "--site", site, "--as-of", "2010-06-08", "-v")
    assert done.stderr == ""
    assert done.returncode == code
    lines = done.stdout.splitlines()
    assert lines[0].startswith(first.format(f=listing))
    if code:
        assert lines[2].startswith("    remediation: ")


@pytest.mark.parametrize("args, why", [
    (["--channel-list", "a", "--fts", "https://b"], "not allowed with argument"),
    (["--channel-list", "a"], "--site NAME is required"),
    (["--site", "pic"], "give one of --fts URL or --channel-list FILE"),
])
def test_probe_bad_arguments_exit_3(args: list[str], why: str) -> None:
    done = run_py(PROBE, *args)
    assert done.returncode == 3 and done.stderr == ""
    (line,) = done.stdout.splitlines()
    assert line.startswith("FTS_CHANNELS UNKNOWN - bad arguments: ") and why in line


def test_probe_missing_file_is_unknown_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    done = run_py(PROBE, "--channel-list", str(missing), "--site", "pic")
    assert done.returncode == 3 and done.stderr == ""
    assert done.stdout.splitlines()[0] == (f"FTS_CHANNELS UNKNOWN - fts-t1-channels UNKNOWN: {missing}: "
                                           "cannot read FTS channel listing: No such file or directory")


# --- evidence rule: nothing judged is no pass ------------------------------------


def test_only_archived_channels_without_the_matrix_rule_is_unknown(tmp_path: Path) -> None:
    listing = write(tmp_path / "old.txt", "Channel: FZK-RAL\nBetween: FZK-LCG2 and RAL-LCG2\nState: Archived\n\n"
                                          "Channel: STAR-RAL\nBetween: * and RAL-LCG2\nState: Archived\n")
    compliance, message, _ = _run("RAL-LCG2", listing, "2010-06-08", expect={"matrix": False})
    assert (compliance, message) == (Compliance.UNKNOWN, f"{listing}: no channel to judge (2 listed, all Archived)")
    # with the matrix rule the same listing proves the channels missing
    compliance, message, _ = _run("RAL-LCG2", listing, "2010-06-08")
    assert compliance is Compliance.OVERDUE
    assert message.startswith("channel BNL-ATLAS-RAL-LCG2 (BNL-ATLAS -> RAL-LCG2) missing")


@pytest.mark.parametrize("text", ["", "# glite-transfer-channel-list -v, recorded 2010-06-08\n",
                                  "Between: * and RAL-LCG2\nState: Active\n"])
def test_empty_listing_is_unknown_not_a_pass(tmp_path: Path, text: str) -> None:
    listing = write(tmp_path / "empty.txt", text)
    compliance, message, perf = _run("RAL-LCG2", listing, "2010-06-08", expect={"matrix": False})
    assert compliance is Compliance.UNKNOWN and perf == {}
    assert message.startswith(f"{listing}: no FTS channels found")


@pytest.mark.parametrize("text, host", [
    ("srm://SRM.Example.org:8443/srm/managerv2?SFN=/pnfs", "srm.example.org"),
    ("davs://se.example.org:443/", "se.example.org"), ("gsiftp://se.example.org", "se.example.org"),
    ("root://se.example.org:1094//atlas", "se.example.org"), ("se.example.org:8443", "se.example.org"),
    ("SE.example.org.", "se.example.org"), ("srm://se.example.org.:8443", "se.example.org"),
    ("[2001:db8::5]:8443", "2001:db8::5"), ("srm://[2001:DB8::5]:8443/x", "2001:db8::5"),
])
def test_host_of_se_names(text: str, host: str) -> None:
    assert host_of(text) == host


def test_inventory_storage_as_url_places_fts_se_names() -> None:
    # An inventory listing storage as an SE URL (not a bare host) places the SE names
    # FTS uses for it (srm://, davs://, gsiftp:// with any port, path or case).
    inventory = Inventory(sites=(Site("FZK-LCG2", 1, storage=(Storage("srm://atlassrm-fzk.gridka.de:8443/srm"),)),
                                 Site("pic", 1, storage=(Storage("srmcms.pic.es."),))))
    resolve = EndpointResolver(inventory)
    for name in ("srm://atlassrm-fzk.gridka.de", "davs://ATLASSRM-FZK.gridka.de:443/pnfs",
                 "gsiftp://atlassrm-fzk.gridka.de:2811", "atlassrm-fzk.gridka.de"):
        assert resolve(name) == "FZK-LCG2" and endpoint_site(name, inventory) == "FZK-LCG2"
    assert resolve("srm://srmcms.pic.es:8443") == "pic"
    found = storage_site("root://srmcms.pic.es:1094", inventory)
    assert found is not None and found.name == "pic"
    assert resolve("srm://other.example.org") == "srm://other.example.org"


def _pic_ral_without(tmp_path: Path, pattern: str, replacement: str = "") -> Path:
    """RAL's dump with lines of the PIC-RAL block rewritten (removed by default)."""
    import re
    blocks = (EXAMPLES / "RAL-LCG2.txt").read_text(encoding="utf-8").split("\n\n")
    out = [re.sub(pattern, replacement, b) if "Channel: PIC-RAL\n" in b else b for b in blocks]
    return write(tmp_path / "ral.txt", "\n\n".join(out))


@pytest.mark.parametrize("pattern, replacement, what", [
    (r"State: .*\n", "", "State"),
    (r"State: .*", "State:", "State"),
    (r"Contact: .*\n", "", "Contact"),
    (r"Number of files: .*\n", "", "Number of files/streams"),
    (r"(Number of VO shares|VO ').*\n?", "", "VO shares"),
], ids=["state", "state-empty", "contact", "files", "shares"])
def test_a_field_the_listing_lacks_is_unknown_not_a_failure(tmp_path: Path, pattern: str, replacement: str,
                                                            what: str) -> None:
    # Before: a channel block without the line was judged as failing it (OVERDUE): evidence not collected.
    compliance, message, perf = _run("RAL-LCG2", _pic_ral_without(tmp_path, pattern, replacement), "2010-06-08")
    assert (compliance, message) == (Compliance.UNKNOWN,
                                     f"channel PIC-RAL (pic -> RAL-LCG2): no readable {what} line in the listing")
    assert perf["channels_missing"] == 0  # the channel is there; only the line is not


@pytest.mark.parametrize("pattern, replacement, message", [
    (r"Contact: .*", "Contact: (null)", "channel PIC-RAL (pic -> RAL-LCG2) has no contact ((null))"),
    (r"(Number of VO shares: )\d+\n(VO '.*\n?)+", r"\g<1>0\n", "channel PIC-RAL (pic -> RAL-LCG2) has no VO shares"),
    (r"State: .*", "State: Paused", "channel PIC-RAL (pic -> RAL-LCG2) in unknown state 'Paused'"),
], ids=["contact-null", "zero-shares", "odd-state"])
def test_a_field_listed_as_unset_still_fails(tmp_path: Path, pattern: str, replacement: str, message: str) -> None:
    listing = _pic_ral_without(tmp_path, pattern, replacement)
    assert _run("RAL-LCG2", listing, "2010-06-08")[:2] == (Compliance.OVERDUE, message)


def test_a_missing_field_does_not_hide_another_channels_failure(tmp_path: Path) -> None:
    text = _pic_ral_without(tmp_path, r"Contact: .*\n").read_text(encoding="utf-8")
    listing = write(tmp_path / "ral2.txt", text.replace("Channel: BNL-RAL\nBetween: BNL-ATLAS and RAL-LCG2\n"
                                                        "State: Active", "Channel: BNL-RAL\nBetween: BNL-ATLAS and "
                                                        "RAL-LCG2\nState: Stopped"))
    assert _run("RAL-LCG2", listing, "2010-06-08")[:2] == (Compliance.OVERDUE, "channel BNL-RAL (BNL-ATLAS -> RAL-LCG2) is Stopped")
