"""export streams the history; probe JSON (gridready.result/1) matches docs/result.schema.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gridready import result as resultmod
from gridready.cli import main
from gridready.result import read_result
from gridready.store import Store
from tests.helpers import REPO
from tests.test_report_cli import ingest, probe_result

RESULT_SCHEMA = json.loads((REPO / "docs" / "result.schema.json").read_text(encoding="utf-8"))
EXAMPLE = REPO / "config" / "example"


def test_iter_results_is_lazy_and_in_order(tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    results = [probe_result("RAL-LCG2", "xrootd", f"h{i}:1094", f"2010-06-{1 + i % 9:02d}T10:{i // 9:02d}:00Z",
                            ("xroot", "COMPLIANT", "ok", 100)) for i in range(45)]
    ingest(tmp_path, db, *results)
    with Store(db, readonly=True) as store:
        stream = store.iter_results(page=4)
        first = next(stream)
        assert (first.host, first.checked_at.isoformat()) == ("h0:1094", "2010-06-01T10:00:00+00:00")
        rest = list(stream)
        assert len(rest) == 44
        times = [first.checked_at] + [r.checked_at for r in rest]
        assert times == sorted(times)
        assert [r.host for r in [first, *rest]] == [r.host for r in store.results()]


def test_export_output_unchanged_by_paging(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "h.db")
    ingest(tmp_path, db, *[probe_result("pic", "xrootd", f"d{i}:1094", f"2010-06-0{1 + i % 3}T10:00:0{i}Z",
                                        ("xroot", "PENDING", "root", 100)) for i in range(7)])
    capsys.readouterr()
    assert main(["export", "--db", db, "--since", "2010-06-02"]) == 0
    out = capsys.readouterr().out
    assert out.count("EOT\n") == 4     # i = 1, 2, 4, 5 fall on 06-02 and 06-03


def probe_json(*argv: str) -> Any:
    done = subprocess.run([sys.executable, *argv, "--format", "json"], capture_output=True, text=True, timeout=60,
                          cwd=REPO, check=False)
    return json.loads(done.stdout)


REAL_PROBES = [
    ["probes/check_dcache_version", "--bdii", str(EXAMPLE / "bdii.ldif"), "--se", "srmcms.pic.es", "--site", "pic",
     "--as-of", "2010-06-08"],
    ["probes/check_fts_channels", "--channel-list", str(EXAMPLE / "fts" / "FZK-LCG2.txt"), "--site", "FZK-LCG2",
     "--as-of", "2010-06-08"],
    ["probes/check_xrootd", "-H", "127.0.0.1", "-p", "1", "--bdii", str(EXAMPLE / "bdii.ldif"), "--site", "pic",
     "--as-of", "2010-10-08", "-t", "3"],
]


@pytest.mark.parametrize("argv", REAL_PROBES, ids=lambda a: Path(a[0]).name)
def test_real_probe_output_validates(argv: list[str]) -> None:
    doc = probe_json(*argv)
    jsonschema.validate(doc, RESULT_SCHEMA)
    assert doc["milestones"], doc
    resultmod.ProbeResult.from_json(doc, "probe")          # and ingest reads it


@pytest.mark.parametrize("path", sorted((EXAMPLE / "glexec").glob("*.json")), ids=lambda p: p.name)
def test_bundled_glexec_results_validate(path: Path) -> None:
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), RESULT_SCHEMA)


def test_schema_bounds_are_result_py_bounds() -> None:
    props = RESULT_SCHEMA["properties"]
    ms = props["milestones"]
    assert ms["maxItems"] == resultmod.MAX_ITEMS
    assert ms["items"]["properties"]["id"]["maxLength"] == resultmod.MAX_NAME
    assert ms["items"]["properties"]["message"]["maxLength"] == resultmod.MAX_TEXT
    assert ms["items"]["properties"]["days_left"]["maximum"] == resultmod.MAX_DAYS
    assert props["details"]["oneOf"][1]["maxItems"] == resultmod.MAX_DETAILS
    assert props["metrics"]["oneOf"][1]["additionalProperties"]["maximum"] == resultmod.MAX_NUMBER


@pytest.mark.parametrize("change", [
    lambda d: d.update(schema="gridready.result/2"),
    lambda d: d.update(checked_at="2010-06-08 10:00:00"),
    lambda d: d.update(state="FINE"),
    lambda d: d["milestones"][0].update(days_left=1.5),
    lambda d: d["milestones"][0].update(compliance="GREEN"),
    lambda d: d.update(site="bad\x1bname"),
    lambda d: d.update(metrics={"x": "fast"}),
    lambda d: d.update(details=[1]),
    lambda d: d.pop("milestones"),
])
def test_what_ingest_rejects_the_schema_rejects(change: Any, tmp_path: Path) -> None:
    doc = probe_result("pic", "xrootd", "d:1094", "2010-06-08T10:00:00Z", ("xroot", "PENDING", "root", 100))
    jsonschema.validate(doc, RESULT_SCHEMA)
    change(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, RESULT_SCHEMA)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(Exception):
        read_result(bad)
