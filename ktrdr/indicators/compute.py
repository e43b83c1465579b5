"""Compute a strategy's indicators on an OHLCV frame, and resolve `id[.output]` references."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import pandas as pd

from ktrdr.indicators.registry import IndicatorError, get_indicator, resolve_params
from ktrdr.indicators.spec import IndicatorSpec


def output_columns(indicator_id: str, spec: IndicatorSpec) -> list[str]:
    """Columns an indicator produces: `id` (single output), or `id.output` for each output
    followed by `id` itself, a copy of the primary output (as the original KTRDR names them)."""
    outputs = get_indicator(spec.type).outputs
    return [*(f"{indicator_id}.{o}" for o in outputs), indicator_id] if outputs else [indicator_id]


def reference_column(ref: str, indicators: Mapping[str, IndicatorSpec]) -> str:
    """Check a reference (`rsi_14`, `macd_12_26_9`, `macd_12_26_9.histogram`); return its column.

    A bare id of a multi-output indicator means its primary output.
    """
    ind_id, dot, output = ref.partition(".")
    if ind_id not in indicators:
        close = difflib.get_close_matches(ind_id, list(indicators), n=1)
        raise IndicatorError(f"unknown indicator id '{ind_id}'", value=ref,
                             suggestion=f"did you mean '{close[0]}'?" if close else
                             "define it under 'indicators'")
    outputs = get_indicator(indicators[ind_id].type).outputs
    if not dot:
        return ref
    if not outputs:
        raise IndicatorError(f"indicator '{ind_id}' has a single output; drop '.{output}'",
                             value=ref, suggestion=f"use '{ind_id}'")
    if output not in outputs:
        close = difflib.get_close_matches(output, outputs, n=1)
        hint = f"did you mean '{ind_id}.{close[0]}'?" if close else (
            "outputs: " + ", ".join(f"{ind_id}.{o}" for o in outputs))
        raise IndicatorError(f"unknown output '{output}' of indicator '{ind_id}'", value=ref,
                             suggestion=hint)
    return ref


def compute_indicator(df: pd.DataFrame, indicator_id: str, spec: IndicatorSpec) -> pd.DataFrame:
    """One indicator's output columns on `df`, named by `output_columns`."""
    definition = get_indicator(spec.type)
    missing = [c for c in definition.inputs if c not in df.columns]
    if missing:
        raise IndicatorError(f"{definition.name} needs columns {missing}", value=list(df.columns))
    result = definition.fn(df, **resolve_params(spec))
    if isinstance(result, pd.Series):
        return result.astype("float64").to_frame(indicator_id)
    frame = result[[*definition.outputs, definition.outputs[0]]].astype("float64")
    frame.columns = output_columns(indicator_id, spec)
    return frame


def compute_indicators(df: pd.DataFrame, indicators: Mapping[str, IndicatorSpec]) -> pd.DataFrame:
    """All indicators of a strategy on one OHLCV frame, same index, float64 columns."""
    parts = [compute_indicator(df, ind_id, spec) for ind_id, spec in indicators.items()]
    if not parts:
        return pd.DataFrame(index=df.index)
    return pd.concat(parts, axis=1)


def warmup_rows(indicators: Mapping[str, IndicatorSpec]) -> int:
    """The longest warm-up among the indicators (rows before every column is defined)."""
    return max((get_indicator(s.type).warmup(resolve_params(s)) for s in indicators.values()),
               default=0)
