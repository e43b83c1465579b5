"""Sweep variants: `PATH=V1,V2,…` overrides at YAML paths of a strategy, their grid, seeded samples of it."""

from __future__ import annotations

import copy
import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

import yaml

from ktrdr.strategy.errors import StrategyError, did_you_mean
from ktrdr.strategy.loader import read_source
from ktrdr.strategy.validate import validate_strategy

MAX_VARIANTS = 256
"""Most variants one sweep runs: each is a training run, and the sweep's record lists them all."""
Overrides = dict[str, Any]


@dataclass(frozen=True)
class Axis:
    """One `--set`: a YAML path and the values it takes."""

    path: str
    values: tuple[Any, ...]


def parse_set(text: str) -> Axis:
    """`model.architecture.hidden_layers=[32],[64,32]` → Axis; each value is read as YAML (3, 0.5, [32], rsi)."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path or not rest.strip():
        raise StrategyError(f"--set {text!r} is not PATH=V1,V2,…", path=path,
                            suggestion="e.g. --set indicators.rsi_14.period=7,14,21")
    values = []
    for raw in _split_top_level(rest):
        try:
            values.append(yaml.safe_load(raw) if raw.strip() else None)
        except yaml.YAMLError:
            raise StrategyError(f"value {raw!r} is not valid YAML", path=path,
                                suggestion="lists are written [64,32]; quote text with commas") from None
        if values[-1] is None:
            raise StrategyError(f"empty value in {rest!r}", path=path, suggestion="remove the doubled comma")
    return Axis(path, tuple(values))


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets and quotes, so `[64,32]` stays one value."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def grid(axes: list[Axis], samples: int | None = None, seed: int = 0) -> list[Overrides]:
    """Every combination of the axes, or `samples` of them drawn without replacement (seeded, grid order)."""
    paths = [a.path for a in axes]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise StrategyError("the same path is --set twice", path=dup, suggestion="give all its values in one --set")
    sizes = [len(a.values) for a in axes]
    total = math.prod(sizes)
    if samples is not None and samples > MAX_VARIANTS:
        raise StrategyError(f"--samples {samples} is more than {MAX_VARIANTS} variants", path=paths[0])
    if samples is not None and samples < total:
        # Mixed-radix decoding: a huge grid is sampled without ever being built.
        picks = sorted(random.Random(seed).sample(range(total), samples))
        combos = [_decode(i, sizes) for i in picks]
    elif total > MAX_VARIANTS:
        raise StrategyError(f"the grid has {total:,} variants, more than {MAX_VARIANTS}", path=paths[0],
                            suggestion=f"draw some with --samples N (N ≤ {MAX_VARIANTS})")
    else:
        combos = list(itertools.product(*(range(s) for s in sizes)))
    return [{a.path: a.values[j] for a, j in zip(axes, combo)} for combo in combos]


def _decode(index: int, sizes: list[int]) -> tuple[int, ...]:
    out = []
    for size in reversed(sizes):
        index, j = divmod(index, size)
        out.append(j)
    return tuple(reversed(out))


def apply_overrides(raw: dict[str, Any], overrides: Overrides) -> dict[str, Any]:
    """A deep copy of the parsed strategy with each value set at its path; a wrong path names the bad part."""
    out = copy.deepcopy(raw)
    for path, value in overrides.items():
        parts = path.split(".")
        node: Any = out
        for depth, key in enumerate(parts):
            here = ".".join(parts[:depth + 1])
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise StrategyError(f"{key!r} is not an index of this list of {len(node)}", path=here,
                                        suggestion=f"use 0..{len(node) - 1}")
                key = int(key)  # type: ignore[assignment]
            elif not isinstance(node, dict):
                raise StrategyError(f"{'.'.join(parts[:depth])} is a value, not a section", path=here)
            elif key not in node and not last:
                raise StrategyError(f"no {key!r} here", path=here, suggestion=did_you_mean(key, node))
            if last:
                node[key] = copy.deepcopy(value)
            else:
                node = node[key]
    return out


def variant_yaml(base: dict[str, Any], overrides: Overrides, label: str) -> str:
    """The variant's strategy text, validated; an error says which variant and which path."""
    text = yaml.safe_dump(apply_overrides(base, overrides), sort_keys=False)
    try:
        validate_strategy(text)
    except StrategyError as exc:
        raise StrategyError(f"{label} {_show(overrides)}: {exc.detail}", path=exc.path, value=exc.value,
                            suggestion=exc.suggestion) from None
    return text


def expand(strategy_yaml: str, axes: list[Axis], samples: int | None = None,
           seed: int = 0) -> list[tuple[Overrides, str]]:
    """Every variant's overrides and strategy text, all validated before any is used."""
    if not axes:
        raise StrategyError("a sweep needs at least one --set PATH=V1,V2,…",
                            suggestion="e.g. --set model.architecture.hidden_layers=[32],[64,32]")
    base = read_source(strategy_yaml)
    variants = grid(axes, samples, seed)
    return [(o, variant_yaml(base, o, f"variant {i}")) for i, o in enumerate(variants)]


def _show(overrides: Overrides) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in overrides.items()) + ")"
