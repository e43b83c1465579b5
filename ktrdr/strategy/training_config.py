"""`training`: labels, loss, optimizer, learning-rate schedule, early stopping, split, checkpoints."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

from ktrdr.strategy.labels_config import LabelConfig, ZigzagLabels
from ktrdr.strategy.structs import Config, NonNegFloat, NonNegInt, PositiveFloat, PositiveInt, UnitFloat


class SchedulerConfig(Config, kw_only=True):
    """`training.lr_scheduler` (`true` means `{type: step}`); only the chosen type's fields are used."""

    type: Literal["step", "exponential", "reduce_on_plateau"] = "step"
    step_size: PositiveInt = 30
    gamma: PositiveFloat | None = None  # None: 0.1 for step, 0.95 for exponential (the original's defaults)
    factor: Annotated[float, Meta(gt=0, lt=1)] = 0.5
    patience: NonNegInt = 5

    @property
    def decay(self) -> float:
        """The multiplicative decay of step/exponential schedules."""
        if self.gamma is not None:
            return self.gamma
        return 0.95 if self.type == "exponential" else 0.1


class EarlyStoppingConfig(Config, kw_only=True):
    """Stop when the validation loss has not improved by `min_delta` for `patience` epochs."""

    enabled: bool = True
    patience: PositiveInt = 10
    min_delta: NonNegFloat = 0.001
    monitor: Literal["val_loss"] = "val_loss"


class DataSplitConfig(Config, kw_only=True):
    """Chronological train/validation/test fractions and the embargo gap between them."""

    train: Annotated[float, Meta(gt=0, lt=1)] = 0.7
    validation: UnitFloat = 0.15
    test: UnitFloat = 0.15
    embargo_bars: NonNegInt | None = None  # None: the label span


class CheckpointConfig(Config, kw_only=True):
    """How often training saves a resumable checkpoint."""

    every_epochs: PositiveInt = 5
    every_seconds: PositiveFloat = 60.0


class TrainingConfig(Config, kw_only=True):
    """`training`: how the model is fitted."""

    IGNORED: ClassVar[dict[str, str]] = {
        "validation_split": "the split is set by training.data_split",
    }
    method: Literal["supervised"] = "supervised"
    labels: LabelConfig = msgspec.field(default_factory=ZigzagLabels)
    loss: Literal["auto", "cross_entropy", "focal", "huber", "mse"] = "auto"
    focal_gamma: NonNegFloat = 2.0
    huber_delta: PositiveFloat = 0.01
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    weight_decay: NonNegFloat | None = None  # None: 1e-4, or 0 for regression (the original's defaults)
    momentum: NonNegFloat = 0.9
    learning_rate: PositiveFloat = 0.001
    batch_size: PositiveInt = 32
    epochs: PositiveInt = 100
    lr_scheduler: bool | SchedulerConfig = False
    gradient_clip: NonNegFloat = 1.0
    early_stopping: EarlyStoppingConfig | None = None
    data_split: DataSplitConfig = msgspec.field(default_factory=DataSplitConfig)
    class_weights: Literal["inverse_frequency", "none"] = "inverse_frequency"
    seed: int = 42
    checkpoint: CheckpointConfig = msgspec.field(default_factory=CheckpointConfig)

    def __post_init__(self) -> None:
        # `lr_scheduler: true` is the default scheduler; keep one form so consumers read a struct or None.
        if self.lr_scheduler is True:
            force_setattr(self, "lr_scheduler", SchedulerConfig())

    @property
    def scheduler(self) -> SchedulerConfig | None:
        """The learning-rate scheduler, or None."""
        return self.lr_scheduler if isinstance(self.lr_scheduler, SchedulerConfig) else None

    @property
    def stopping(self) -> EarlyStoppingConfig | None:
        """Early stopping when configured and enabled, else None."""
        es = self.early_stopping
        return es if es is not None and es.enabled else None

    def decay_for(self, output_format: str) -> float:
        """Weight decay: as given, else 1e-4 (classification) / 0 (regression, tiny targets)."""
        if self.weight_decay is not None:
            return self.weight_decay
        return 0.0 if output_format == "regression" else 1e-4
