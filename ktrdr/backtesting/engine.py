"""The backtest engine: event-driven over signal changes, vectorized equity, resumable in chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec
import numpy as np
import pandas as pd

from ktrdr.backtesting.book import Book, first_two_of_runs
from ktrdr.backtesting.codec import pack, unpack
from ktrdr.backtesting.config import BacktestConfig
from ktrdr.backtesting.errors import BacktestError
from ktrdr.backtesting.result import BacktestResult
from ktrdr.context import CancelToken, Checkpointer, ProgressReporter
from ktrdr.errors import OperationCancelled

_CHECKPOINT_KEYS = ("bar", "fingerprint", "book", "ledger", "equity")


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Validated arrays of one run."""

    open: np.ndarray
    close: np.ndarray
    signal_bars: np.ndarray  # bars whose signal can change the position, ascending
    signal_values: np.ndarray
    fingerprint: bytes


def _validate(data: pd.DataFrame, signals: np.ndarray, cfg: BacktestConfig) -> _Inputs:
    """Check data and signals and reduce the signals to the events that can matter."""
    if not isinstance(data.index, pd.DatetimeIndex):
        raise BacktestError("data must have a DatetimeIndex", field="data.index",
                            hint="use an OHLCV frame indexed by UTC timestamps")
    missing = [c for c in ("open", "close") if c not in data.columns]
    if missing:
        raise BacktestError(f"data lacks column(s) {missing}", field="data", hint="pass an OHLCV frame")
    n = len(data)
    if n < 2 or cfg.warmup_bars >= n - 1:
        raise BacktestError(f"{n} bars leave nothing to trade after {cfg.warmup_bars} warm-up bars",
                            field="data", hint="load more history or lower warmup_bars")
    open_, close = (data[c].to_numpy(dtype=np.float64) for c in ("open", "close"))
    if not (np.isfinite(open_).all() and np.isfinite(close).all()):
        raise BacktestError("open/close contain NaN or inf", field="data", hint="clean or drop those bars")
    sig = np.asarray(signals)
    if sig.shape != (n,) or not np.isin(sig, (-1, 0, 1)).all():
        raise BacktestError(f"signals must be {n} values in {{-1, 0, 1}}, got shape {sig.shape}",
                            field="signals", hint="one signal per bar: +1 BUY, -1 SELL, 0 HOLD")
    sig = sig.astype(np.int8)
    bars, values = _events(sig, cfg.warmup_bars)
    digest = hashlib.blake2b(digest_size=16)
    for part in (open_, close, sig, msgspec.json.encode(cfg)):
        digest.update(np.ascontiguousarray(part).data if isinstance(part, np.ndarray) else part)
    return _Inputs(open_, close, bars, values, digest.digest())


