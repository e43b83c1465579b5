"""Model-driven signals: a bundle's strategy builds features, batched inference scores them, decide() trades them
(classification probabilities, or a regression model's predicted returns through the cost model).

Also the history window: a backtest of [start, end) needs warm-up bars before `start` on every timeframe
so that indicators (and a sequence model's input window) are defined at the first traded bar.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ktrdr.backtesting.decisions import CLASSES, DecisionRule, decide, decision_rule
from ktrdr.backtesting.errors import BacktestError
from ktrdr.data.timeframes import to_utc
from ktrdr.strategy import StrategyConfig, build_features, load_strategy
from ktrdr.strategy.config import DecisionsConfig
from ktrdr.strategy.features import Context
from ktrdr.strategy.normalize import Normalizer
from ktrdr.training.bundle import PREDICT_BATCH, ModelBundle

# A row the model cannot score (warm-up, gaps) is treated as a certain HOLD.
_HOLD_ROW = np.array([1.0 if c == "HOLD" else 0.0 for c in CLASSES])


def bundle_strategy(bundle: ModelBundle) -> StrategyConfig:
    """The strategy a bundle was trained with (features must be rebuilt exactly as in training)."""
    if not bundle.strategy_yaml:
        raise BacktestError("model bundle carries no strategy", field="model",
                            hint="retrain the model; bundles store their strategy YAML")
    return load_strategy(bundle.strategy_yaml)


def history_bars(strategy: StrategyConfig, bundle: ModelBundle | None = None) -> int:
    """Bars of history each timeframe needs before the first traded bar."""
    window = bundle.window if bundle is not None else 1
    return strategy.training_data.history_required + window - 1


def model_features(bundle: ModelBundle, frames: Mapping[str, pd.DataFrame], *,
                   context: Context | None = None) -> np.ndarray:
    """Normalized feature matrix (base bars × bundle.feature_names), float32, NaN during warm-up;
    `context` holds the series of data_source indicators by source id."""
    strategy = bundle_strategy(bundle)
    features = build_features(strategy, frames, context=context)
    if list(features.columns) != list(bundle.feature_names):
        raise BacktestError(f"strategy features {list(features.columns)} differ from the model's "
                            f"{bundle.feature_names}", field="model.feature_names",
                            hint="the bundle's strategy and weights disagree; retrain the model")
    if bundle.normalization:
        # The stored training-time statistics, never refitted: refitting would leak the backtest range.
        features = Normalizer.from_dict(bundle.normalization).transform(features)
    return features.to_numpy(dtype=np.float32)


def model_probabilities(bundle: ModelBundle, frames: Mapping[str, pd.DataFrame], *,
                        batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """(bars, 3) class probabilities in CLASSES order for every base bar; NaN rows where unscorable."""
    if bundle.output_format != "classification":
        raise BacktestError(f"output_format {bundle.output_format!r} gives no class probabilities",
                            field="model.output_format", hint="use model_outputs() for a regression model")
    _require_trading_classes(bundle)
    return bundle.predict(model_features(bundle, frames), batch_size=batch_size)


def is_state_model(bundle: ModelBundle) -> bool:
    """True for a classifier of market states (regime, context labels), whose classes are not trades."""
    return bundle.output_format == "classification" and tuple(bundle.classes) != CLASSES


def _require_trading_classes(bundle: ModelBundle) -> None:
    """Regime and context models name market states, not trades: reading them as BUY/HOLD/SELL would be wrong."""
    if is_state_model(bundle):
        raise BacktestError(f"the model predicts {bundle.classes}, not trading signals {list(CLASSES)}",
                            field="training.labels.source",
                            hint="backtest a model trained on zigzag, triple_barrier or forward_return labels")


def model_outputs(bundle: ModelBundle, frames: Mapping[str, pd.DataFrame], *, first_bar: int = 0,
                  batch_size: int = PREDICT_BATCH, context: Context | None = None) -> np.ndarray:
    """What decide() reads: class probabilities or predicted returns; rows before `first_bar` or unscorable
    are a certain HOLD (NaN for regression, which the cost rule holds)."""
    _require_trading_classes(bundle)
    outputs = bundle.predict(model_features(bundle, frames, context=context), batch_size=batch_size)
    outputs[:first_bar] = np.nan
    if bundle.output_format == "classification":
        outputs[~np.isfinite(outputs).all(axis=1)] = _HOLD_ROW
    return outputs


def model_signals(bundle: ModelBundle, frames: Mapping[str, pd.DataFrame],
                  decisions: DecisionsConfig | DecisionRule | None = None, *, first_bar: int = 0,
                  context: Context | None = None) -> np.ndarray:
    """Signals (+1/0/-1, int8) aligned to the base timeframe's bars of `frames`, inference batched.

    Bars before `first_bar` (the engine's warm-up) get no signal, so that position-aware decisions start
    flat exactly where the engine does.
    """
    strategy = bundle_strategy(bundle)
    rule = decision_rule(decisions if decisions is not None else strategy.decisions)
    if rule.output_format != bundle.output_format:
        raise BacktestError(f"decisions say {rule.output_format!r} but the model was trained for "
                            f"{bundle.output_format!r}", field="decisions.output_format",
                            hint=f"set decisions.output_format: {bundle.output_format}")
    times = pd.DatetimeIndex(frames[strategy.training_data.base].index)
    return decide(model_outputs(bundle, frames, first_bar=first_bar, context=context), rule, times)


def history_window(frames: Mapping[str, pd.DataFrame], base: str, start: object,
                   history: int) -> tuple[dict[str, pd.DataFrame], int]:
    """Frames cut to `history` bars before `start` (per timeframe) onwards, and the base warm-up count.

    The base frame keeps up to `history` bars before the first bar at or after `start`; those become the
    engine's warm-up bars. Every other timeframe keeps `history` of its own bars before that first kept bar.
    """
    frame = frames[base]
    if len(frame) == 0:
        raise BacktestError(f"no {base} bars to backtest", field="data", hint="load data for the range first")
    first = 0 if start is None else int(frame.index.searchsorted(to_utc(start), side="left"))
    if first >= len(frame):
        raise BacktestError(f"no {base} bars at or after start {start} (data ends {frame.index[-1]})",
                            field="start", hint="choose a start inside the stored range or load more data")
    lo = max(0, first - history)
    out = {base: frame.iloc[lo:]}
    for tf, other in frames.items():
        if tf != base:
            cut = int(other.index.searchsorted(frame.index[lo], side="left"))
            out[tf] = other.iloc[max(0, cut - history):]
    return out, first - lo
