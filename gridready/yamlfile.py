"""YAML loading that remembers where every value came from.

Config errors must name ``file:line``, so besides the data this returns a map
from each value's path (``("milestones", 2, "deadline")``) to its line. Dates
are left as strings (PyYAML would raise a line-less ValueError on 2010-02-30)
and duplicate mapping keys, which PyYAML silently collapses, are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gridready.errors import ConfigError

Path_ = tuple[str | int, ...]

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """Safe loader without the implicit timestamp type."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}


class LineMap:
    """Lines of the values in one YAML document, addressed by path."""

    def __init__(self, filename: str, lines: dict[Path_, int]) -> None:
        self.filename = filename
        self._lines = lines

    def line(self, path: Path_) -> int:
        """Line of the value at ``path`` or, if absent, of its nearest parent."""
        for cut in range(len(path), -1, -1):
            found = self._lines.get(tuple(path[:cut]))
            if found is not None:
                return found
        return 1

    def where(self, path: Path_) -> str:
        return f"{self.filename}:{self.line(path)}"


def _index(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[str],
           filename: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                problems.append(f"{filename}:{key.start_mark.line + 1}: duplicate key '{name}'")
            seen.add(name)
            lines[path + (name,)] = key.start_mark.line + 1
            _index(value, path + (name,), lines, problems, filename)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), lines, problems, filename)


def load_yaml(path: str | Path) -> tuple[Any, LineMap]:
    """Parse one YAML file; raises ConfigError naming file:line on any problem."""
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{filename}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{filename}: cannot read: {exc}"]) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineMap(filename, {})
        lines: dict[Path_, int] = {}
        problems: list[str] = []
        _index(node, (), lines, problems, filename)
        if problems:
            raise ConfigError(problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError([f"{filename}:{line}: invalid YAML: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{filename}: invalid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    return data, LineMap(filename, lines)
