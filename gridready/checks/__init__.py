"""The registry of checks: one module per check, imported only when used.

Each module ``gridready.checks.<name>`` defines ``CHECK``, an object that
satisfies ``gridready.checks.interface.Check``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from gridready.models import CHECKS

if TYPE_CHECKING:
    from gridready.checks.interface import Check


def load_check(name: str) -> Check:
    if name not in CHECKS:
        raise KeyError(f"unknown check '{name}' (known: {', '.join(CHECKS)})")
    module = importlib.import_module(f"gridready.checks.{name}")
    check: Check = module.CHECK
    return check
