"""Strategy files: v3 config structs, loading/validation, and feature building."""

from ktrdr.strategy.config import (
    CheckpointConfig,
    DataSplitConfig,
    DecisionsConfig,
    EarlyStoppingConfig,
    FuzzySetConfig,
    LabelConfig,
    MembershipConfig,
    ModelConfig,
    NNInputConfig,
    SchedulerConfig,
    StrategyConfig,
    TrainingConfig,
    TrainingDataConfig,
)
from ktrdr.strategy.errors import StrategyError, StrategyWarning
from ktrdr.strategy.loader import dump_strategy, parse_strategy
from ktrdr.strategy.validate import load_strategy, validate_strategy

__all__ = [
    "CheckpointConfig",
    "DataSplitConfig",
    "DecisionsConfig",
    "EarlyStoppingConfig",
    "FuzzySetConfig",
    "LabelConfig",
    "MembershipConfig",
    "ModelConfig",
    "NNInputConfig",
    "SchedulerConfig",
    "StrategyConfig",
    "StrategyError",
    "StrategyWarning",
    "TrainingConfig",
    "TrainingDataConfig",
    "dump_strategy",
    "load_strategy",
    "parse_strategy",
    "validate_strategy",
]

from ktrdr.strategy.features import (  # noqa: E402  (features import the loader above)
    align_to_base,
    build_features,
    complete_rows,
    feature_names,
    normalization_methods,
)
from ktrdr.strategy.normalize import Normalizer  # noqa: E402

__all__ += [
    "Normalizer",
    "align_to_base",
    "build_features",
    "complete_rows",
    "feature_names",
    "normalization_methods",
]
