"""The training options a strategy sets are honoured: optimizer, weight decay, focal gamma, Huber delta and
the learning-rate schedulers as the original KTRDR defines them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ktrdr.strategy import load_strategy
from ktrdr.strategy.config import SchedulerConfig, TrainingConfig
from ktrdr.training.optim import make_loss, make_optimizer, make_scheduler


def _params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(3))]


@pytest.mark.parametrize("name,cls", [("adam", torch.optim.Adam), ("sgd", torch.optim.SGD),
                                      ("rmsprop", torch.optim.RMSprop)])
def test_optimizer_kind_rate_and_weight_decay(name: str, cls: type) -> None:
    cfg = TrainingConfig(optimizer=name, learning_rate=0.05, weight_decay=0.01, momentum=0.5)
    opt = make_optimizer(cfg, _params(), "classification")
    group = opt.param_groups[0]
    assert isinstance(opt, cls) and group["lr"] == 0.05 and group["weight_decay"] == 0.01
    if name == "sgd":
        assert group["momentum"] == 0.5


def test_weight_decay_defaults_follow_the_output_format() -> None:
    cfg = TrainingConfig()
    assert make_optimizer(cfg, _params(), "classification").param_groups[0]["weight_decay"] == 1e-4
    assert make_optimizer(cfg, _params(), "regression").param_groups[0]["weight_decay"] == 0.0


def test_focal_loss_uses_the_configured_gamma() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-0.5, 1.5, 0.0]])
    target = torch.tensor([0, 2, 1])
    p = torch.softmax(logits, 1).numpy()[np.arange(3), target.numpy()]
    for gamma in (0.0, 3.0):
        expected = np.mean(-((1 - p) ** gamma) * np.log(p))  # Lin et al., unweighted
        got = make_loss("focal", None, TrainingConfig(focal_gamma=gamma))(logits, target).item()
        assert got == pytest.approx(expected, rel=1e-5)


def test_huber_loss_uses_the_configured_delta() -> None:
    pred, target = torch.tensor([[0.0], [0.3], [-2.0]]), torch.tensor([0.1, 0.0, 0.0])
    err, delta = np.abs(pred.numpy()[:, 0] - target.numpy()), 0.25
    expected = np.mean(np.where(err <= delta, 0.5 * err**2, delta * (err - 0.5 * delta)))
    got = make_loss("huber", None, TrainingConfig(huber_delta=delta))(pred, target).item()
    assert got == pytest.approx(expected, rel=1e-6)


def _lrs(cfg: SchedulerConfig | None, steps: int) -> list[float]:
    opt = torch.optim.SGD(_params(), lr=1.0)
    scheduler = make_scheduler(cfg, opt)
    out = []
    for _ in range(steps):
        opt.step()  # an epoch's updates (no gradients here), then the scheduler, in torch's order
        if scheduler is not None:
            scheduler.step(1.0) if cfg.type == "reduce_on_plateau" else scheduler.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def test_schedulers_as_the_original_defines_them() -> None:
    cfg = load_strategy(_with("training: {lr_scheduler: true}")).training
    assert _lrs(cfg.scheduler, 30)[-2:] == [1.0, pytest.approx(0.1)]  # true = step, every 30 epochs x0.1
    assert _lrs(SchedulerConfig(type="exponential"), 2) == [pytest.approx(0.95), pytest.approx(0.95**2)]
    plateau = _lrs(SchedulerConfig(type="reduce_on_plateau", patience=1, factor=0.5), 4)
    assert plateau == [1.0, 1.0, 0.5, 0.5]  # the loss never improves: halve after `patience` bad epochs
    assert make_scheduler(load_strategy(_with("training: {lr_scheduler: false}")).training.scheduler,
                          torch.optim.SGD(_params(), lr=1.0)) is None


def _with(section: str) -> str:
    return """
name: s
training_data: {symbols: {mode: single, symbol: X}, timeframes: {mode: single, timeframe: 1h}}
indicators: {rsi: {type: rsi}}
fuzzy_sets: {rsi: {indicator: rsi, low: [0, 0, 50]}}
nn_inputs: [{fuzzy_set: rsi, timeframes: all}]
""" + section + "\n"
