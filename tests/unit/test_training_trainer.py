"""The training loop: reproducible, early stopping keeps the best weights, stops within one batch on cancel,
and a cancelled-then-resumed run ends exactly like an uninterrupted one."""

import numpy as np
import pytest
import torch

from ktrdr.context import CancelToken, MemoryCheckpointer, ProgressReporter
from ktrdr.errors import OperationCancelled
from ktrdr.strategy.config import (CheckpointConfig, EarlyStoppingConfig, ModelConfig, SchedulerConfig,
                                   TrainingConfig, model_config)
from ktrdr.training.errors import TrainingError
from ktrdr.training.evaluate import classification_metrics
from ktrdr.training.synthetic import planted_features
from ktrdr.training.trainer import train_model

torch.set_num_threads(1)
MLP = model_config("mlp", hidden_layers=[16, 8], dropout=0.1)


def _cfg(**kw: object) -> TrainingConfig:
    base: dict[str, object] = dict(epochs=6, batch_size=64, seed=7, learning_rate=0.01,
                                   early_stopping=None,
                                   checkpoint=CheckpointConfig(every_epochs=2, every_seconds=3600.0))
    return TrainingConfig(**(base | kw))


def _data(n: int = 800, seed: int = 0) -> tuple[np.ndarray, ...]:
    x, y = planted_features(n + 200, seed=seed)
    return x[:n], y[:n], x[n:], y[n:]


def _train(cfg: TrainingConfig, model: ModelConfig = MLP, data: tuple | None = None, **kw: object):
    xt, yt, xv, yv = data or _data()
    return train_model(xt, yt, xv, yv, model_cfg=model, training_cfg=cfg, output_format="classification", **kw)


def _weights(outcome) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in outcome.model.state_dict().items()}


def _assert_same(a, b) -> None:
    wa, wb = _weights(a), _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    strip = lambda h: [{k: v for k, v in r.items() if k != "duration_s"} for r in h]  # noqa: E731
    assert strip(a.history) == strip(b.history)


