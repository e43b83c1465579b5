"""Strategy v3 configuration structs: the typed form of a strategy YAML file."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

from ktrdr.indicators.spec import IndicatorSpec

PositiveInt = Annotated[int, Meta(gt=0)]
NonNegInt = Annotated[int, Meta(ge=0)]
PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegFloat = Annotated[float, Meta(ge=0)]
UnitFloat = Annotated[float, Meta(ge=0, le=1)]

Timeframe = Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"]
TIMEFRAME_MINUTES: dict[str, int] = {
    "1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440, "1w": 10080,
}
MembershipType = Literal["triangular", "trapezoidal", "gaussian"]
Normalization = Literal["minmax", "zscore", "none"]
STRATEGY_VERSION = "3.0"


class _Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base for every config struct: frozen, keyword-only, unknown fields rejected."""


class TrainingDataConfig(_Config, kw_only=True):
    """Which market data the strategy trains on."""

    symbols: list[str]
    timeframes: list[Timeframe]
    base_timeframe: Timeframe | None = None
    start: str | None = None
    end: str | None = None
    history_required: NonNegInt = 100

    def __post_init__(self) -> None:
        # The base defaults to the finest timeframe so that features align onto every bar.
        if self.base_timeframe is None and self.timeframes:
            finest = min(self.timeframes, key=TIMEFRAME_MINUTES.__getitem__)
            force_setattr(self, "base_timeframe", finest)

    @property
    def base(self) -> str:
        """The base timeframe (always set after construction)."""
        return self.base_timeframe or self.timeframes[0]


class MembershipConfig(_Config, kw_only=True):
    """One membership function of a fuzzy set; `parameters` depend on `type`."""

    type: MembershipType = "triangular"
    parameters: list[float]


class FuzzySetConfig(_Config, kw_only=True):
    """A fuzzy set over one indicator output (`id` or `id.output`)."""

    indicator: str
    memberships: dict[str, MembershipConfig]


class NNInputConfig(_Config, kw_only=True):
    """One network input: a fuzzy set's memberships or a raw indicator output."""

    fuzzy_set: str | None = None
    indicator: str | None = None
    timeframes: Literal["all"] | list[Timeframe] = "all"
    normalization: Normalization = "none"

    @property
    def source(self) -> str:
        """The referenced fuzzy set name or indicator reference."""
        return self.fuzzy_set if self.fuzzy_set is not None else (self.indicator or "")


class ModelConfig(_Config, kw_only=True):
    """Network architecture."""

    type: Literal["mlp", "lstm", "gru"] = "mlp"
    hidden_layers: list[PositiveInt] = msgspec.field(default_factory=lambda: [64, 32])
    activation: Literal["relu", "tanh", "gelu", "leaky_relu"] = "relu"
    dropout: Annotated[float, Meta(ge=0, lt=1)] = 0.2
    sequence_length: PositiveInt = 16


class DecisionsConfig(_Config, kw_only=True):
    """How model outputs become trading signals."""

    output_format: Literal["classification", "regression"] = "classification"
    confidence_threshold: UnitFloat = 0.5
    position_awareness: bool = True
    short_from_flat: bool = False
    min_separation_bars: NonNegInt = 0


class LabelConfig(_Config, kw_only=True):
    """Label generation: zigzag uses threshold+lookahead, forward_return uses horizon(+threshold)."""

    method: Literal["zigzag", "forward_return"] = "zigzag"
    threshold: NonNegFloat = 0.02
    lookahead: PositiveInt = 20
    horizon: PositiveInt = 5

    @property
    def span(self) -> int:
        """How many future bars a label looks at (the default embargo)."""
        return self.lookahead if self.method == "zigzag" else self.horizon


class SchedulerConfig(_Config, kw_only=True):
    """Learning-rate scheduler; only the fields of the chosen type are used."""

    type: Literal["none", "step", "exponential", "plateau"] = "none"
    step_size: PositiveInt = 10
    gamma: PositiveFloat = 0.1
    patience: NonNegInt = 5
    factor: Annotated[float, Meta(gt=0, lt=1)] = 0.5


class EarlyStoppingConfig(_Config, kw_only=True):
    """Stop when validation loss has not improved by `min_delta` for `patience` epochs."""

    enabled: bool = True
    patience: PositiveInt = 8
    min_delta: NonNegFloat = 0.0


class DataSplitConfig(_Config, kw_only=True):
    """Chronological train/validation/test fractions and the embargo gap between them."""

    train: Annotated[float, Meta(gt=0, lt=1)] = 0.7
    validation: UnitFloat = 0.15
    test: UnitFloat = 0.15
    embargo_bars: NonNegInt | None = None  # None: the label span (resolved by TrainingConfig)


class CheckpointConfig(_Config, kw_only=True):
    """How often training saves a resumable checkpoint."""

    every_epochs: PositiveInt = 5
    every_seconds: PositiveFloat = 60.0


class TrainingConfig(_Config, kw_only=True):
    """Optimisation settings."""

    labels: LabelConfig = msgspec.field(default_factory=LabelConfig)
    loss: Literal["auto", "cross_entropy", "focal", "huber", "mse"] = "auto"
    optimizer: Literal["adam", "rmsprop", "sgd"] = "adam"
    learning_rate: PositiveFloat = 0.001
    batch_size: PositiveInt = 256
    epochs: PositiveInt = 50
    scheduler: SchedulerConfig = msgspec.field(default_factory=SchedulerConfig)
    gradient_clip: NonNegFloat = 1.0
    early_stopping: EarlyStoppingConfig = msgspec.field(default_factory=EarlyStoppingConfig)
    data_split: DataSplitConfig = msgspec.field(default_factory=DataSplitConfig)
    class_weights: Literal["inverse_frequency", "none"] = "inverse_frequency"
    seed: int = 42
    checkpoint: CheckpointConfig = msgspec.field(default_factory=CheckpointConfig)

    def __post_init__(self) -> None:
        # Resolve the embargo here so consumers always read a concrete int.
        if self.data_split.embargo_bars is None:
            split = msgspec.structs.replace(self.data_split, embargo_bars=self.labels.span)
            force_setattr(self, "data_split", split)


class StrategyConfig(_Config, kw_only=True):
    """A whole strategy file (version 3.0)."""

    name: str
    version: str = STRATEGY_VERSION
    description: str = ""
    training_data: TrainingDataConfig
    indicators: dict[str, IndicatorSpec]
    fuzzy_sets: dict[str, FuzzySetConfig]
    nn_inputs: list[NNInputConfig]
    model: ModelConfig = msgspec.field(default_factory=ModelConfig)
    decisions: DecisionsConfig = msgspec.field(default_factory=DecisionsConfig)
    training: TrainingConfig = msgspec.field(default_factory=TrainingConfig)

    @property
    def loss(self) -> str:
        """The concrete loss name (`auto` resolved from the output format)."""
        if self.training.loss != "auto":
            return self.training.loss
        return "cross_entropy" if self.decisions.output_format == "classification" else "huber"
