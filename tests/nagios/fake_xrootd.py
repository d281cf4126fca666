#!/usr/bin/env python3
"""tests/fake_probe.py's scripted check behind the shipped check_gridready_xrootd command line.

Takes the options the command passes (-H, -p, then $ARG2$), so the Nagios
harness can be tested on every state, timeouts included, without a server.
"""

from __future__ import annotations

import argparse

from gridready.nagios.runtime import main
from tests.fake_probe import FakeCheck


class CommandLineFakeCheck(FakeCheck):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("-H", "--host", required=True)
        parser.add_argument("-p", "--port", type=int, default=1094)


if __name__ == "__main__":
    main("xrootd", check=CommandLineFakeCheck())
