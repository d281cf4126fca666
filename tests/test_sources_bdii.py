"""The BDII source against a real slapd and against the same data as an LDIF file.

Both must give the same answers; failures must come back as one-line
SourceErrors naming the URI, and no BDII may hold a check past its deadline.
The example snapshot (config/example) is loaded into slapd here, and its
README table is checked against the data.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gridready.deadline import Deadline
from gridready.errors import CheckTimeout, SourceError
from gridready.sources.bdii import Bdii, Entry, LdapBdii, LdifBdii, ldap_filter, open_bdii
from gridready.sources.ldif import parse_ldif
from tests.servers.slapd import running_slapd, slapd_fixture

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "example" / "bdii.ldif"
README = REPO / "config" / "example" / "README.md"
SRR_DIR = REPO / "config" / "example" / "srr"

example_ldap = slapd_fixture(EXAMPLE)


@pytest.fixture(params=["ldap", "ldif"])
def example(request: pytest.FixtureRequest) -> Bdii:
    """The example snapshot, once from slapd and once from the LDIF file."""
    if request.param == "ldap":
        return open_bdii(request.getfixturevalue("example_ldap"), Deadline(10))
    return open_bdii(str(EXAMPLE), Deadline(10))


def canonical(entries: list[Entry]) -> list[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]]:
    # slapd returns DNs with schema-cased attribute names ("Mds-Vo-name=pic")
    # where the dump has "mds-vo-name=pic"; DNs compare case-insensitively.
    return sorted((e.dn.lower(), tuple(sorted(e.attrs.items()))) for e in entries)


QUERIES: list[tuple[str, dict[str, str] | None, str, int]] = [
    ("GlueSE", None, "o=grid", 14),
    ("GlueSE", {"GlueSEUniqueID": "SRM.GRID.SARA.NL"}, "o=grid", 1),
    ("GlueSEAccessProtocol", {"GlueSEAccessProtocolType": "xroot"}, "o=grid", 5),
    ("GlueSEAccessProtocol", {"GlueChunkKey": "GlueSEUniqueID=srm.ndgf.org"}, "o=grid", 2),
    ("gluese", {"glueforeignkey": "GlueSiteUniqueID=TRIUMF-LCG2"}, "o=grid", 2),
    ("GlueSite", {"GlueSiteOtherInfo": "WLCG_TIER=0"}, "o=grid", 1),
    ("GlueSE", {"GlueSEUniqueID": "srm.triumf.ca", "GlueSEStatus": "production"}, "o=grid", 1),
    ("GlueSE", None, "Mds-Vo-name=PIC, mds-vo-name=LOCAL, o=grid", 1),
    ("GLUE2Endpoint", {"GLUE2EndpointInterfaceName": "xrootd"}, "o=glue", 1),
    ("GLUE2Service", {"GLUE2ServiceType": "org.dcache.storage"}, "o=glue", 4),
    ("GLUE2Endpoint", {"GLUE2EndpointServiceForeignKey": "srm.grid.sara.nl"}, "o=glue", 2),
    ("GlueSE", None, "o=glue", 0),
    ("GlueSE", {"GlueSEUniqueID": "no.such.host"}, "o=grid", 0),
    ("GLUE2Service", None, "o=nosuchsuffix", 0),
]


@pytest.mark.parametrize(("object_class", "equals", "suffix", "count"), QUERIES)
def test_live_bdii_and_dump_give_the_same_answers(example_ldap: str, object_class: str,
                                                  equals: dict[str, str] | None, suffix: str,
                                                  count: int) -> None:
    live = open_bdii(example_ldap, Deadline(10)).find(object_class, equals, suffix=suffix)
    dump = open_bdii(str(EXAMPLE), Deadline(10)).find(object_class, equals, suffix=suffix)
    assert len(live) == count
    assert canonical(live) == canonical(dump)


@pytest.mark.parametrize("value", ["*", "*)(objectClass=*", "srm.ndgf.org)(GlueSEUniqueID=*",
                                   "\\2a", "srm*"])
def test_filter_values_are_escaped(example: Bdii, value: str) -> None:
    assert example.find("GlueSE", {"GlueSEUniqueID": value}) == []


def test_filter_text() -> None:
    assert ldap_filter("GlueSE") == "(objectClass=GlueSE)"
    assert ldap_filter("GlueSE", {"GlueSEUniqueID": "a*)(b\\"}) == \
        "(&(objectClass=GlueSE)(GlueSEUniqueID=a\\2a\\29\\28b\\5c))"
    with pytest.raises(ValueError):
        ldap_filter("GlueSE", {"GlueSEUniqueID=*)(x": "y"})


def test_special_characters_match_literally() -> None:
    odd = "weird*)(name\\ with (parens)"
    text = ("dn: GlueSEUniqueID=odd.example.org,Mds-Vo-name=TEST,Mds-Vo-name=local,o=grid\n"
            "objectClass: GlueSETop\nobjectClass: GlueSE\n"
            "GlueSEUniqueID: odd.example.org\n"
            f"GlueSEName: {odd}\n\n"
            "dn: GlueSEUniqueID=plain.example.org,Mds-Vo-name=TEST,Mds-Vo-name=local,o=grid\n"
            "objectClass: GlueSETop\nobjectClass: GlueSE\n"
            "GlueSEUniqueID: plain.example.org\nGlueSEName: weird\n")
    dump = LdifBdii("<text>", parse_ldif(text))
    with running_slapd(text) as uri:
        live = open_bdii(uri, Deadline(10))
        for bdii in (live, dump):
            found = bdii.find("GlueSE", {"GlueSEName": odd})
            assert [e.first("GlueSEUniqueID") for e in found] == ["odd.example.org"]
            assert bdii.find("GlueSE", {"GlueSEName": "weird*"}) == []


def test_entries_missing_attributes_are_returned_as_is(example: Bdii) -> None:
    (second,) = example.find("GlueSE", {"GlueSEUniqueID": "srm2.triumf.ca"})
    assert second.first("GlueSEImplementationName") == "dCache"
    assert second.first("GlueSEImplementationVersion") is None
    assert second.get("GlueSEImplementationVersion") == ()


def test_utf8_and_base64_values_survive_both_paths(example: Bdii) -> None:
    (pic,) = example.find("GLUE2AdminDomain", {"GLUE2DomainID": "pic"}, suffix="o=glue")
    assert pic.first("GLUE2EntityName") == "Port d'Informació Científica"
    (ndgf,) = example.find("GlueSite", {"GlueSiteUniqueID": "NDGF-T1"})
    assert ndgf.first("GlueSiteDescription") == "WLCG Tier-1 NDGF "


# --- the example snapshot matches its README table ------------------------------------------

def _table_rows() -> list[dict[str, list[str]]]:
    """The rows of the README's storage table (the one whose header starts "| Site | Tier |")."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Site | Tier |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append({name: [part.strip() for part in cell.split("<br>")]
                     for name, cell in zip(header, cells)})
    return rows


