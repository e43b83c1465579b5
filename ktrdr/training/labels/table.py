"""The label functions by source name (`training.labels.source`), what each takes, and one dispatcher."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels.barrier import triple_barrier_labels
from ktrdr.training.labels.base import CLASSES, CONTEXT_CLASSES, REGIME_CLASSES, LabelSet, OutputKind, field
from ktrdr.training.labels.multiscale import multi_scale_regime_labels
from ktrdr.training.labels.returns import context_labels, forward_return_labels
from ktrdr.training.labels.zigzag import zigzag_labels


@dataclass(frozen=True)
class LabelSource:
    """One label method: its function, output kind and class names."""

    name: str
    function: Callable[..., LabelSet]
    output: OutputKind
    classes: tuple[str, ...] | None

    @property
    def parameters(self) -> tuple[str, ...]:
        """The keyword parameters the function takes, named as in `training.labels`."""
        signature = inspect.signature(self.function)
        return tuple(p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)

    def defaults(self) -> dict[str, Any]:
        """Each parameter's default value (None: not set, resolved by the function)."""
        signature = inspect.signature(self.function)
        return {name: signature.parameters[name].default for name in self.parameters}


LABEL_FUNCTIONS: dict[str, LabelSource] = {s.name: s for s in (
    LabelSource("zigzag", zigzag_labels, "classification", CLASSES),
    LabelSource("triple_barrier", triple_barrier_labels, "classification", CLASSES),
    # The original's `regime` source is its multi-scale labeler (the efficiency-ratio one is not a source).
    LabelSource("regime", multi_scale_regime_labels, "classification", REGIME_CLASSES),
    LabelSource("context", context_labels, "classification", CONTEXT_CLASSES),
    LabelSource("forward_return", forward_return_labels, "regression", None),
)}


def label_source(name: str) -> LabelSource:
    """The table entry for `name`, or an error listing the known sources."""
    if name not in LABEL_FUNCTIONS:
        close = difflib.get_close_matches(name, LABEL_FUNCTIONS, n=1)
        known = f"known: {sorted(LABEL_FUNCTIONS)}"
        raise TrainingError(f"unknown label source {name!r}", field=field("source"),
                            hint=(f"did you mean {close[0]!r}? " if close else "") + known)
    return LABEL_FUNCTIONS[name]


def compute_labels(frame: pd.DataFrame, source: str, params: Mapping[str, Any] | None = None) -> LabelSet:
    """Labels of `source` for every row of `frame`; `params` keys must be the source's parameters
    (None values mean "the default")."""
    entry = label_source(source)
    given = {k: v for k, v in (params or {}).items() if v is not None}
    unknown = sorted(set(given) - set(entry.parameters))
    if unknown:
        guess = difflib.get_close_matches(unknown[0], entry.parameters, n=1)
        raise TrainingError(f"label source {source!r} takes no parameter {unknown[0]!r}", field=field(unknown[0]),
                            hint=(f"did you mean {guess[0]!r}? " if guess else "") + f"it takes {entry.parameters}")
    return entry.function(frame, **given)
