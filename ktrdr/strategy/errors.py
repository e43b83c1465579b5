"""Strategy errors: where in the YAML, what value, and a "did you mean" suggestion."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from ktrdr.errors import KtrdrError


class StrategyError(KtrdrError, ValueError):
    """A strategy file is invalid; `path` is the YAML path (`fuzzy_sets.rsi_14.oversold`)."""

    def __init__(
        self, message: str, *, path: str = "", value: Any = None, suggestion: str | None = None
    ) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{message}", hint=suggestion)
        self.path = path
        self.value = value
        self.suggestion = suggestion


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
