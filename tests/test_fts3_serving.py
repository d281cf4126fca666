"""FTS3 semantics: no channels, a required pair is served unless the configuration stops it.

Payloads follow fts-rest's shapes (``/config/links`` link objects, ``/config/se``
keyed by SE with ``se_info``, ``/ban/se`` BannedSE rows); hosts are the example
grid's. Resolution follows the FTS3 optimizer: SRC->DST, SRC->*, *->DST, *->*.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gridready.checks.fts_channels import CHECK
from gridready.checks.interface import Request
from gridready.compliance import Compliance
from gridready.configfile import load_inventory, load_rules
from gridready.deadline import Deadline
from gridready.engine import run_check
from tests.helpers import write
from tests.test_fts_rest import RULES  # the same FTS milestone as the FTS3 REST tests

SITES = """
sites:
  - {name: CERN-PROD, tier: 0, storage: [srm-atlas.cern.ch]}
  - {name: FZK-LCG2, tier: 1, storage: [atlassrm-fzk.gridka.de]}
  - {name: pic, tier: 1, wlcg_name: ES-PIC, storage: [srmcms.pic.es]}
  - {name: RAL-LCG2, tier: 1, storage: [srm-atlas.gridpp.rl.ac.uk]}
  - {name: TRIUMF-LCG2, tier: 1, storage: [srm.triumf.ca, srm2.triumf.ca]}
  - {name: NDGF-T1, tier: 1}
