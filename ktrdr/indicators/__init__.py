"""Technical indicators: a registry of vectorized implementations and strategy-level computation."""

from ktrdr.indicators.compute import (
    compute_indicator,
    compute_indicators,
    output_columns,
    reference_column,
    warmup_rows,
)
from ktrdr.indicators.registry import (
    IndicatorDef,
    IndicatorError,
    get_indicator,
    ignored_params,
    indicator_names,
    primary_output,
    register,
    resolve_params,
    warmup_bars,
)
from ktrdr.indicators.spec import IndicatorSpec

__all__ = [
    "IndicatorDef",
    "IndicatorError",
    "IndicatorSpec",
    "compute_indicator",
    "compute_indicators",
    "get_indicator",
    "ignored_params",
    "indicator_names",
    "output_columns",
    "primary_output",
    "reference_column",
    "register",
    "resolve_params",
    "warmup_bars",
    "warmup_rows",
]
