"""Hostile topology sources for `gridready inventory import`: exit 3 with one line, or a clean
import, within a bound, no traceback, and never a partial file over a good one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile.runner import assert_clean, run

BOUND = 20.0
GOOD = "sites:\n  - {name: KEEP-ME, tier: 1}\n"


def inventory(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    out = tmp_path / "sites.yaml"
    out.write_text(GOOD, encoding="utf-8")
    result = run("gridready", "inventory", "import", *args, "-o", str(out), "-t", "5", timeout=60)
    assert out.read_text(encoding="utf-8") == GOOD or result.code == 0
    return result.code, result.output, out.read_text(encoding="utf-8")


def bad(tmp_path: Path, *args: str, mentions: str) -> None:
    out = tmp_path / "sites.yaml"
    out.write_text(GOOD, encoding="utf-8")
    result = run("gridready", "inventory", "import", *args, "-o", str(out), "-t", "5", timeout=60)
    assert_clean(result, 3, within=BOUND, mentions=mentions)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert out.read_text(encoding="utf-8") == GOOD


def test_xml_bomb(tmp_path: Path) -> None:
    levels = "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10))
    (tmp_path / "g.xml").write_text(f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{levels}]>'
                                    "<results><SITE NAME=\"&l9;\"/></results>", encoding="utf-8")
    bad(tmp_path, "--gocdb", str(tmp_path / "g.xml"), mentions="refused XML with a DTD")


def test_html_error_page_as_gocdb_and_cric(tmp_path: Path) -> None:
    page = "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body/></html>"
    (tmp_path / "page").write_text(page, encoding="utf-8")
    bad(tmp_path, "--gocdb", str(tmp_path / "page"), mentions="is an HTML page, not GOCDB XML")
    bad(tmp_path, "--cric", str(tmp_path / "page"), mentions="is an HTML page, not CRIC JSON")


def test_fifo_and_device_sources(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    bad(tmp_path, "--gocdb", str(fifo), mentions="not a regular file")
    bad(tmp_path, "--cric", "/dev/zero", mentions="not a regular file")
    bad(tmp_path, "--bdii", str(tmp_path), mentions=str(tmp_path))


def test_deep_json_nesting(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("[" * 200000 + "]" * 200000, encoding="utf-8")
    bad(tmp_path, "--cric", str(tmp_path / "c.json"), mentions="c.json")


def test_control_characters_in_names_stay_out_of_lines_and_files(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(
        '{"EVIL\\u001b[2J\\nsites: []": {"rc_tier_level": 1},'
        ' "OK-T1": {"rc_tier_level": 1, "federations": ["X\\u001b]0;t\\u0007"]}, "FINE-T1": {"rc_tier_level": 1}}',
        encoding="utf-8")
    code, output, text = inventory(tmp_path, "--cric", str(tmp_path / "c.json"))
    assert code == 0 and "\x1b" not in output and "\x1b" not in text, output
    assert "'EVIL\\x1b[2J sites: []': name holds control characters; left out" in output
    assert "'OK-T1': wlcg_name holds control characters; left out" in output
    assert [line for line in text.splitlines() if "name:" in line] == ["  - name: FINE-T1"]


def test_unreachable_https_source(tmp_path: Path) -> None:
    bad(tmp_path, "--cric", "https://127.0.0.1:9/api/core/rcsite/query/?json", mentions="127.0.0.1")


@pytest.mark.parametrize("source", ["ldap://127.0.0.1:9", "ftp://gocdb.example.org/x"])
def test_bad_bdii_uri(tmp_path: Path, source: str) -> None:
    bad(tmp_path, "--bdii", source, mentions=source.split("/")[2])


@pytest.mark.parametrize("where", ["tier_level", "name"])
def test_cric_number_of_thousands_of_digits_is_one_line(tmp_path: Path, where: str) -> None:
    # Bug: int() refuses more than 4300 digits; the ValueError was an internal error.
    saved = tmp_path / "c.json"
    other = "name" if where == "tier_level" else "tier_level"
    saved.write_text(f'[{{"{where}": {"3" * 5000}, "{other}": 1}}]', encoding="utf-8")
    bad(tmp_path, "--cric", str(saved), mentions=f"{saved}: JSON holds a number too long to read")
