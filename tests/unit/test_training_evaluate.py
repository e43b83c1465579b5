"""Test metrics against hand-computed values and the device helpers' contracts."""

import numpy as np
import pytest
import torch

from ktrdr.training import device
from ktrdr.training.errors import DeviceUnavailable
from ktrdr.training.evaluate import classification_metrics, evaluate_predictions, regression_metrics


def test_classification_metrics_by_hand() -> None:
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2])
    m = classification_metrics(y_true, y_pred)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["baseline_accuracy"] == pytest.approx(3 / 6) and m["baseline_class"] == "HOLD"
    assert m["per_class"]["BUY"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["per_class"]["SELL"]["precision"] == 0.5
    assert m["macro"]["recall"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)


def test_absent_class_gives_zero_not_nan() -> None:
    m = classification_metrics(np.array([1, 1]), np.array([1, 1]))
    assert m["per_class"]["BUY"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_regression_metrics_by_hand() -> None:
    m = regression_metrics(np.array([0.01, -0.02, 0.03, 0.01]), np.array([0.02, -0.01, -0.01, 0.01]))
    assert m["mae"] == pytest.approx(0.06 / 4)
    assert m["rmse"] == pytest.approx(np.sqrt((1e-4 + 1e-4 + 16e-4 + 0) / 4))
    assert m["directional_accuracy"] == 0.75 and m["baseline_directional_accuracy"] == 0.75


def test_evaluate_predictions_takes_argmax_of_probabilities() -> None:
    probs = np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]])
    assert evaluate_predictions(np.array([2, 0]), probs, "classification")["accuracy"] == 1.0


@pytest.mark.parametrize(("cuda", "mps", "auto"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu_and_cpu_means_cpu(
        monkeypatch: pytest.MonkeyPatch, cuda: bool, mps: bool, auto: str) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(device, "_mps_available", lambda: mps)
    assert device.pick_device("auto").type == auto
    assert device.pick_device("cpu").type == "cpu"


def test_auto_picks_what_this_machine_has() -> None:
    has_mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    expected = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    assert device.pick_device("auto").type == expected
    assert (device.gpu_info() is None) == (expected == "cpu")


def test_require_gpu_says_why_when_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(DeviceUnavailable) as err:
        device.require_gpu()
    assert "no CUDA support" in err.value.reason and "--pool cpu" in str(err.value)
    assert device.gpu_info() is None
    with pytest.raises(DeviceUnavailable):
        device.pick_device("gpu")


def test_training_domain_never_imports_nats() -> None:
    import subprocess
    import sys

    code = "import sys, ktrdr.training; sys.exit(int(any(m.split('.')[0] == 'nats' for m in sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
