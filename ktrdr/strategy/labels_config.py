"""`training.labels`: one struct per label `source`, with the parameters the original accepts."""

from __future__ import annotations

from typing import ClassVar, Literal

from ktrdr.strategy.structs import Config, NonNegFloat, PositiveFloat, PositiveInt


class ZigzagLabels(Config, kw_only=True):
    """BUY/SELL over whole rising/falling legs between ZigZag extremes of `zigzag_threshold`, HOLD at the
    extremes; `label_lookahead` bounds the embargo (segment labels themselves have no fixed horizon)."""

    source: Literal["zigzag"] = "zigzag"
    zigzag_threshold: PositiveFloat = 0.02
    label_lookahead: PositiveInt = 10


class ForwardReturnLabels(Config, kw_only=True):
    """The return over `horizon` bars (regression); classification buckets it by ±`threshold`."""

    source: Literal["forward_return"] = "forward_return"
    horizon: PositiveInt = 20
    threshold: NonNegFloat = 0.0


class TripleBarrierLabels(Config, kw_only=True):
    """Take-profit / stop-loss / time barriers scaled by volatility (López de Prado). The ATR names
    (profit_target_atr, stop_loss_atr, max_holding_bars, atr_period) are another spelling of pt_multiplier,
    sl_multiplier, max_holding_period and vol_span with the "atr" volatility; when set they win."""

    source: Literal["triple_barrier"] = "triple_barrier"
    pt_multiplier: PositiveFloat = 2.0
    sl_multiplier: PositiveFloat = 1.5
    max_holding_period: PositiveInt = 50
    vol_span: PositiveInt = 50
    vol_method: Literal["atr", "close"] = "atr"
    cusum_threshold: float | None = None
    cusum_multiplier: PositiveFloat = 0.5
    compute_weights: bool = False
    profit_target_atr: PositiveFloat | None = None
    stop_loss_atr: PositiveFloat | None = None
    max_holding_bars: PositiveInt | None = None
    atr_period: PositiveInt | None = None


class RegimeLabels(Config, kw_only=True):
    """Four regimes (trending up/down, ranging, volatile) from multi-scale zigzag and volatility."""

    IGNORED: ClassVar[dict[str, str]] = {
        "horizon": "regime labels come from zigzag segments, not a fixed horizon",
        "trending_threshold": "trend is decided by macro_atr_mult / progression_tolerance",
    }
    source: Literal["regime"] = "regime"
    macro_atr_mult: PositiveFloat = 3.0
    micro_atr_mult: PositiveFloat = 1.0
    atr_period: PositiveInt = 14
    vol_lookback: PositiveInt = 120
    vol_crisis_threshold: PositiveFloat = 2.0
    progression_tolerance: NonNegFloat = 0.5


class ContextLabels(Config, kw_only=True):
    """Bullish/bearish/neutral context from the return over `horizon` bars."""

    source: Literal["context"] = "context"
    horizon: PositiveInt = 5
    bullish_threshold: float = 0.005
    bearish_threshold: float = -0.005


LabelConfig = ZigzagLabels | ForwardReturnLabels | TripleBarrierLabels | RegimeLabels | ContextLabels
LABEL_SOURCES: dict[str, type[Config]] = {
    "zigzag": ZigzagLabels, "forward_return": ForwardReturnLabels, "triple_barrier": TripleBarrierLabels,
    "regime": RegimeLabels, "context": ContextLabels,
}
"""`source` value → its struct (the loader dispatches on it; zigzag when absent, as in the original)."""


def label_span(labels: LabelConfig) -> int:
    """How many future bars a label looks at (the default embargo between split parts)."""
    match labels:
        case ZigzagLabels():
            return labels.label_lookahead
        case TripleBarrierLabels():
            return labels.max_holding_bars or labels.max_holding_period
        case RegimeLabels():
            return labels.vol_lookback
        case _:
            return labels.horizon
