"""Where the bundled configuration and example grid snapshot live.

In a source checkout they are the repository's ``config/``; an installed
wheel carries the same tree as the package ``gridready._config``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def config_dir() -> Path:
    installed = _PACKAGE / "_config"
    try:
        if (installed / "milestones.yaml").is_file():
            return installed
    except OSError:
        # Present but unreadable (e.g. installed under a 0700 home): the
        # reader then names this path and the cause in one line.
        return installed
    return _PACKAGE.parent / "config"


def milestones_file() -> Path:
    return config_dir() / "milestones.yaml"


def inventory_file() -> Path:
    return config_dir() / "sites.yaml"


def example_dir() -> Path:
    """The example grid snapshot (recorded BDII, SRR, FTS and glexec data)."""
    return config_dir() / "example"
