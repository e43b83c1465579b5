"""A typo in any section of a strategy names its YAML path, line and column (the position is found in the
text itself, not computed by the loader), with a "did you mean" where a close name exists."""

from __future__ import annotations

import pytest

from ktrdr.strategy import StrategyError, validate_strategy

FULL = """\
name: every_section
version: "3.0"
description: one strategy that uses every section of the grammar
scope: universal
training_data:
  symbols:
    mode: single
    symbol: EURUSD
  timeframes:
    mode: multi_timeframe
    list: [1h, 4h]
    base_timeframe: 1h
  date_range:
    start: "2024-01-01"
    end: "2024-06-01"
  history_required: 100
context_data:
  - provider: ib
    symbol: GBPUSD
    timeframe: 1h
    alignment: forward_fill
deployment:
  target_symbols:
    mode: universal
  target_timeframes:
    mode: single
    timeframe: 1h
indicators:
  rsi_14:
    type: rsi
    period: 14
  gbp_rsi:
    type: rsi
    period: 14
    data_source: GBPUSD
fuzzy_sets:
  rsi_zone:
    indicator: rsi_14
    low: [0, 25, 45]
    high:
      type: triangular
      parameters: [55, 75, 100]
  gbp_zone:
    indicator: gbp_rsi
    weak: [0, 30, 50]
nn_inputs:
  - fuzzy_set: rsi_zone
    timeframes: all
  - fuzzy_set: gbp_zone
    timeframes: [1h]
  - raw_indicator: rsi_14
    timeframes: all
    normalization: minmax
model:
  type: lstm
  architecture:
    sequence_length: 8
    hidden_size: 16
    num_layers: 1
    dropout: 0.1
decisions:
  output_format: classification
  num_classes: 3
  confidence_threshold: 0.5
  position_awareness: true
  filters:
    min_signal_separation: 2
training:
  method: supervised
  labels:
    source: triple_barrier
    pt_multiplier: 2.0
    sl_multiplier: 1.0
    max_holding_period: 20
  loss: focal
  focal_gamma: 2.0
  optimizer: adam
  weight_decay: 0.0001
  learning_rate: 0.001
  batch_size: 64
  epochs: 20
  lr_scheduler:
    type: step
    step_size: 5
  early_stopping:
    patience: 4
    min_delta: 0.001
  data_split:
    train: 0.7
    validation: 0.15
    test: 0.15
"""

# (section, text to replace, replacement, YAML path of the error, token whose position the error must name, hint)
TYPOS = [
    ("top level", "scope: universal", "scoppe: universal", "scoppe", "scoppe:", "did you mean 'scope'"),
    ("scope value", "scope: universal", "scope: universl", "scope", "scope:", "did you mean 'universal'"),
    ("training_data", "  date_range:", "  date_rang:", "training_data.date_rang", "date_rang:", "'date_range'"),
    ("symbols", "    mode: single\n    symbol:", "    mode: singel\n    symbol:", "training_data.symbols.mode",
     "mode: singel", "did you mean 'single'"),
    ("timeframes", "    base_timeframe: 1h", "    base_timefram: 1h", "training_data.timeframes.base_timefram",
     "base_timefram:", "'base_timeframe'"),
    ("date_range", "    start: \"2024", "    strat: \"2024", "training_data.date_range.strat", "strat:", "'start'"),
    ("context_data", "  - provider: ib", "  - provder: ib", "context_data[0].provder", "provder:", "'provider'"),
    ("deployment", "  target_symbols:", "  target_symbol:", "deployment.target_symbol", "target_symbol:",
     "'target_symbols'"),
    ("indicator type", "    type: rsi\n    period: 14\n  gbp", "    type: rsii\n    period: 14\n  gbp",
     "indicators.rsi_14.type", "type: rsii", "'rsi'"),
    ("data_source", "data_source: GBPUSD", "data_source: GBPUSX", "indicators.gbp_rsi.data_source",
     "data_source: GBPUSX", "did you mean 'GBPUSD'"),
    ("fuzzy_sets", "      type: triangular", "      type: triangulr", "fuzzy_sets.rsi_zone.high.type",
     "type: triangulr", "did you mean 'triangular'"),
    ("fuzzy reference", "    indicator: gbp_rsi", "    indicator: gbp_rs", "fuzzy_sets.gbp_zone.indicator",
     "indicator: gbp_rs", "did you mean 'gbp_rsi'"),
    ("nn_inputs", "  - raw_indicator: rsi_14", "  - raw_indicatr: rsi_14", "nn_inputs[2].raw_indicatr",
     "raw_indicatr:", "'raw_indicator'"),
    ("model", "  architecture:", "  architecure:", "model.architecure", "architecure:", "'architecture'"),
    ("architecture", "    hidden_size: 16", "    hiden_size: 16", "model.architecture.hiden_size", "hiden_size:",
     "'hidden_size'"),
    ("decisions", "  confidence_threshold: 0.5", "  confidence_treshold: 0.5", "decisions.confidence_treshold",
     "confidence_treshold:", "'confidence_threshold'"),
    ("filters", "    min_signal_separation: 2", "    min_signal_separaton: 2",
     "decisions.filters.min_signal_separaton", "min_signal_separaton:", "'min_signal_separation'"),
    ("labels", "    max_holding_period: 20", "    max_holding_perod: 20", "training.labels.max_holding_perod",
     "max_holding_perod:", "'max_holding_period'"),
    ("label source", "    source: triple_barrier", "    source: triple_barier", "training.labels.source",
     "source: triple_barier", "did you mean 'triple_barrier'"),
    ("training", "  focal_gamma: 2.0", "  focal_gama: 2.0", "training.focal_gama", "focal_gama:", "'focal_gamma'"),
    ("optimizer", "  optimizer: adam", "  optimizer: adamw", "training.optimizer", "optimizer: adamw", "'adam'"),
    ("lr_scheduler", "    type: step", "    type: stpe", "training.lr_scheduler.type", "type: stpe", "'step'"),
    ("early_stopping", "    patience: 4", "    patiance: 4", "training.early_stopping.patiance", "patiance:",
     "'patience'"),
    ("data_split", "    train: 0.7", "    trian: 0.7", "training.data_split.trian", "trian:", "'train'"),
]


def _position(text: str, token: str) -> tuple[int, int]:
    """1-based line and column of the first character of `token` (the key it starts with)."""
    at = text.index(token)
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


def test_the_full_strategy_is_valid() -> None:
    assert validate_strategy(FULL).name == "every_section"


@pytest.mark.parametrize("section,old,new,path,token,hint", TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_names_path_line_and_column(section: str, old: str, new: str, path: str, token: str,
                                           hint: str) -> None:
    assert FULL.count(old) == 1, old
    text = FULL.replace(old, new)
    with pytest.raises(StrategyError) as info:
        validate_strategy(text)
    err = info.value
    assert err.path == path
    assert (err.line, err.column) == _position(text, token)
    assert f"line {err.line}, column {err.column}: {path}:" in str(err)
    assert hint in str(err)
