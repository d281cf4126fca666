"""``gridready rules validate``: exit 0 on the bundled rules, 2 with file:line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO, run_py, write

CLI = REPO / "gridready" / "cli.py"
GOOD = (REPO / "config" / "milestones.yaml").read_text(encoding="utf-8")


def validate(*args: str) -> tuple[int, str, str]:
    done = run_py(CLI, "rules", "validate", *args)
    return done.returncode, done.stdout, done.stderr


def test_bundled_rules_are_valid() -> None:
    rc, out, err = validate()
    assert (rc, err) == (0, "")
    assert out.strip().endswith("OK (4 milestones, 2 waivers)")


@pytest.mark.parametrize("edit, where, why", [
    (("    warn_days: 30\n    scope: {tiers: [1]}\n", "    warn_days: 30\n    colour: red\n    scope: {tiers: [1]}\n"),
     ":9:", "milestones[0].colour: unknown key 'colour'"),
    (("id: dcache-supported-release", "id: glexec-scas-argus-t1"), ":16:", "duplicate id 'glexec-scas-argus-t1'"),
    (("deadline: 2010-06-30", "deadline: 2010-06-31"), ":19:", "bad date '2010-06-31'"),
    (("check: fts_channels", "check: fts"), ":44:", "unknown check 'fts'"),
    (("  - milestone: glexec-scas-argus-t1\n", "  - milestone: glexec-t1\n"), ":49:",
     "waiver for unknown milestone 'glexec-t1'"),
    (("expect: {protocol: xroot", "expect: {protocl: xroot"), ":33:", "milestones[2].expect: unknown key 'protocl'"),
])
def test_each_bad_input_exits_2_naming_file_and_line(tmp_path: Path, edit: tuple[str, str], where: str,
                                                     why: str) -> None:
    assert edit[0] in GOOD
    path = write(tmp_path / "milestones.yaml", GOOD.replace(edit[0], edit[1], 1))
    rc, out, err = validate(str(path))
    assert rc == 2
    assert out.strip() == f"{path}: INVALID (1 problem)"
    (line,) = err.splitlines()
    assert line.startswith(f"{path}{where} ") and why in line


def test_unreadable_file_is_an_error_exit_3(tmp_path: Path) -> None:
    # Exit 2 means "invalid rules"; a file that cannot be read at all is an error like any other (exit 3).
    for path, why in ((tmp_path / "nope.yaml", "No such file or directory"),
                      (tmp_path, "a directory, not a regular file"),
                      (Path("/dev/zero"), "a character device, not a regular file")):
        rc, out, err = validate(str(path))
        assert (rc, out, err) == (3, "", f"gridready: {path}: cannot read milestones file: {why}\n")


def test_counts_are_singular_for_one(tmp_path: Path) -> None:
    # One milestone, one waiver: the bundled first milestone and its waiver alone.
    head, _, rest = GOOD.partition("  - id: dcache-supported-release")
    waivers = "waivers:" + GOOD.split("\nwaivers:", 1)[1]
    one_waiver = waivers.split("\n  - milestone:")
    text = head.rstrip() + "\n\n" + one_waiver[0] + "\n  - milestone:" + one_waiver[1]
    path = write(tmp_path / "one.yaml", text)
    rc, out, err = validate(str(path))
    assert (rc, err) == (0, ""), (out, err)
    assert out.strip().endswith("OK (1 milestone, 1 waiver)")
