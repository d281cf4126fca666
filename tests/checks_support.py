"""Shared helpers for tests/test_checks_*.py: write rules, run check_gridready in-process."""

from __future__ import annotations

import io
from pathlib import Path

from gridready.nagios.generic import run_generic


def rules_file(tmp: Path, check: str, expect: str, *, deadline: str = "2026-06-30",
               scope: str = "{tiers: [0, 1]}") -> Path:
    """A milestones file with one milestone ``m1`` of ``check`` (``expect`` as YAML flow text)."""
    path = tmp / "milestones.yaml"
    path.write_text(f"""milestones:
  - id: m1
    title: test milestone
    source: test
    deadline: {deadline}
    warn_days: 30
    scope: {scope}
    check: {check}
    expect: {expect}
""", encoding="utf-8")
    return path


def probe(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = run_generic(argv, out)
    return code, out.getvalue()