XROOTD_TYPES = {"root", "xroot", "xrootd"}


def _impl(text: str) -> tuple[str | None, str | None]:
    if text == "—":
        return None, None
    name, _, version = text.partition(" ")
    return name, (None if version == "(no version)" else version)


def test_readme_table_matches_the_example_data(example: Bdii) -> None:
    rows = _table_rows()
    assert [row["Site"][0] for row in rows] == [
        "CERN-PROD", "Taiwan-LCG2", "BNL-ATLAS", "FZK-LCG2", "IN2P3-CC", "INFN-T1", "NDGF-T1",
        "pic", "RAL-LCG2", "SARA-MATRIX", "TRIUMF-LCG2", "USCMS-FNAL-WC1"]
    for row in rows:
        site = row["Site"][0]
        (glue_site,) = example.find("GlueSite", {"GlueSiteUniqueID": site})
        assert f"WLCG_TIER={row['Tier'][0]}" in glue_site.get("GlueSiteOtherInfo")
        assert "GRID=WLCG" in glue_site.get("GlueSiteOtherInfo")
        hosts = row["SE host"]
        published = example.find("GlueSE", {"GlueForeignKey": f"GlueSiteUniqueID={site}"})
        assert sorted(e.first("GlueSEUniqueID") or "" for e in published) == sorted(hosts)
        for index, host in enumerate(hosts):
            (se,) = example.find("GlueSE", {"GlueSEUniqueID": host})
            name, version = _impl(row["GLUE 1.3 implementation / version"][index])
            assert (se.first("GlueSEImplementationName"), se.first("GlueSEImplementationVersion")) \
                == (name, version), site
            protocols = [p for p in example.find(
                "GlueSEAccessProtocol", {"GlueChunkKey": f"GlueSEUniqueID={host}"})
                if (p.first("GlueSEAccessProtocolType") or "").lower() in XROOTD_TYPES]
            xtype = row["xrootd type"][index]
            if xtype == "none":
                assert protocols == [], site
            else:
                (protocol,) = protocols
                assert protocol.first("GlueSEAccessProtocolType") == xtype
                assert protocol.first("GlueSEAccessProtocolEndpoint") == \
                    row["xrootd endpoint"][index]
        endpoints = example.find("GLUE2Endpoint", {"GLUE2EndpointServiceForeignKey": hosts[0]},
                                 suffix="o=glue")
        name, version = _impl(row["GLUE 2 implementation / version"][0])
        if name is None:
            assert endpoints == [], site
        else:
            assert {(e.first("GLUE2EndpointImplementationName"),
                     e.first("GLUE2EndpointImplementationVersion")) for e in endpoints} \
                == {(name, version)}, site
            (service,) = example.find("GLUE2Service", {"GLUE2ServiceID": hosts[0]},
                                      suffix="o=glue")
            assert service.first("GLUE2ServiceType") == "org.dcache.storage"
            interfaces = [e.first("GLUE2EndpointInterfaceName") for e in endpoints
                          if (e.first("GLUE2EndpointInterfaceName") or "").lower()
                          in XROOTD_TYPES]
            assert interfaces == ([] if row["xrootd type"][0] == "none"
                                  else [row["xrootd type"][0]])
        srr_file = SRR_DIR / f"{site}.json"
        if row["SRR version"][0] == "—":
            assert not srr_file.exists()
            continue
        srr = json.loads(srr_file.read_text(encoding="utf-8"))["storageservice"]
        assert srr["implementation"] == "dCache"
        assert srr["implementationversion"] == row["SRR version"][0]
        xrootd = [e for e in srr["storageendpoints"]
                  if e["interfacetype"].lower() in XROOTD_TYPES]
        if row["xrootd type"][0] == "none":
            assert xrootd == []
        else:
            assert [(e["interfacetype"], e["endpointurl"]) for e in xrootd] == \
                [(row["xrootd type"][0], row["xrootd endpoint"][0])]