class _CancelAtCheck(CancelToken):
    """Fires on its n-th check, as if a cancel request arrived during the previous batch."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.checks = at, 0

    def check(self) -> None:
        self.checks += 1
        if self.checks == self.at:
            self.cancel("test")
        super().check()


def test_same_seed_same_weights_and_history_other_seed_differs() -> None:
    _assert_same(_train(_cfg()), _train(_cfg()))
    other = _train(_cfg(seed=8))
    assert not torch.equal(next(iter(_weights(other).values())), next(iter(_weights(_train(_cfg())).values())))


def test_epoch_metrics_are_reported_once_per_epoch() -> None:
    progress = ProgressReporter()
    out = _train(_cfg(epochs=3), progress=progress)
    _, metrics, _ = progress.drain()
    assert [m["values"]["epoch"] for m in metrics] == [1, 2, 3]
    assert set(metrics[0]["values"]) == {"epoch", "train_loss", "val_loss", "train_accuracy", "val_accuracy",
                                         "learning_rate", "duration_s"}
    assert out.epochs_run == 3 and len(out.history) == 3


def test_early_stopping_restores_the_best_weights() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=300)  # pure noise: validation loss soon rises
    cfg = _cfg(epochs=60, learning_rate=0.05, early_stopping=EarlyStoppingConfig(enabled=True, patience=3))
    probe = MemoryCheckpointer()
    out = _train(cfg, model_config(hidden_layers=[64, 64], dropout=0.0), (x[:200], y[:200], x[200:], y[200:]),
                 checkpointer=probe)
    assert out.stopped_early and out.epochs_run < 60 and out.epochs_since_improvement == 3
    assert out.best_epoch == out.epochs_run - 3
    assert out.best_val_loss == min(h["val_loss"] for h in out.history)
    # Rebuild from the final checkpoint's best state: the returned model must carry exactly those weights.
    best = torch.load(__import__("io").BytesIO(probe.state), weights_only=True)["best"]["state"]
    assert all(torch.equal(best[k], v) for k, v in out.model.state_dict().items())


def test_cancel_stops_within_one_batch_and_saves_a_checkpoint() -> None:
    token, ckpt = _CancelAtCheck(at=5), MemoryCheckpointer()
    with pytest.raises(OperationCancelled):
        _train(_cfg(), cancel=token, checkpointer=ckpt)
    assert token.checks == 5  # the very next check after the request raised: no further batch ran
    assert ckpt.saves == 1 and ckpt.state


@pytest.mark.parametrize("model", [MLP, model_config("gru", hidden_layers=[8], sequence_length=4)])
def test_resumed_run_equals_uninterrupted_run(model: ModelConfig) -> None:
    cfg = _cfg(epochs=5, lr_scheduler=SchedulerConfig(type="step", step_size=2, gamma=0.5))
    full = _train(cfg, model)
    ckpt = MemoryCheckpointer()
    batches_per_epoch = int(np.ceil((800 - model.sequence_length + 1 if model.type != "mlp" else 800) / 64))
    with pytest.raises(OperationCancelled):
        # Cancel in the middle of epoch 4; the checkpoint holds the boundary after epoch 3.
        _train(cfg, model, cancel=_CancelAtCheck(at=3 * batches_per_epoch + 5), checkpointer=ckpt)
    resumed = _train(cfg, model, checkpointer=ckpt)
    assert resumed.resumed_from_epoch == 3 and resumed.epochs_run == full.epochs_run == 5
    _assert_same(full, resumed)


def test_resuming_a_finished_run_trains_nothing() -> None:
    ckpt = MemoryCheckpointer()
    first = _train(_cfg(epochs=3), checkpointer=ckpt)
    again = _train(_cfg(epochs=3), checkpointer=ckpt)
    assert again.resumed_from_epoch == 3 and again.samples_trained == 0
    _assert_same(first, again)


def test_planted_signal_beats_the_majority_baseline() -> None:
    x, y = planted_features(3000, seed=4)
    out = _train(_cfg(epochs=15, batch_size=128), data=(x[:2000], y[:2000], x[2000:2500], y[2000:2500]))
    with torch.no_grad():
        pred = out.model(torch.as_tensor(x[2500:])).argmax(1).numpy()
    metrics = classification_metrics(y[2500:], pred)
    assert metrics["accuracy"] > metrics["baseline_accuracy"] + 0.15


def test_regression_trains_and_reports_no_accuracy() -> None:
    x, _ = planted_features(600, seed=2)
    target = (0.5 * x[:, 0] - 0.2 * x[:, 2]).astype(np.float32)
    out = train_model(x[:500], target[:500], x[500:], target[500:], model_cfg=MLP,
                      training_cfg=_cfg(epochs=8, loss="mse"), output_format="regression")
    assert "val_accuracy" not in out.history[-1]
    assert out.history[-1]["val_loss"] < out.history[0]["val_loss"]


def test_checkpoints_every_n_epochs_and_at_the_end_with_every_scheduler() -> None:
    for kind in ("reduce_on_plateau", "exponential"):
        ckpt = MemoryCheckpointer()
        out = _train(_cfg(epochs=5, lr_scheduler=SchedulerConfig(type=kind)), checkpointer=ckpt)
        assert ckpt.saves == 3  # after epochs 2 and 4, and the finished state after 5
        assert _train(_cfg(epochs=5, lr_scheduler=SchedulerConfig(type=kind)), checkpointer=ckpt).epochs_run == 5
        assert out.history[-1]["learning_rate"] <= out.history[0]["learning_rate"]


def _predicted(outcome, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return outcome.model(torch.as_tensor(x)).argmax(dim=1).numpy()


def test_sample_weights_decide_which_samples_an_epoch_draws() -> None:
    # Weight only on BUY rows: every draw is a BUY sample, so the model learns to say BUY everywhere.
    xt, yt, xv, yv = _data()
    only_buy = (yt == 0).astype(float)
    skewed = _train(_cfg(class_weights="none"), data=(xt, yt, xv, yv), sample_weights=only_buy)
    assert (_predicted(skewed, xv) == 0).mean() > 0.95
    uniform = _train(_cfg(class_weights="none"), data=(xt, yt, xv, yv), sample_weights=np.ones(len(yt)))
    assert (_predicted(uniform, xv) == 0).mean() < 0.6
    with pytest.raises(TrainingError, match="sample weights must be 800"):
        _train(_cfg(), data=(xt, yt, xv, yv), sample_weights=np.ones(5))


def test_four_classes_train_a_four_logit_model() -> None:
    xt, yt, xv, yv = _data()
    yt4, yv4 = np.where(xt[:, 2] > 1.0, 3, yt), np.where(xv[:, 2] > 1.0, 3, yv)
    out = _train(_cfg(), data=(xt, yt4, xv, yv4), n_classes=4)
    assert out.model(torch.as_tensor(xv[:2])).shape == (2, 4)
    assert 3 in _predicted(out, xv)
