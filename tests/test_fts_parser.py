"""The FTS 2 ``glite-transfer-channel-list -v [-x]`` dump parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridready.deadline import Deadline
from gridready.errors import SourceError
from gridready.fts.channels import VOShare, parse_channel_list, read_channel_list
from tests.helpers import REPO, write

# Three channels as one FTS server printed them, the second with -x fields.
DUMP = """\
# glite-transfer-channel-list -v, fts.example, 2010-06-08
Channel: STAR-RALLCG2
Between: * and RAL-LCG2
State: Active
Contact: lcg-support@example.org
Bandwidth: 0
Nominal throughput: 0
Number of files: 9, streams: 1
TCP buffer size: default
Number of VO shares: 2
VO 'atlas' share is: 50 and is limited to 10 transfers
VO 'cms' share is: 50 and is not limited

Channel: FZK-RAL
Between: FZK-LCG2 and RAL-LCG2
State: Drain
Contact: (null)
Bandwidth: 0
Nominal throughput: 0
Number of files: 20, streams: 5
TCP buffer size: 2097152
Message: pool upgrade
Last modification by: /C=UK/O=eScience/CN=fts admin
Last modification time: 2010-05-27 09:12:44
Transfer type: urlcopy
Number of VO shares: 1
VO 'lhcb' share is: 0 and is not limited

Channel: CERN-RAL
Between: CERN-PROD and RAL-LCG2
State: Stopped
Contact: fts-support@cern.ch
Number of files: 30, streams: 10
TCP buffer size: default
Number of VO shares: 0
"""


def test_multi_channel_dump_with_extended_fields() -> None:
    listing = parse_channel_list(DUMP, "fts.txt")
    assert listing.problems == ()
    assert [c.name for c in listing.channels] == ["STAR-RALLCG2", "FZK-RAL", "CERN-RAL"]
    star, fzk, cern = listing.channels
    assert (star.source, star.destination, star.state, star.contact) == ("*", "RAL-LCG2", "Active",
                                                                         "lcg-support@example.org")
    assert (star.files, star.streams, star.bandwidth, star.nominal_throughput) == (9, 1, 0, 0)
    assert star.tcp_buffer_size == "default" and star.line == 2
    assert star.vo_shares == (VOShare("atlas", 50, 10, 11), VOShare("cms", 50, None, 12))
    assert (fzk.source, fzk.state, fzk.contact, fzk.tcp_buffer_size) == ("FZK-LCG2", "Drain", None, "2097152")
    assert dict(fzk.extended) == {"Message": "pool upgrade",
                                  "Last modification by": "/C=UK/O=eScience/CN=fts admin",
                                  "Last modification time": "2010-05-27 09:12:44",
                                  "Transfer type": "urlcopy"}
    assert fzk.vo_shares == (VOShare("lhcb", 0, None, 27),)
    assert (cern.state, cern.files, cern.streams, cern.vo_shares, cern.bandwidth) == ("Stopped", 30, 10, (), None)


def test_malformed_lines_are_reported_with_line_numbers_and_the_rest_is_parsed() -> None:
    lines = DUMP.splitlines()
    lines[7] = "Number of files: nine, streams: 1"          # line 8
    lines[10] = "VO 'atlas' share is: fifty"                  # line 11
    lines[15] = "State:"                                      # line 16
    lines.insert(20, "%%% garbage from a broken terminal %%%")  # line 21
    listing = parse_channel_list("\n".join(lines) + "\n", "dump.txt")
    assert listing.problems == (
        "dump.txt:8: channel STAR-RALLCG2: bad 'Number of files' value 'nine, streams: 1', expected 'N, streams: M'",
        "dump.txt:11: unreadable VO share line 'VO 'atlas' share is: fifty'",
        "dump.txt:2: channel STAR-RALLCG2 (line 2) declares 2 VO shares but lists 1",
        "dump.txt:16: channel FZK-RAL: empty 'State:' line",
        "dump.txt:21: unrecognised line '%%% garbage from a broken terminal %%%'",
        "dump.txt:14: channel FZK-RAL (line 14) has no readable 'State:' line",
    )
    star, fzk, cern = listing.channels
    assert (star.files, star.streams, star.state, [s.vo for s in star.vo_shares]) == (None, None, "Active", ["cms"])
    assert (fzk.state, fzk.contact, fzk.files, fzk.extended["Transfer type"]) == (None, None, 20, "urlcopy")
    assert (cern.name, cern.state, cern.streams) == ("CERN-RAL", "Stopped", 10)


def test_lines_outside_channels_bad_between_and_repeats() -> None:
    text = ("State: Active\n"
            "Channel: \n"
            "Between: CERN-PROD to pic\n"
            "State: Active\n"
            "State: Halted\n"
            "VO 'atlas' share is: 10\n"
            "VO 'ATLAS' share is: 20 and is not limited\n"
            "Channel: star-pic\n"
            "Between: STAR and pic\n"
            "State: Inactive\n")
    listing = parse_channel_list(text, "x")
    assert listing.problems == (
        "x:1: 'State' line before any 'Channel:' line",
        "x:2: 'Channel:' line without a channel name",
        "x:3: channel (unnamed channel at line 2): bad 'Between:' value 'CERN-PROD to pic', "
        "expected 'SITE and SITE'",
        "x:5: channel (unnamed channel at line 2): second 'State' line (first at line 4); the last one counts",
        "x:7: channel (unnamed channel at line 2): VO 'ATLAS' listed twice; the last line counts",
        "x:2: channel (unnamed channel at line 2) (line 2) has no readable 'Between:' line",
    )
    first, star = listing.channels
    assert (first.state, first.vo_shares) == ("Halted", (VOShare("ATLAS", 20, None, 7),))
    assert (star.name, star.source, star.destination, star.state) == ("STAR-PIC", "*", "pic", "Inactive")


def test_bundled_example_dumps_parse_cleanly() -> None:
    files = sorted((REPO / "config" / "example" / "fts").glob("*.txt"))
    assert len(files) == 12
    counts = {}
    for path in files:
        listing = read_channel_list(str(path), Deadline(5))
        assert listing.problems == (), path
        counts[path.stem] = len(listing.channels)
    assert counts["CERN-PROD"] == 11 and counts["INFN-T1"] == 10 and counts["RAL-LCG2"] == 13


@pytest.mark.parametrize("content, why", [
    (None, "cannot read FTS channel listing: No such file or directory"),
    (b"", "no FTS channels found"),
    (b"hello world\n", "no FTS channels found (expected 'Channel: NAME' blocks from glite-transfer-channel-list -v); "
                       "first problem: "),
    (b"Channel: A\x00\x01", "binary data (NUL byte at offset 10)"),
    (b"Channel: \xff\xfe", "not UTF-8 text (bad byte at offset 9)"),
])
def test_unusable_files_raise_one_line_naming_the_file(tmp_path: Path, content: bytes | None, why: str) -> None:
    path = tmp_path / "listing.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        read_channel_list(str(path), Deadline(5))
    message = str(err.value)
    assert message.startswith(f"{path}: ") and why in message and "\n" not in message


def test_directory_and_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SourceError, match="a directory, not a regular file"):
        read_channel_list(str(tmp_path), Deadline(5))
    import gridready.fts.channels as channels
    monkeypatch.setattr(channels, "MAX_BYTES", 100)
    big = write(tmp_path / "big.txt", DUMP)
    with pytest.raises(SourceError, match="larger than"):
        read_channel_list(str(big), Deadline(5))
