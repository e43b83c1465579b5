"""Engine semantics: fills, position states, sizing, costs, close-out, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktrdr.backtesting import BacktestConfig, BacktestError, backtest_config, run_backtest
from ktrdr.errors import ConfigError


def frame(opens: list[float], closes: list[float] | None = None) -> pd.DataFrame:
    """A small hourly OHLCV frame (closes default to the opens)."""
    closes = opens if closes is None else closes
    index = pd.date_range("2024-01-01", periods=len(opens), freq="h", tz="UTC", name="timestamp")
    o, c = np.asarray(opens, float), np.asarray(closes, float)
    return pd.DataFrame({"open": o, "high": np.maximum(o, c), "low": np.minimum(o, c), "close": c,
                         "volume": 1.0}, index=index)


def reference(data: pd.DataFrame, signals: np.ndarray, cfg: BacktestConfig) -> tuple[list, np.ndarray]:
    """A deliberately naive bar-by-bar loop of the documented rules, to check the fast engine."""
    o, c = data["open"].to_numpy(), data["close"].to_numpy()
    cash, units, entry, entry_fee, entry_bar, trades, equity = cfg.initial_capital, 0.0, 0.0, 0.0, 0, [], []
    for bar in range(cfg.warmup_bars, len(data)):
        s = signals[bar - 1] if bar - 1 >= cfg.warmup_bars else 0
        price = o[bar] * (1 + cfg.slippage * s)
        closing = (s == 1 and units < 0) or (s == -1 and units > 0)
        opening = units == 0 and (s == 1 or (s == -1 and cfg.short_from_flat))
        if closing:
            fee = abs(units) * price * cfg.commission
            cash += units * (price - entry) - fee
            trades.append((entry_bar, bar, units, entry, price, units * (price - entry) - fee - entry_fee))
            units = 0.0
        elif opening:
            n = cash * cfg.position_size / (price + price * cfg.commission)
            units, entry, entry_bar = s * (float(n // 1) if cfg.whole_units else n), price, bar
            entry_fee = abs(units) * price * cfg.commission
            cash -= entry_fee
        equity.append(cash + units * (c[bar] - entry))
    if units:
        price = c[-1] * (1 - cfg.slippage * np.sign(units))
        fee = abs(units) * price * cfg.commission
        cash += units * (price - entry) - fee
        trades.append((entry_bar, len(data) - 1, units, entry, price, units * (price - entry) - fee - entry_fee))
        equity[-1] = cash
    return trades, np.array(equity)


def test_signal_fills_at_next_open_and_open_position_closes_at_last_close() -> None:
    data = frame([10, 11, 12, 13, 14], closes=[10.5, 11.5, 12.5, 13.5, 15.0])
    result = run_backtest(data, np.array([1, 0, 0, 0, 0]), BacktestConfig(position_size=0.5))
    (trade,) = result.trades.itertuples()
    assert (trade.entry_bar, trade.entry_price, trade.exit_bar, trade.exit_price) == (1, 11.0, 4, 15.0)
    units = 100_000 * 0.5 / 11.0
    assert trade.size == pytest.approx(units)
    assert result.metrics["final_equity"] == pytest.approx(100_000 + units * 4.0)
    assert result.equity.iloc[2] == pytest.approx(100_000 + units * 1.5)


def test_sell_closes_long_but_opens_short_only_when_allowed() -> None:
    data = frame([10, 10, 12, 12, 9, 9, 8])
    signals = np.array([1, 0, -1, 0, -1, 0, 0])
    long_only = run_backtest(data, signals, BacktestConfig())
    assert list(long_only.trades["side"]) == ["long"]
    with_shorts = run_backtest(data, signals, BacktestConfig(short_from_flat=True))
    assert list(with_shorts.trades["side"]) == ["long", "short"]
    short = with_shorts.trades.iloc[1]
    assert (short.entry_bar, short.exit_bar, short.exit_price) == (5, 6, 8.0)
    assert short.pnl > 0


def test_opposite_signal_steps_through_flat_without_reversing() -> None:
    data = frame([10, 10, 11, 12, 13, 14])
    result = run_backtest(data, np.array([1, 0, -1, 0, 0, 0]), BacktestConfig(short_from_flat=True))
    assert list(result.trades["side"]) == ["long"]
    assert result.trades["exit_bar"].iloc[0] == 3


def test_warmup_signals_are_ignored_and_curve_starts_after_warmup() -> None:
    data = frame([10, 11, 12, 13, 14, 15])
    result = run_backtest(data, np.array([1, 0, 0, 1, 0, 0]), BacktestConfig(warmup_bars=2))
    assert result.trades["entry_bar"].tolist() == [4]
    assert len(result.equity) == 4 and result.equity.index[0] == data.index[2]
    assert result.metrics["bars"] == 4


def test_costs_are_rates_on_traded_value_and_sizing_includes_commission() -> None:
    data = frame([100, 100, 100, 100])
    cfg = BacktestConfig(position_size=0.5, commission=0.01, slippage=0.02)
    (trade,) = run_backtest(data, np.array([1, 0, -1, 0]), cfg).trades.itertuples()
    assert trade.entry_price == pytest.approx(102.0) and trade.exit_price == pytest.approx(98.0)
    assert trade.size * trade.entry_price * 1.01 == pytest.approx(50_000)
    assert trade.commission == pytest.approx(trade.size * (102.0 + 98.0) * 0.01)
    assert trade.pnl == pytest.approx(trade.size * -4.0 - trade.commission)


def test_whole_units_round_down_and_skip_unaffordable_orders() -> None:
    data = frame([30, 30, 30, 30])
    whole = run_backtest(data, np.array([1, 0, 0, 0]), BacktestConfig(initial_capital=100, whole_units=True))
    assert whole.trades.empty  # a quarter of 100 buys no share at 30
    fits = run_backtest(data, np.array([1, 0, 0, 0]), BacktestConfig(initial_capital=1000, whole_units=True))
    assert fits.trades["size"].tolist() == [8.0]


@settings(max_examples=60, deadline=None)
@given(
    moves=st.lists(st.floats(-0.05, 0.05), min_size=4, max_size=60),
    raw=st.lists(st.sampled_from([-1, 0, 0, 1]), min_size=60, max_size=60),
    shorts=st.booleans(), whole=st.booleans(), warmup=st.integers(0, 2), chunk=st.integers(1, 7),
)
def test_matches_naive_bar_by_bar_reference(moves, raw, shorts, whole, warmup, chunk) -> None:
    opens = list(50 * np.cumprod(1 + np.array(moves)))
    data = frame(opens, closes=[p * 1.003 for p in opens])
    signals = np.array(raw[: len(opens)])
    cfg = BacktestConfig(short_from_flat=shorts, whole_units=whole, warmup_bars=warmup, commission=0.001,
                         slippage=0.0005, progress_every_bars=chunk, checkpoint_every_bars=0,
                         initial_capital=10_000)
    result = run_backtest(data, signals, cfg)
    trades, equity = reference(data, signals, cfg)
    assert result.trades["entry_bar"].tolist() == [t[0] for t in trades]
    assert result.trades["exit_bar"].tolist() == [t[1] for t in trades]
    np.testing.assert_allclose(result.trades["pnl"], [t[5] for t in trades], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.equity.to_numpy(), equity, rtol=1e-12)


@pytest.mark.parametrize(("signals", "field"), [
    (np.array([1, 0]), "signals"),
    (np.array([1, 0, 2, 0]), "signals"),
])
def test_bad_signals_are_rejected_with_the_field_named(signals: np.ndarray, field: str) -> None:
    with pytest.raises(BacktestError) as info:
        run_backtest(frame([1, 2, 3, 4]), signals)
    assert info.value.field == field and isinstance(info.value, ValueError)


def test_bad_data_is_rejected() -> None:
    with pytest.raises(BacktestError, match="NaN"):
        run_backtest(frame([1, float("nan"), 3]), np.zeros(3))
    with pytest.raises(BacktestError, match="warm-up"):
        run_backtest(frame([1, 2, 3]), np.zeros(3), BacktestConfig(warmup_bars=2))
    with pytest.raises(BacktestError, match="DatetimeIndex"):
        run_backtest(frame([1, 2, 3]).reset_index(drop=True), np.zeros(3))


def test_config_errors_name_the_field() -> None:
    assert backtest_config(commission=0.001).commission == 0.001
    with pytest.raises(ConfigError) as info:
        backtest_config(position_size=1.5)
    assert info.value.path == "backtest.position_size"
    with pytest.raises(ConfigError, match="comission"):
        backtest_config(comission=0.001)
