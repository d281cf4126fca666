"""Hostile inputs for check_fts_channels: each ends in one clear line and exit 3 (or the
right verdict), within a time bound, with no traceback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.runner import Run, assert_clean, run
from tests.servers.https import Response, RunningServer, running_https

BOUND = 15.0
EXAMPLE_SITES = Path(__file__).resolve().parents[2] / "config" / "example" / "sites.yaml"
COMMON = ("--site", "RAL-LCG2", "--as-of", "2010-06-08", "-t", "5")


def probe(*args: str) -> Run:
    return run("check_fts_channels", *COMMON, *args, timeout=60)


def status_line(result: Run) -> str:
    return result.stdout.splitlines()[0]


# --- channel listings (--channel-list) ------------------------------------------


def test_dev_zero_listing() -> None:
    result = probe("--channel-list", "/dev/zero")
    assert_clean(result, 3, within=BOUND, mentions="/dev/zero: cannot read FTS channel listing: a character device")


def test_fifo_listing_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "channels.fifo"
    os.mkfifo(fifo)
    result = probe("--channel-list", str(fifo))
    assert_clean(result, 3, within=BOUND, mentions=f"{fifo}: cannot read FTS channel listing: a FIFO")


def test_directory_listing(tmp_path: Path) -> None:
    result = probe("--channel-list", str(tmp_path))
    assert_clean(result, 3, within=BOUND, mentions=f"{tmp_path}: cannot read FTS channel listing: a directory")


def test_missing_listing(tmp_path: Path) -> None:
    result = probe("--channel-list", str(tmp_path / "nope.txt"))
    assert_clean(result, 3, within=BOUND, mentions="nope.txt: cannot read FTS channel listing: No such file")


def test_huge_listing_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as handle:
        handle.truncate(2 * 1024 ** 3)  # sparse: 2 GiB that cost no disk
    result = probe("--channel-list", str(huge))
    assert_clean(result, 3, within=BOUND, mentions=f"{huge}: FTS channel listing is larger than the 16 MiB limit")


@pytest.mark.parametrize("content, why", [
    (b"Channel: STAR-RAL\n\x00\x01\x02garbage", "binary data (NUL byte at offset 18)"),
    (b"Channel: STAR-RAL\nBetween: * and RAL-LCG2\n\xff\xfe\n", "not UTF-8 text"),
    (b"", "no FTS channels found"),
    (b"# recorded 2010-06-08\n\n", "no FTS channels found"),
    (os.urandom(4096).replace(b"\x00", b"x"), "FTS channel listing"),
], ids=["nul", "latin1", "empty", "comments-only", "random"])
def test_garbage_listing(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "listing.txt"
    path.write_bytes(content)
    result = probe("--channel-list", str(path))
    assert_clean(result, 3, within=BOUND, mentions=why)
    assert status_line(result).startswith("FTS_CHANNELS UNKNOWN - ")


def test_escape_sequences_in_a_listing_are_not_passed_through(tmp_path: Path) -> None:
    path = tmp_path / "listing.txt"
    path.write_text("Channel: STAR-RAL\x1b[2J\nBetween: * and RAL-LCG2\x1b]0;owned\x07\nState: Stopped\x1b[31m\n")
    result = probe("--channel-list", str(path), "-vvv")
    assert_clean(result, 2, within=BOUND)


def test_hundred_thousand_channels_in_bounded_time_and_output(tmp_path: Path) -> None:
    path = tmp_path / "many.txt"
    block = "Channel: SITE{0}-RAL-LCG2\nBetween: SITE{0} and RAL-LCG2\nState: Active\n"
    path.write_text("".join(block.format(i) for i in range(100_000)))
    assert path.stat().st_size < 16 * 1024 * 1024
    result = probe("--channel-list", str(path), "-vvv", "-t", "30")
    # none of them is a required pair: the 11 required channels are missing
    assert_clean(result, 2, within=30, mentions="channel FZK-LCG2-RAL-LCG2 (FZK-LCG2 -> RAL-LCG2) missing")
    assert len(result.stdout.splitlines()) < 200
    assert "... and 99950 more channels not counted" in result.stdout


# --- saved FTS3 configurations (--fts FILE) ---------------------------------------


def test_dev_zero_saved_configuration() -> None:
    result = probe("--fts", "/dev/zero")
    assert_clean(result, 3, within=BOUND, mentions="/dev/zero: cannot read saved FTS3 configuration")


def test_fifo_saved_configuration(tmp_path: Path) -> None:
    fifo = tmp_path / "fts3.json"
    os.mkfifo(fifo)
    result = probe("--fts", str(fifo))
    assert_clean(result, 3, within=BOUND, mentions=f"{fifo}: cannot read saved FTS3 configuration: a FIFO")


@pytest.mark.parametrize("content, why", [
    (b"[" * 200_000, "JSON nested too deeply"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "JSON is not UTF-8"),
    (b"{\"whoami\": {}, \"config/links\": [", "malformed JSON at line 1"),
    (b"[]", "expected a JSON object keyed by FTS3 REST path"),
], ids=["deep-nesting", "binary", "truncated", "list"])
def test_garbage_saved_configuration(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "fts3.json"
    path.write_bytes(content)
    result = probe("--fts", str(path))
    assert_clean(result, 3, within=BOUND, mentions=why)
    assert status_line(result).startswith("FTS_CHANNELS UNKNOWN - ")


# --- a hostile FTS3 REST server (client certificate required) -----------------------


GOOD = {"/whoami": {"user_dn": "/DC=org/DC=example/CN=probe"}, "/config/links": [], "/config/se": {},
        "/optimizer": True, "/ban/se": []}


@pytest.fixture()
def served(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    routes = {path: Response(body=json.dumps(doc)) for path, doc in GOOD.items()}
    routes.update(request.param)
    with running_https(routes, require_client_cert=True) as server:
        yield server


def rest_probe(server: RunningServer, *extra: str) -> Run:
    files = server.client_cert_files()
    return probe("--fts", server.url(""), "--capath", server.ca_file, "--cert", files.cert, "--key", files.key,
                 *extra)


@pytest.mark.parametrize("served", [{}], indirect=True)
def test_standard_server_is_compliant(served: RunningServer) -> None:
    result = rest_probe(served)
    assert_clean(result, 0, within=BOUND, mentions="11/11 required pairs served, optimizer on")


@pytest.mark.parametrize("served, why", [
    ({"/config/links": Response(body="[" * 100_000)}, "/config/links: JSON nested too deeply"),
    ({"/config/links": Response(body="{\"links\": ")}, "/config/links: malformed JSON"),
    ({"/config/se": Response(body="[1, 2, 3]")}, "/config/se: SE 0 is int, expected an object"),
    ({"/ban/se": Response(body="\"nobody\"")}, "/ban/se: expected a list of banned SEs, got a string"),
    ({"/ban/se": Response(status=404, content_type="text/html", body="<html>x</html>")},
     "/ban/se: unsupported on this server"),
    ({"/optimizer": Response(content_type="text/html", body="<html><title>login</title></html>")},
     "/optimizer: unsupported on this server"),
    ({"/config/links": Response(body=json.dumps([{"symbolicname": "x\x1b[2J", "source": "*",
                                                   "destination": "*", "max_active": "lots"}]))},
     "link x\\x1b[2J: 'max_active' is a string 'lots'"),
], indirect=["served"], ids=["deep-nesting", "truncated", "se-list", "ban-string", "ban-404", "html", "escape"])
def test_garbage_from_the_server_is_unknown(served: RunningServer, why: str) -> None:
    result = rest_probe(served)
    assert_clean(result, 3, within=BOUND, mentions=why)
    assert status_line(result).startswith("FTS_CHANNELS UNKNOWN - ")


@pytest.mark.parametrize("served", [{
    "/config/se": Response(body=json.dumps({f"srm://se{i}.example.org": {"se_info": {"inbound_max_active": 5}}
                                            for i in range(100_000)})),
    "/ban/se": Response(body=json.dumps([{"se": "srm://srm-atlas.gridpp.rl.ac.uk\x1b]0;owned\x07",
                                          "vo": "atlas", "status": "CANCEL"}])),
}], indirect=True, ids=["100k-ses"])
def test_huge_configuration_and_escapes_from_the_server(served: RunningServer) -> None:
    result = rest_probe(served, "-vvv", "--inventory", str(EXAMPLE_SITES), "-t", "30")
    # the ban names a host that is no RAL-LCG2 storage once the control characters are part of it
    assert_clean(result, 0, within=30, mentions="11/11 required pairs served")
    assert "... and 99950 more SE settings" in result.stdout
    assert len(result.stdout.splitlines()) < 200


# --- inventories naming storage by SE URL -------------------------------------------


@pytest.mark.parametrize("storage", ["srm://SRM-ATLAS.gridpp.rl.ac.uk:8443/srm/managerv2?SFN=",
                                     "davs://srm-atlas.gridpp.rl.ac.uk:443/", "srm-atlas.gridpp.rl.ac.uk."])
def test_inventory_storage_url_still_meets_a_zero_link(tmp_path: Path, storage: str) -> None:
    # Before: an inventory listing RAL's storage as a URL (or with a trailing dot) never
    # matched the link's host, so a link taking nothing into RAL stopped nothing: COMPLIANT.
    sites = tmp_path / "sites.yaml"
    sites.write_text("sites:\n"
                     "  - {name: RAL-LCG2, tier: 1, storage: [\"%s\"]}\n"
                     "  - {name: pic, tier: 1, storage: [srmcms.pic.es]}\n" % storage)
    saved = tmp_path / "fts3.json"
    saved.write_text(json.dumps({
        "whoami": {"user_dn": "/CN=probe"}, "optimizer": True, "config/se": {}, "ban/se": [],
        "config/links": [{"symbolicname": "into-ral", "source": "*",
                          "destination": "gsiftp://srm-atlas.gridpp.rl.ac.uk",
                          "min_active": 0, "max_active": 0, "nostreams": None}]}))
    result = probe("--inventory", str(sites), "--fts", str(saved), "--milestone", "fts-t1-channels")
    assert_clean(result, 2, within=BOUND,
                 mentions="PIC-RAL-LCG2 (pic -> RAL-LCG2) not served: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
                          "link into-ral (* -> gsiftp://srm-atlas.gridpp.rl.ac.uk) has max_active 0")


# --- payload shapes of real FTS3 servers (held-back round) ----------------------------

_FRESH = json.loads((Path(__file__).resolve().parents[1] / "data" / "fts3" / "fresh-server.json").read_text())
_PIC, _DAVS_PIC = "srm://srmcms.pic.es", "davs://srmcms.pic.es:443"
_RAL = "srm://srm-atlas.gridpp.rl.ac.uk"


def _link(name: str, source: str, max_active: int) -> dict[str, object]:
    return {"symbolicname": name, "source": source, "destination": _RAL, "min_active": min(2, max_active),
            "max_active": max_active, "optimizer_mode": 2, "tcp_buffer_size": None, "nostreams": 0,
            "no_delegation": False}


def _ban(vo: str | None) -> dict[str, object]:
    return {"se": _PIC, "message": "intervention", "addition_time": "2024-03-01T10:00:00",
            "admin_dn": "/DC=ch/DC=cern/CN=fts admin", "vo": vo, "status": "WAIT_AS"}


def _routes(**docs: object) -> dict[str, Response]:
    merged = {**_FRESH, **{k.replace("__", "/"): v for k, v in docs.items()}}
    return {f"/{path}": Response(body=json.dumps(doc)) for path, doc in merged.items()}


@pytest.mark.parametrize("served, code, mentions", [
    (_routes(), 0, "11/11 required pairs served, optimizer on"),
    (_routes(config__se={**_FRESH["config/se"], "*": {"se_info": {"inbound_max_active": 0}},
                         _RAL: {"operations": {"atlas": {"staging": 400}}}}), 2,
     "SE * has inbound_max_active 0"),
    (_routes(ban__se=[_ban("dteam")]), 1,
     f"PIC-RAL-LCG2 (pic -> RAL-LCG2) partly stopped: srmcms.pic.es -> srm-atlas.gridpp.rl.ac.uk: "
     f"SE {_PIC} is banned for VO dteam, WAIT_AS (not for other VOs)"),
    (_routes(ban__se=[_ban(None)]), 2, "PIC-RAL-LCG2 (pic -> RAL-LCG2) not served"),
    (_routes(config__links=[_link("pic-davs", _DAVS_PIC, 40), _link("pic-srm", _PIC, 0)]), 1,
     f"link pic-srm ({_PIC} -> {_RAL}) has max_active 0 (another SE name of the host has transfers)"),
    (_routes(config__se={"davs://webdav.echo.stfc.ac.uk": {"se_info": {"inbound_max_active": 0, "site": "RAL-LCG2"}}}),
     1, "partly stopped: srm2.grid.sinica.edu.tw -> webdav.echo.stfc.ac.uk"),
], indirect=["served"], ids=["fresh-nostreams-0", "operations-only-entry", "one-vo-ban", "every-vo-ban",
                             "two-se-names-disagree", "se-site-attribute"])
def test_real_server_payload_shapes(served: RunningServer, code: int, mentions: str) -> None:
    result = rest_probe(served, "-v")
    assert_clean(result, code, within=BOUND, mentions=mentions)


# --- hostile values in a saved FTS3 configuration (attack round) -------------------------

def test_a_json_number_of_thousands_of_digits_is_unknown_naming_the_file(tmp_path: Path) -> None:
    # Bug: int() refuses more than 4300 digits; the ValueError was an internal error.
    saved = tmp_path / "fts3.json"
    saved.write_text(json.dumps(_FRESH)[:-1] + ', "extra": ' + "7" * 5000 + "}", encoding="utf-8")
    result = probe("--fts", str(saved))
    assert_clean(result, 3, within=BOUND, mentions=f"{saved}: JSON holds a number too long to read")
    assert status_line(result).startswith("FTS_CHANNELS UNKNOWN - ")


@pytest.mark.parametrize("value", ["A" * 200000, ["A" * 200000], {"a": "A" * 200000}, "\x1b[31m" * 20000],
                         ids=["string", "list", "object", "escapes"])
@pytest.mark.parametrize("field", ["min_active", "nostreams", "inbound_max_active"])
def test_a_long_value_where_a_whole_number_belongs_is_cut_in_the_message(tmp_path: Path, value: object,
                                                                         field: str) -> None:
    # Bug: the value was quoted whole (a 200 kB line of probe output).
    doc = json.loads(json.dumps(_FRESH))
    if field == "inbound_max_active":
        doc["config/se"]["*"]["se_info"][field] = value
    else:
        doc["config/links"][0][field] = value
    saved = tmp_path / "fts3.json"
    saved.write_text(json.dumps(doc), encoding="utf-8")
    result = probe("--fts", str(saved))
    assert_clean(result, 3, within=BOUND, mentions=f"'{field}' is ")
    assert "expected a whole number" in result.output
    assert len(result.output) < 2000, len(result.output)
