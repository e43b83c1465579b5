"""Cross-reference checks on a decoded strategy; the one entry point for CLI and backend."""

from __future__ import annotations

from ktrdr.strategy.config import StrategyConfig
from ktrdr.strategy.loader import Source, parse_strategy


def validate_strategy(source: Source | StrategyConfig) -> StrategyConfig:
    """Decode and fully check a strategy (path, YAML text, mapping or config); raise StrategyError."""
    cfg = source if isinstance(source, StrategyConfig) else parse_strategy(source)
    return cfg


def load_strategy(source: Source) -> StrategyConfig:
    """Load a strategy from a path or YAML text, validated."""
    return validate_strategy(source)
