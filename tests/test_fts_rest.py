"""FTS3 REST: the client against a loopback HTTPS server that requires a client certificate,
and the FTS3 rules (links, optimizer, Tier-1 SE limits)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import trustme

from gridready.checks.fts_channels import CHECK
from gridready.checks.interface import Request
from gridready.compliance import Compliance
from gridready.configfile import load_inventory, load_rules
from gridready.deadline import Deadline
from gridready.engine import run_check
from gridready.errors import SourceError
from gridready.fts.rest import parse_links, parse_optimizer, parse_storages, read_fts3
from gridready.sources.http import TLSOptions
from tests.helpers import REPO, run_py, write
from tests.servers.https import Response, RunningServer, running_https

PROBE = REPO / "probes" / "check_fts_channels"
SITES = """
sites:
  - {name: CERN-PROD, tier: 0, storage: [srm-public.cern.ch]}
  - {name: FZK-LCG2, tier: 1, storage: [atlassrm-fzk.gridka.de]}
  - {name: pic, tier: 1, wlcg_name: ES-PIC, storage: [srmcms.pic.es]}
  - {name: RAL-LCG2, tier: 1, storage: [srm-atlas.gridpp.rl.ac.uk]}
  - {name: UKI-SCOTGRID-GLASGOW, tier: 2, storage: [svr018.gla.scotgrid.ac.uk]}
"""
RULES = """
milestones:
  - id: fts-t1-channels
    title: FTS channels configured for every Tier-1
    source: GDB 2010-02
    deadline: 2010-03-31
    scope: {tiers: [0, 1]}
    check: fts_channels
    expect: {streams: [1, 10]}
"""
RAL_SE = "srm://srm-atlas.gridpp.rl.ac.uk"


def _link(name: str, source: str, destination: str, **extra: Any) -> dict[str, Any]:
    return {"symbolicname": name, "source": source, "destination": destination, "min_active": 2,
            "max_active": 20, "nostreams": 4, "tcp_buffer_size": 0, "optimizer_mode": 2,
            "no_delegation": False, **extra}


def fts3_docs(**changes: Any) -> dict[str, Any]:
    """A healthy FTS3 serving RAL-LCG2's links, with per-path replacements."""
    docs: dict[str, Any] = {
        "whoami": {"dn": ["/DC=org/DC=example/CN=gridready probe"], "user_dn": "/DC=org/DC=example/CN=gridready probe",
                   "vos": ["atlas"], "roles": [], "method": "certificate"},
        "config/links": [
            # endpoints by SE URL, by site name, by WLCG name, and * for STAR
            _link("fzk-ral", "srm://atlassrm-fzk.gridka.de", RAL_SE),
            _link("pic-ral", "ES-PIC", "RAL-LCG2"),
            _link("star-ral", "*", RAL_SE, nostreams=1),
            _link("ral-gla", RAL_SE, "srm://svr018.gla.scotgrid.ac.uk", min_active=50, max_active=5),
        ],
        "config/se": {
            RAL_SE: {"se_info": {"inbound_max_active": 100, "outbound_max_active": 100, "site": "RAL-LCG2"},
                     "operations": {}},
            "srm://srmcms.pic.es": {"se_info": {"inbound_max_active": 50, "outbound_max_active": 60}},
            # a Tier-2 SE throttled to 0 is not this milestone's business
            "srm://svr018.gla.scotgrid.ac.uk": {"se_info": {"inbound_max_active": 0}},
        },
        "optimizer": True,
        "ban/se": [],
    }
    docs.update({key.replace("__", "/"): value for key, value in changes.items()})
    return docs


def routes(docs: Mapping[str, Any]) -> dict[str, Response]:
    return {f"/{path}": Response(body=json.dumps(doc)) for path, doc in docs.items()}


@pytest.fixture()
def inventory_file(tmp_path: Path) -> Path:
    return write(tmp_path / "sites.yaml", SITES)


@pytest.fixture()
def fts3() -> Iterator[RunningServer]:
    with running_https(routes(fts3_docs()), require_client_cert=True) as server:
        yield server