# --- failures --------------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def tcp_server(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A loopback TCP server running ``behaviour`` per connection; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            worker = threading.Thread(target=behaviour, args=(conn, stop), daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        acceptor.join(5)
        listener.close()
        for worker in workers:
            worker.join(5)


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        stop.wait(10)


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    # An LDAP message header announcing 4096 bytes, then one byte every 50 ms:
    # every single read succeeds, only the whole exchange is too slow.
    with conn:
        conn.recv(4096)
        try:
            conn.sendall(b"\x30\x84\x00\x00\x10\x00")
            while not stop.wait(0.05):
                conn.sendall(b"\x02")
        except OSError:
            pass


def _hang_up(conn: socket.socket, stop: threading.Event) -> None:
    conn.close()


def test_connection_refused_names_the_host() -> None:
    uri = f"ldap://127.0.0.1:{_closed_port()}"
    with pytest.raises(SourceError) as caught:
        open_bdii(uri, Deadline(5)).find("GlueSE")
    message = str(caught.value)
    assert message.startswith(uri)
    assert "connection refused by 127.0.0.1:" in message
    assert "\n" not in message


def test_dns_failure_names_the_host() -> None:
    with pytest.raises(SourceError, match=r"cannot resolve host no-such-bdii\.invalid"):
        open_bdii("ldap://no-such-bdii.invalid:2170", Deadline(5)).find("GlueSE")


