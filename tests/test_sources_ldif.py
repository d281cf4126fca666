"""LDIF dump reading: folding, base64, comments, records, and file:line errors."""

from __future__ import annotations

import base64
import pickle
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridready.errors import SourceError
from gridready.sources.bdii import Entry
from gridready.sources.ldif import iter_records, parse_ldif, read_ldif

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "example" / "bdii.ldif"


def test_records_attributes_and_case_insensitive_access() -> None:
    entries = parse_ldif(
        "dn: GlueSEUniqueID=srm.grid.sara.nl,Mds-Vo-name=SARA-MATRIX,Mds-Vo-name=local,o=grid\n"
        "objectClass: GlueSETop\n"
        "objectClass: GlueSE\n"
        "GlueSEUniqueID: srm.grid.sara.nl\n"
        "GlueSEImplementationVersion: 1.9.5-23\n"
        "\n"
        "dn: o=grid\n"
        "objectClass: organization\n"
        "o: grid\n")
    assert [e.dn for e in entries] == [
        "GlueSEUniqueID=srm.grid.sara.nl,Mds-Vo-name=SARA-MATRIX,Mds-Vo-name=local,o=grid",
        "o=grid"]
    se = entries[0]
    assert se.get("objectclass") == ("GlueSETop", "GlueSE")
    assert se.first("GLUESEIMPLEMENTATIONVERSION") == "1.9.5-23"
    assert se.get("GlueSEStatus") == ()
    assert se.first("GlueSEStatus") is None
    assert se.object_classes == frozenset({"glueseTop".lower(), "gluese"})
    assert set(se.attrs) == {"objectclass", "glueseuniqueid", "glueseimplementationversion"}


def test_folded_lines_are_joined_without_the_leading_space() -> None:
    text = ("dn: GlueSEAccessProtocolLocalID=xroot,GlueSEUniqueID=srm-atlas.cern.ch,Mds\n"
            " -Vo-name=CERN-PROD,Mds-Vo-name=local,o=grid\n"
            "GlueSEAccessProtocolEndpoint: root://srm-\n"
            " atlas.cern.ch:10\n"
            " 94\n"
            "GlueSiteDescription: two  words\n"
            "  with a space kept\n")
    (entry,) = parse_ldif(text)
    assert entry.dn == ("GlueSEAccessProtocolLocalID=xroot,GlueSEUniqueID=srm-atlas.cern.ch,"
                        "Mds-Vo-name=CERN-PROD,Mds-Vo-name=local,o=grid")
    assert entry.first("GlueSEAccessProtocolEndpoint") == "root://srm-atlas.cern.ch:1094"
    assert entry.first("GlueSiteDescription") == "two  words with a space kept"


def test_base64_values_and_dn() -> None:
    name = "Port d'Informació Científica"
    dn = "GLUE2DomainID=pic,GLUE2GroupID=grid,o=glue"
    text = (f"dn:: {base64.b64encode(dn.encode()).decode()}\n"
            f"GLUE2EntityName:: {base64.b64encode(name.encode()).decode()}\n"
            f"GlueSiteDescription:: {base64.b64encode(b'ends with a space ').decode()}\n"
            "empty:\n")
    (entry,) = parse_ldif(text)
    assert entry.dn == dn
    assert entry.first("glue2entityname") == name
    assert entry.first("GlueSiteDescription") == "ends with a space "
    assert entry.get("empty") == ("",)


def test_comments_version_header_crlf_and_extra_blank_lines() -> None:
    text = ("# top-BDII dump\r\n"
            "# a folded comment\r\n"
            " continues here: not an attribute\r\n"
            "version: 1\r\n"
            "\r\n\r\n\r\n"
            "dn: o=grid\r\n"
            "# a comment inside a record\r\n"
            "o: grid\r\n"
            "\r\n"
            "# trailing comment only\r\n"
            "\r\n"
            "dn: o=glue\r\n"
            "o: glue")  # no final newline
    entries = parse_ldif(text)
    assert [(e.dn, e.get("o")) for e in entries] == [("o=grid", ("grid",)), ("o=glue", ("glue",))]


