"""What every label function shares: the result type, class names, and input checks.

Labels may look at future bars (that is what a training target is); each function documents how far.
Classification labels are int64 class indices with UNLABELED (-1) where the definition gives no label;
regression targets are float64 with NaN there. Arrays are aligned row for row with the input frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ktrdr.training.errors import TrainingError

CLASSES: tuple[str, str, str] = ("BUY", "HOLD", "SELL")
"""Trading class order shared by training, bundles and backtesting: index 0 = BUY, 1 = HOLD, 2 = SELL."""

BUY, HOLD, SELL = 0, 1, 2
UNLABELED = -1
"""Class of bars the definition cannot label (too little future, outside a segment, filtered out)."""

CONTEXT_CLASSES: tuple[str, str, str] = ("BULLISH", "BEARISH", "NEUTRAL")
REGIME_CLASSES: tuple[str, str, str, str] = ("TRENDING_UP", "TRENDING_DOWN", "RANGING", "VOLATILE")

OutputKind = Literal["classification", "regression"]


@dataclass(frozen=True, eq=False)
class LabelSet:
    """Targets for every row of a frame, plus what training needs besides them."""

    values: np.ndarray
    """int64 class indices (UNLABELED = -1) or float64 targets (NaN = no label)."""
    classes: tuple[str, ...] | None
    """Class names in index order; None for a regression target."""
    weights: np.ndarray | None = None
    """Per-row sample weights (NaN where unlabeled) when the method asks for them; None = uniform."""
    holding: np.ndarray | None = None
    """Bars each label stays active (triple barrier); 0 where unlabeled."""
    weighting: str = "uniform"
    """How samples are weighted: 'uniform' or 'uniqueness'."""

    @property
    def output(self) -> OutputKind:
        """'classification' for class labels, 'regression' for float targets."""
        return "regression" if self.classes is None else "classification"

    @property
    def mask(self) -> np.ndarray:
        """True where a row has a label."""
        return labeled_mask(self.values)


def labeled_mask(labels: np.ndarray) -> np.ndarray:
    """True where a label exists (not UNLABELED / not NaN)."""
    if np.issubdtype(labels.dtype, np.floating):
        return ~np.isnan(labels)
    return labels != UNLABELED


def field(name: str) -> str:
    """The config path of a label parameter, for error messages."""
    return f"training.labels.{name}"


def positive(value: float, name: str) -> None:
    """Reject a parameter that must be > 0."""
    if not value > 0:
        raise TrainingError(f"{name} must be > 0, got {value!r}", field=field(name))


def column(frame: pd.DataFrame | np.ndarray | pd.Series, name: str = "close") -> np.ndarray:
    """One price column as float64; a bare array or Series is taken as the close."""
    if isinstance(frame, pd.DataFrame):
        if name not in frame.columns:
            raise TrainingError(f"labels need a {name!r} column, the frame has {list(frame.columns)}",
                                field="frame", hint="pass an OHLCV frame")
        arr = frame[name].to_numpy(dtype=np.float64)
    elif name == "close":
        arr = np.asarray(frame, dtype=np.float64)
    else:
        raise TrainingError(f"this label method needs {name!r} prices; pass an OHLCV frame, not one series",
                            field="frame")
    if arr.ndim != 1:
        raise TrainingError(f"{name} must be one-dimensional, got shape {arr.shape}", field="frame")
    return arr


def nonzero(close: np.ndarray) -> None:
    """Returns divide by the close: a zero close is an error, not an infinity."""
    zeros = int((close == 0).sum())
    if zeros:
        raise TrainingError(f"close prices contain {zeros} zero value(s); returns cannot be computed",
                            field="frame.close", hint="clean the data (zero closes are missing bars)")


def classes_from(codes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """int64 labels: `codes` where `known`, UNLABELED elsewhere."""
    out = np.full(len(codes), UNLABELED, dtype=np.int64)
    out[known] = codes[known]
    return out
