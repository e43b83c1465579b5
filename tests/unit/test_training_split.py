"""Chronological split: ordered, disjoint parts, an embargo gap wide enough that labels never cross a boundary."""

import numpy as np
import pytest

from ktrdr.strategy.config import (DataSplitConfig, TrainingConfig, TripleBarrierLabels, ZigzagLabels,
                                   label_span)
from ktrdr.training.errors import TrainingError
from ktrdr.training.split import chronological_split, split_from_config


@pytest.mark.parametrize("n,embargo", [(1000, 0), (1000, 20), (137, 5)])
def test_parts_are_ordered_disjoint_and_gapped(n: int, embargo: int) -> None:
    s = chronological_split(n, 0.7, 0.15, 0.15, embargo=embargo)
    assert s.train[0] == 0 and s.test[-1] == n - 1
    for part in (s.train, s.validation, s.test):
        assert (np.diff(part) == 1).all()
    assert s.validation[0] - s.train[-1] - 1 == embargo
    assert s.test[0] - s.validation[-1] - 1 == embargo
    assert sum(s.sizes().values()) == n - 2 * embargo


def test_label_windows_never_reach_the_next_part() -> None:
    lookahead = 12
    s = chronological_split(500, 0.6, 0.2, 0.2, embargo=lookahead)
    # A label at row t reads rows up to t + lookahead; those must stay before the next part begins.
    assert s.train[-1] + lookahead < s.validation[0]
    assert s.validation[-1] + lookahead < s.test[0]


def test_fractions_are_respected_roughly() -> None:
    s = chronological_split(1000, 0.7, 0.2, 0.1, embargo=0)
    assert s.sizes() == {"train": 700, "validation": 200, "test": 100}


def test_zero_fraction_parts_are_empty_and_need_no_gap() -> None:
    s = chronological_split(100, 0.8, 0.2, 0.0, embargo=5)
    assert len(s.test) == 0 and s.validation[-1] == 99 and s.validation[0] - s.train[-1] - 1 == 5


@pytest.mark.parametrize("fractions", [(0.7, 0.2, 0.2), (0.5, -0.1, 0.6)])
def test_bad_fractions_are_rejected(fractions: tuple[float, float, float]) -> None:
    with pytest.raises(TrainingError, match="sum to 1"):
        chronological_split(100, *fractions)


def test_embargo_that_empties_a_part_is_rejected_with_a_hint() -> None:
    with pytest.raises(TrainingError) as err:
        chronological_split(40, 0.7, 0.15, 0.15, embargo=10)
    assert "empty" in str(err.value) and err.value.hint


def test_config_embargo_defaults_to_label_span() -> None:
    cfg = TrainingConfig(labels=ZigzagLabels(label_lookahead=7))
    s = split_from_config(1000, cfg.data_split, default_embargo=label_span(cfg.labels))
    assert s.embargo == 7
    tb = TrainingConfig(labels=TripleBarrierLabels(max_holding_period=30))
    assert label_span(tb.labels) == 30
    explicit = split_from_config(1000, DataSplitConfig(embargo_bars=0), default_embargo=7)
    assert explicit.embargo == 0
    unset = split_from_config(1000, DataSplitConfig(), default_embargo=4)
    assert unset.embargo == 4
