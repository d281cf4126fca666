"""The pure report formatters (table, markdown, ssb, json) and the published JSON Schema."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timezone

import jsonschema
import pytest

from gridready.checks.interface import Severity
from gridready.models import Milestone, Rules, Scope, Site, Waiver
from gridready.report import jsonout, markdown, schema, ssb, table
from gridready.report.matrix import Report, build_matrix, changes
from gridready.store import Outcome, Record, StoredOutcome
from tests.helpers import REPO

XROOT = Milestone(id="xroot", title="xroot published", source="GDB 2010-06", deadline=date(2010, 9, 30),
                  check="xrootd", scope=Scope(tiers=(0, 1)))
FTS = Milestone(id="fts", title="FTS channels", source="GDB 2010-02", deadline=date(2010, 3, 31),
                check="fts_channels", scope=Scope(tiers=(1,)))
RULES = Rules((XROOT, FTS), (Waiver("xroot", "pic", "agreed", date(2010, 12, 31)),))
SITES = [Site("CERN-PROD", 0, "CH-CERN"), Site("pic", 1, "ES-PIC"), Site("RAL-LCG2", 1, "UK-T1-RAL")]
CHECKED = datetime(2010, 6, 8, 10, 0, tzinfo=timezone.utc)
GENERATED = datetime(2010, 10, 8, 12, 30, 5, tzinfo=timezone.utc)


def rec(site: str, mid: str, outcome: Outcome, message: str, severity: Severity = Severity.CRITICAL,
        when: datetime = CHECKED) -> Record:
    check = "fts_channels" if mid == "fts" else "xrootd"        # the milestone's own check
    return Record(site, check, f"door.{site.lower()}:1094", "t", when,
                  StoredOutcome(mid, outcome, message, severity, "fix it" if outcome is Outcome.FAIL else ""))


RECORDS = [rec("CERN-PROD", "xroot", Outcome.PASS, "published as 'xroot'"),
           rec("pic", "xroot", Outcome.FAIL, "published as 'root'"),
           rec("pic", "fts", Outcome.FAIL, "channel drained", Severity.WARNING),
           rec("RAL-LCG2", "xroot", Outcome.FAIL, "published as 'xrootd'"),
           rec("RAL-LCG2", "fts", Outcome.UNKNOWN, "timeout after 10s while reading the channel list")]


def report(since: bool = False) -> Report:
    matrix = build_matrix(SITES, RULES, RECORDS, date(2010, 10, 8))
    found = None
    if since:
        before = build_matrix(SITES, RULES, [rec("RAL-LCG2", "xroot", Outcome.PASS, "ok")], date(2010, 6, 1))
        found = tuple(changes(before, matrix))
    return Report(matrix, GENERATED, "history.db", date(2010, 6, 1) if since else None, found)


def test_table() -> None:
    assert table.render(report()) == (
        "GDB milestone compliance as of 2010-10-08 (history.db)\n"
        "\n"
        "site       tier    xroot             fts\n"
        "                   due 2010-09-30    due 2010-03-31\n"
        "---------  ------  ----------------  ----------------\n"
        "CERN-PROD  0       COMPLIANT         NOT_APPLICABLE\n"
        "pic        1       WAIVED            OVERDUE (191d)\n"
        "RAL-LCG2   1       OVERDUE (8d)      UNKNOWN\n"
        "compliant          1/3 compliant     0/2 compliant\n")


def test_table_colours_only_when_asked() -> None:
    coloured = table.render(report(), colour=True)
    assert "\x1b[1;31mOVERDUE (8d)\x1b[0m" in coloured and "\x1b[1;31mOVERDUE (191d)\x1b[0m" in coloured
    assert "\x1b[32mCOMPLIANT\x1b[0m" in coloured and "\x1b[1;90mUNKNOWN\x1b[0m" in coloured
    # Not in COMPLIANT's green (was: every OK state green): each state its own colour.
    assert "\x1b[35mWAIVED\x1b[0m" in coloured and "\x1b[2mNOT_APPLICABLE\x1b[0m" in coloured
    assert "\x1b" not in table.render(report())
    # Colour codes do not disturb the column widths.
    plain_lines = table.render(report()).splitlines()
    coloured_lines = [line.replace("\x1b[0m", "") for line in coloured.splitlines()]
    for code in ("\x1b[1;31m", "\x1b[32m", "\x1b[35m", "\x1b[2m", "\x1b[1;90m"):
        coloured_lines = [line.replace(code, "") for line in coloured_lines]
    assert coloured_lines == plain_lines


CHANGES = ["CERN-PROD xroot: UNKNOWN -> COMPLIANT (newly-compliant)",
           "pic xroot: UNKNOWN -> WAIVED (other)",
           "pic fts: UNKNOWN -> OVERDUE (other)",
           "RAL-LCG2 xroot: COMPLIANT -> OVERDUE (regression)"]


def test_table_changes_section() -> None:
    text = table.render(report(since=True))
    assert text.endswith("\n\nChanges since 2010-06-01:\n" + "".join(f"  {c}\n" for c in CHANGES))
    assert "Changes" not in table.render(report())


def test_markdown() -> None:
    lines = markdown.render(report(since=True)).splitlines()
    assert lines[:5] == ["## GDB milestone compliance as of 2010-10-08", "", "Results: history.db", "",
                         "| Site          | Tier   | xroot<br>due 2010-09-30   | fts<br>due 2010-03-31   |"]
    assert lines[6:10] == [
        "| CERN-PROD     | 0      | COMPLIANT                 | NOT_APPLICABLE          |",
        "| pic           | 1      | WAIVED                    | OVERDUE (191d)          |",
        "| RAL-LCG2      | 1      | OVERDUE (8d)              | UNKNOWN                 |",
        "| **compliant** |        | **1/3 compliant**         | **0/2 compliant**       |"]
    assert "- **xroot**: xroot published (GDB 2010-06, due 2010-09-30)" in lines
    assert "- **OVERDUE**: fails after the deadline (N days overdue)" in lines
    assert len([line for line in lines if line.startswith("- **") and line.split("**")[1].isupper()]) == 7
    assert lines[-6:] == ["### Changes since 2010-06-01", ""] + [f"- {c}" for c in CHANGES]


def test_ssb_feed() -> None:
    # Each line carries its result's check time (was: the generation time); never checked: the report time.
    assert ssb.render(report()).splitlines() == [
        "2010-06-08 10:00:00\tCERN-PROD\txroot:COMPLIANT\tgreen\t",
        "2010-10-08 12:30:05\tCERN-PROD\tfts:NOT_APPLICABLE\tgreen\t",
        "2010-06-08 10:00:00\tpic\txroot:WAIVED\tgreen\t",
        "2010-06-08 10:00:00\tpic\tfts:OVERDUE\tred\t",
        "2010-06-08 10:00:00\tRAL-LCG2\txroot:OVERDUE\tred\t",
        "2010-06-08 10:00:00\tRAL-LCG2\tfts:UNKNOWN\tgrey\t"]
    line = ssb.render(report(), url="https://gdb.example/{milestone}?site={site}").splitlines()[4]
    assert line.split("\t")[4] == "https://gdb.example/xroot?site=RAL-LCG2"


def test_json_document() -> None:
    doc = jsonout.document(report(since=True))
    assert doc["schema"] == "gridready.report/1" and doc["generated_at"] == "2010-10-08T12:30:05Z"
    assert doc["as_of"] == "2010-10-08" and doc["since"] == "2010-06-01"
    assert doc["milestones"][0] == {"id": "xroot", "title": "xroot published", "deadline": "2010-09-30",
                                    "compliant": 1, "applicable": 3, "check": "xrootd", "source": "GDB 2010-06",
                                    "warn_days": 30, "counts": {"COMPLIANT": 1, "OVERDUE": 1, "WAIVED": 1}}
    pic = doc["sites"][1]
    assert (pic["name"], pic["tier"], pic["wlcg_name"]) == ("pic", 1, "ES-PIC")
    assert pic["milestones"][0] == {
        "id": "xroot", "compliance": "WAIVED", "state": "OK", "checked_at": "2010-06-08T10:00:00Z",
        "message": "published as 'root'; waived until 2010-12-31: agreed", "days_left": -8,
        "host": "door.pic:1094", "waiver": {"reason": "agreed", "expires": "2010-12-31"}, "remediation": "fix it"}
    # A drained channel after the deadline: OVERDUE, but a degraded finding alarms WARNING.
    assert (pic["milestones"][1]["compliance"], pic["milestones"][1]["state"],
            pic["milestones"][1]["days_left"]) == ("OVERDUE", "WARNING", -191)
    ral = doc["sites"][2]["milestones"][0]
    assert (ral["compliance"], ral["state"]) == ("OVERDUE", "CRITICAL")
    cern_fts = doc["sites"][0]["milestones"][1]
    assert (cern_fts["compliance"], cern_fts["checked_at"], cern_fts["host"]) == ("NOT_APPLICABLE", None, None)
    assert doc["changes"][0] == {"site": "CERN-PROD", "milestone": "xroot", "from": "UNKNOWN", "to": "COMPLIANT",
                                 "kind": "newly-compliant"}
    assert [(c["site"], c["milestone"], c["kind"]) for c in doc["changes"]] == [
        ("CERN-PROD", "xroot", "newly-compliant"), ("pic", "xroot", "other"), ("pic", "fts", "other"),
        ("RAL-LCG2", "xroot", "regression")]
    assert "changes" not in jsonout.document(report()) and "since" not in jsonout.document(report())
    assert json.loads(jsonout.render(report())) == jsonout.document(report())


@pytest.mark.parametrize("since", [False, True])
def test_json_validates_against_the_published_schema(since: bool) -> None:
    doc = jsonout.document(report(since))
    jsonschema.Draft202012Validator(schema.json_schema()).validate(doc)
    schema.Report.model_validate(doc)


def test_json_has_exactly_the_schema_fields() -> None:
    # Every field the formatter writes is defined (and documented) in the models, and vice versa.
    doc = jsonout.document(report(since=True))
    assert set(doc) == {f.alias or n for n, f in schema.Report.model_fields.items()}
    assert set(doc["milestones"][0]) == set(schema.MilestoneSummary.model_fields)
    assert set(doc["sites"][0]) == set(schema.Site.model_fields)
    assert set(doc["sites"][0]["milestones"][0]) == set(schema.SiteMilestone.model_fields)
    assert set(doc["changes"][0]) == {f.alias or n for n, f in schema.Change.model_fields.items()}


def test_schema_rejects_a_broken_report() -> None:
    doc = jsonout.document(report())
    doc["sites"][0]["milestones"][0]["compliance"] = "GREEN"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema.json_schema())
    del doc["milestones"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema.json_schema())


def test_committed_schema_is_the_generated_one() -> None:
    committed = (REPO / "docs" / "report.schema.json").read_text(encoding="utf-8")
    assert committed == schema.json_schema_text(), "regenerate: gridready report --schema > docs/report.schema.json"


# --- untrusted values (site names, titles, sources from files and ingest) -----------------------------------

EVIL_SITE = "EVIL\x1b]0;pwned\x07\x1b[2J|x\n| injected | row |<script>alert(1)</script>`code`[link](http://x)"
EVIL_TITLE = "title | with pipe\nand newline <img src=x onerror=alert(1)> **bold** \x1b[31mred"
EVIL_MS = Milestone(id="xroot", title=EVIL_TITLE, source="GDB\t2010-06 [minutes](http://evil)",
                    deadline=date(2010, 9, 30), check="xrootd", scope=Scope(tiers=(0, 1)))


def evil_report() -> Report:
    site = Site(EVIL_SITE, 1, "EV\x1bIL")
    records = [Record(EVIL_SITE, "xrootd", "door\x1b[2J:1094", "t", CHECKED,
                      StoredOutcome("xroot", Outcome.FAIL, "published as 'root'\x1b[2J\n<script>", Severity.CRITICAL,
                                    "fix | it"))]
    matrix = build_matrix([site], Rules((EVIL_MS,)), records, date(2010, 10, 8))
    before = build_matrix([site], Rules((EVIL_MS,)), [], date(2010, 6, 1))
    return Report(matrix, GENERATED, "/tmp/h\x1b[2J|.db", date(2010, 6, 1), tuple(changes(before, matrix)))


def test_table_shows_control_characters_and_keeps_one_row_per_site() -> None:
    text = table.render(evil_report())
    assert "\x1b" not in text and "\x07" not in text
    lines = text.splitlines()
    assert lines[0] == "GDB milestone compliance as of 2010-10-08 (/tmp/h\\x1b[2J|.db)"
    row = next(line for line in lines if line.startswith("EVIL"))
    assert row.startswith("EVIL\\x1b]0;pwned\\x07\\x1b[2J|x\\x0a| injected | row |<script>")
    assert row.rstrip().endswith("OVERDUE (8d)")
    assert len(lines) == 7 + 3        # title, blank, 2 header lines, rule, 1 site, tally, blank, changes, 1 change
    assert lines[-1] == "  EVIL\\x1b]0;pwned\\x07\\x1b[2J|x\\x0a| injected | row |<script>alert(1)</script>`code`" \
                        "[link](http://x) xroot: UNKNOWN -> OVERDUE (other)"


def test_markdown_escapes_pipes_newlines_html_and_markup() -> None:
    text = markdown.render(evil_report())
    assert "\x1b" not in text and "<script>" not in text and "<img" not in text
    lines = text.splitlines()
    table_rows = [line for line in lines if line.startswith("| EVIL")]
    assert len(table_rows) == 1
    cell = table_rows[0].split(" | ")[0]
    assert cell == ("| EVIL\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J\\|x \\| injected \\| row \\|&lt;script&gt;alert(1)"
                    "&lt;/script&gt;\\`code\\`\\[link\\](http://x)")
    # Unescaped pipes in the row: only the column separators (3 columns: site, tier, xroot).
    assert len([i for i, ch in enumerate(table_rows[0]) if ch == "|" and table_rows[0][i - 1] != "\\"]) == 4
    assert ("- **xroot**: title \\| with pipe and newline &lt;img src=x onerror=alert(1)&gt; \\*\\*bold\\*\\* "
            "\\\\x1b\\[31mred (GDB 2010-06 \\[minutes\\](http://evil), due 2010-09-30)") in lines
    assert "Results: /tmp/h\\\\x1b\\[2J\\|.db" in lines
    assert lines[-1].startswith("- EVIL\\\\x1b\\]0;pwned") and lines[-1].endswith(" xroot: UNKNOWN -> OVERDUE (other)")


def test_ssb_fields_hold_no_tab_newline_or_control_and_urls_are_quoted() -> None:
    text = ssb.render(evil_report(), url="https://ssb.example/{milestone}?site={site}")
    assert "\x1b" not in text and "\x07" not in text
    lines = text.splitlines()
    assert len(lines) == 1
    fields = lines[0].split("\t")
    assert len(fields) == 5
    assert fields[1] == ("EVIL\\x1b]0;pwned\\x07\\x1b[2J|x | injected | row |<script>alert(1)</script>`code`"
                         "[link](http://x)")
    assert fields[2:4] == ["xroot:OVERDUE", "red"]
    assert fields[4].startswith("https://ssb.example/xroot?site=EVIL%1B%5D0%3Bpwned%07%1B%5B2J%7Cx%0A%7C")


def test_json_escapes_by_json_rules_and_keeps_the_values() -> None:
    text = jsonout.render(evil_report())
    assert "\x1b" not in text and "\x07" not in text
    doc = json.loads(text)
    assert doc["sites"][0]["name"] == EVIL_SITE
    assert doc["sites"][0]["milestones"][0]["message"] == "published as 'root'\x1b[2J\n<script>"
    assert doc["milestones"][0]["title"] == EVIL_TITLE


def test_no_color_and_distinct_terminal_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    from gridready.report.words import _ANSI, use_colour

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(Tty()) is True and use_colour(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_colour(Tty()) is False
    monkeypatch.setenv("NO_COLOR", "")       # no-color.org: only a non-empty value disables colour
    assert use_colour(Tty()) is True
    assert len(set(_ANSI.values())) == len(_ANSI) == 7
