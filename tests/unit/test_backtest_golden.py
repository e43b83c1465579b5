"""Golden test: our engine against backtesting.py on its bundled GOOG data (conventions in docs/backtest-conventions.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import GOOG, SMA

from ktrdr.backtesting import BacktestConfig, run_backtest
from ktrdr.backtesting.rules import ma_cross_signals

# Their statistics code uses pandas APIs that pandas 3 deprecates; that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:backtesting")

FRACTION, COMMISSION, CAPITAL = 0.25, 0.002, 100_000.0
FAST, SLOW = 10, 20


def reference_strategy(short_from_flat: bool, signals: dict[int, int]) -> type[Strategy]:
    """Our position rules written as a backtesting.py strategy whose signals come from backtesting.py alone
    (its SMA and `lib.crossover`); every non-zero signal it acts on is recorded in `signals` by bar."""

    class Mirror(Strategy):
        def init(self) -> None:
            self.fast = self.I(SMA, self.data.Close, FAST)
            self.slow = self.I(SMA, self.data.Close, SLOW)
            self.last_real_bar = len(self.data.df) - 2  # the frame ends with one sentinel bar

        def next(self) -> None:
            i, position = len(self.data) - 1, self.position
            signal = 1 if crossover(self.fast, self.slow) else -1 if crossover(self.slow, self.fast) else 0
            if signal and i <= self.last_real_bar:
                signals[i] = signal
            if i >= self.last_real_bar:
                # Closing here fills at the sentinel's open, which equals the last real close.
                position.close()
            elif signal == 1 and position.is_short:
                position.close()
            elif signal == 1 and not position:
                self.buy(size=FRACTION)
            elif signal == -1 and position.is_long:
                position.close()
            elif signal == -1 and not position and short_from_flat:
                self.sell(size=FRACTION)

    return Mirror


def with_sentinel(frame: pd.DataFrame) -> pd.DataFrame:
    """Append one flat bar priced at the last close, so their next-open close-out is our last-close one."""
    sentinel = frame.iloc[[-1]].copy()
    sentinel.index = sentinel.index + pd.Timedelta(days=1)
    sentinel[["Open", "High", "Low", "Close"]] = frame["Close"].iloc[-1]
    return pd.concat([frame, sentinel])


def as_ohlcv(frame: pd.DataFrame) -> pd.DataFrame:
    """Their capitalised, naive frame as our lowercase UTC OHLCV frame."""
    data = frame.rename(columns=str.lower).astype(np.float64)
    data.index = pd.DatetimeIndex(data.index).tz_localize("UTC").rename("timestamp")
    return data


@pytest.mark.parametrize("short_from_flat", [False, True])
def test_same_trades_and_equity_as_backtesting_py(short_from_flat: bool) -> None:
    their_signals: dict[int, int] = {}
    stats = Backtest(with_sentinel(GOOG), reference_strategy(short_from_flat, their_signals), cash=CAPITAL,
                     commission=COMMISSION).run()
    theirs = stats["_trades"]
    data = as_ohlcv(GOOG)
    config = BacktestConfig(initial_capital=CAPITAL, position_size=FRACTION, commission=COMMISSION,
                            whole_units=True, short_from_flat=short_from_flat)
    signals = ma_cross_signals(data["close"].to_numpy(), FAST, SLOW)
    ours = run_backtest(data, signals, config)
    trades = ours.trades

    assert {int(i): int(signals[i]) for i in np.flatnonzero(signals)} == their_signals

    assert len(trades) == len(theirs) > 10
    assert ours.metrics["trades"] == stats["# Trades"]
    assert (trades["side"] == "short").any() == short_from_flat
    np.testing.assert_array_equal(trades["entry_bar"], theirs["EntryBar"])
    # Their close-out of the last trade happens on the sentinel bar, one past our last bar.
    np.testing.assert_array_equal(trades["exit_bar"], np.minimum(theirs["ExitBar"], len(data) - 1))
    np.testing.assert_array_equal(trades["size"] * np.where(trades["side"] == "long", 1, -1), theirs["Size"])
    np.testing.assert_allclose(trades["entry_price"], theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(trades["exit_price"], theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(trades["pnl"], theirs["PnL"], rtol=1e-9)
    assert ours.metrics["final_equity"] == pytest.approx(stats["Equity Final [$]"], rel=1e-6)
    # Mark-to-market equity agrees on every bar before the final close-out.
    their_curve = stats["_equity_curve"]["Equity"].to_numpy()[: len(data) - 1]
    np.testing.assert_allclose(ours.equity.to_numpy()[:-1], their_curve, rtol=1e-9)