def test_record_line_numbers_and_raw_text() -> None:
    text = "# header\n\ndn: o=grid\no: grid\n\n\ndn: o=glue\no:: Z2x1ZQ==\n"
    records = list(iter_records(text, "dump.ldif"))
    assert [(r.line, r.entry.dn) for r in records] == [(3, "o=grid"), (7, "o=glue")]
    assert records[1].text == "dn: o=glue\no:: Z2x1ZQ=="
    assert records[1].entry.first("o") == "glue"


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("objectClass: GlueSE\ndn: o=grid\n", 1, "does not start with 'dn:'"),
    ("dn: o=grid\no: grid\n\nGlueSEUniqueID: x\n", 4, "does not start with 'dn:'"),
    ("dn: o=grid\nthis line has no colon\n", 2, "expected 'attribute: value'"),
    (" continuation\ndn: o=grid\n", 1, "continuation line"),
    ("dn: o=grid\nGlueSEName:: not*base64!\n", 2, "invalid base64"),
    ("dn: o=grid\nGlueSEName:: /w==\n", 2, "not UTF-8"),
    ("dn: o=grid\nchangetype: add\n", 2, "change records"),
    ("dn: o=grid\no: grid\ndn: o=glue\n", 3, "second 'dn:'"),
    ("dn: o=grid\njpegPhoto:< file:///etc/passwd\n", 2, "URL values"),
    ("dn: o=grid\nbad name: x\n", 2, "invalid attribute name"),
    ("version: 2\n\ndn: o=grid\n", 1, "unsupported LDIF version"),
])
def test_malformed_input_names_file_line_and_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_ldif(text, "dump.ldif")
    message = str(caught.value)
    assert message.startswith(f"dump.ldif:{line}: "), message
    assert problem in message
    assert "\n" not in message


def test_read_ldif_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"missing\.ldif: cannot read LDIF file: No such file"):
        read_ldif(tmp_path / "missing.ldif")
    latin1 = tmp_path / "latin1.ldif"
    latin1.write_bytes(b"dn: o=grid\nGlueSiteLocation: Bogot\xe1\n")
    with pytest.raises(SourceError, match=r"latin1\.ldif:2: not UTF-8"):
        read_ldif(latin1)
    broken = tmp_path / "broken.ldif"
    broken.write_text("dn: o=grid\n\n\nno colon here\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"broken\.ldif:4: expected 'attribute: value'"):
        read_ldif(broken)


def test_entry_normalises_names_hashes_and_pickles() -> None:
    entry = Entry("o=grid", {"GlueSEName": ("a",), "gluesename": ("b",), "O": ("grid",)})
    assert entry.get("GLUESENAME") == ("a", "b")
    assert entry == Entry("o=grid", {"gluesename": ("a", "b"), "o": ("grid",)})
    assert hash(entry) == hash(Entry("o=grid", {"gluesename": ("a", "b"), "o": ("grid",)}))
    assert pickle.loads(pickle.dumps(entry)) == entry
    with pytest.raises(TypeError):
        entry.attrs["o"] = ("changed",)  # type: ignore[index]


def test_example_dump_parses() -> None:
    entries = read_ldif(EXAMPLE)
    by_dn = {e.dn.lower(): e for e in entries}
    assert len(by_dn) == len(entries)  # no duplicate DNs
    pic = next(e for e in entries if e.first("GLUE2DomainID") == "pic")
    assert pic.first("GLUE2EntityName") == "Port d'Informació Científica"  # base64 in the dump
    sites = {e.first("GlueSiteUniqueID") for e in entries if "gluesite" in e.object_classes}
    assert sites == {"CERN-PROD", "Taiwan-LCG2", "BNL-ATLAS", "FZK-LCG2", "IN2P3-CC", "INFN-T1",
                     "NDGF-T1", "pic", "RAL-LCG2", "SARA-MATRIX", "TRIUMF-LCG2",
                     "USCMS-FNAL-WC1"}


# --- round trip: whatever a dump writer folds or base64-encodes reads back the same ---

def _needs_base64(value: str) -> bool:
    return (value[:1] in (" ", ":", "<") or value.endswith(" ")
            or any(not (32 <= ord(c) < 127) for c in value))


def _fold(line: str, width: int) -> list[str]:
    out = [line[:width]]
    rest = line[width:]
    while rest:
        out.append(" " + rest[:width - 1])
        rest = rest[width - 1:]
    return out


def _write(entries: list[tuple[str, list[tuple[str, str]]]], width: int) -> str:
    records = []
    for dn, attrs in entries:
        lines: list[str] = []
        for name, value in [("dn", dn), *attrs]:
            if _needs_base64(value):
                lines += _fold(f"{name}:: {base64.b64encode(value.encode()).decode()}", width)
            else:
                lines += _fold(f"{name}: {value}", width)
        records.append("\n".join(lines))
    return "\n\n".join(records) + "\n"


_names = st.text(string.ascii_letters, min_size=1, max_size=12).filter(
    lambda name: name.lower() not in ("dn", "changetype", "control"))
_values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"),
                  max_size=120)
