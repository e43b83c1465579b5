"""Strategy v3 configuration structs: the typed form of a KTRDR v3 strategy YAML file.

The grammar is the original KTRDR v3 grammar (`training_data.symbols.mode`, `model.architecture`,
`training.labels.source`, `nn_inputs[].raw_indicator`, ...). Keys the original accepted but never
used are listed in each struct's `IGNORED` table: the loader accepts them with a warning.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ktrdr.indicators.spec import IndicatorSpec
from ktrdr.strategy.labels_config import (
    ContextLabels,
    ForwardReturnLabels,
    LabelConfig,
    RegimeLabels,
    TripleBarrierLabels,
    ZigzagLabels,
    label_span,
)
from ktrdr.strategy.model_config import (
    ArchitectureConfig,
    CostModel,
    DecisionsConfig,
    FiltersConfig,
    ModelConfig,
    ModelFeatures,
    ModelTraining,
    model_config,
)
from ktrdr.strategy.structs import Config, NonNegFloat, NonNegInt, PositiveFloat, UnitFloat
from ktrdr.strategy.training_config import (
    CheckpointConfig,
    DataSplitConfig,
    EarlyStoppingConfig,
    SchedulerConfig,
    TrainingConfig,
)

Timeframe = Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"]
TIMEFRAME_MINUTES: dict[str, int] = {
    "1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440, "1w": 10080,
}
MembershipType = Literal["triangular", "trapezoidal", "gaussian"]
Normalization = Literal["minmax", "zscore", "none"]
STRATEGY_VERSION = "3.0"

__all__ = [
    "CheckpointConfig", "ContextLabels", "DataSplitConfig", "EarlyStoppingConfig", "ForwardReturnLabels",
    "LabelConfig", "RegimeLabels", "SchedulerConfig", "TrainingConfig", "TripleBarrierLabels", "ZigzagLabels",
    "label_span", "NonNegFloat", "PositiveFloat", "UnitFloat", "ArchitectureConfig", "CostModel",
    "DecisionsConfig", "FiltersConfig", "ModelConfig", "ModelFeatures", "ModelTraining", "model_config",
]


class SelectionCriteria(Config, kw_only=True):
    """Automatic symbol selection (multi_symbol mode without an explicit list)."""

    asset_class: str | None = None
    volatility_range: list[float] | None = None
    liquidity_tier: str | None = None
    market_cap_range: list[float] | None = None


def _chosen(single: bool, one: str | None, many: list[str] | None) -> list[str]:
    # Mode single reads the one value, else the list; either falls back on the other when only it is
    # given (the original's own files write `mode: single` with a one-item `list`).
    if single and one:
        return [one]
    return list(many or ([one] if one else []))


class SymbolsConfig(Config, kw_only=True):
    """`training_data.symbols`: `mode: single` + `symbol`, or `mode: multi_symbol` + `list`."""

    mode: Literal["single", "multi_symbol"]
    symbol: str | None = None
    list_: list[str] | None = msgspec.field(default=None, name="list")
    selection_criteria: SelectionCriteria | None = None

    @property
    def names(self) -> list[str]:
        """The symbols, whatever the mode."""
        return _chosen(self.mode == "single", self.symbol, self.list_)


class TimeframesConfig(Config, kw_only=True):
    """`training_data.timeframes`: `mode: single` + `timeframe`, or `mode: multi_timeframe` + `list`."""

    mode: Literal["single", "multi_timeframe"]
    timeframe: Timeframe | None = None
    list_: list[Timeframe] | None = msgspec.field(default=None, name="list")
    base_timeframe: Timeframe | None = None

    @property
    def names(self) -> list[str]:
        """The timeframes, whatever the mode."""
        return _chosen(self.mode == "single", self.timeframe, self.list_)  # type: ignore[arg-type]

    @property
    def base(self) -> str:
        """The timeframe features align onto: `base_timeframe`, else the finest one."""
        if self.base_timeframe:
            return self.base_timeframe
        names = self.names
        return min(names, key=TIMEFRAME_MINUTES.__getitem__) if names else ""


class DateRange(Config, kw_only=True):
    """`training_data.date_range`: the training period (ISO dates)."""

    start: str | None = None
    end: str | None = None


class TrainingDataConfig(Config, kw_only=True):
    """Which market data the strategy trains on."""

    symbols: SymbolsConfig
    timeframes: TimeframesConfig
    history_required: NonNegInt = 200
    start_date: str | None = None
    end_date: str | None = None
    date_range: DateRange | None = None

    @property
    def symbol_list(self) -> list[str]:
        """The training symbols."""
        return self.symbols.names

    @property
    def timeframe_list(self) -> list[str]:
        """The training timeframes."""
        return self.timeframes.names

    @property
    def base(self) -> str:
        """The base timeframe."""
        return self.timeframes.base

    @property
    def start(self) -> str | None:
        """First training date (`date_range.start` or `start_date`)."""
        return (self.date_range.start if self.date_range else None) or self.start_date

    @property
    def end(self) -> str | None:
        """Last training date (`date_range.end` or `end_date`)."""
        return (self.date_range.end if self.date_range else None) or self.end_date


class BacktestSection(Config, kw_only=True):
    """`backtest`: the held-out period a research run backtests on (`date_range`)."""

    date_range: DateRange | None = None


class ContextDataEntry(Config, kw_only=True):
    """One external data source (`context_data[]`); provider-specific fields are optional."""

    provider: str
    alignment: Literal["forward_fill"] = "forward_fill"  # the original aligns no other way
    symbol: str | None = None
    timeframe: str | None = None
    instrument_type: str | None = None
    series: str | list[str] | None = None
    frequency: str | None = None
    report: str | None = None
    currencies: list[str] | None = None
    min_impact: str | None = None
    broker: str | None = None

    def source_ids(self) -> list[str]:
        """The ids indicators may name in `data_source` (as the original derives them)."""
        ids = [self.symbol] if self.symbol else []
        series = [self.series] if isinstance(self.series, str) else list(self.series or [])
        ids += [f"fred_{s}" for s in series]
        if len(series) >= 2:
            ids.append(f"yield_spread_{series[0]}_{series[1]}")
        if self.provider == "cftc_cot" and self.report:
            ids += [f"cot_{self.report}_net_pct", f"cot_{self.report}_net_pos"]
        return ids


class TargetSymbols(Config, kw_only=True):
    """`deployment.target_symbols`."""

    mode: Literal["universal", "group_restricted", "training_only"]
    restrictions: dict[str, list[str] | str | None] | None = None


class TargetTimeframes(Config, kw_only=True):
    """`deployment.target_timeframes`."""

    mode: Literal["single", "multi_timeframe"]
    supported: list[Timeframe] | None = None
    timeframe: Timeframe | None = None


class DeploymentConfig(Config, kw_only=True):
    """Where a trained model may be deployed (informational)."""

    target_symbols: TargetSymbols
    target_timeframes: TargetTimeframes


class MembershipConfig(Config, kw_only=True):
    """One membership function of a fuzzy set; `parameters` depend on `type`."""

    type: MembershipType = "triangular"
    parameters: list[float]


class FuzzySetConfig(Config, kw_only=True):
    """A fuzzy set over one indicator output (`id` or `id.output`); other keys are memberships."""

    indicator: str
    memberships: dict[str, MembershipConfig]


class IndicatorDefinition(Config, kw_only=True):
    """`indicators.<id>`: type, flat parameters, and an optional `data_source` (a context_data id)."""

    type: str
    data_source: str | None = None
    params: dict[str, int | float | str | bool] = {}


class NNInputConfig(Config, kw_only=True):
    """One network input: a fuzzy set's memberships or a raw indicator output."""

    fuzzy_set: str | None = None
    raw_indicator: str | None = None
    timeframes: Literal["all"] | list[Timeframe] = "all"
    normalization: Normalization | None = None

    @property
    def source(self) -> str:
        """The referenced fuzzy set name or indicator reference."""
        return self.fuzzy_set if self.fuzzy_set is not None else (self.raw_indicator or "")

    @property
    def method(self) -> str:
        """The normalization applied (`none` unless given)."""
        return self.normalization or "none"


