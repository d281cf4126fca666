"""WLCG metricOutput export: message format and ``gridready export``."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from gridready.cli import main
from gridready.compliance import Compliance, State
from gridready.metricoutput import host_name, message
from gridready.result import MilestoneResult, ProbeResult
from tests.test_report_cli import ingest, probe_result

NOW = datetime(2010, 6, 8, 12, 0, 0, tzinfo=timezone.utc)


def result(check: str = "xrootd", host: str | None = "door.rl.ac.uk:1094",
           details: list[str] | None = None) -> ProbeResult:
    m = MilestoneResult("xrootd-protocol-string", Compliance.DUE, date(2010, 6, 30), 22, "published as 'root'")
    return ProbeResult(check=check, site="RAL-LCG2", host=host, state=State.WARNING,
                       summary="door.rl.ac.uk:1094: xrootd-protocol-string DUE: published as 'root'",
                       checked_at=datetime(2010, 6, 8, 10, 0, tzinfo=timezone.utc), milestones=[m],
                       details=details if details is not None else ["kXR_protocol 0x290 (2.9.0)"])


def test_message_fields_in_order_details_last() -> None:
    assert message(result(), NOW, vo="atlas") == (
        "serviceURI: door.rl.ac.uk:1094\n"
        "hostName: door.rl.ac.uk\n"
        "serviceFlavour: XROOTD\n"
        "siteName: RAL-LCG2\n"
        "metricStatus: WARNING\n"
        "metricName: org.gridready.xrootd.SE-xrootd-Protocol\n"
        "summaryData: door.rl.ac.uk:1094: xrootd-protocol-string DUE: published as 'root'\n"
        "gatheredAt: 2010-06-08T10:00:00Z\n"
        "timestamp: 2010-06-08T12:00:00Z\n"
        "voName: atlas\n"
        "detailsData: [WARNING] xrootd-protocol-string: published as 'root' (deadline 2010-06-30, 22 days left)\n"
        "kXR_protocol 0x290 (2.9.0)\n"
        "EOT\n")


def test_glexec_keeps_the_sam_metric_name_and_no_vo_without_one() -> None:
    text = message(result("glexec", "wn042.example.org"), NOW)
    assert "metricName: org.sam.glexec.WN-gLExec\n" in text and "serviceFlavour: CE\n" in text
    assert "hostName: wn042.example.org\n" in text and "voName" not in text


def test_a_details_line_cannot_end_the_message_early() -> None:
    text = message(result(details=["EOT", "line\nwith newline"]), NOW)
    assert text.count("\nEOT\n") == 1 and text.endswith("\nEOT\n")
    assert "\n EOT\n" in text and "line with newline" in text


@pytest.mark.parametrize("service, host", [
    ("door.example:1094", "door.example"), ("https://fts.example:8446/", "fts.example"),
    ("[2001:db8::1]:1094", "2001:db8::1"), ("srm.example", "srm.example"), ("", "")])
def test_host_name(service: str, host: str) -> None:
    assert host_name(service) == host


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "h.db")
    ingest(tmp_path, db,
           probe_result("pic", "xrootd", "srm.pic.es:1094", "2010-06-01T10:00:00Z", ("xroot", "COMPLIANT", "ok", 10)),
           probe_result("RAL-LCG2", "fts_channels", "https://fts.rl.ac.uk:8446", "2010-06-08T10:00:00Z",
                        ("fts", "OVERDUE", "channel missing", -69)))
    capsys.readouterr()
    assert main(["export", "--db", db]) == 0
    messages = capsys.readouterr().out.split("EOT\n")
    assert messages[-1] == "" and len(messages) == 3
    assert messages[0].startswith("serviceURI: srm.pic.es:1094\nhostName: srm.pic.es\n")
    assert "metricStatus: CRITICAL\n" in messages[1] and "hostName: fts.rl.ac.uk\n" in messages[1]
    assert main(["export", "--db", db, "--since", "2010-06-05", "--vo", "cms"]) == 0
    [only, rest] = capsys.readouterr().out.split("EOT\n")
    assert rest == "" and "siteName: RAL-LCG2\n" in only and "voName: cms\n" in only


@pytest.mark.parametrize("vo, why", [("", "empty VO name"), (" ", "empty VO name"),
                                     ("cms\nvoName: atlas", "a VO name is one line of printable characters")])
def test_an_empty_or_multi_line_vo_is_an_argument_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        vo: str, why: str) -> None:
    # Bug: --vo '' exported every message with an empty "voName: " line.
    db = str(tmp_path / "h.db")
    ingest(tmp_path, db, probe_result("pic", "xrootd", "srm.pic.es:1094", "2010-06-01T10:00:00Z",
                                      ("xroot", "COMPLIANT", "ok", 10)))
    capsys.readouterr()
    assert main(["export", "--db", db, "--vo", vo]) == 3
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"gridready export: argument --vo: {why} (see gridready export --help)\n")


def test_export_without_a_database_is_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--db", str(tmp_path / "none.db")]) == 3
    assert capsys.readouterr().err == f"gridready: {tmp_path / 'none.db'}: no such history database (--db)\n"
    assert not (tmp_path / "none.db").exists()


def test_export_with_no_db_named_and_no_default_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["export"]) == 3
    assert capsys.readouterr() == ("", "gridready: ./gridready.db: no such history database (no --db given): "
                                       "nothing to export (store results with `gridready sweep` or "
                                       "`gridready ingest`, or name one with --db)\n")
    assert not (tmp_path / "gridready.db").exists()


def fields(text: str) -> list[str]:
    """The keys of a message, as a consumer reads them (up to the multi-line detailsData)."""
    head = text.split("\ndetailsData: ")[0]
    return [line.split(": ", 1)[0] for line in head.splitlines()]


KEYS = ["serviceURI", "hostName", "serviceFlavour", "siteName", "metricStatus", "metricName", "summaryData",
        "gatheredAt", "timestamp"]


@pytest.mark.parametrize("value", ["x\nmetricStatus: OK", "x\r\nEOT\nserviceURI: evil", "x\x0bEOT", "x\u2028EOT",
                                   "x\x85metricStatus: OK"])
def test_a_line_break_in_any_value_stays_in_its_field(value: str) -> None:
    bad = result(host=f"door{value}", details=[value])
    bad.site = value
    bad.summary = value
    bad.milestones = [MilestoneResult(value, Compliance.DUE, date(2010, 6, 30), 22, value)]
    text = message(bad, NOW, vo=value)
    assert fields(text) == [*KEYS, "voName"]
    lines = text.splitlines()
    assert lines.count("EOT") == 1 and text.endswith("\nEOT\n")
    assert [line for line in lines if line.startswith("metricStatus: ")] == ["metricStatus: WARNING"]
    assert [line for line in lines if line.startswith("serviceURI: ")] == [f"serviceURI: door{' '.join(value.split())}"]
    assert len(lines) == len(KEYS) + 4     # voName, detailsData (milestone line), one detail line, EOT


def test_control_characters_in_values_are_shown_not_sent() -> None:
    bad = result(details=["\x1b[2Jcleared", "nul\x00byte"])
    bad.summary = "\x1b]0;title\x07summary"
    text = message(bad, NOW)
    assert "\x1b" not in text and "\x00" not in text and "\x07" not in text
    assert "summaryData: \\x1b]0;title\\x07summary\n" in text
    assert "\n\\x1b[2Jcleared\nnul\\x00byte\nEOT\n" in text


def test_export_opens_read_only_and_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the directory is created or changed (as report), and the history is read in pages."""
    import os

    from gridready import store as store_module
    db = str(tmp_path / "h.db")
    ingest(tmp_path, db, *[probe_result("pic", "xrootd", f"door{i}.pic.es:1094", f"2010-06-0{i}T10:00:00Z",
                                        ("xroot", "COMPLIANT", "ok", 10)) for i in range(1, 6)])
    capsys.readouterr()
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    opened: list[bool] = []
    real = store_module.Store.iter_results

    def small_pages(self: store_module.Store, since: datetime | None = None, *, page: int = 500):  # type: ignore[no-untyped-def]
        opened.append(self.readonly)
        return real(self, since, page=2)

    monkeypatch.setattr(store_module.Store, "iter_results", small_pages)
    assert main(["export", "--db", db]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("hostName: ")] == \
        [f"hostName: door{i}.pic.es" for i in range(1, 6)]
    assert opened == [True]
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    os.chmod(db, 0o444)
    assert main(["export", "--db", db]) == 0
