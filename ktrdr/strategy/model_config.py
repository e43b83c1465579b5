"""`model` and `decisions`: the network and how its outputs become signals."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from ktrdr.strategy.structs import Config, NonNegInt, PositiveFloat, PositiveInt, UnitFloat
from ktrdr.strategy.training_config import EarlyStoppingConfig


class ArchitectureConfig(Config, kw_only=True):
    """`model.architecture`: layer sizes, activation, dropout, recurrent settings."""

    IGNORED: ClassVar[dict[str, str]] = {
        "output_activation": "the output layer is always softmax (classification) or linear (regression)",
    }
    hidden_layers: list[PositiveInt] | None = None
    activation: Literal["relu", "tanh", "sigmoid", "gelu", "leaky_relu"] = "relu"
    dropout: Annotated[float, Meta(ge=0, lt=1)] = 0.2
    sequence_length: PositiveInt = 20
    hidden_size: PositiveInt = 64
    num_layers: PositiveInt = 2


class ModelFeatures(Config, kw_only=True):
    """`model.features`: v2 settings the original accepts; v3 takes its features from nn_inputs."""

    include_price_context: bool = False
    include_volume_context: bool = False
    include_raw_indicators: bool = False
    lookback_periods: NonNegInt = 1
    scale_features: bool = True


class ModelTraining(Config, kw_only=True):
    """`model.training`: v2 training settings the original accepts; v3 reads them from `training`."""

    learning_rate: PositiveFloat = 0.001
    batch_size: PositiveInt = 32
    epochs: PositiveInt = 100
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    early_stopping: EarlyStoppingConfig | None = None


class ModelConfig(Config, kw_only=True):
    """`model`: network type and architecture."""

    IGNORED: ClassVar[dict[str, str]] = {
        key: "v3 reads it under model.architecture; move it there" for key in ("hidden_layers", "dropout",
                                                                               "activation")
    }
    type: Literal["mlp", "lstm", "gru"] = "mlp"
    architecture: ArchitectureConfig = msgspec.field(default_factory=ArchitectureConfig)
    features: ModelFeatures | None = None
    training: ModelTraining | None = None

    @property
    def hidden_layers(self) -> list[int]:
        """Layer widths: `hidden_layers`, or `num_layers` x `hidden_size` for a recurrent net."""
        arch = self.architecture
        if arch.hidden_layers is not None:
            return list(arch.hidden_layers)
        if self.type in ("lstm", "gru"):
            return [arch.hidden_size] * arch.num_layers
        return [64, 32]

    @property
    def activation(self) -> str:
        """Hidden-layer activation."""
        return self.architecture.activation

    @property
    def dropout(self) -> float:
        """Dropout rate."""
        return self.architecture.dropout

    @property
    def sequence_length(self) -> int:
        """Window length of recurrent models."""
        return self.architecture.sequence_length


def model_config(type: Literal["mlp", "lstm", "gru"] = "mlp", **architecture: object) -> ModelConfig:
    """A ModelConfig from flat architecture keywords (`model_config("gru", hidden_layers=[8])`)."""
    return ModelConfig(type=type, architecture=ArchitectureConfig(**architecture))  # type: ignore[arg-type]


class FiltersConfig(Config, kw_only=True):
    """`decisions.filters`."""

    IGNORED: ClassVar[dict[str, str]] = {"volume_filter": "no volume filter is applied to signals"}
    min_signal_separation: NonNegInt = 4


class CostModel(Config, kw_only=True):
    """`decisions.cost_model`: a regression model trades when |predicted return| > cost x multiplier."""

    round_trip_cost: PositiveFloat = 0.003
    min_edge_multiplier: PositiveFloat = 1.5


class DecisionsConfig(Config, kw_only=True):
    """How model outputs become trading signals."""

    output_format: Literal["classification", "regression"] = "classification"
    num_classes: Annotated[int, Meta(ge=2)] | None = None  # None: the label source's class count
    confidence_threshold: UnitFloat = 0.5
    position_awareness: bool = True
    allow_short_from_flat: bool = False
    filters: FiltersConfig = msgspec.field(default_factory=FiltersConfig)
    cost_model: CostModel | None = None

    @property
    def short_from_flat(self) -> bool:
        """Whether a SELL with no position opens a short."""
        return self.allow_short_from_flat

    @property
    def min_separation_bars(self) -> int:
        """Minimum bars between two signals (`filters.min_signal_separation`)."""
        return self.filters.min_signal_separation