class StrategyConfig(Config, kw_only=True):
    """A whole strategy file (version 3.0)."""

    name: str
    version: str = STRATEGY_VERSION
    description: str = ""
    scope: Literal["universal", "symbol_group", "symbol_specific"] | None = None
    training_data: TrainingDataConfig
    context_data: list[ContextDataEntry] | None = None
    deployment: DeploymentConfig | None = None
    indicators: dict[str, IndicatorDefinition]
    fuzzy_sets: dict[str, FuzzySetConfig]
    nn_inputs: list[NNInputConfig]
    model: ModelConfig = msgspec.field(default_factory=ModelConfig)
    decisions: DecisionsConfig = msgspec.field(default_factory=DecisionsConfig)
    training: TrainingConfig = msgspec.field(default_factory=TrainingConfig)
    backtest: BacktestSection | None = None

    @property
    def loss(self) -> str:
        """The concrete loss name (`auto` resolved from the output format)."""
        if self.training.loss != "auto":
            return self.training.loss
        return "cross_entropy" if self.decisions.output_format == "classification" else "huber"

    @property
    def indicator_specs(self) -> dict[str, IndicatorSpec]:
        """Indicator id → the registry's spec (type and parameters) for computing it."""
        return {k: IndicatorSpec(type=v.type, params=dict(v.params), data_source=v.data_source)
                for k, v in self.indicators.items()}

    @property
    def label_source(self) -> str:
        """`training.labels.source`."""
        return self.training.labels.source