@pytest.mark.parametrize(("behaviour", "stage"), [
    (_silent, "binding anonymously to BDII 127.0.0.1:"),
    (_drip, "binding anonymously to BDII 127.0.0.1:"),
])
def test_a_slow_bdii_cannot_outlive_the_deadline(
        behaviour: Callable[[socket.socket, threading.Event], None], stage: str) -> None:
    with tcp_server(behaviour) as port:
        started = time.monotonic()
        with pytest.raises(CheckTimeout) as caught:
            open_bdii(f"ldap://127.0.0.1:{port}", Deadline(1.0)).find("GlueSE")
        elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 1.0
    assert stage in str(caught.value)


def test_server_hanging_up_is_a_source_error() -> None:
    with tcp_server(_hang_up) as port:
        uri = f"ldap://127.0.0.1:{port}"
        with pytest.raises(SourceError) as caught:
            open_bdii(uri, Deadline(5)).find("GlueSE")
    assert str(caught.value).startswith(f"{uri}: ")


def test_bind_failure_and_ldap_errors_are_reported() -> None:
    with running_slapd(EXAMPLE, extra_config=["disallow bind_anon"]) as uri:
        with pytest.raises(SourceError, match=r"anonymous bind failed: "
                                              r"inappropriateAuthentication"):
            open_bdii(uri, Deadline(5)).find("GlueSE")
    with running_slapd(EXAMPLE, extra_config=["sizelimit 2"]) as uri:
        with pytest.raises(SourceError, match=r"search under o=grid for GlueSE failed: "
                                              r"sizeLimitExceeded"):
            open_bdii(uri, Deadline(5)).find("GlueSE")


@pytest.mark.parametrize(("uri", "problem"), [
    ("ldap://", "no host in LDAP URI"),
    ("ldap://bdii.example.org:notaport", "not a valid ldap://host:port URI"),
    ("https://bdii.example.org/", "unsupported BDII URI scheme 'https'"),
    ("/nonexistent/dump.ldif", "cannot read LDIF file: No such file or directory"),
])
def test_bad_uris_and_files(uri: str, problem: str) -> None:
    with pytest.raises(SourceError) as caught:
        open_bdii(uri, Deadline(5))
    assert problem in str(caught.value)


def test_directory_and_malformed_dump(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=re.escape(
            f"{tmp_path}: cannot read LDIF file: a directory, not a regular file")):
        open_bdii(str(tmp_path), Deadline(5))
    dump = tmp_path / "top-bdii.ldif"
    dump.write_text("dn: o=grid\no: grid\n\ndn: o=glue\nno colon\n", encoding="utf-8")
    with pytest.raises(SourceError, match=re.escape(f"{dump}:5: expected 'attribute: value'")):
        open_bdii(str(dump), Deadline(5))


def test_uri_forms() -> None:
    bdii = open_bdii("ldap://lcg-bdii.cern.ch", Deadline(5))
    assert isinstance(bdii, LdapBdii) and (bdii.host, bdii.port) == ("lcg-bdii.cern.ch", 2170)
    bdii = open_bdii("LDAP://[::1]:2171/o=grid", Deadline(5))
    assert isinstance(bdii, LdapBdii) and (bdii.host, bdii.port) == ("::1", 2171)
    from_url = open_bdii(EXAMPLE.as_uri(), Deadline(5))
    assert isinstance(from_url, LdifBdii) and len(from_url.find("GlueSite")) == 12


