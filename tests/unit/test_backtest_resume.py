"""Progress, cancellation and checkpoint-resume of the engine."""

from __future__ import annotations

import msgspec
import numpy as np
import pandas as pd
import pytest

from ktrdr.backtesting import BacktestConfig, BacktestError, BacktestResult, run_backtest
from ktrdr.context import CancelToken, MemoryCheckpointer, ProgressReporter
from ktrdr.errors import OperationCancelled

N = 3_000
CONFIG = BacktestConfig(short_from_flat=True, commission=0.001, slippage=0.0002, warmup_bars=50,
                        progress_every_bars=250, checkpoint_every_bars=500)


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, np.ndarray]:
    """A random walk with random signals (seeded)."""
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    index = pd.date_range("2023-01-01", periods=N, freq="15min", tz="UTC", name="timestamp")
    data = pd.DataFrame({"open": np.r_[100.0, close[:-1]], "high": close, "low": close, "close": close,
                         "volume": 1.0}, index=index)
    return data, rng.choice([-1, 0, 0, 0, 0, 1], size=N).astype(np.int8)


class Crash(Exception):
    """Stands for the process dying after some progress."""


class CrashingReporter(ProgressReporter):
    """Raises after `after` progress updates, like a worker killed mid-run."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def update(self, **fields: object) -> None:
        super().update(**fields)
        self.after -= 1
        if self.after == 0:
            raise Crash


def assert_same(a: BacktestResult, b: BacktestResult) -> None:
    """Bit-identical trades, equity and metrics."""
    pd.testing.assert_frame_equal(a.trades, b.trades, check_exact=True)
    pd.testing.assert_series_equal(a.equity, b.equity, check_exact=True)
    assert a.metrics == b.metrics


def test_resume_after_crash_gives_the_uninterrupted_result(inputs) -> None:
    data, signals = inputs
    expected = run_backtest(data, signals, CONFIG)
    checkpointer = MemoryCheckpointer()
    with pytest.raises(Crash):
        run_backtest(data, signals, CONFIG, progress=CrashingReporter(after=7), checkpointer=checkpointer)
    assert checkpointer.saves >= 2
    assert_same(run_backtest(data, signals, CONFIG, checkpointer=checkpointer), expected)


def test_cancel_saves_a_checkpoint_and_resume_finishes_identically(inputs) -> None:
    data, signals = inputs
    config = msgspec.structs.replace(CONFIG, checkpoint_every_bars=0)
    expected = run_backtest(data, signals, config)
    token, checkpointer = CancelToken(), MemoryCheckpointer()
    progress = ProgressReporter(on_change=lambda _: token.cancel("user asked"))
    with pytest.raises(OperationCancelled, match="user asked"):
        run_backtest(data, signals, config, progress=progress, cancel=token, checkpointer=checkpointer)
    assert checkpointer.saves == 1  # only the one taken on cancel: periodic ones are off
    assert progress.snapshot()["items_processed"] < N - config.warmup_bars
    assert_same(run_backtest(data, signals, config, checkpointer=checkpointer), expected)


def test_progress_reaches_all_bars_and_reports_equity(inputs) -> None:
    data, signals = inputs
    progress = ProgressReporter()
    result = run_backtest(data, signals, CONFIG, progress=progress)
    state, metrics, _ = progress.drain()
    assert state["items_processed"] == state["items_total"] == N - CONFIG.warmup_bars
    assert state["percentage"] == 100.0
    assert len(metrics) == len(range(250, N, 250)) + 1  # every 250th bar, then the end
    assert metrics[-1]["values"]["trades"] <= result.metrics["trades"]


def test_checkpoint_of_other_inputs_is_refused(inputs) -> None:
    data, signals = inputs
    checkpointer = MemoryCheckpointer()
    with pytest.raises(Crash):
        run_backtest(data, signals, CONFIG, progress=CrashingReporter(after=5), checkpointer=checkpointer)
    with pytest.raises(BacktestError) as info:
        run_backtest(data, -signals, CONFIG, checkpointer=checkpointer)
    assert info.value.field == "checkpoint"