def _check(location: str, inventory_file: Path, tls: Mapping[str, str] | None = None,
           as_of: str = "2010-06-08", site: str = "RAL-LCG2") -> tuple[Compliance, str, dict[str, float], list[str]]:
    inventory = load_inventory(inventory_file)
    rules = load_rules(write(inventory_file.parent / "rules.yaml", RULES))
    known = inventory.site(site)
    assert known is not None
    request = Request(options={"fts": location, **(tls or {})}, site=site, tier=known.tier, inventory=inventory)
    result = run_check(CHECK, request, rules.milestones, (), date.fromisoformat(as_of), Deadline(10))
    (only,) = result.milestones
    return only.compliance, only.message, {p.label: p.value for p in result.perfdata}, result.details


# --- transport ------------------------------------------------------------------


def test_valid_client_certificate_reads_the_configuration(fts3: RunningServer, inventory_file: Path) -> None:
    files = fts3.client_cert_files()
    tls = {"cert": files.cert, "key": files.key, "capath": fts3.ca_file}
    compliance, message, perf, details = _check(fts3.url(""), inventory_file, tls)
    assert (compliance, message) == (Compliance.COMPLIANT, "3/3 required pairs served, optimizer on")
    assert perf == {"channels_required": 3, "channels_ok": 3, "channels_missing": 0}
    assert details[0].startswith(f"FTS3 {fts3.url('')} as /DC=org/DC=example/CN=gridready probe: 4 links, "
                                 "3 SEs configured, 0 banned SEs")
    assert [r.path for r in fts3.seen] == ["/whoami", "/config/links", "/config/se", "/optimizer", "/ban/se"]
    assert all(r.headers.get("Accept") == "application/json" and r.client_subject for r in fts3.seen)


def test_proxy_works_like_a_certificate(fts3: RunningServer) -> None:
    config = read_fts3(fts3.url("/"), Deadline(10), TLSOptions(capath=fts3.ca_file, proxy=fts3.proxy_file()))
    assert [link.name for link in config.links] == ["fzk-ral", "pic-ral", "star-ral", "ral-gla"]
    assert config.optimizer is True and config.identity == "/DC=org/DC=example/CN=gridready probe"


def test_no_client_certificate_fails_clearly(fts3: RunningServer) -> None:
    with pytest.raises(SourceError) as err:
        read_fts3(fts3.url(""), Deadline(10), TLSOptions(capath=fts3.ca_file))
    message = str(err.value)
    assert message.startswith(f"{fts3.url('/whoami')}: ") and "client certificate" in message
    assert fts3.seen == []


def test_client_certificate_from_an_unknown_ca_fails_clearly(fts3: RunningServer) -> None:
    stranger = fts3.client_cert_files("stranger", ca=trustme.CA())
    with pytest.raises(SourceError) as err:
        read_fts3(fts3.url(""), Deadline(10), TLSOptions(capath=fts3.ca_file, cert=stranger.cert, key=stranger.key))
    message = str(err.value)
    assert message.startswith(f"{fts3.url('/whoami')}: ") and "client certificate" in message
    assert fts3.seen == []


def test_untrusted_server_certificate_fails_clearly(fts3: RunningServer) -> None:
    files = fts3.client_cert_files()
    with pytest.raises(SourceError) as err:
        read_fts3(fts3.url(""), Deadline(10),
                  TLSOptions(capath=fts3.other_ca_file, cert=files.cert, key=files.key))
    assert str(err.value).startswith(f"{fts3.url('/whoami')}: TLS verification of the server certificate failed")
    assert fts3.seen == []


