"""Chronological train/validation/test split with an embargo gap so that labels never leak across a boundary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ktrdr.strategy.config import DataSplitConfig
from ktrdr.training.errors import TrainingError

_PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitIndices:
    """Index arrays (into the labeled rows, ascending) of the three chronological parts."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    embargo: int

    def sizes(self) -> dict[str, int]:
        """Row count of each part."""
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def chronological_split(n: int, train: float, validation: float, test: float, *, embargo: int = 0) -> SplitIndices:
    """Split rows 0..n-1 in time order by fractions, leaving `embargo` unused rows before validation and test.

    A label at row t looks up to `embargo` bars ahead, so the gap keeps each part's targets out of the next
    part's period. The gap is taken from the end of the earlier part.
    """
    fractions = (train, validation, test)
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise TrainingError(f"split fractions must be >= 0 and sum to 1, got {fractions}",
                            field="training.data_split", hint="e.g. train 0.7, validation 0.15, test 0.15")
    if embargo < 0:
        raise TrainingError(f"embargo must be >= 0, got {embargo}", field="training.data_split.embargo_bars")
    bounds = np.rint(np.cumsum([0.0, *fractions]) * n).astype(int)
    bounds[-1] = n
    parts = []
    for i, name in enumerate(_PARTS):
        start, stop = int(bounds[i]), int(bounds[i + 1])
        is_last = i == len(_PARTS) - 1 or all(f == 0 for f in fractions[i + 1:])
        if not is_last:
            stop = max(start, stop - embargo)
        if fractions[i] > 0 and stop <= start:
            raise TrainingError(
                f"the {name} part is empty ({n} rows, fraction {fractions[i]}, embargo {embargo})",
                field="training.data_split", hint="load more history or lower embargo_bars / the label horizon")
        parts.append(np.arange(start, stop, dtype=np.int64))
    return SplitIndices(train=parts[0], validation=parts[1], test=parts[2], embargo=embargo)


def split_from_config(n: int, split_cfg: DataSplitConfig, default_embargo: int) -> SplitIndices:
    """chronological_split driven by a DataSplitConfig; an unset embargo_bars means `default_embargo`."""
    embargo = split_cfg.embargo_bars if split_cfg.embargo_bars is not None else default_embargo
    return chronological_split(n, split_cfg.train, split_cfg.validation, split_cfg.test, embargo=embargo)
