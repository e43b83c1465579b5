"""Bounded YAML reading: size, node-count (alias expansion) and depth limits, duplicate keys, and the
line/column of every key so that errors can point into the file."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ktrdr.strategy.errors import StrategyError, join_path

MAX_BYTES = 128 * 1024
"""Largest strategy text accepted (real strategies are a few kB)."""
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when present: about five times faster on large hostile input."""
MAX_NODES = 20_000
"""Most YAML nodes visited, aliases expanded: stops alias bombs before they cost time or memory."""
MAX_DEPTH = 32
"""Deepest nesting accepted (the grammar needs six levels)."""


@dataclass
class Document:
    """Parsed YAML plus the (line, column) of every path in it."""

    data: Any
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)


def _limit(message: str, hint: str) -> StrategyError:
    return StrategyError(message, suggestion=hint)


def parse_yaml(text: str) -> Document:
    """Parse strategy YAML within the limits above; every failure is a StrategyError."""
    if len(text) > MAX_BYTES:
        raise _limit(f"strategy text is {len(text):,} characters, more than the {MAX_BYTES:,} allowed",
                     "a strategy file is a few kB of YAML; check that this is the right file")
    _check_flow_depth(text)
    try:
        root = yaml.compose(text, Loader=_LOADER)
        doc = Document(data=None)
        if root is None:
            return doc
        _Walker(doc.marks).walk(root, "", 0)
        doc.data = _dates_as_text(yaml.SafeLoader("").construct_document(root))
    except yaml.YAMLError as exc:
        raise _invalid(exc) from None
    except RecursionError:
        raise _limit("YAML nested too deeply", f"a strategy needs at most {MAX_DEPTH} levels") from None
    return doc


def _invalid(exc: yaml.YAMLError) -> StrategyError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return StrategyError(f"invalid YAML: {problem}", line=mark.line + 1 if mark else None,
                         column=mark.column + 1 if mark else None,
                         suggestion="fix the YAML at that position (plain YAML only: no tags)")


def _check_flow_depth(text: str) -> None:
    # PyYAML recurses once per nesting level: refuse deep [ / { nesting before it starts (quotes are
    # not tracked, so brackets inside strings count too; no real strategy comes near the limit).
    depth = 0
    for i, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, i) + 1
                raise StrategyError(f"YAML nested deeper than {MAX_DEPTH} levels", line=line,
                                    column=i - text.rfind("\n", 0, i),
                                    suggestion="flatten the structure; the grammar needs six levels")
        elif char in "]}" and depth:
            depth -= 1


class _Walker:
    """Visits every node once per reference (so aliases count as often as they expand)."""

    def __init__(self, marks: dict[str, tuple[int, int]]) -> None:
        self.marks, self.count = marks, 0

    def walk(self, node: Node, path: str, depth: int) -> None:
        """Record marks below `node`, enforcing the node, depth and duplicate-key limits."""
        self.count += 1
        if self.count > MAX_NODES:
            raise _limit(f"YAML expands to more than {MAX_NODES:,} nodes (anchors/aliases?)",
                         "write the strategy out without anchor/alias repetition")
        if depth > MAX_DEPTH:
            raise StrategyError(f"YAML nested deeper than {MAX_DEPTH} levels", path=path,
                                line=node.start_mark.line + 1, column=node.start_mark.column + 1,
                                suggestion="flatten the structure; the grammar needs six levels")
        if isinstance(node, MappingNode):
            self._mapping(node, path, depth)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                child = join_path(path, i)
                self.marks.setdefault(child, (item.start_mark.line + 1, item.start_mark.column + 1))
                self.walk(item, child, depth + 1)

    def _mapping(self, node: MappingNode, path: str, depth: int) -> None:
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value) if isinstance(key, ScalarNode) else "?"
            child = join_path(path, name)
            where = (key.start_mark.line + 1, key.start_mark.column + 1)
            if name in seen:
                raise StrategyError(f"duplicate key '{name}'", path=child, line=where[0], column=where[1],
                                    suggestion="each key may appear once in a mapping; remove one")
            seen.add(name)
            self.marks.setdefault(child, where)
            self.walk(value, child, depth + 1)


def _dates_as_text(value: Any) -> Any:
    # YAML reads an unquoted 2024-01-01 as a date; the grammar keeps dates as ISO text.
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value
