"""The publish spool: ordered, bounded, atomic files; what is read back is what was written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gridready.broker.config import BrokerError, ca_bundle, parse_endpoint, Endpoint
from gridready.broker.spool import Message, Spool, SpoolFull


def test_messages_come_back_in_spool_order_across_runs(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s"))
    assert spool.add([Message("/queue/a", "one", {"k": "v"}), Message("/queue/b", "two")]) == 2
    assert Spool(str(tmp_path / "s")).add([Message("/queue/a", "three\nEOT\n")]) == 1
    got = list(spool.messages())
    assert [(m.destination, m.body, m.headers, m.spooled) for m in got] == [
        ("/queue/a", "one", {"k": "v"}, "0000000000000001.msg"),
        ("/queue/b", "two", {}, "0000000000000002.msg"),
        ("/queue/a", "three\nEOT\n", {}, "0000000000000003.msg")]
    spool.remove(got[0])
    spool.add([Message("/queue/a", "four")])
    assert [m.body for m in spool.messages()] == ["two", "three\nEOT\n", "four"]
    assert oct(os.stat(tmp_path / "s").st_mode & 0o777) == "0o700"


def test_stale_temporary_files_are_not_messages(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path))
    (tmp_path / ".tmp-99-0000000000000001.msg").write_text('{"half')
    assert list(spool.messages()) == [] and len(spool) == 0


def test_count_and_byte_bounds(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "c"), max_count=2)
    with pytest.raises(SpoolFull, match=r"spool full \(2 messages, \d+ bytes; bounds 2 messages.*1 results not"):
        spool.add([Message("/queue/a", "1"), Message("/queue/a", "2"), Message("/queue/a", "3")])
    assert [m.body for m in spool.messages()] == ["1", "2"]
    small = Spool(str(tmp_path / "b"), max_bytes=100)
    with pytest.raises(SpoolFull):
        small.add([Message("/queue/a", "x" * 200)])
    assert len(small) == 0


@pytest.mark.parametrize("text, expected", [("h.example:61613", Endpoint("h.example", 61613)),
                                            ("[::1]:61614", Endpoint("::1", 61614))])
def test_endpoints(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


def test_ca_directory_becomes_a_bundle_of_hashed_certificates(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (tmp_path / "1a2b3c4d.0").write_text(pem)
    (tmp_path / "1a2b3c4d.signing_policy").write_text("not a cert")
    (tmp_path / "README").write_text(pem.replace("MIIB", "XXXX"))
    bundle, temporary = ca_bundle(str(tmp_path))
    try:
        assert temporary and Path(bundle).read_text() == pem
    finally:
        os.unlink(bundle)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BrokerError, match=f"{empty}: no hashed CA certificates"):
        ca_bundle(str(empty))
    with pytest.raises(BrokerError, match="--capath /nonexistent does not exist"):
        ca_bundle("/nonexistent")
