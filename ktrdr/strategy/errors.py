"""Strategy errors and warnings: where in the YAML (path, line, column), what value, what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ktrdr.errors import KtrdrError

Marks = Mapping[str, tuple[int, int]]
"""YAML path → (line, column), both 1-based, of the key (or list item) at that path."""


class StrategyError(KtrdrError, ValueError):
    """A strategy file is invalid; `path` is the YAML path (`fuzzy_sets.rsi_14.oversold`)."""

    def __init__(self, message: str, *, path: str = "", value: Any = None, suggestion: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        where = f"line {line}, column {column}: " if line is not None else ""
        where += f"{path}: " if path else ""
        super().__init__(f"{where}{message}", hint=suggestion)
        self.path, self.value, self.suggestion = path, value, suggestion
        self.line, self.column, self.detail = line, column, message

    def located(self, marks: Marks) -> StrategyError:
        """The same error with the line and column of its path (or of the nearest enclosing key)."""
        if self.line is not None:
            return self
        mark = locate(self.path, marks)
        if mark is None:
            return self
        return StrategyError(self.detail, path=self.path, value=self.value, suggestion=self.suggestion,
                             line=mark[0], column=mark[1])


@dataclass(frozen=True)
class StrategyWarning:
    """A key the grammar accepts but that has no effect (the original KTRDR ignored it too)."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.message}"

    def located(self, marks: Marks) -> StrategyWarning:
        """The same warning with its line and column."""
        mark = locate(self.path, marks)
        return self if mark is None else StrategyWarning(self.path, self.message, mark[0], mark[1])


def locate(path: str, marks: Marks) -> tuple[int, int] | None:
    """The mark of `path`, else of its nearest ancestor that has one."""
    while path:
        if path in marks:
            return marks[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return marks.get("")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint for the closest candidate, or a list of valid choices."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if options and len(options) <= 12:
        return "expected one of: " + ", ".join(options)
    return None


def join_path(base: str, key: str | int) -> str:
    """Extend a YAML path by a mapping key or a list index."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key
