#!/usr/bin/env python3
"""A probe executable around a controllable fake check, for runtime tests.

It runs the real probe runtime (argument parsing, deadline, SIGALRM,
output, exit codes); only the check's collect/assess are scripted by --mode.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gridready.checks.interface import Assessment, Finding, Observation, PerfValue, Request, Severity
from gridready.deadline import Deadline
from gridready.errors import SourceError
from gridready.models import Site
from gridready.nagios.runtime import main

MODES = ("pass", "fail", "degraded", "error", "raise", "hang", "spin", "negative", "threshold")


class FakeCheck:
    name = "xrootd"
    description = "Fake check driven by --mode, for testing the probe runtime."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--mode", choices=MODES, default="pass")

    def validate_expect(self, expect: Mapping[str, Any]) -> Sequence[str]:
        return [f"unknown expect key '{k}'" for k in expect if k != "want"]

    def requests_for_site(self, site: Site) -> Sequence[Mapping[str, Any]]:
        return []

    def collect(self, request: Request, deadline: Deadline) -> Observation:
        mode = request.opt("mode")
        if mode == "raise":
            raise RuntimeError("boom from the fake check")
        if mode == "error":
            raise SourceError("fake.example:1094: connection refused")
        if mode == "hang":
            with deadline.during("waiting for the fake server's reply"):
                time.sleep(120)
        if mode == "spin":
            with deadline.during("polling the fake server"):
                for _ in range(100000):
                    deadline.remaining()
                    time.sleep(0.01)
        value = -3.0 if mode == "negative" else 4.2
        crit = "0:1" if mode == "threshold" else None
        return Observation(target="fake.example:1094", data=mode,
                           metrics=[PerfValue("handshake_ms", value, "ms", crit=crit, min=None)],
                           details=["fake detail line"])

    def assess(self, observation: Observation, expect: Mapping[str, Any], request: Request) -> Assessment:
        if observation.data == "fail":
            return Assessment((Finding(False, "published as 'root'", "publish 'xroot'"),))
        if observation.data == "degraded":
            return Assessment((Finding(False, "channel drained", "set it Active", Severity.WARNING),))
        return Assessment((Finding(True, "published as 'xroot'"),))


if __name__ == "__main__":
    main("xrootd", check=FakeCheck())
