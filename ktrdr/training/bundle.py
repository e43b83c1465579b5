"""Model bundles: one self-contained blob (weights + strategy + feature order + normalization + metrics)
that a backtest worker can load and predict with, sharing no file system with the trainer."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec
import numpy as np
import torch
from torch import nn

from ktrdr.strategy.config import ModelConfig
from ktrdr.training.errors import BundleError
# Re-exported: the key helpers lived here before they moved to the torch-free keys module.
from ktrdr.training.keys import bundle_key, latest_key, next_version, parse_bundle_key  # noqa: F401
from ktrdr.training.labels import CLASSES
from ktrdr.training.models import build_model, sliding_windows, window_length

BUNDLE_FORMAT = 1
PREDICT_BATCH = 4096


def _json_hook(obj: Any) -> Any:
    # Metrics and normalization parameters often carry numpy scalars/arrays; JSON wants plain numbers.
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise NotImplementedError(f"cannot store {type(obj).__name__} in a bundle")


@dataclass
class ModelBundle:
    """A trained model with everything needed to rebuild its inputs and interpret its outputs."""

    weights: dict[str, torch.Tensor]
    model_config: dict[str, Any]
    output_format: str
    feature_names: list[str]
    strategy_yaml: str = ""
    strategy: str = ""
    timeframe: str = ""
    normalization: dict[str, Any] = field(default_factory=dict)
    label_config: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=lambda: list(CLASSES))
    """Output class names in logit order (classification); bundles written before this field are BUY/HOLD/SELL."""
    metrics: dict[str, Any] = field(default_factory=dict)
    data_summary: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    _model: nn.Module | None = field(default=None, init=False, repr=False, compare=False)

    def meta(self) -> dict[str, Any]:
        """Everything but the weights, as plain data."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in ("weights", "_model")}

    def to_bytes(self) -> bytes:
        """One blob: torch.save of the weights plus the metadata as JSON (loadable with weights_only=True)."""
        buf = io.BytesIO()
        meta = msgspec.json.encode(self.meta(), enc_hook=_json_hook).decode()
        torch.save({"format": BUNDLE_FORMAT, "weights": {k: v.detach().cpu() for k, v in self.weights.items()},
                    "meta": meta}, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> ModelBundle:
        """Decode a blob written by to_bytes."""
        try:
            raw = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
            meta = msgspec.json.decode(raw["meta"])
        except Exception as exc:  # torch and msgspec raise many unrelated types for a bad blob
            raise BundleError(f"model bundle could not be decoded: {exc}",
                              hint="the object is not a model bundle or was truncated; retrain or re-upload") from exc
        if raw.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"model bundle format {raw.get('format')!r} is not {BUNDLE_FORMAT}",
                              hint="retrain the model with this version")
        return cls(weights=raw["weights"], **meta)

    @property
    def window(self) -> int:
        """Rows of history one prediction reads (sequence_length for lstm/gru, else 1)."""
        return window_length(msgspec.convert(self.model_config, ModelConfig))

    def build_model(self) -> nn.Module:
        """The network with the bundle's weights, in eval mode (cached)."""
        if self._model is None:
            cfg = msgspec.convert(self.model_config, ModelConfig)
            model = build_model(cfg, len(self.feature_names), self.output_format, len(self.classes))
            model.load_state_dict(self.weights)
            self._model = model.eval()
        return self._model

    def predict(self, features: np.ndarray, *, batch_size: int = PREDICT_BATCH) -> np.ndarray:
        """Class probabilities (n, classes) in `classes` order, or values (n,) for regression; NaN for rows that lack a
        complete, finite input window (warm-up rows, the first sequence_length-1 rows of lstm/gru)."""
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise BundleError(f"features must have shape (rows, {len(self.feature_names)}) in the order "
                              f"{self.feature_names}, got {x.shape}", hint="build features with the bundle's strategy")
        ok_row = np.isfinite(x).all(axis=1)
        rows = np.flatnonzero(_complete_windows(ok_row, self.window))
        width = len(self.classes) if self.output_format == "classification" else 1
        out = np.full((len(x), width), np.nan, dtype=np.float32)
        if len(rows):
            out[rows] = self._infer(np.where(ok_row[:, None], x, 0.0), rows, batch_size)
        return out if self.output_format == "classification" else out[:, 0]

    @torch.no_grad()
    def _infer(self, x: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
        model, w = self.build_model(), self.window
        windows = sliding_windows(torch.as_tensor(x), w) if w > 1 else torch.as_tensor(x)
        starts = torch.as_tensor(rows - (w - 1))  # window i ends at row i + w - 1
        parts = []
        for i in range(0, len(starts), batch_size):
            y = model(windows[starts[i:i + batch_size]])
            parts.append(torch.softmax(y, dim=1) if self.output_format == "classification" else y)
        return torch.cat(parts).numpy()


def _complete_windows(ok_row: np.ndarray, window: int) -> np.ndarray:
    """True at row t when rows t-window+1 .. t all exist and are finite."""
    if window == 1:
        return ok_row
    bad = np.concatenate([[0], np.cumsum(~ok_row)])
    ok = np.zeros(len(ok_row), dtype=bool)
    ok[window - 1:] = bad[window:] == bad[: len(ok_row) - window + 1]
    return ok

