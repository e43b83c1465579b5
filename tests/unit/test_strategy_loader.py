"""Strategy loading, defaults, round-trip and the error path/message for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktrdr.strategy import (
    StrategyError,
    dump_strategy,
    load_strategy,
    validate_strategy,
)

EXAMPLES = sorted((Path(__file__).parents[2] / "strategies").glob("*.yaml"))
BASE = """
name: t
version: "3.0"
training_data: {symbols: EURUSD, timeframes: [1h, 4h]}
indicators:
  rsi_14: {type: rsi, period: 14}
  macd_12_26_9: {type: macd, fast_period: 12, slow_period: 26, signal_period: 9}
fuzzy_sets:
  rsi_14:
    indicator: rsi_14
    oversold: [0, 20, 40]
    neutral: {type: trapezoidal, parameters: [30, 45, 55, 70]}
    overbought: {type: gaussian, parameters: [80, 10]}
  macd_hist:
    indicator: macd_12_26_9.histogram
    negative: [-10, -2, 0]
nn_inputs:
  - {fuzzy_set: rsi_14, timeframes: all}
  - {indicator: macd_12_26_9.histogram, timeframes: [1h], normalization: zscore}
"""


def test_defaults_and_shorthands():
    cfg = load_strategy(BASE)
    assert cfg.training_data.symbols == ["EURUSD"]
    assert cfg.training_data.base_timeframe == "1h"
    assert cfg.fuzzy_sets["rsi_14"].memberships["oversold"].type == "triangular"
    assert cfg.model.type == "mlp" and cfg.training.loss == "auto" and cfg.loss == "cross_entropy"
    assert cfg.training.data_split.embargo_bars == cfg.training.labels.lookahead


def test_dump_round_trips():
    cfg = load_strategy(BASE)
    assert load_strategy(dump_strategy(cfg)) == cfg


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_validate(path):
    assert validate_strategy(path).name == path.stem


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ("indicators:", "indicatorz:", "indicatorz", "did you mean 'indicators'"),
        ("type: rsi,", "type: rsii,", "indicators.rsi_14.type", "did you mean 'rsi'"),
        ("period: 14", "periode: 14", "indicators.rsi_14.periode", "did you mean 'period'"),
        ("period: 14", "period: -3", "indicators.rsi_14.period", "must be >= 2 and <= 100"),
        ("fast_period: 12", "fast_period: 12.5", "indicators.macd_12_26_9.fast_period",
         "whole number"),
        ("fast_period: 12", "fast_perod: 12", "indicators.macd_12_26_9.fast_perod",
         "did you mean 'fast_period'"),
        ("indicator: macd_12_26_9.histogram", "indicator: macd_12_26_9.hist",
         "fuzzy_sets.macd_hist.indicator", "did you mean 'macd_12_26_9.histogram'"),
        ("indicator: rsi_14\n", "indicator: rsi_14.value\n", "fuzzy_sets.rsi_14.indicator",
         "single output"),
        ("indicator: rsi_14\n", "indicator: rsi_41\n", "fuzzy_sets.rsi_14.indicator",
         "did you mean 'rsi_14'"),
        ("[0, 20, 40]", "[0, 40, 20]", "fuzzy_sets.rsi_14.oversold", "non-decreasing"),
        ("[30, 45, 55, 70]", "[30, 45, 70]", "fuzzy_sets.rsi_14.neutral", "4 parameters"),
        ("[80, 10]", "[80, 0]", "fuzzy_sets.rsi_14.overbought", "sigma must be > 0"),
        ("{fuzzy_set: rsi_14,", "{fuzzy_set: rsi_1,", "nn_inputs[0].fuzzy_set", "rsi_14"),
        ("timeframes: [1h], norm", "timeframes: [5m], norm", "nn_inputs[1].timeframes[0]",
         "not in training_data.timeframes"),
        ("normalization: zscore", "normalization: z", "nn_inputs[1].normalization", "zscore"),
        ('version: "3.0"', 'version: "2.0"', "version", "unsupported version"),
        ("timeframes: [1h, 4h]}", "timeframes: [1h, 4h], base_timeframe: 1d}",
         "training_data.base_timeframe", "one of the timeframes"),
    ],
)
def test_invalid_strategies_name_path_and_fix(old, new, path, words):
    assert old in BASE
    with pytest.raises(StrategyError) as info:
        load_strategy(BASE.replace(old, new, 1))
    assert info.value.path == path
    assert words in str(info.value)


def test_nested_unknown_key_and_bad_type():
    with pytest.raises(StrategyError) as info:
        load_strategy(BASE + "training: {early_stoping: {patience: 3}}\n")
    assert info.value.path == "training.early_stoping"
    assert info.value.suggestion == "did you mean 'early_stopping'?"
    with pytest.raises(StrategyError) as info:
        load_strategy(BASE + "model: {hidden_layers: [8, 0]}\n")
    assert info.value.path == "model.hidden_layers[1]"


def test_errors_are_value_errors_and_bad_yaml_says_where():
    with pytest.raises(ValueError, match="line 2"):
        load_strategy("name: x\n  bad: [")
    with pytest.raises(StrategyError, match="cannot read"):
        load_strategy(Path("/nonexistent/strategy.yaml"))
