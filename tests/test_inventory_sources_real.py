"""Topology payloads shaped as the real producers write them: GOCDB PI paging, CRIC refusals, CRIC names.

GOCDB's PI pages with a ``<meta>`` block (``link rel=next``, ``count``,
``max_page_size``) and links a next page after every non-empty one; WLCG
CRIC refuses unauthenticated reads with a JSON ``{"detail": ...}``; a CRIC
rcsite names its GOCDB site by ``gocdb_pk`` even when its own name differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridready.cli import main
from tests.servers.https import Response, running_https
from tests.test_inventory_bad import fails, work  # noqa: F401 (work: the fixture)

def _site(name: str, key: int, tier: str = "") -> str:
    return (f'<SITE ID="{key}" PRIMARY_KEY="{key}G0" NAME="{name}"><PRIMARY_KEY>{key}G0</PRIMARY_KEY>'
            f"<SHORT_NAME>{name}</SHORT_NAME>{f'<TIER>{tier}</TIER>' if tier else ''}"
            "<PRODUCTION_INFRASTRUCTURE>Production</PRODUCTION_INFRASTRUCTURE>"
            "<CERTIFICATION_STATUS>Certified</CERTIFICATION_STATUS><SCOPES><SCOPE>wlcg</SCOPE></SCOPES>"
            "<EXTENSIONS/></SITE>")


def _srm(site: str, host: str) -> str:
    return (f'<SERVICE_ENDPOINT PRIMARY_KEY="9G0"><HOSTNAME>{host}</HOSTNAME><SERVICE_TYPE>SRM</SERVICE_TYPE>'
            f"<IN_PRODUCTION>Y</IN_PRODUCTION><NODE_MONITORED>Y</NODE_MONITORED><SITENAME>{site}</SITENAME>"
            "<URL></URL><SCOPES/><EXTENSIONS/></SERVICE_ENDPOINT>")


def _page(items: str, *, next_href: str = "", count: int = 0, size: int = 2) -> str:
    meta = ""
    if next_href:
        meta = (f'<meta><link rel="self" href="x"/><link rel="next" href="{next_href}"/>'
                f"<count>{count}</count><max_page_size>{size}</max_page_size></meta>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<results>{meta}{items}</results>\n'


def _refused(work: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    err = fails(work, capsys, *args)
    assert err.count("\n") == 1
    return err


@pytest.mark.parametrize("body, said", [
    ({"detail": "Authentication credentials were not provided."}, "Authentication credentials were not provided."),
    ({"error": "query failed"}, "query failed"),
    ({"count": 0, "next": None}, "count, next"),
])
def test_a_cric_refusal_in_json_stops_the_import(work: Path, capsys: pytest.CaptureFixture[str],
                                                 body: dict[str, object], said: str) -> None:
    (work / "g.xml").write_text(_page(_site("A-T1", 1, "1")), encoding="utf-8")
    (work / "c.json").write_text(json.dumps(body), encoding="utf-8")
    err = _refused(work, capsys, "--gocdb", "g.xml", "--cric", "c.json")
    assert err == f"gridready: c.json: not a CRIC answer (no rcsite or service objects): {said}\n"


def test_cric_rcsite_named_otherwise_joins_its_gocdb_site_by_gocdb_pk(work: Path) -> None:
    (work / "g.xml").write_text(_page(_site("GOC-NAME", 7) + _srm("GOC-NAME", "SRM.G.example.org")),
                                encoding="utf-8")
    (work / "c.json").write_text(json.dumps({
        "CRIC-NAME": {"name": "CRIC-NAME", "rc_tier_level": 1, "state": "ACTIVE", "federations": ["XG-FED"],
                      "gocdb_pk": "7G0"},
        "OTHER-T2": {"name": "OTHER-T2", "rc_tier_level": 2, "state": "ACTIVE", "gocdb_pk": "8"},
    }) + json.dumps({"CRIC-NAME_XROOTD": {"rcsite": "CRIC-NAME", "type": "SE", "flavour": "XROOTD",
                                          "endpoint": "root://xrd.g.example.org:1095//store", "state": "ACTIVE"}}),
                                encoding="utf-8")
    assert main(["inventory", "import", "--gocdb", "g.xml", "--cric", "c.json", "--date", "2010-06-08",
                 "-o", "sites.yaml"]) == 0
    assert (work / "sites.yaml").read_text(encoding="utf-8").split("\n", 2)[2] == (
        "sites:\n"
        "  # GOC-NAME: GOCDB g.xml, CRIC c.json; as of 2010-06-08\n"
        "  - name: GOC-NAME\n    tier: 1\n    wlcg_name: XG-FED\n"
        "    storage:\n      - {host: srm.g.example.org}\n"
        "    xrootd:\n      - \"xrd.g.example.org:1095\"\n"
        "  # OTHER-T2: CRIC c.json; as of 2010-06-08\n"
        "  - name: OTHER-T2\n    tier: 2\n")


def test_a_saved_full_page_with_a_next_page_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "g.xml").write_text(_page(_site("A-T1", 1, "1") + _site("B-T1", 2, "1"),
                                      next_href="https://goc.example/pi/?method=get_site&amp;next_cursor=2",
                                      count=2), encoding="utf-8")
    err = _refused(work, capsys, "--gocdb", "g.xml")
    assert err == ("gridready: g.xml: ends with a full page of a paged GOCDB answer whose next page "
                   "(https://goc.example/pi/?method=get_site&next_cursor=2) is not in the file: "
                   "save every page, or give the PI URL\n")


def test_saved_pages_ending_short_are_the_whole_listing(work: Path) -> None:
    first = _page(_site("A-T1", 1, "1") + _site("B-T1", 2, "1"), next_href="https://goc.example/?next_cursor=2",
                  count=2)
    last = _page(_site("C-T1", 3, "1"), next_href="https://goc.example/?next_cursor=3", count=1)
    (work / "g.xml").write_text(first + last, encoding="utf-8")
    assert main(["inventory", "import", "--gocdb", "g.xml", "-o", "sites.yaml"]) == 0
    text = (work / "sites.yaml").read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if line.startswith("  - name:")] == [
        "  - name: A-T1", "  - name: B-T1", "  - name: C-T1"]


def test_a_paged_pi_url_is_read_to_its_last_page(work: Path) -> None:
    routes: dict[str, Response] = {}
    base = "/pi/"    # links as paths: the port is known only once the server runs
    routes["/pi/?method=get_site"] = Response(content_type="application/xml", body=_page(
        _site("A-T1", 1, "1") + _site("B-T1", 2, "1"), next_href=base + "?method=get_site&amp;next_cursor=2",
        count=2))
    routes["/pi/?method=get_site&next_cursor=2"] = Response(content_type="application/xml", body=_page(
        _site("C-T1", 3, "1") + _site("D-T1", 4, "1"), next_href=base + "?method=get_site&amp;next_cursor=4",
        count=2))
    routes["/pi/?method=get_site&next_cursor=4"] = Response(content_type="application/xml", body=_page(""))
    routes["/pi/?method=get_service_endpoint"] = Response(content_type="application/xml", body=_page(
        _srm("D-T1", "srm.d.example.org")))
    with running_https(routes) as server:
        assert main(["inventory", "import", "--gocdb", server.url(base), "--capath", server.ca_file,
                     "-o", "sites.yaml"]) == 0
        assert [r.path for r in server.seen] == ["/pi/?method=get_site", "/pi/?method=get_site&next_cursor=2",
                                                 "/pi/?method=get_site&next_cursor=4",
                                                 "/pi/?method=get_service_endpoint"]
    text = (work / "sites.yaml").read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if line.startswith("  - name:")] == [
        "  - name: A-T1", "  - name: B-T1", "  - name: C-T1", "  - name: D-T1"]
    assert "      - {host: srm.d.example.org}\n" in text


def test_a_next_page_on_another_server_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    routes = {"/pi/?method=get_site": Response(content_type="application/xml", body=_page(
        _site("A-T1", 1, "1"), next_href="https://elsewhere.example/pi/?next_cursor=1", count=2, size=1))}
    with running_https(routes) as server:
        err = _refused(work, capsys, "--gocdb", server.url("/pi/?method=get_site"), "--capath", server.ca_file)
    assert err == (f"gridready: {server.url('/pi/?method=get_site')}: paged GOCDB answer links its next page "
                   "on another server (https://elsewhere.example); refused\n")
