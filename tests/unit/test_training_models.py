"""Model shapes for every type and output format, parameter counts, windows without copies."""

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from ktrdr.strategy.config import ModelConfig, model_config
from ktrdr.training.errors import TrainingError
from ktrdr.training.models import build_model, parameter_count, sliding_windows, window_length


@pytest.mark.parametrize("kind", ["mlp", "lstm", "gru"])
@pytest.mark.parametrize("output_format,width", [("classification", 3), ("regression", 1)])
def test_output_shapes(kind: str, output_format: str, width: int) -> None:
    cfg = model_config(kind, hidden_layers=[8, 4], sequence_length=5, dropout=0.1)
    model = build_model(cfg, n_features=6, output_format=output_format)
    x = torch.randn(7, 6) if kind == "mlp" else torch.randn(7, 5, 6)
    assert model(x).shape == (7, width)
    assert window_length(cfg) == (1 if kind == "mlp" else 5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "leaky_relu"])
def test_mlp_parameter_count(activation: str) -> None:
    model = build_model(model_config(hidden_layers=[10, 5], activation=activation), 4, "classification")
    assert parameter_count(model) == (4 * 10 + 10) + (10 * 5 + 5) + (5 * 3 + 3)


def test_recurrent_layers_take_their_own_widths() -> None:
    model = build_model(model_config("gru", hidden_layers=[6, 3]), 2, "regression")
    expected = 3 * (6 * 2 + 6 * 6 + 2 * 6) + 3 * (3 * 6 + 3 * 3 + 2 * 3) + (3 + 1)
    assert parameter_count(model) == expected


def test_sliding_windows_match_numpy_and_share_memory() -> None:
    x = torch.arange(30, dtype=torch.float32).reshape(10, 3)
    w = sliding_windows(x, 4)
    expected = sliding_window_view(x.numpy(), 4, axis=0).transpose(0, 2, 1)
    np.testing.assert_array_equal(w.numpy(), expected)
    assert w.data_ptr() == x.data_ptr()
    assert sliding_windows(x[:2], 4).shape == (0, 4, 3)


def test_unknown_output_format_and_no_features_are_rejected() -> None:
    with pytest.raises(TrainingError, match="output_format"):
        build_model(ModelConfig(), 3, "ranking")
    with pytest.raises(TrainingError, match="feature"):
        build_model(ModelConfig(), 0, "classification")
