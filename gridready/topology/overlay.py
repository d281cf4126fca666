"""The hand-kept overlay file: per-site fields that survive every re-import.

Format (docs/inventory.md)::

    defaults: {bdii: "ldap://top-bdii.example.org:2170"}   # every imported site
    sites:
      - {name: RAL-LCG2, fts_channels: fts/RAL-LCG2.txt}   # override or add fields
      - {name: NEW-T2, tier: 2, storage: [se.example.org]} # a site no source knows
      - {name: pic, xrootd: null}                          # null or [] removes a field

Keys are those of ``sites.yaml``. Relative paths are relative to the overlay
file and are rewritten relative to the output file, so the written inventory
points at the same files. Problems are ConfigError lines ``file:line: what``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gridready.errors import ConfigError
from gridready.topology.merge import FIELDS, Overlay
from gridready.topology.records import label
from gridready.yamlfile import load_yaml

#: Fields holding a source URI or a file path.
PATH_FIELDS = ("bdii", "srr", "fts", "fts_channels", "glexec")


def relocate(value: str, from_dir: Path, to_dir: Path) -> str:
    """A path written relative to ``from_dir`` rewritten relative to ``to_dir``; URIs unchanged."""
    if "://" in value or os.path.isabs(value):
        return value
    return os.path.relpath(os.path.normpath(from_dir / value), to_dir)


def load_overlay(path: str, output_dir: Path) -> Overlay:
    """Read and check the overlay at ``path``; raises ConfigError listing every problem."""
    raw, lines = load_yaml(path, "overlay file")
    base = Path(path).resolve().parent
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError([f"{lines.where(())}: expected a mapping with 'defaults' and/or 'sites'"])
    for key in raw:
        if key not in ("defaults", "sites"):
            problems.append(f"{lines.where((key,))}: unknown key '{key}' (allowed: defaults, sites)")

    def fields(value: Any, where: tuple[str | int, ...], allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            problems.append(f"{lines.where(where)}: expected a mapping of site fields")
            return {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            at = lines.where(where + (key,))
            if key not in allowed:
                problems.append(f"{at}: unknown key '{key}' (allowed: {', '.join(allowed)})")
            elif key == "tier" and (isinstance(item, bool) or not isinstance(item, int) or item < 0):
                problems.append(f"{at}: tier must be a whole number >= 0, got {item!r}")
            elif key in PATH_FIELDS + ("name", "wlcg_name") and item is not None and \
                    (not isinstance(item, str) or not item.strip()):
                problems.append(f"{at}: {key} must be a non-empty string or null, got {item!r}")
            elif key in ("storage", "xrootd") and item is not None and not isinstance(item, list):
                problems.append(f"{at}: {key} must be a list or null, got {item!r}")
            else:
                out[key] = relocate(item.strip(), base, output_dir) \
                    if key in PATH_FIELDS and isinstance(item, str) else item
        return out

    defaults = fields(raw.get("defaults") or {}, ("defaults",),
                      tuple(f for f in FIELDS if f not in ("name", "tier")))
    sites: dict[str, dict[str, Any]] = {}
    entries = raw.get("sites") or []
    if not isinstance(entries, list):
        problems.append(f"{lines.where(('sites',))}: expected a list of sites")
        entries = []
    for index, entry in enumerate(entries):
        values = fields(entry, ("sites", index), FIELDS)
        name = values.get("name")
        if not isinstance(name, str):
            if isinstance(entry, dict):
                problems.append(f"{lines.where(('sites', index))}: missing required key 'name'")
            continue
        key = name.strip().casefold()
        if key in sites:
            problems.append(f"{lines.where(('sites', index, 'name'))}: site '{name}' is in the overlay twice")
            continue
        values["name"] = name.strip()
        sites[key] = values
    if problems:
        raise ConfigError(problems)
    return Overlay(label=label(path), defaults=defaults, sites=sites)