def _events(sig: np.ndarray, warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-HOLD signals from warm-up to the second-to-last bar (the last has no next open).

    A run of equal signals can change the position at most twice (short→flat→long), so only the
    first two of each run are kept; the loop then scales with signal changes, not with bars.
    """
    bars = np.flatnonzero(sig[: len(sig) - 1])
    bars = bars[bars >= warmup]
    keep = first_two_of_runs(sig[bars])
    return bars[keep], sig[bars][keep]


def _simulate(book: Book, inputs: _Inputs, start: int, stop: int, cfg: BacktestConfig) -> np.ndarray:
    """Fill the signals whose fill bar is in [start, stop) and return the equity of those bars."""
    lo, hi = np.searchsorted(inputs.signal_bars, [start - 1, stop - 1])
    fill_bars: list[int] = []
    states = [(book.cash, book.units, book.entry_price)]
    open_ = inputs.open
    for bar, signal in zip(inputs.signal_bars[lo:hi].tolist(), inputs.signal_values[lo:hi].tolist()):
        if book.apply(signal, bar + 1, float(open_[bar + 1]), cfg):
            fill_bars.append(bar + 1)
            states.append((book.cash, book.units, book.entry_price))
    # Cash, units and entry price are constant between fills: gather them per bar.
    segment = np.searchsorted(np.asarray(fill_bars, dtype=np.int64), np.arange(start, stop), side="right")
    cash, units, entry = (np.asarray(column)[segment] for column in zip(*states))
    return cash + units * (inputs.close[start:stop] - entry)


def _boundaries(start: int, n: int, cfg: BacktestConfig) -> list[int]:
    """Bars at which to report progress, check cancellation and maybe checkpoint (ends with n)."""
    marks = set(range(start - start % cfg.progress_every_bars + cfg.progress_every_bars, n,
                      cfg.progress_every_bars))
    if cfg.checkpoint_every_bars:
        step = cfg.checkpoint_every_bars
        marks.update(range(start - start % step + step, n, step))
    return sorted(marks) + [n]


def _save(checkpointer: Checkpointer, bar: int, book: Book, equity: np.ndarray, fingerprint: bytes) -> None:
    """Persist everything needed to continue at `bar` exactly as an uninterrupted run would."""
    checkpointer.save(pack(bar=np.array([bar]), fingerprint=np.frombuffer(fingerprint, np.uint8),
                           book=book.scalars(), ledger=book.ledger(), equity=equity))


def _resume(checkpointer: Checkpointer | None, inputs: _Inputs, cfg: BacktestConfig) -> tuple[int, Book, np.ndarray]:
    """(next bar, book, equity so far) from the checkpoint, or a fresh start."""
    blob = checkpointer.load() if checkpointer is not None else None
    if blob is None:
        return cfg.warmup_bars, Book(cash=cfg.initial_capital), np.zeros(0)
    saved = unpack(blob, what="backtest checkpoint", required=_CHECKPOINT_KEYS)
    if saved["fingerprint"].tobytes() != inputs.fingerprint:
        raise BacktestError("checkpoint belongs to other data, signals or config", field="checkpoint",
                            hint="resume with the inputs of the interrupted run, or clear the checkpoint")
    return int(saved["bar"][0]), Book.restore(saved["book"], saved["ledger"]), saved["equity"]


def run_backtest(data: pd.DataFrame, signals: np.ndarray, config: BacktestConfig | None = None, *,
                 progress: ProgressReporter | None = None, cancel: CancelToken | None = None,
                 checkpointer: Checkpointer | None = None) -> BacktestResult:
    """Trade `signals` (+1 BUY, -1 SELL, 0 HOLD per bar) on OHLCV `data`; see docs/backtest-conventions.md."""
    cfg = config or BacktestConfig()
    inputs = _validate(data, signals, cfg)
    n = len(data)
    bar, book, done = _resume(checkpointer, inputs, cfg)
    equity = np.empty(n - cfg.warmup_bars)
    equity[: len(done)] = done
    base = cfg.warmup_bars
    for stop in _boundaries(bar, n, cfg):
        if cancel is not None and cancel.cancelled:
            if checkpointer is not None:
                _save(checkpointer, bar, book, equity[: bar - base], inputs.fingerprint)
            raise OperationCancelled(cancel.reason)
        equity[bar - base : stop - base] = _simulate(book, inputs, bar, stop, cfg)
        bar = stop
        if progress is not None:
            _report(progress, data.index, bar, base, equity[bar - base - 1], len(book.trades))
        if checkpointer is not None and cfg.checkpoint_every_bars and bar % cfg.checkpoint_every_bars == 0 \
                and bar < n:
            _save(checkpointer, bar, book, equity[: bar - base], inputs.fingerprint)
    if book.units:
        # Closing is a sell for a long and a buy for a short: slippage works against either.
        side = 1 if book.units > 0 else -1
        book.close(float(inputs.close[-1]) * (1 - cfg.slippage * side), n - 1, cfg)
        equity[-1] = book.cash
    curve = pd.Series(equity, index=data.index[base:], name="equity")
    return BacktestResult.build(book.ledger(), curve, data.index, cfg.initial_capital)


def _report(progress: ProgressReporter, index: pd.Index, bar: int, base: int, equity: float, trades: int) -> None:
    """One progress update and one equity snapshot metric."""
    total = len(index) - base
    progress.update(percentage=100.0 * (bar - base) / total, current_step="simulating",
                    items_processed=bar - base, items_total=total, current_item=str(index[bar - 1]))
    progress.metric({"bar": bar, "equity": float(equity), "trades": trades}, name="backtest")
