"""Membership functions at hand-derived points, NaN handling and the engine's column names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ktrdr.fuzzy import FuzzyError, check_parameters, fuzzify, gaussian, trapezoidal, triangular
from ktrdr.strategy import load_strategy


def test_triangular_points_and_shoulders():
    x = np.array([np.nan, -5, 0, 10, 20, 30, 40, 45])
    np.testing.assert_allclose(triangular(x, [0, 20, 40]), [np.nan, 0, 0, .5, 1, .5, 0, 0])
    np.testing.assert_allclose(triangular(np.array([0.0, 10, 20]), [0, 0, 20]), [1, .5, 0])


def test_trapezoidal_and_gaussian_points():
    x = np.array([0.0, 15, 30, 45, 60, 70, 80])
    np.testing.assert_allclose(trapezoidal(x, [0, 30, 60, 80]), [0, .5, 1, 1, 1, .5, 0])
    np.testing.assert_allclose(gaussian(np.array([50.0, 60.0]), [50, 10]), [1, np.exp(-0.5)])


@pytest.mark.parametrize(("kind", "params", "msg"), [
    ("triangular", [3, 2, 1], "non-decreasing"), ("trapezoidal", [0, 1, 2], "4 parameters"),
    ("gaussian", [0, -1], "sigma"), ("sigmoid", [0, 1], "unknown")])
def test_bad_parameters(kind, params, msg):
    with pytest.raises(FuzzyError, match=msg):
        check_parameters(kind, params)


def test_engine_names_columns_by_timeframe_set_membership():
    cfg = load_strategy("""
name: f
training_data: {symbols: {mode: single, symbol: X}, timeframes: {mode: single, timeframe: 1h}}
indicators: {bb: {type: bbands}}
fuzzy_sets: {pos: {indicator: bb.middle, low: [0, 0, 0.5], high: [0.5, 1, 1]}}
nn_inputs: [{fuzzy_set: pos, timeframes: all}]
""")
    ind = pd.DataFrame({"bb.middle": [0.0, 0.25, 0.75, np.nan]})
    out = fuzzify(ind, cfg.fuzzy_sets, "1h")
    assert list(out.columns) == ["1h_pos_low", "1h_pos_high"]
    np.testing.assert_allclose(out.to_numpy(), [[1, 0], [.5, 0], [0, .5], [np.nan, np.nan]])