"""
RAL = "srm://srm-atlas.gridpp.rl.ac.uk"
PIC = "srm://srmcms.pic.es"
FZK = "srm://atlassrm-fzk.gridka.de"
TRIUMF2 = "srm://srm2.triumf.ca"


def link(name: str, source: str, destination: str, max_active: int | None = 100,
         min_active: int | None = 2) -> dict[str, Any]:
    return {"symbolicname": name, "source": source, "destination": destination, "min_active": min_active,
            "max_active": max_active, "optimizer_mode": None, "tcp_buffer_size": None, "nostreams": None,
            "no_delegation": False}


def se(inbound: int | None = None, outbound: int | None = None) -> dict[str, Any]:
    return {"se_info": {"inbound_max_active": inbound, "inbound_max_throughput": None,
                        "outbound_max_active": outbound, "outbound_max_throughput": None, "udt": None,
                        "ipv6": None, "se_metadata": None, "site": None, "debug_level": None,
                        "skip_eviction": None, "tpc_support": None, "overwrite_disk_enabled": None}}


def ban(storage: str, vo: str | None = "atlas", status: str = "CANCEL") -> dict[str, Any]:
    return {"se": storage, "message": "storage intervention", "addition_time": "2024-03-01T10:00:00",
            "admin_dn": "/DC=ch/DC=cern/CN=fts admin", "vo": vo, "status": status}


def standard(**changes: Any) -> dict[str, Any]:
    """A standard FTS3: optimizer on, no link or SE configuration, nothing banned."""
    docs: dict[str, Any] = {"whoami": {"user_dn": "/DC=org/DC=example/CN=probe", "dn": [], "vos": ["atlas"]},
                            "config/links": [], "config/se": {}, "optimizer": True, "ban/se": []}
    docs.update({key.replace("__", "/"): value for key, value in changes.items()})
    return docs


def check(tmp_path: Path, docs: dict[str, Any], site: str = "RAL-LCG2",
          rules: str = RULES, sites: str = SITES) -> tuple[Compliance, str, dict[str, float], list[str]]:
    inventory = load_inventory(write(tmp_path / "sites.yaml", sites))
    milestones = load_rules(write(tmp_path / "rules.yaml", rules)).milestones
    saved = write(tmp_path / "fts3.json", json.dumps(docs))
    known = inventory.site(site)
    assert known is not None
    request = Request(options={"fts": str(saved)}, site=site, tier=known.tier, inventory=inventory)
    result = run_check(CHECK, request, milestones, (), date(2010, 6, 8), Deadline(10))
    (only,) = result.milestones
    return only.compliance, only.message, {p.label: p.value for p in result.perfdata}, result.details


def test_optimizer_on_and_no_links_serves_every_pair(tmp_path: Path) -> None:
    compliance, message, perf, details = check(tmp_path, standard())
    assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")
    assert perf == {"channels_required": 5, "channels_ok": 5, "channels_missing": 0}
    assert details[1] == "FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2): served (no link configuration: defaults)"


def test_standard_server_serves_tier0_pairs(tmp_path: Path) -> None:
    compliance, message, _, _ = check(tmp_path, standard(), site="CERN-PROD")
    assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")


def test_star_star_link_with_zero_stops_every_pair(tmp_path: Path) -> None:
    compliance, message, perf, _ = check(tmp_path, standard(config__links=[link("*-*", "*", "*", 0, 0)]))
    assert compliance is Compliance.OVERDUE
    parts = message.split("; ")
    assert len(parts) == 5
    assert parts[0] == ("FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2) not served: "
                        "atlassrm-fzk.gridka.de -> srm-atlas.gridpp.rl.ac.uk: link *-* (* -> *) has max_active 0")
    assert parts[2] == ("TRIUMF-LCG2-RAL-LCG2 (TRIUMF-LCG2 -> RAL-LCG2) not served: "
                        "srm.triumf.ca -> srm-atlas.gridpp.rl.ac.uk: link *-* (* -> *) has max_active 0 / "
                        "srm2.triumf.ca -> srm-atlas.gridpp.rl.ac.uk: link *-* (* -> *) has max_active 0")
    assert parts[3] == ("NDGF-T1-RAL-LCG2 (NDGF-T1 -> RAL-LCG2) not served: NDGF-T1 -> srm-atlas.gridpp.rl.ac.uk: "
                        "link *-* (* -> *) has max_active 0")
    assert parts[4] == ("STAR-RAL-LCG2 (* -> RAL-LCG2) not served: * -> srm-atlas.gridpp.rl.ac.uk: "
                        "link *-* (* -> *) has max_active 0")
    assert perf == {"channels_required": 5, "channels_ok": 0, "channels_missing": 5}


def test_more_specific_link_wins_over_star_star(tmp_path: Path) -> None:
    links = [link("*-*", "*", "*", 0, 0), link("fzk-out", FZK, "*", 40)]
    compliance, message, perf, details = check(tmp_path, standard(config__links=links))
    assert compliance is Compliance.OVERDUE
    assert "FZK-LCG2-RAL-LCG2" not in message
    assert details[1] == "FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2): served (link fzk-out)"
    assert perf["channels_ok"] == 1


def test_source_wildcard_link_with_zero_stops_that_source_only(tmp_path: Path) -> None:
    compliance, message, perf, _ = check(tmp_path, standard(config__links=[link("pic-out", PIC, "*", 0, 0)]))
    assert compliance is Compliance.OVERDUE
    assert message == ("PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
                       f"link pic-out ({PIC} -> *) has max_active 0")
    assert perf == {"channels_required": 5, "channels_ok": 4, "channels_missing": 1}


def test_destination_wildcard_link_with_zero_stops_every_pair_into_it(tmp_path: Path) -> None:
    compliance, message, perf, _ = check(tmp_path, standard(config__links=[link("into-ral", "*", RAL, 0, 0)]))
    assert compliance is Compliance.OVERDUE
    assert perf["channels_missing"] == 5
    # the same link for another destination stops nothing RAL-LCG2 must serve
    compliance, message, _, _ = check(tmp_path, standard(config__links=[link("into-pic", "*", PIC, 0, 0)]))
    assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")


def test_per_link_zero(tmp_path: Path) -> None:
    links = [link("pic-ral", PIC, RAL, 0, 0), link("fzk-ral", FZK, RAL, None, None)]
    compliance, message, _, _ = check(tmp_path, standard(config__links=links))
    assert compliance is Compliance.OVERDUE
    # max_active null is "not set" (FTS3 falls back to its defaults), not zero
    assert message == ("PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
                       f"link pic-ral ({PIC} -> {RAL}) has max_active 0")


def test_se_config_zero_as_source_or_destination(tmp_path: Path) -> None:
    compliance, message, perf, _ = check(tmp_path, standard(config__se={PIC: se(outbound=0), FZK: se(inbound=0)}))
    assert compliance is Compliance.OVERDUE
    # FZK's inbound zero does not stop FZK -> RAL (it is the source there)
    assert message == ("PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
                       f"SE {PIC} has outbound_max_active 0")
    assert perf["channels_missing"] == 1
    compliance, message, perf, _ = check(tmp_path, standard(config__se={RAL: se(inbound=0, outbound=50)}))
    assert compliance is Compliance.OVERDUE and perf["channels_missing"] == 5


def test_default_se_entry_applies_unless_the_se_has_its_own(tmp_path: Path) -> None:
    compliance, _, perf, _ = check(tmp_path, standard(config__se={"*": se(inbound=0)}))
    assert compliance is Compliance.OVERDUE and perf["channels_missing"] == 5
    compliance, message, _, _ = check(tmp_path, standard(config__se={"*": se(inbound=0), RAL: se(inbound=80)}))
    assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")


def test_banned_se_stops_the_pairs_involving_it(tmp_path: Path) -> None:
    # A ban for every VO ("*", or none stored by older servers) stops the pair.
    compliance, message, _, details = check(tmp_path, standard(ban__se=[ban(PIC, vo="*", status="WAIT")]))
    assert compliance is Compliance.OVERDUE
    assert message == ("PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
                       f"SE {PIC} is banned, WAIT")
    assert f"banned: SE {PIC} for VO * (WAIT)" in details
    compliance, _, perf, _ = check(tmp_path, standard(ban__se=[ban(RAL, vo=None)]))
    assert compliance is Compliance.OVERDUE and perf["channels_missing"] == 5


def test_one_of_two_ses_stopped_is_a_degraded_pair(tmp_path: Path) -> None:
    compliance, message, perf, _ = check(tmp_path, standard(ban__se=[ban(TRIUMF2, vo=None)]))
    assert compliance is Compliance.OVERDUE
    assert message == ("TRIUMF-LCG2-RAL-LCG2 (TRIUMF-LCG2 -> RAL-LCG2) partly stopped: "
                       f"srm2.triumf.ca -> srm-atlas.gridpp.rl.ac.uk: SE {TRIUMF2} is banned, CANCEL")
    # still served through srm.triumf.ca: not counted as missing
    assert perf == {"channels_required": 5, "channels_ok": 4, "channels_missing": 0}


def test_site_without_storage_cannot_be_judged_when_ses_are_named(tmp_path: Path) -> None:
    docs = standard(config__se={"srm://srm.ndgf.org": se(outbound=0)})
    compliance, message, _, _ = check(tmp_path, docs)
    assert compliance is Compliance.UNKNOWN
    assert message == ("NDGF-T1-RAL-LCG2 (NDGF-T1 -> RAL-LCG2) cannot be judged: the inventory lists no storage "
                       "for NDGF-T1, and the FTS3 configuration names SEs it does not place (srm://srm.ndgf.org)")
    # only wildcard settings: judged without knowing NDGF-T1's SEs
    compliance, message, _, _ = check(tmp_path, standard(config__links=[link("*-*", "*", "*", 60)]))
    assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")


def test_a_proven_stop_outweighs_a_pair_that_cannot_be_judged(tmp_path: Path) -> None:
    docs = standard(config__se={"srm://srm.ndgf.org": se(outbound=0)}, ban__se=[ban(PIC, vo=None)])
    compliance, message, _, _ = check(tmp_path, docs)
    assert compliance is Compliance.OVERDUE and message.startswith("PIC-RAL-LCG2 (pic -> RAL-LCG2) not served")


def test_saved_configuration_without_bans_is_unknown(tmp_path: Path) -> None:
    docs = standard()
    del docs["ban/se"]
    compliance, message, _, details = check(tmp_path, docs)
    assert (compliance, message) == (Compliance.UNKNOWN, "the banned storage list (/ban/se) was not read")
    assert "not read banned SEs" in details[0]


def test_tier0_with_no_tier1_in_the_inventory_is_unknown(tmp_path: Path) -> None:
    inventory = write(tmp_path / "only-t0.yaml", "sites:\n  - {name: CERN-PROD, tier: 0, storage: [srm-atlas.cern.ch]}\n")
    milestones = load_rules(write(tmp_path / "rules.yaml", RULES)).milestones
    saved = write(tmp_path / "fts3.json", json.dumps(standard()))
    request = Request(options={"fts": str(saved)}, site="CERN-PROD", tier=0, inventory=load_inventory(inventory))
    (only,) = run_check(CHECK, request, milestones, (), date(2010, 6, 8), Deadline(10)).milestones
    assert only.compliance is Compliance.UNKNOWN
    assert only.message == (f"the inventory {inventory} lists no Tier-1 sites, so the channels "
                            "Tier-0 site CERN-PROD must serve are not known")


@pytest.mark.parametrize("doc, why", [
    ({"se": "x"}, "expected a list of banned SEs, got an object"),
    ([{"vo": "atlas"}], "banned SE 0: 'se' is null, expected a non-empty string"),
    ([{"se": PIC, "vo": 7}], f"banned SE {PIC}: 'vo' is int, expected a string"),
])
def test_garbage_ban_list_is_unknown(tmp_path: Path, doc: Any, why: str) -> None:
    compliance, message, _, _ = check(tmp_path, standard(ban__se=doc))
    assert compliance is Compliance.UNKNOWN
    assert message == f"{tmp_path / 'fts3.json'} [ban/se]: {why}"


#: The inventory of SITES with its storage written as SE URLs (port, path, upper case, a
#: trailing dot), as an inventory generated from GOCDB/BDII endpoint URLs may hold it.
URL_SITES = (SITES.replace("[atlassrm-fzk.gridka.de]", '["srm://atlassrm-fzk.gridka.de:8443/srm/managerv2"]')
             .replace("[srmcms.pic.es]", '["davs://SRMCMS.pic.es:443/"]')
             .replace("[srm-atlas.gridpp.rl.ac.uk]", '["srm-atlas.gridpp.rl.ac.uk."]'))


@pytest.mark.parametrize("links, first, served", [
    ([link("into-fzk", "*", FZK, 0, 0)], "PIC-FZK-LCG2 (pic -> FZK-LCG2) not served: srmcms.pic.es -> "
     "atlassrm-fzk.gridka.de: link into-fzk (* -> srm://atlassrm-fzk.gridka.de) has max_active 0", 0),
    ([link("from-ral", "gsiftp://srm-atlas.gridpp.rl.ac.uk:2811", "*", 0, 0)],
     "RAL-LCG2-FZK-LCG2 (RAL-LCG2 -> FZK-LCG2) not served: srm-atlas.gridpp.rl.ac.uk -> atlassrm-fzk.gridka.de: "
     "link from-ral (gsiftp://srm-atlas.gridpp.rl.ac.uk:2811 -> *) has max_active 0", 4),
    ([link("pic-fzk", "root://srmcms.pic.es:1094", "davs://ATLASSRM-FZK.gridka.de:443/pnfs", 0, 0)],
     "PIC-FZK-LCG2 (pic -> FZK-LCG2) not served: srmcms.pic.es -> atlassrm-fzk.gridka.de: link pic-fzk "
     "(root://srmcms.pic.es:1094 -> davs://ATLASSRM-FZK.gridka.de:443/pnfs) has max_active 0", 4),
])
def test_inventory_storage_written_as_se_urls_is_matched_by_host(tmp_path: Path, links: list[dict[str, Any]],
                                                                 first: str, served: int) -> None:
    # Before: the inventory's URL was compared whole with the link's host, so the
    # zero link stopped nothing and every pair was judged served (COMPLIANT).
    compliance, message, perf, _ = check(tmp_path, standard(config__links=links), site="FZK-LCG2",
                                         sites=URL_SITES)
    assert compliance is Compliance.OVERDUE
    assert message.split("; ")[0] == first
    assert perf == {"channels_required": 5, "channels_ok": served, "channels_missing": 5 - served}


def test_inventory_storage_urls_serve_when_nothing_stops(tmp_path: Path) -> None:
    compliance, message, _, details = check(tmp_path, standard(config__se={"davs://srmcms.pic.es": se(0, 5)}),
                                            site="FZK-LCG2", sites=URL_SITES)
    # pic's SE takes nothing in, but FZK-LCG2's FTS needs only pairs into FZK-LCG2.
    assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")
    assert "PIC-FZK-LCG2 (pic -> FZK-LCG2): served (no link configuration: defaults)" in details


# --- held-back round: payload shapes of real servers ----------------------------------

#: What a freshly installed FTS3 serves: the schema's own '* -> *' link (nostreams 0) and
#: '*' SE row (fts3 db/schema/mysql/fts-schema-10.0.1.sql), as fts-rest serializes them.
FRESH = Path(__file__).parent / "data" / "fts3" / "fresh-server.json"


def fresh(**changes: Any) -> dict[str, Any]:
    docs: dict[str, Any] = json.loads(FRESH.read_text())
    docs.update({key.replace("__", "/"): value for key, value in changes.items()})
    return docs


@pytest.mark.parametrize("links", [
    None,  # the recorded '* -> *' link as it is
    [link("*", "*", "*", 130) | {"nostreams": 0}, link("pic-ral", PIC, RAL, 50) | {"nostreams": 0}],
    [link("*", "*", "*", 130) | {"nostreams": None}],
], ids=["fresh", "specific-link-0", "null"])
def test_nostreams_zero_is_not_set(tmp_path: Path, links: list[dict[str, Any]] | None) -> None:
    # Before: nostreams 0 was judged as "0 streams, expected 1-10", so a fresh FTS3 was OVERDUE.
    docs = fresh() if links is None else fresh(config__links=links)
    compliance, message, _, _ = check(tmp_path, docs)
    assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")


def test_nostreams_out_of_range_still_fails(tmp_path: Path) -> None:
    compliance, message, _, _ = check(tmp_path, fresh(config__links=[link("pic-ral", PIC, RAL, 50) | {"nostreams": 16}]))
    assert compliance is Compliance.OVERDUE
    assert message == f"link pic-ral ({PIC} -> {RAL}): 16 streams, expected 1-10"


@pytest.mark.parametrize("ses", [
    {"*": se(inbound=0), RAL: {"operations": {"atlas": {"staging": 400}}}},
    {"*": se(outbound=0), PIC: {"operations": {"cms": {"delete": 100}}}},
    {RAL: {"operations": {"atlas": {"staging": 400}}}, "*": se(inbound=0)},
], ids=["destination", "source", "listed-first"])
def test_operations_only_entry_does_not_hide_the_default_se(tmp_path: Path, ses: dict[str, Any]) -> None:
    # fts-rest merges staging/delete limits (t_stage_req) into /config/se; such an entry has
    # no t_se row, so the server still applies '*'. Before: it hid '*' (every pair into RAL
    # served; pic -> RAL served while the other sources were stopped).
    compliance, _, perf, _ = check(tmp_path, fresh(config__se=ses))
    assert compliance is Compliance.OVERDUE
    assert perf == {"channels_required": 5, "channels_ok": 0, "channels_missing": 5}


def test_entry_with_se_info_or_flat_settings_still_overrides_the_default(tmp_path: Path) -> None:
    for own in (se(inbound=None, outbound=10), {"inbound_max_active": 40}):
        compliance, message, _, _ = check(tmp_path, fresh(config__se={"*": se(inbound=0), RAL: own}))
        assert (compliance, message) == (Compliance.COMPLIANT, "5/5 required pairs served, optimizer on")


VO_RULES = RULES.replace("expect: {streams: [1, 10]}", "expect: {streams: [1, 10], vos: %s}")


@pytest.mark.parametrize("bans, vos, compliance, state, message", [
    ([ban(PIC, vo="dteam")], "[atlas]", Compliance.COMPLIANT, "OK", "5/5 required pairs served, optimizer on"),
    ([ban(PIC, vo="ATLAS", status="WAIT_AS")], "[atlas]", Compliance.OVERDUE, "CRITICAL",
     f"PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
     f"SE {PIC} is banned for VO ATLAS, WAIT_AS"),
    ([ban(PIC, vo="atlas")], "[atlas, cms]", Compliance.OVERDUE, "WARNING",
     f"PIC-RAL-LCG2 (pic -> RAL-LCG2) partly stopped: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
     f"SE {PIC} is banned for VO atlas, CANCEL (not for VO cms)"),
    ([ban(PIC, vo="atlas"), ban("davs://srmcms.pic.es:443", vo="cms")], "[atlas, cms]", Compliance.OVERDUE,
     "CRITICAL", f"PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
     f"SE {PIC} is banned for VO atlas, CANCEL, SE davs://srmcms.pic.es:443 is banned for VO cms, CANCEL"),
    ([ban(PIC, vo="dteam")], "[]", Compliance.OVERDUE, "WARNING",
     f"PIC-RAL-LCG2 (pic -> RAL-LCG2) partly stopped: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
     f"SE {PIC} is banned for VO dteam, CANCEL (not for other VOs)"),
    ([ban(PIC, vo=None)], "[atlas]", Compliance.OVERDUE, "CRITICAL",
     f"PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
     f"SE {PIC} is banned, CANCEL"),
], ids=["other-vo", "the-vo", "one-of-two-vos", "both-vos", "no-vos-named", "every-vo"])
def test_a_ban_stops_only_its_vo(tmp_path: Path, bans: list[dict[str, Any]], vos: str, compliance: Compliance,
                                 state: str, message: str) -> None:
    # fts-rest bans an SE for the admin's VO and holds back only that VO's transfers
    # (JobBuilder apply_banning). Before: any ban was a full stop (CRITICAL), whatever its VO.
    inventory = load_inventory(write(tmp_path / "sites.yaml", SITES))
    milestones = load_rules(write(tmp_path / "rules.yaml", VO_RULES % vos)).milestones
    saved = write(tmp_path / "fts3.json", json.dumps(fresh(ban__se=bans)))
    request = Request(options={"fts": str(saved)}, site="RAL-LCG2", tier=1, inventory=inventory)
    (only,) = run_check(CHECK, request, milestones, (), date(2010, 6, 8), Deadline(10)).milestones
    assert (only.compliance, only.state.name, only.message) == (compliance, state, message)


DAVS_PIC = "davs://srmcms.pic.es"


@pytest.mark.parametrize("docs", [
    fresh(config__links=[link("pic-ral-davs", DAVS_PIC, RAL, 50), link("pic-ral-srm", PIC, RAL, 0, 0)]),
    fresh(config__links=[link("pic-ral-srm", PIC, RAL, 0, 0), link("pic-ral-davs", DAVS_PIC, RAL, 50)]),
], ids=["zero-listed-second", "zero-listed-first"])
def test_links_of_two_se_names_of_one_host_disagreeing_degrade_the_pair(tmp_path: Path,
                                                                       docs: dict[str, Any]) -> None:
    # Before: the first link listed for the host won: COMPLIANT one way round, CRITICAL the other.
    compliance, message, perf, _ = check(tmp_path, docs)
    assert compliance is Compliance.OVERDUE
    assert message == ("PIC-RAL-LCG2 (pic -> RAL-LCG2) partly stopped: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
                       f"link pic-ral-srm ({PIC} -> {RAL}) has max_active 0 "
                       "(another SE name of the host has transfers)")
    assert perf == {"channels_required": 5, "channels_ok": 4, "channels_missing": 0}


@pytest.mark.parametrize("ses", [
    {DAVS_PIC: se(outbound=50), PIC: se(outbound=0)},
    {PIC: se(outbound=0), DAVS_PIC: se(outbound=50)},
], ids=["zero-listed-second", "zero-listed-first"])
def test_se_settings_of_two_se_names_of_one_host_disagreeing_degrade_the_pair(tmp_path: Path,
                                                                             ses: dict[str, Any]) -> None:
    compliance, message, _, _ = check(tmp_path, fresh(config__se=ses))
    assert compliance is Compliance.OVERDUE
    assert message == ("PIC-RAL-LCG2 (pic -> RAL-LCG2) partly stopped: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
                       f"SE {PIC} has outbound_max_active 0 (another SE name of the host has transfers)")


def test_every_se_name_of_a_host_stopped_is_a_full_stop(tmp_path: Path) -> None:
    links = [link("pic-ral-davs", DAVS_PIC, RAL, 0, 0), link("pic-ral-srm", PIC + ":8443", RAL, 0, 0)]
    compliance, message, _, _ = check(tmp_path, fresh(config__links=links))
    assert compliance is Compliance.OVERDUE
    assert message.startswith("PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: ")


ECHO = "davs://webdav.echo.stfc.ac.uk:1094"


@pytest.mark.parametrize("site_attr", ["RAL-LCG2", "ral-lcg2"])
def test_se_entry_site_places_one_more_se_of_the_site(tmp_path: Path, site_attr: str) -> None:
    # /config/se's se_info.site (t_se.site) says whose SE it is. Before: an SE the inventory
    # did not list was ignored, so RAL's second SE taking nothing in left RAL COMPLIANT.
    compliance, message, perf, _ = check(tmp_path, fresh(config__se={ECHO: se(inbound=0) | {
        "se_info": {"inbound_max_active": 0, "outbound_max_active": 50, "site": site_attr}}}))
    assert compliance is Compliance.OVERDUE
    assert message.split("; ")[0] == ("FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2) partly stopped: "
                                      "atlassrm-fzk.gridka.de -> webdav.echo.stfc.ac.uk: "
                                      f"SE {ECHO} has inbound_max_active 0")
    assert perf == {"channels_required": 5, "channels_ok": 0, "channels_missing": 0}


def test_se_entry_site_of_another_or_unknown_site_changes_nothing(tmp_path: Path) -> None:
    for site_attr in ("UKI-LT2-QMUL", None):
        ses = {ECHO: {"se_info": {"inbound_max_active": 0, "site": site_attr}},
               # the inventory's placement wins over the SE entry's own site
               PIC: {"se_info": {"inbound_max_active": 0, "site": "RAL-LCG2"}}}
        compliance, message, _, _ = check(tmp_path, fresh(config__se=ses))
        # echo stays unplaced (so NDGF-T1, with no storage listed, cannot be judged); nothing is stopped
        assert (compliance, message) == (Compliance.UNKNOWN, (
            "NDGF-T1-RAL-LCG2 (NDGF-T1 -> RAL-LCG2) cannot be judged: the inventory lists no storage for "
            f"NDGF-T1, and the FTS3 configuration names SEs it does not place ({ECHO})"))


def test_se_entry_site_lets_a_site_without_inventory_storage_be_judged(tmp_path: Path) -> None:
    ses = {"srm://srm.ndgf.org": {"se_info": {"outbound_max_active": 0, "site": "NDGF-T1"}}}
    compliance, message, _, _ = check(tmp_path, fresh(config__se=ses))
    assert compliance is Compliance.OVERDUE
    assert message == ("NDGF-T1-RAL-LCG2 (NDGF-T1 -> RAL-LCG2) not served: srm.ndgf.org -> srm-atlas.gridpp.rl.ac.uk: "
                       "SE srm://srm.ndgf.org has outbound_max_active 0")