_entries = st.lists(st.tuples(_values, st.lists(st.tuples(_names, _values), max_size=6)),
                    min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(entries=_entries, width=st.integers(min_value=10, max_value=100))
def test_round_trip(entries: list[tuple[str, list[tuple[str, str]]]], width: int) -> None:
    parsed = parse_ldif(_write(entries, width))
    assert [e.dn for e in parsed] == [dn for dn, _ in entries]
    for entry, (_, attrs) in zip(parsed, entries):
        expected: dict[str, list[str]] = {}
        for name, value in attrs:
            expected.setdefault(name.lower(), []).append(value)
        assert {k: list(v) for k, v in entry.attrs.items()} == expected


# --- which GLUE attributes are single-valued ---------------------------------------

SCHEMA_DIR = Path("/etc/ldap/schema")


def _schema_attributes() -> dict[str, bool]:
    """name -> SINGLE-VALUE, from the installed glue-schema files."""
    import re

    found: dict[str, bool] = {}
    files = sorted(SCHEMA_DIR.glob("Glue-*.schema")) + [SCHEMA_DIR / "GLUE20.schema"]
    for path in files:
        text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                         if not line.lstrip().startswith("#"))
        for chunk in re.split(r"(?im)^\s*(?=attributetype|objectclass)", text):
            if chunk.lower().startswith("attributetype"):
                name = re.search(r"NAME\s+(?:\(\s*)?'([^']+)'", chunk)
                assert name is not None, chunk[:80]
                found[name.group(1)] = "SINGLE-VALUE" in chunk.upper()
    return found


@pytest.mark.skipif(not (SCHEMA_DIR / "GLUE20.schema").is_file(), reason="glue-schema not installed")
def test_single_valued_table_matches_the_installed_glue_schema() -> None:
    from gridready.sources.glue_schema import is_single_valued

    attributes = _schema_attributes()
    assert len(attributes) > 500  # GLUE 1.3 and GLUE 2 were both read
    wrong = {name: single for name, single in attributes.items() if is_single_valued(name) != single}
    assert wrong == {}
    assert is_single_valued("GlueSEImplementationVersion") and is_single_valued("gluE2ServiceID")
    assert not is_single_valued("GlueForeignKey") and not is_single_valued("objectClass")


def test_repeated_attributes_keep_every_value_in_order() -> None:
    (entry,) = parse_ldif("dn: GlueSEUniqueID=a,o=grid\nGlueSEImplementationVersion: 2\n"
                          "GlueSEImplementationVersion: 1\nGlueSEImplementationVersion: 2\n", "x.ldif")
    assert entry.get("GlueSEImplementationVersion") == ("2", "1", "2")
    assert entry.distinct("GlueSEImplementationVersion") == ("2", "1")
    assert entry.source == "x.ldif"
    with pytest.raises(SourceError, match=r"^x\.ldif: GlueSEUniqueID=a,o=grid: single-valued attribute "
                                          r"GlueSEImplementationVersion has 2 different values: '2', '1'$"):
        entry.first("GlueSEImplementationVersion")


def test_parsing_stops_at_the_deadline() -> None:
    from gridready.deadline import Deadline
    from gridready.errors import CheckTimeout

    text = "dn: o=grid\no: grid\n\n" * 20000
    deadline = Deadline(0.001)
    import time

    time.sleep(0.01)
    with pytest.raises(CheckTimeout):
        parse_ldif(text, "big.ldif", deadline)
