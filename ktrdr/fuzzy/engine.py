"""Turn indicator columns into fuzzy membership columns `{timeframe}_{set}_{membership}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from ktrdr.fuzzy.membership import membership

if TYPE_CHECKING:  # the fuzzy engine only reads the struct; keep the import graph one-way
    from ktrdr.strategy.config import FuzzySetConfig


def membership_columns(fuzzy_sets: Mapping[str, FuzzySetConfig], timeframe: str,
                       only: list[str] | None = None) -> list[str]:
    """Names of the membership columns the engine produces, in order."""
    names = only if only is not None else list(fuzzy_sets)
    return [f"{timeframe}_{s}_{m}" for s in names for m in fuzzy_sets[s].memberships]


def fuzzify(indicators: pd.DataFrame, fuzzy_sets: Mapping[str, FuzzySetConfig],
            timeframe: str, only: list[str] | None = None) -> pd.DataFrame:
    """Memberships of every (or `only` the named) fuzzy set, from indicator columns.

    Each set reads the column named by its `indicator` reference (`rsi_14`,
    `macd_12_26_9.histogram`), as produced by `compute_indicators`.
    """
    columns: dict[str, pd.Series] = {}
    for name in only if only is not None else list(fuzzy_sets):
        fset = fuzzy_sets[name]
        x = indicators[fset.indicator].to_numpy(dtype="float64")
        for member, mc in fset.memberships.items():
            values = membership(mc.type, x, mc.parameters)
            columns[f"{timeframe}_{name}_{member}"] = pd.Series(values, index=indicators.index)
    return pd.DataFrame(columns, index=indicators.index)
