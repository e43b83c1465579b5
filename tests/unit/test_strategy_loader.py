"""Strategy loading, defaults, round-trip and the error path/message for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktrdr.strategy import (
    StrategyError,
    StrategyWarning,
    dump_strategy,
    load_strategy,
    validate_strategy,
)
from ktrdr.strategy.config import SchedulerConfig, TripleBarrierLabels, label_span

EXAMPLES = sorted((Path(__file__).parents[2] / "strategies").glob("*.yaml"))
BASE = """
name: t
version: "3.0"
training_data:
  symbols: {mode: single, symbol: EURUSD}
  timeframes: {mode: multi_timeframe, list: [1h, 4h]}
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
  - {raw_indicator: macd_12_26_9.histogram, timeframes: [1h], normalization: zscore}
"""


def test_defaults_and_shorthands():
    cfg = load_strategy(BASE)
    assert cfg.training_data.symbol_list == ["EURUSD"] and cfg.training_data.timeframe_list == ["1h", "4h"]
    assert cfg.training_data.base == "1h"  # the finest timeframe when base_timeframe is not given
    assert cfg.fuzzy_sets["rsi_14"].memberships["oversold"].type == "triangular"
    assert cfg.model.type == "mlp" and cfg.training.loss == "auto" and cfg.loss == "cross_entropy"
    assert cfg.label_source == "zigzag" and label_span(cfg.training.labels) == 10
    assert cfg.training.scheduler is None and cfg.training.stopping is None


def test_dump_round_trips():
    cfg = load_strategy(BASE)
    assert load_strategy(dump_strategy(cfg)) == cfg


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_validate_without_warnings(path):
    warnings: list[StrategyWarning] = []
    assert validate_strategy(path, warnings).name == path.stem
    assert warnings == []


def test_label_sources_and_scheduler_forms():
    tb = load_strategy(BASE + "training:\n  labels: {source: triple_barrier, max_holding_period: 24}\n"
                       "  lr_scheduler: true\n")
    assert isinstance(tb.training.labels, TripleBarrierLabels) and label_span(tb.training.labels) == 24
    assert tb.training.scheduler == SchedulerConfig(type="step")
    plateau = load_strategy(BASE + "training: {lr_scheduler: {type: reduce_on_plateau, patience: 2}}\n")
    assert plateau.training.scheduler.type == "reduce_on_plateau" and plateau.training.scheduler.patience == 2


def test_the_list_may_be_written_under_its_field_name():
    text = BASE.replace("{mode: multi_timeframe, list: [1h, 4h]}", "{mode: multi_timeframe, timeframes: [1h, 4h]}")
    assert load_strategy(text).training_data.timeframe_list == ["1h", "4h"]


def test_ignored_keys_warn_with_their_location():
    warnings: list[StrategyWarning] = []
    validate_strategy(BASE + "training:\n  validation_split: 0.2\n", warnings)
    assert [w.path for w in warnings] == ["training.validation_split"]
    assert (warnings[0].line, warnings[0].column) == (23, 3)


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
        ("{fuzzy_set: rsi_14,", "{fuzzy_set: rsi_14, normalization: zscore,", "nn_inputs[0].normalization",
         "raw_indicator inputs only"),
        ("timeframes: [1h], norm", "timeframes: [5m], norm", "nn_inputs[1].timeframes[0]",
         "not in training_data.timeframes"),
        ("normalization: zscore", "normalization: z", "nn_inputs[1].normalization", "zscore"),
        ('version: "3.0"', 'version: "2.0"', "version", "unsupported version"),
        ("list: [1h, 4h]}", "list: [1h, 4h], base_timeframe: 1d}",
         "training_data.timeframes.base_timeframe", "one of the timeframes"),
        ("{mode: multi_timeframe, list: [1h, 4h]}", "{mode: multi_timeframe, list: [1h]}",
         "training_data.timeframes", "at least 2"),
        ("{mode: single, symbol: EURUSD}", "{mode: single}", "training_data.symbols", "needs 'symbol'"),
        ("{mode: single, symbol: EURUSD}", "{mode: singel, symbol: EURUSD}", "training_data.symbols.mode",
         "did you mean 'single'"),
    ],
)
def test_invalid_strategies_name_path_and_fix(old, new, path, words):
    assert old in BASE
    with pytest.raises(StrategyError) as info:
        load_strategy(BASE.replace(old, new, 1))
    assert info.value.path == path
    assert words in str(info.value)
    assert info.value.line is not None and info.value.column is not None


def test_nested_unknown_key_and_bad_type():
    with pytest.raises(StrategyError) as info:
        load_strategy(BASE + "training: {early_stoping: {patience: 3}}\n")
    assert info.value.path == "training.early_stoping"
    assert info.value.suggestion == "did you mean 'early_stopping'?"
    with pytest.raises(StrategyError) as info:
        load_strategy(BASE + "model: {architecture: {hidden_layers: [8, 0]}}\n")
    assert info.value.path == "model.architecture.hidden_layers[1]"


def test_cross_section_rules():
    regression = BASE + "decisions: {output_format: regression}\ntraining: {labels: {source: forward_return}}\n"
    with pytest.raises(StrategyError, match="cost_model") as info:
        load_strategy(regression)
    assert info.value.path == "decisions"
    with pytest.raises(StrategyError, match="forward_return") as info:
        load_strategy(BASE + "decisions: {output_format: regression, cost_model: {round_trip_cost: 0.001}}\n")
    assert info.value.path == "training.labels.source"
    with pytest.raises(StrategyError, match="does not fit") as info:
        load_strategy(BASE + "training: {loss: huber}\n")
    assert info.value.path == "training.loss"


def test_errors_are_value_errors_and_bad_yaml_says_where():
    with pytest.raises(ValueError, match="line 2"):
        load_strategy("name: x\n  bad: [")
    with pytest.raises(StrategyError, match="cannot read"):
        load_strategy(Path("/nonexistent/strategy.yaml"))
    with pytest.raises(StrategyError, match="duplicate key 'name'") as info:
        load_strategy("name: a\nname: b\n")
    assert (info.value.line, info.value.column) == (2, 1)


def test_keys_of_older_original_files_are_accepted_with_a_warning():
    warnings: list[StrategyWarning] = []
    cfg = validate_strategy(BASE + "model: {type: mlp, hidden_layers: [8], dropout: 0.1}\n"
                                   "backtest: {date_range: {start: '2024-07-01', end: '2024-12-31'}}\n", warnings)
    assert [w.path for w in warnings] == ["model.hidden_layers", "model.dropout"]
    assert all("model.architecture" in w.message for w in warnings)
    assert cfg.model.hidden_layers == [64, 32]  # as in the original: not read from there
    assert cfg.backtest.date_range.start == "2024-07-01"


def test_num_classes_must_match_the_label_source():
    assert load_strategy(BASE + "decisions: {num_classes: 3}\n").decisions.num_classes == 3
    regime = BASE + "training: {labels: {source: regime}}\n"
    assert load_strategy(regime + "decisions: {num_classes: 4}\n").label_source == "regime"
    with pytest.raises(StrategyError, match="4 classes of regime") as info:
        load_strategy(regime + "decisions: {num_classes: 3}\n")
    assert info.value.path == "decisions.num_classes"