@pytest.mark.parametrize("route, why", [
    (None, "unsupported on this server (HTTP 404 Not Found)"),
    (Response(content_type="text/html", body="<html><title>FTS3 web monitoring</title></html>"),
     "unsupported on this server (it answered an HTML page, not JSON)"),
    (Response(body="{\"optimizer\": tru"), "malformed JSON at line 1"),
    (Response(body="\"sometimes\""), "expected true or false, got a string 'sometimes'"),
])
def test_old_server_or_garbage_on_optimizer_is_unknown(inventory_file: Path, route: Response | None,
                                                       why: str) -> None:
    served = routes(fts3_docs())
    del served["/optimizer"]
    if route is not None:
        served["/optimizer"] = route
    with running_https(served, require_client_cert=True) as server:
        files = server.client_cert_files()
        tls = {"cert": files.cert, "key": files.key, "capath": server.ca_file}
        compliance, message, perf, _ = _check(server.url(""), inventory_file, tls)
    assert compliance is Compliance.UNKNOWN and perf == {}
    assert message.startswith(f"{server.url('/optimizer')}: ") and why in message


def test_probe_end_to_end(fts3: RunningServer, inventory_file: Path) -> None:
    files = fts3.client_cert_files()
    common = ["--fts", fts3.url(""), "--capath", fts3.ca_file, "--inventory", str(inventory_file),
              "--milestones", str(write(inventory_file.parent / "rules.yaml", RULES)), "--site", "RAL-LCG2",
              "--as-of", "2010-06-08"]
    done = run_py(PROBE, *common, "--cert", files.cert, "--key", files.key)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[0] == (
        f"FTS_CHANNELS OK - {fts3.url('')}: fts-t1-channels COMPLIANT: 3/3 required pairs served, optimizer on"
        " | channels_missing=0;;;0;3 channels_ok=3;;;0;3 channels_required=3;;;0")
    done = run_py(PROBE, *common)
    assert (done.returncode, done.stderr) == (3, "")
    (line,) = done.stdout.splitlines()[:1]
    assert line.startswith(f"FTS_CHANNELS UNKNOWN - fts-t1-channels UNKNOWN: {fts3.url('/whoami')}: ")
    assert "client certificate" in line


# --- rules (over saved configurations: no server needed) ---------------------------


def _saved(tmp_path: Path, **changes: Any) -> str:
    return str(write(tmp_path / "fts3.json", json.dumps(fts3_docs(**changes))))


def test_saved_configuration_is_accepted(tmp_path: Path, inventory_file: Path) -> None:
    compliance, message, _, _ = _check(_saved(tmp_path), inventory_file)
    assert (compliance, message) == (Compliance.COMPLIANT, "3/3 required pairs served, optimizer on")
    # FTS3 has no channels: no link from CERN is needed for CERN's pairs to be served.
    compliance, message, _, details = _check(_saved(tmp_path), inventory_file, site="CERN-PROD")
    assert (compliance, message) == (Compliance.COMPLIANT, "3/3 required pairs served, optimizer on")
    assert details[1:4] == ["CERN-PROD-FZK-LCG2 (CERN-PROD -> FZK-LCG2): served (no link configuration: defaults)",
                            "CERN-PROD-PIC (CERN-PROD -> pic): served (no link configuration: defaults)",
                            "CERN-PROD-RAL-LCG2 (CERN-PROD -> RAL-LCG2): served (link star-ral)"]


def test_link_rules_each_name_the_link_and_the_fix(tmp_path: Path, inventory_file: Path) -> None:
    links = [_link("fzk-ral", "FZK-LCG2", "RAL-LCG2", min_active=30, max_active=10),
             _link("star-ral", "*", RAL_SE, nostreams=16)]
    compliance, message, perf, _ = _check(_saved(tmp_path, config__links=links, optimizer=False), inventory_file)
    assert compliance is Compliance.OVERDUE
    # pic -> RAL-LCG2 has no link: under FTS3 it is served by default (was "missing", FTS 2 judgement).
    assert message.split("; ") == [
        "link fzk-ral (FZK-LCG2 -> RAL-LCG2): min_active 30 > max_active 10",
        "link star-ral (* -> srm://srm-atlas.gridpp.rl.ac.uk): 16 streams, expected 1-10",
        f"the optimizer is off on {tmp_path / 'fts3.json'}",
    ]
    assert perf == {"channels_required": 3, "channels_ok": 3, "channels_missing": 0}


