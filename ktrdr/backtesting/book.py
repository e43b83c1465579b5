"""The position book: one position at a time, fills with costs, and the closed-trade ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ktrdr.backtesting.config import BacktestConfig

BUY, HOLD, SELL = 1, 0, -1
# Columns of the numeric trade ledger (one float64 row per closed trade).
LEDGER_COLUMNS = ("entry_bar", "exit_bar", "side", "size", "entry_price", "exit_price", "pnl", "commission")


def next_side(side: int, signal: int, short_from_flat: bool) -> int | None:
    """Position side (-1/0/+1) after `signal`, or None if the signal changes nothing.

    One signal makes one step: BUY closes a short or opens a long; SELL closes a long or, when
    shorts from flat are allowed, opens a short. A reversal therefore takes two signals.
    """
    if signal == BUY and side <= 0:
        return side + 1
    if signal == SELL and (side == 1 or (side == 0 and short_from_flat)):
        return side - 1
    return None


def first_two_of_runs(values: np.ndarray) -> np.ndarray:
    """Mask keeping the first two of each run of equal values (a third can never change a side)."""
    keep = np.ones(len(values), dtype=bool)
    keep[2:] = (values[2:] != values[1:-1]) | (values[1:-1] != values[:-2])
    return keep


@dataclass(slots=True)
class Book:
    """Cash, the open position (signed units) and the trades closed so far."""

    cash: float
    units: float = 0.0
    entry_price: float = 0.0
    entry_bar: int = -1
    entry_commission: float = 0.0
    trades: list[tuple[float, ...]] = field(default_factory=list)

    def apply(self, signal: int, bar: int, price: float, cfg: BacktestConfig) -> bool:
        """Act on one BUY/SELL whose market price on `bar` is `price`; True if a fill happened."""
        target = next_side((self.units > 0) - (self.units < 0), signal, cfg.short_from_flat)
        if target is None:
            return False
        # Slippage moves every fill against us: buys pay more, sells receive less.
        fill = price * (1 + cfg.slippage * signal)
        if target == 0:
            self.close(fill, bar, cfg)
            return True
        return self.open(target, fill, bar, cfg)

    def open(self, side: int, price: float, bar: int, cfg: BacktestConfig) -> bool:
        """Open a position worth `position_size` of the cash, commission included; False if none fits."""
        if self.cash <= 0:
            return False
        # Same operation order as the reference engine so whole-unit floors agree to the bit.
        budget, per_unit = self.cash * cfg.position_size, price + price * cfg.commission
        units = float(budget // per_unit) if cfg.whole_units else budget / per_unit
        if units <= 0:
            return False
        self.entry_commission = units * price * cfg.commission
        self.cash -= self.entry_commission
        self.units, self.entry_price, self.entry_bar = side * units, price, bar
        return True

    def close(self, price: float, bar: int, cfg: BacktestConfig) -> None:
        """Close the open position at `price` and record the trade."""
        size = abs(self.units)
        exit_commission = size * price * cfg.commission
        gross = self.units * (price - self.entry_price)
        self.cash += gross - exit_commission
        commission = self.entry_commission + exit_commission
        side = 1.0 if self.units > 0 else -1.0
        self.trades.append((float(self.entry_bar), float(bar), side, size, self.entry_price, price,
                            gross - commission, commission))
        self.units, self.entry_price, self.entry_bar, self.entry_commission = 0.0, 0.0, -1, 0.0

    def equity(self, close: float) -> float:
        """Mark-to-market equity at `close` (commission of the eventual exit not deducted)."""
        return self.cash + self.units * (close - self.entry_price)

    def ledger(self) -> np.ndarray:
        """The closed trades as a (k, len(LEDGER_COLUMNS)) float64 array."""
        return np.array(self.trades, dtype=np.float64).reshape(-1, len(LEDGER_COLUMNS))

    def scalars(self) -> np.ndarray:
        """The position state as float64s (for checkpoints; exact round trip)."""
        return np.array([self.cash, self.units, self.entry_price, self.entry_bar, self.entry_commission])

    @classmethod
    def restore(cls, scalars: np.ndarray, ledger: np.ndarray) -> Book:
        """Rebuild a book from `scalars()` and `ledger()`."""
        cash, units, entry_price, entry_bar, entry_commission = (float(v) for v in scalars)
        return cls(cash=cash, units=units, entry_price=entry_price, entry_bar=int(entry_bar),
                   entry_commission=entry_commission, trades=[tuple(row) for row in ledger.tolist()])
