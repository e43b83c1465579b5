"""Model bundles round-trip through bytes and predict the same; keys and versions follow the naming convention."""

import msgspec
import numpy as np
import pytest
import torch

from ktrdr.strategy.config import ModelConfig, model_config
from ktrdr.training.bundle import ModelBundle, bundle_key, latest_key, next_version, parse_bundle_key
from ktrdr.training.keys import model_line, split_line
from ktrdr.training.errors import BundleError
from ktrdr.training.models import build_model

torch.set_num_threads(1)


def _bundle(cfg: ModelConfig, output_format: str = "classification", n_features: int = 4) -> ModelBundle:
    torch.manual_seed(0)
    model = build_model(cfg, n_features, output_format)
    return ModelBundle(weights=model.state_dict(), model_config=msgspec.to_builtins(cfg), output_format=output_format,
                       feature_names=[f"f{i}" for i in range(n_features)], strategy="s", timeframe="1h",
                       strategy_yaml="name: s\n", normalization={"f0": {"mean": np.float64(1.5), "std": 2.0}},
                       metrics={"accuracy": np.float32(0.5)}, label_config={"method": "zigzag"})


@pytest.mark.parametrize("cfg", [model_config(hidden_layers=[8]), model_config("lstm", hidden_layers=[6],
                                                                             sequence_length=3)])
def test_round_trip_predicts_identically(cfg: ModelConfig) -> None:
    bundle = _bundle(cfg)
    features = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    loaded = ModelBundle.from_bytes(bundle.to_bytes())
    np.testing.assert_array_equal(loaded.predict(features), bundle.predict(features))
    assert loaded.feature_names == bundle.feature_names and loaded.normalization["f0"]["mean"] == 1.5
    assert loaded.created_at == bundle.created_at and loaded.strategy_yaml == "name: s\n"


def test_probabilities_sum_to_one_and_warmup_rows_are_nan() -> None:
    bundle = _bundle(model_config("gru", hidden_layers=[5], sequence_length=4))
    features = np.random.default_rng(1).normal(size=(20, 4))
    features[10, 2] = np.nan
    probs = bundle.predict(features, batch_size=3)
    valid = ~np.isnan(probs).any(axis=1)
    # Rows 0-2 lack a full window; rows 10-13 have the NaN row inside their window.
    np.testing.assert_array_equal(np.flatnonzero(~valid), [0, 1, 2, 10, 11, 12, 13])
    np.testing.assert_allclose(probs[valid].sum(axis=1), 1.0, rtol=1e-5)


def test_sequence_prediction_uses_the_window_ending_at_each_row() -> None:
    bundle = _bundle(model_config("lstm", hidden_layers=[5], sequence_length=3))
    features = np.random.default_rng(2).normal(size=(10, 4)).astype(np.float32)
    with torch.no_grad():
        direct = torch.softmax(bundle.build_model()(torch.as_tensor(features[4:7])[None]), dim=1).numpy()
    np.testing.assert_allclose(bundle.predict(features)[6], direct[0], rtol=1e-6)


def test_regression_predicts_a_vector() -> None:
    out = _bundle(model_config(hidden_layers=[4]), "regression").predict(np.zeros((5, 4)))
    assert out.shape == (5,) and np.isfinite(out).all()


def test_wrong_feature_count_and_garbage_blobs_are_rejected() -> None:
    bundle = _bundle(model_config(hidden_layers=[4]))
    with pytest.raises(BundleError, match="f0"):
        bundle.predict(np.zeros((3, 5)))
    with pytest.raises(BundleError):
        ModelBundle.from_bytes(b"not a bundle")


def test_keys_and_versions() -> None:
    assert bundle_key("rsi", "1h", 3) == "rsi/1h_v3"
    assert parse_bundle_key("rsi/1h_v12") == ("rsi", "1h", 12)
    assert parse_bundle_key(latest_key("rsi", "1h")) is None
    keys = ["rsi/1h_v1", "rsi/1h_v4", "rsi/4h_v9", "rsi/1h_latest", "other/1h_v7"]
    assert next_version(keys, "rsi", "1h") == 5 and next_version([], "rsi", "1h") == 1
    with pytest.raises(BundleError):
        bundle_key("a/b", "1h", 1)


def test_a_multi_symbol_line_carries_the_symbol_set_in_training_order() -> None:
    line = model_line(["GBPUSD", "EURUSD", "USD_JPY"], "4h")
    assert line == "GBPUSD+EURUSD+USD_JPY_4h" and split_line(line) == (["GBPUSD", "EURUSD", "USD_JPY"], "4h")
    assert model_line(["EURUSD"], "1h") == "1h" and split_line("1h") == ([], "1h")
    key = bundle_key("fx", line, 2)
    assert parse_bundle_key(key) == ("fx", line, 2)
    assert next_version([key, "fx/4h_v7"], "fx", line) == 3  # a symbol set never shares a single-symbol count
    with pytest.raises(BundleError, match="'\\+'"):
        model_line(["EUR+USD", "GBPUSD"], "1h")
