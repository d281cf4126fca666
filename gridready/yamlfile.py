"""YAML loading that remembers where every value came from.

Config errors must name ``file:line``, so besides the data this returns a map
from each value's path (``("milestones", 2, "deadline")``) to its line. Dates
are left as strings (PyYAML would raise a line-less ValueError on 2010-02-30)
and duplicate mapping keys, which PyYAML silently collapses, are errors.

Rules and inventories are small files written by people, so the loader is
strict about what could make loading itself costly or ambiguous:

- the file is read through :mod:`gridready.localfile` (regular files only,
  :data:`YAML_MAX_BYTES`), so ``/dev/zero`` or a FIFO fails at once;
- anchors, aliases and merge keys (``&a``, ``*a``, ``<<: *a``) are refused
  while scanning the parser's events, before anything is composed: a nested
  "billion laughs" alias bomb or a self-referencing alias never expands;
- nesting deeper than :data:`MAX_DEPTH` is refused during that same scan
  (libyaml's cost grows quadratically with flow nesting);
- explicit tags (``!!binary``, ``!!float``) are refused the same way: no
  human-written rule needs one, and a failed conversion has no line;
- integers longer than :data:`MAX_NUMBER_CHARS` characters are refused
  (Python refuses to convert very long ones, without a line).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from gridready.errors import ConfigError, ConfigUnreadable, SourceError
from gridready.escape import one_line
from gridready.localfile import decode_text, read_bytes

Path_ = tuple[str | int, ...]

#: Deepest nesting of mappings and lists a configuration file may use.
MAX_DEPTH = 32
#: Largest configuration file read. A WLCG-wide inventory is well under 100 KiB;
#: composing costs up to a few seconds per MiB (PyYAML resolves every scalar in
#: Python), so the cap keeps loading well inside a probe's default 10 s.
YAML_MAX_BYTES = 512 * 1024
#: Longest integer literal accepted (a port or a day count needs 5).
MAX_NUMBER_CHARS = 40

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"


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


def _scan_events(text: str, filename: str) -> None:
    """Refuse anchors, aliases and deep nesting from the event stream, before composing.

    Raises ConfigError at the first one; yaml.YAMLError for malformed YAML.
    """
    loader = _Loader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise ConfigError([f"{filename}:{line}: YAML anchors/aliases are not supported "
                                   "in gridready configuration (write the value out)"])
            tag = getattr(event, "tag", None)
            if tag is not None:
                raise ConfigError([f"{filename}:{line}: explicit YAML tags ({one_line(tag)}) are not "
                                   "supported in gridready configuration"])
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError([f"{filename}:{line}: nested more than {MAX_DEPTH} levels deep"])
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    finally:
        loader.dispose()


def _index(node: yaml.Node, path: Path_, lines: dict[Path_, int], problems: list[str],
           filename: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if key.tag == _MERGE_TAG:
                problems.append(f"{filename}:{key.start_mark.line + 1}: YAML merge keys ('<<') "
                                "are not supported in gridready configuration (write the keys out)")
                continue
            if name in seen:
                problems.append(f"{filename}:{key.start_mark.line + 1}: duplicate key '{name}'")
            seen.add(name)
            lines[path + (name,)] = key.start_mark.line + 1
            _index(key, path + (name,), {}, problems, filename)
            _index(value, path + (name,), lines, problems, filename)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), lines, problems, filename)
    elif node.tag == _INT_TAG and len(str(node.value)) > MAX_NUMBER_CHARS:
        problems.append(f"{filename}:{node.start_mark.line + 1}: number of {len(str(node.value))} "
                        f"digits is too long (at most {MAX_NUMBER_CHARS})")


def _read(path: str | Path, filename: str, what: str) -> str:
    """The file's text; ConfigUnreadable when it cannot be read, ConfigError when it is not UTF-8."""
    try:
        data = read_bytes(path, max_bytes=YAML_MAX_BYTES, what=what)
    except SourceError as exc:
        problem = f"{filename}: no such file" if not os.path.lexists(filename) else str(exc)
        raise ConfigUnreadable([problem], str(exc)) from None
    try:
        return decode_text(data, path, what)
    except SourceError as exc:
        raise ConfigError([str(exc)]) from None


def load_yaml(path: str | Path, what: str = "YAML file") -> tuple[Any, LineMap]:
    """Parse one YAML file; raises ConfigError naming file:line on any problem.

    ``what`` names the file's role in read errors (``"milestones file"``).
    """
    filename = str(path)
    text = _read(path, filename, what)
    loader: Any = None
    try:
        _scan_events(text, filename)
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return None, LineMap(filename, {})
        lines: dict[Path_, int] = {}
        problems: list[str] = []
        _index(node, (), lines, problems, filename)
        if problems:
            raise ConfigError(problems)
        data = loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character if isinstance(exc.character, int) else -1
        raise ConfigError([f"{filename}:{line}: invalid YAML: character U+{char:04X} is not "
                           "allowed (control characters)"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        if "nesting depth" in str(exc.problem or ""):
            # PyYAML >= 6.0.4's scanner has its own depth limit, which it may
            # hit (scanning ahead) before the event scan above reaches ours.
            raise ConfigError([f"{filename}:{line}: nested more than {MAX_DEPTH} levels deep"]) from None
        raise ConfigError([f"{filename}:{line}: invalid YAML: {one_line(str(exc.problem or exc.context))}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{filename}: invalid YAML: {one_line(str(exc))}"]) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # A scalar the constructor cannot convert (the checks above catch the
        # known ones); still one line, never a traceback.
        raise ConfigError([f"{filename}: invalid YAML value: {one_line(str(exc))}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, LineMap(filename, lines)
