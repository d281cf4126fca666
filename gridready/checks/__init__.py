"""The registry of checks: built-in modules plus installed plugins, imported only when used.

Each built-in module ``gridready.checks.<name>`` defines ``CHECK``, an object
that satisfies ``gridready.checks.interface.Check``. Other packages add checks
through the Python entry point group ``gridready.checks``: the entry point's
name is the check name milestones use, and it refers to such an object (or a
module defining ``CHECK``, or a class whose no-argument instance is one)::

    [project.entry-points."gridready.checks"]
    site_token = "mysite_checks.token:CHECK"

Entry points are read (importlib.metadata) only when a name that is not built
in is asked for or the checks are listed, once per process: a probe of a
built-in check never pays for scanning the installed distributions. A plugin
cannot replace a built-in check; a plugin that fails to load is reported as
one line naming its entry point (``CheckLoadError``), never a traceback.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from gridready.errors import CheckError
from gridready.models import BUILTIN_CHECKS, CHECKS

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from gridready.checks.interface import Check

#: The entry point group other packages register checks under.
GROUP = "gridready.checks"
#: What a check name may look like (a milestone's ``check:``, check_gridready --check).
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")
_METHODS = ("add_arguments", "validate_expect", "requests_for_site", "collect", "assess")


class CheckLoadError(CheckError, KeyError):
    """An installed check that cannot be loaded (import error, wrong shape)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        # First one wins, as importlib.metadata orders distributions by sys.path.
        if NAME.match(ep.name) and ep.name not in BUILTIN_CHECKS and ep.name not in found:
            found[ep.name] = ep
    return found


def plugin_names() -> tuple[str, ...]:
    """Names of the installed (entry point) checks, sorted; built-in names are never among them."""
    return tuple(sorted(_entry_points()))


def plugin_origin(name: str) -> str | None:
    """``module:attr (distribution)`` of an installed check, or None for a built-in one."""
    ep = _entry_points().get(name)
    if ep is None:
        return None
    dist = getattr(ep, "dist", None)
    return f"{ep.value} ({dist.name} {dist.version})" if dist is not None else ep.value


def known_names() -> tuple[str, ...]:
    """Every check a milestone may name: built-in first, then installed ones."""
    return tuple(CHECKS)


def load_check(name: str) -> Check:
    """The check called ``name``; KeyError when there is none (CheckLoadError, also a
    CheckError, when an installed one cannot be loaded)."""
    if name in BUILTIN_CHECKS:
        module = importlib.import_module(f"gridready.checks.{name}")
        check: Check = module.CHECK
        return check
    ep = _entry_points().get(name) if isinstance(name, str) and NAME.match(name) else None
    if ep is None:
        raise KeyError(f"unknown check '{name}' (known: {', '.join(CHECKS)})")
    return _load_plugin(name, ep)


@lru_cache(maxsize=None)
def _load_plugin(name: str, ep: EntryPoint) -> Check:
    where = f"check '{name}' (entry point {ep.value})"
    try:
        obj: Any = ep.load()
    except Exception as exc:  # a broken plugin is one line, not a traceback
        raise CheckLoadError(f"{where} cannot be loaded: {type(exc).__name__}: {exc}") from None
    import inspect  # only here: a probe start should not pay for it at import

    if inspect.ismodule(obj):
        obj = getattr(obj, "CHECK", None)
    elif inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise CheckLoadError(f"{where}: {type(exc).__name__}: {exc}") from None
    missing = [m for m in _METHODS if not callable(getattr(obj, m, None))]
    if obj is None or missing:
        raise CheckLoadError(f"{where} is not a check (missing: {', '.join(missing) or 'CHECK'})")
    if getattr(obj, "name", None) != name:
        raise CheckLoadError(f"{where} calls itself {getattr(obj, 'name', None)!r}, not '{name}'")
    if not isinstance(getattr(obj, "description", None), str):
        raise CheckLoadError(f"{where} has no description")
    checked: Check = obj
    return checked