def test_tier1_se_with_max_active_zero(tmp_path: Path, inventory_file: Path) -> None:
    ses = fts3_docs()["config/se"]
    ses[RAL_SE]["se_info"]["inbound_max_active"] = 0               # found by its published site
    ses["srm://srmcms.pic.es"]["se_info"]["outbound_max_active"] = 0  # found by its host in the inventory
    ses["srm://srm-public.cern.ch"] = {"se_info": {"inbound_max_active": 0}}  # Tier-0: not a Tier-1 SE
    compliance, message, perf, _ = _check(_saved(tmp_path, config__se=ses), inventory_file)
    assert compliance is Compliance.OVERDUE
    # Judged per required pair now: a zero stops the pairs through that SE (the Tier-0 SE's
    # zero stops no pair into RAL-LCG2).
    assert message.split("; ") == [
        f"FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2) not served: atlassrm-fzk.gridka.de -> srm-atlas.gridpp.rl.ac.uk: "
        f"SE {RAL_SE} has inbound_max_active 0",
        f"PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
        f"SE srm://srmcms.pic.es has outbound_max_active 0, SE {RAL_SE} has inbound_max_active 0",
        f"STAR-RAL-LCG2 (* -> RAL-LCG2) not served: * -> srm-atlas.gridpp.rl.ac.uk: "
        f"SE {RAL_SE} has inbound_max_active 0"]
    assert perf == {"channels_required": 3, "channels_ok": 0, "channels_missing": 3}


@pytest.mark.parametrize("parse, doc, why", [
    (parse_links, {"error": "not allowed"}, "expected a list of links, got an object"),
    (parse_links, [_link("a", "*", "B"), 7], "link 1 is int, expected an object"),
    (parse_links, [_link("a", "*", "B", max_active="many")], "link a: 'max_active' is a string 'many'"),
    (parse_links, [_link("a", "", "B")], "link a: 'source' is a string, expected a non-empty string"),
    (parse_storages, [1], "SE 0 is int, expected an object"),
    (parse_storages, {"se": {"se_info": {"inbound_max_active": True}}}, "SE se: 'inbound_max_active' is a boolean"),
    (parse_optimizer, None, "expected true or false, got null"),
])
def test_garbage_documents_raise_one_line(parse: Any, doc: Any, why: str) -> None:
    with pytest.raises(SourceError) as err:
        parse(doc, "https://fts.example:8446/x")
    assert str(err.value).startswith("https://fts.example:8446/x: ") and why in str(err.value)


def test_accepted_document_variants() -> None:
    assert parse_optimizer({"enabled": False}, "w") is False and parse_optimizer("true", "w") is True
    links = parse_links({"a": {"source": "*", "destination": "B", "max_active": None}}, "w")
    assert (links[0].name, links[0].max_active) == ("a", None)
    (se,) = parse_storages([{"storage": "srm://x", "max_active": 0, "site": "X"}], "w")
    assert (se.name, se.site, dict(se.limits)) == ("srm://x", "X", {"max_active": 0})


def test_saved_file_missing_a_path(tmp_path: Path, inventory_file: Path) -> None:
    path = write(tmp_path / "partial.json", json.dumps({"whoami": {}, "config/links": []}))
    compliance, message, _, _ = _check(str(path), inventory_file)
    assert compliance is Compliance.UNKNOWN
    assert message == f"{path}: saved FTS3 configuration lacks 'config/se', 'optimizer'"


def test_hanging_server_is_bounded_by_the_probe_timeout(inventory_file: Path) -> None:
    served = routes(fts3_docs())
    served["/config/links"] = Response(body="[]", delay_seconds=20)
    with running_https(served, require_client_cert=True) as server:
        files = server.client_cert_files()
        started = time.monotonic()
        done = run_py(PROBE, "--fts", server.url(""), "--capath", server.ca_file, "--cert", files.cert,
                      "--key", files.key, "--inventory", str(inventory_file), "--site", "RAL-LCG2", "-t", "1")
        elapsed = time.monotonic() - started
    assert (done.returncode, done.stderr) == (3, "")
    assert f"timeout after 1s while requesting {server.url('/config/links')}" in done.stdout.splitlines()[0]
    assert elapsed < 5
