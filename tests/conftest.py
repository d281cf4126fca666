"""Suite-wide pytest configuration.

Integration tests skip when a real server (xrootd, slapd, nagios4) is not
installed, so a developer without them can still run the rest. CI sets
GRIDREADY_REQUIRE_SERVERS=1: there every server is installed and the tests run
as root, so any skip would hide a broken install step and is turned into a
failure.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

REQUIRE_SERVERS = os.environ.get("GRIDREADY_REQUIRE_SERVERS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVERS and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"GRIDREADY_REQUIRE_SERVERS=1 but this test was skipped: {report.longrepr}"
