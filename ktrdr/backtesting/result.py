"""BacktestResult: metrics, trade list and equity curve, with a compact byte form for storage."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ktrdr.backtesting.book import LEDGER_COLUMNS
from ktrdr.backtesting.codec import pack, text, unpack, untext
from ktrdr.backtesting.metrics import Metrics, compute_metrics

TRADE_COLUMNS = ("entry_time", "exit_time", "side", "size", "entry_price", "exit_price",
                 "pnl", "pnl_pct", "commission", "bars_held", "entry_bar", "exit_bar")
_STORED = ("ledger", "entry_ns", "exit_ns", "equity", "equity_ns", "tz", "metrics")


def _times(ns: np.ndarray, zone: str) -> pd.DatetimeIndex:
    """Nanosecond epoch integers back to timestamps; `zone` is 'unit' or 'unit tz' (e.g. 'us UTC')."""
    unit, _, tz = zone.partition(" ")
    index = pd.DatetimeIndex(ns.astype("datetime64[ns]")).as_unit(unit)
    return index.tz_localize("UTC").tz_convert(tz) if tz else index


def trade_frame(ledger: np.ndarray, entry_time: pd.DatetimeIndex, exit_time: pd.DatetimeIndex) -> pd.DataFrame:
    """The trade list as a DataFrame with TRADE_COLUMNS, one row per closed trade."""
    cols = {name: ledger[:, i] for i, name in enumerate(LEDGER_COLUMNS)}
    entry_bar, exit_bar = cols["entry_bar"].astype(np.int64), cols["exit_bar"].astype(np.int64)
    frame = pd.DataFrame({
        "entry_time": entry_time, "exit_time": exit_time,
        "side": np.where(cols["side"] > 0, "long", "short"),
        "size": cols["size"], "entry_price": cols["entry_price"], "exit_price": cols["exit_price"],
        "pnl": cols["pnl"],
        "pnl_pct": cols["pnl"] / (cols["size"] * cols["entry_price"]) * 100.0 if len(ledger) else cols["pnl"],
        "commission": cols["commission"], "bars_held": exit_bar - entry_bar,
        "entry_bar": entry_bar, "exit_bar": exit_bar,
    })
    return frame[list(TRADE_COLUMNS)]


@dataclass(frozen=True)
class BacktestResult:
    """What a backtest produced: `metrics` (names and units: metric_table.METRICS), `trades` and `equity`."""

    metrics: Metrics
    trades: pd.DataFrame
    equity: pd.Series

    @classmethod
    def build(cls, ledger: np.ndarray, equity: pd.Series, index: pd.DatetimeIndex,
              initial_capital: float) -> BacktestResult:
        """Assemble a result from the engine's ledger (bar numbers refer to `index`)."""
        entry = index[ledger[:, 0].astype(np.int64)]
        exit_ = index[ledger[:, 1].astype(np.int64)]
        trades = trade_frame(ledger, entry, exit_)
        return cls(metrics=compute_metrics(equity, trades, initial_capital), trades=trades, equity=equity)

    def to_bytes(self) -> bytes:
        """Compressed npz with the trade list, the equity curve and the metrics (no pickle)."""
        ledger = self.trades[["entry_bar", "exit_bar"]].to_numpy(dtype=np.float64)
        side = np.where(self.trades["side"].to_numpy() == "long", 1.0, -1.0)
        numeric = self.trades[["size", "entry_price", "exit_price", "pnl", "commission"]].to_numpy(np.float64)
        full = np.column_stack([ledger, side, numeric]) if len(ledger) else np.zeros((0, len(LEDGER_COLUMNS)))
        index = pd.DatetimeIndex(self.equity.index)
        zone = f"{index.unit} {index.tz}" if index.tz is not None else index.unit
        return pack(
            ledger=full,
            entry_ns=_ns(pd.DatetimeIndex(self.trades["entry_time"])),
            exit_ns=_ns(pd.DatetimeIndex(self.trades["exit_time"])),
            equity=self.equity.to_numpy(dtype=np.float64), equity_ns=_ns(self.equity.index),
            tz=text(zone), metrics=text(json.dumps(self.metrics)),
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> BacktestResult:
        """Inverse of to_bytes()."""
        arrays = unpack(blob, what="backtest result", required=_STORED)
        tz = untext(arrays["tz"])
        equity = pd.Series(arrays["equity"], index=_times(arrays["equity_ns"], tz), name="equity")
        equity.index.name = "timestamp"
        trades = trade_frame(arrays["ledger"], _times(arrays["entry_ns"], tz), _times(arrays["exit_ns"], tz))
        return cls(metrics=json.loads(untext(arrays["metrics"])), trades=trades, equity=equity)


def _ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC)."""
    return index.as_unit("ns").asi8
