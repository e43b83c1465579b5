"""Feature normalization fitted on training rows only and re-applied, unchanged, at inference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec
import numpy as np
import pandas as pd

from ktrdr.strategy.errors import StrategyError

Method = Literal["minmax", "zscore", "none"]


class Normalizer(msgspec.Struct, frozen=True, kw_only=True):
    """Per-feature affine transform `(x - offset) / scale`, in `feature_names` order."""

    feature_names: list[str]
    methods: list[Method]
    offset: list[float]
    scale: list[float]

    @classmethod
    def fit(cls, features: pd.DataFrame, methods: Mapping[str, str]) -> Normalizer:
        """Fit on training rows (NaN ignored); features without a method are left as they are."""
        names = list(features.columns)
        offsets, scales, kinds = [], [], []
        for name in names:
            kind = methods.get(name, "none")
            x = features[name].to_numpy(dtype="float64")
            offset, scale = _fit_one(kind, x[~np.isnan(x)])
            offsets.append(offset)
            scales.append(scale)
            kinds.append(kind)
        return cls(feature_names=names, methods=kinds, offset=offsets, scale=scales)

    def transform(self, features: pd.DataFrame) -> pd.DataFrame:
        """Apply the fitted transform; the frame must hold every fitted feature."""
        missing = [n for n in self.feature_names if n not in features.columns]
        if missing:
            raise StrategyError(f"features missing for normalization: {missing}",
                                value=missing, suggestion="build features with the same strategy")
        values = features[self.feature_names].to_numpy(dtype="float64")
        out = (values - np.asarray(self.offset)) / np.asarray(self.scale)
        return pd.DataFrame(out, index=features.index, columns=self.feature_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (stored in model bundles)."""
        return msgspec.to_builtins(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Normalizer:
        """Rebuild from `to_dict` output."""
        return msgspec.convert(dict(data), cls)


def _fit_one(kind: str, x: np.ndarray) -> tuple[float, float]:
    # A constant (or empty) training column gets scale 1 so it never divides by zero.
    if kind == "none" or x.size == 0:
        return 0.0, 1.0
    if kind == "minmax":
        lo, hi = float(x.min()), float(x.max())
        return lo, (hi - lo) or 1.0
    if kind == "zscore":
        std = float(x.std())
        return float(x.mean()), std or 1.0
    raise StrategyError(f"unknown normalization '{kind}'", value=kind,
                        suggestion="use minmax, zscore or none")
