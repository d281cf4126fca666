"""Whole-check time budget and the name of the stage currently running.

A probe has one deadline (``-t``); a sweep gives each check its own. Every
blocking operation asks the deadline for its remaining time, so no read can
outlive the budget, and records a stage so a timeout can say what hung.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from gridready.errors import CheckTimeout


class Deadline:
    """A monotonic point in time by which a check must finish."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f"timeout must be positive, got {seconds!r}")
        self.seconds = float(seconds)
        self.started = time.monotonic()
        self._end = self.started + self.seconds
        self.stage = "starting"

    def remaining(self) -> float:
        """Seconds left; raises CheckTimeout when none are."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise CheckTimeout(self.stage, self.seconds)
        return left

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def timeout(self) -> CheckTimeout:
        """The error to raise when a blocking call ran out of time."""
        return CheckTimeout(self.stage, self.seconds)

    @contextmanager
    def during(self, stage: str) -> Iterator[None]:
        """Name the stage for timeout messages; restores the outer stage after."""
        outer, self.stage = self.stage, stage
        self.remaining()
        try:
            yield
        finally:
            self.stage = outer