def test_reading_a_dump_does_not_import_ldap3_or_requests() -> None:
    code = ("import sys\n"
            "import gridready.sources.bdii as b, gridready.sources.http\n"
            "from gridready.deadline import Deadline\n"
            "assert 'ldap3' not in sys.modules and 'requests' not in sys.modules\n"
            f"assert len(b.open_bdii({str(EXAMPLE)!r}, Deadline(5)).find('GlueSE')) == 14\n"
            "assert 'ldap3' not in sys.modules and 'requests' not in sys.modules, "
            "sorted(m for m in sys.modules if 'ldap' in m or 'requests' in m)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("path", "kind"), [
    ("/dev/zero", "a character device"),
    ("/dev/null", "a character device"),
])
def test_devices_are_refused_at_once(path: str, kind: str) -> None:
    # /dev/zero used to be read until memory ran out (10 GB, 30 s under -t 3).
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        open_bdii(path, Deadline(3))
    assert str(caught.value) == f"{path}: cannot read LDIF file: {kind}, not a regular file"
    assert time.monotonic() - started < 1


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "dump.ldif"
    os.mkfifo(fifo)
    with pytest.raises(SourceError, match=re.escape(
            f"{fifo}: cannot read LDIF file: a FIFO (named pipe), not a regular file")):
        open_bdii(str(fifo), Deadline(3))


def test_oversized_dump_is_refused(tmp_path: Path) -> None:
    from gridready.sources.ldif import read_ldif

    dump = tmp_path / "big.ldif"
    dump.write_text("dn: o=grid\no: grid\n\n" * 100, encoding="utf-8")
    from gridready.sources import ldif

    with pytest.raises(SourceError, match=re.escape(f"{dump}: LDIF file is larger than the 1 KiB limit")):
        ldif.read_text(dump, Deadline(3), max_bytes=1024)
    assert len(read_ldif(dump)) == 100


def test_entries_name_their_source_and_conflicting_single_values_are_refused(
        test_conflicts: str) -> None:
    bdii = open_bdii(test_conflicts, Deadline(5))
    [se] = bdii.find("GlueSE")
    assert se.source == test_conflicts
    assert se.get("GlueSEImplementationVersion") == ("1.9.5-22", "1.9.5-19")
    with pytest.raises(SourceError) as caught:
        se.first("GlueSEImplementationVersion")
    assert str(caught.value) == (
        f"{test_conflicts}: GlueSEUniqueID=srm.dup.example,Mds-Vo-name=DUP,o=grid: single-valued "
        "attribute GlueSEImplementationVersion has 2 different values: '1.9.5-22', '1.9.5-19'")
    # The same value twice is harmless; multi-valued attributes keep every value.
    assert se.first("GlueSEImplementationName") == "dCache"
    assert se.first("GlueForeignKey") == "GlueSiteUniqueID=DUP"
    assert se.get("GlueForeignKey") == ("GlueSiteUniqueID=DUP", "GlueSiteUniqueID=OTHER")
    assert se.distinct("GlueSEImplementationName") == ("dCache",)


@pytest.fixture()
def test_conflicts(tmp_path: Path) -> str:
    dump = tmp_path / "dup.ldif"
    dump.write_text(
        "dn: GlueSEUniqueID=srm.dup.example,Mds-Vo-name=DUP,o=grid\n"
        "objectClass: GlueSE\n"
        "GlueSEUniqueID: srm.dup.example\n"
        "GlueSEImplementationName: dCache\n"
        "GlueSEImplementationName: dCache\n"
        "GlueSEImplementationVersion: 1.9.5-22\n"
        "GlueSEImplementationVersion: 1.9.5-19\n"
        "GlueForeignKey: GlueSiteUniqueID=DUP\n"
        "GlueForeignKey: GlueSiteUniqueID=OTHER\n", encoding="utf-8")
    return str(dump)
