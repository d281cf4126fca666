"""Rendering merged sites as ``sites.yaml`` text, checked with the sweep's own loader.

(The file is replaced with :func:`gridready.localfile.write_atomic`.)

The text is a pure function of the merged sites: keys in the docs/inventory.md order,
sites sorted by (tier, name), storage by host, doors sorted, and no clock:
the per-site comment carries the date given with ``--date`` or found in the
sources' own timestamps, so an unchanged input gives a byte-identical file.
Strings are written plain only when YAML cannot read them as anything but
that string; otherwise as JSON-escaped double-quoted scalars (valid YAML).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gridready.configfile import load_inventory
from gridready.errors import ConfigError
from gridready.topology.merge import SiteOut

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*\Z")
_SPECIAL = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def scalar(value: Any) -> str:
    """One YAML scalar: integers as they are, strings plain when safe, else double-quoted."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"cannot write {type(value).__name__} into sites.yaml")
    if isinstance(value, int):
        return str(value)
    if _PLAIN.match(value) and value.lower() not in _SPECIAL:
        return value
    return json.dumps(value)


def _item(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    return scalar(value)


def _comment(text: str) -> str:
    # Names and labels come from remote sources: no line breaks or controls in a comment.
    return "".join(c if c.isprintable() else "?" for c in text)


def render(sites: Sequence[SiteOut], header: Sequence[str]) -> str:
    """The whole ``sites.yaml`` text; ``header`` lines become leading comments."""
    out = [f"# {_comment(line)}" for line in header]
    out.append("sites:" if sites else "sites: []")
    for site in sites:
        when = f"; as of {site.date}" if site.date else "; undated"
        out.append(f"  # {_comment(site.name)}: {_comment(', '.join(site.sources) or 'overlay')}{when}")
        first = True
        for key, value in site.fields.items():
            lead = "  - " if first else "    "
            first = False
            if isinstance(value, list):
                if not value:
                    continue
                out.append(f"{lead}{key}:")
                out.extend(f"      - {_item(v)}" for v in value)
            elif isinstance(value, dict):
                out.append(f"{lead}{key}: {_item(value)}")
            else:
                out.append(f"{lead}{key}: {scalar(value)}")
    return "\n".join(out) + "\n"


def validate(text: str, directory: Path) -> None:
    """Load ``text`` with the sweep's inventory loader; raises ConfigError naming each problem."""
    fd, name = tempfile.mkstemp(prefix=".sites-check-", suffix=".yaml", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        load_inventory(name)
    except ConfigError as exc:
        raise ConfigError([f"the imported inventory does not load: {p.split(': ', 1)[-1]}"
                           for p in exc.problems]) from None
    finally:
        os.unlink(name)
