"""Networks over fuzzy features: an MLP on one row, LSTM/GRU over a window of `sequence_length` rows."""

from __future__ import annotations

import torch
from torch import nn

from ktrdr.strategy.config import ModelConfig
from ktrdr.training.errors import TrainingError

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU,
}
OUTPUT_SIZES = {"classification": 3, "regression": 1}


class MLP(nn.Module):
    """Feed-forward network: (batch, features) → (batch, outputs)."""

    def __init__(self, n_features: int, hidden: list[int], activation: str, dropout: float, n_out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (classification) or the predicted value (regression)."""
        return self.net(x)


class RecurrentNet(nn.Module):
    """Stacked LSTM/GRU layers of the given widths: (batch, seq, features) → (batch, outputs) from the last step."""

    def __init__(self, kind: str, n_features: int, hidden: list[int], dropout: float, n_out: int) -> None:
        super().__init__()
        cell = nn.LSTM if kind == "lstm" else nn.GRU
        widths = [n_features, *hidden]
        # One module per layer so that each layer may have its own width (nn.LSTM stacks only equal widths).
        self.layers = nn.ModuleList(cell(widths[i], widths[i + 1], batch_first=True) for i in range(len(hidden)))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the window through every layer and read the head from the last time step."""
        for layer in self.layers:
            x, _ = layer(x)
            x = self.dropout(x)
        return self.head(x[:, -1, :])


def is_sequence_model(model_cfg: ModelConfig) -> bool:
    """True for models that read a window of rows (lstm, gru)."""
    return model_cfg.type in ("lstm", "gru")


def window_length(model_cfg: ModelConfig) -> int:
    """Rows of history one sample reads: sequence_length for lstm/gru, 1 for the MLP."""
    return model_cfg.sequence_length if is_sequence_model(model_cfg) else 1


def build_model(model_cfg: ModelConfig, n_features: int, output_format: str, n_classes: int = 3) -> nn.Module:
    """Build the network a ModelConfig describes, with `n_classes` logits (classification) or 1 output."""
    if output_format not in OUTPUT_SIZES:
        raise TrainingError(f"unknown output_format {output_format!r}", field="decisions.output_format",
                            hint="use classification or regression")
    if n_features < 1:
        raise TrainingError(f"a model needs at least one feature, got {n_features}", field="nn_inputs")
    kind = model_cfg.type
    hidden = list(model_cfg.hidden_layers)
    dropout = model_cfg.dropout
    n_out = n_classes if output_format == "classification" else OUTPUT_SIZES[output_format]
    if kind == "mlp":
        activation = model_cfg.activation
        if activation not in _ACTIVATIONS:
            raise TrainingError(f"unknown activation {activation!r}", field="model.activation",
                                hint=f"use one of {sorted(_ACTIVATIONS)}")
        return MLP(n_features, hidden, activation, dropout, n_out)
    if kind in ("lstm", "gru"):
        if not hidden:
            raise TrainingError(f"{kind} needs at least one hidden layer", field="model.hidden_layers")
        return RecurrentNet(kind, n_features, hidden, dropout, n_out)
    raise TrainingError(f"unknown model type {kind!r}", field="model.type", hint="use mlp, lstm or gru")


def parameter_count(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those requiring gradients)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def sliding_windows(x: torch.Tensor, length: int) -> torch.Tensor:
    """View of shape (rows - length + 1, length, features): window i covers rows i .. i+length-1 (no copy)."""
    if x.shape[0] < length:
        return x.new_empty((0, length, x.shape[1]))
    return x.unfold(0, length, 1).transpose(1, 2)
