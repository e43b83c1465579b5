"""Indicator registry: the original KTRDR's type names and aliases, parameters, outputs, warm-up."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ktrdr.indicators.params import IndicatorError, Param
from ktrdr.indicators.spec import IndicatorSpec, ParamValue

IndicatorFn = Callable[..., "pd.Series | pd.DataFrame"]
WarmupFn = Callable[[Mapping[str, Any]], int]
CheckFn = Callable[[Mapping[str, Any]], None]

# Parameter names this project used before it took the original's vocabulary. A strategy that
# still carries one gets a warning and the parameter is ignored, as the original ignored every
# parameter an indicator does not declare; a name no grammar knows stays an error.
FORMER_PARAMS = frozenset({"fast", "slow", "signal", "std", "step", "max_step", "constant"})


@dataclass(frozen=True)
class IndicatorDef:
    """One registered indicator.

    `fn(df, **params)` returns a Series (single output) or a DataFrame whose columns are `outputs`;
    the first output is the primary one, which a bare indicator id refers to.
    `warmup(params)` is the number of leading rows that are NaN on gap-free data (all outputs);
    `check(params)` raises `IndicatorError` for a combination of values it cannot compute.
    """

    name: str
    fn: IndicatorFn
    params: dict[str, Param]
    warmup: WarmupFn
    outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ("close",)
    check: CheckFn | None = None
    doc: str = field(default="", compare=False)

    @property
    def multi_output(self) -> bool:
        """Whether the indicator has named outputs (referenced as `id.output`)."""
        return bool(self.outputs)

    @property
    def primary(self) -> str | None:
        """The output a bare indicator id means (None for single-output indicators)."""
        return self.outputs[0] if self.outputs else None

    def defaults(self) -> dict[str, ParamValue]:
        """Every parameter at its default value."""
        return {k: p.default for k, p in self.params.items()}


_REGISTRY: dict[str, IndicatorDef] = {}
_ALIASES: dict[str, str] = {}


def register(
    name: str,
    *,
    params: dict[str, Param],
    warmup: WarmupFn,
    outputs: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    inputs: tuple[str, ...] = ("close",),
    check: CheckFn | None = None,
) -> Callable[[IndicatorFn], IndicatorFn]:
    """Decorator that adds an indicator implementation under its name and aliases."""

    def wrap(fn: IndicatorFn) -> IndicatorFn:
        definition = IndicatorDef(name, fn, dict(params), warmup, outputs, aliases, inputs,
                                  check, (fn.__doc__ or "").strip())
        for alias in (name, *aliases):
            if alias.lower() in _ALIASES:
                raise ValueError(f"indicator name '{alias}' is registered twice")
            _ALIASES[alias.lower()] = name
        _REGISTRY[name] = definition
        return fn

    return wrap


def _loose(name: str) -> str:
    # Only for suggestions: "Williams %R", "williams_r" and "williamsr" look alike.
    return "".join(ch for ch in name.lower() if ch.isalnum())


def indicator_names(with_aliases: bool = False) -> list[str]:
    """Registered indicator names (optionally with every alias)."""
    _ensure_loaded()
    return sorted(_ALIASES) if with_aliases else sorted(_REGISTRY)


def get_indicator(name: str) -> IndicatorDef:
    """The definition for a name or alias (case-insensitive); `IndicatorError` otherwise."""
    _ensure_loaded()
    canonical = _ALIASES.get(str(name).lower())
    if canonical is None:
        loose = {_loose(a): a for a in _ALIASES}
        hit = loose.get(_loose(str(name))) or next(
            iter(difflib.get_close_matches(str(name).lower(), list(_ALIASES), n=1)), None)
        hint = f"did you mean '{hit}'?" if hit else "the types are listed in docs/indicators.md"
        raise IndicatorError(f"unknown indicator type '{name}'", value=name, suggestion=hint)
    return _REGISTRY[canonical]


def primary_output(name: str) -> str | None:
    """The output a bare id of this indicator type means; None when it has a single output."""
    return get_indicator(name).primary


def ignored_params(spec: IndicatorSpec) -> list[str]:
    """Parameters the spec carries that this indicator does not take but that are known names.

    The original KTRDR dropped such parameters silently (its own strategies carry some, e.g.
    `fast` on macd); they are ignored here too, and the caller should warn about each.
    """
    definition = get_indicator(spec.type)
    known = _known_param_names()
    return [k for k in spec.params if k not in definition.params and k in known]


def resolve_params(spec: IndicatorSpec) -> dict[str, ParamValue]:
    """Defaults merged with the spec's parameters, each checked; ignorable ones are dropped."""
    definition = get_indicator(spec.type)
    merged = definition.defaults()
    known = _known_param_names()
    for key, value in spec.params.items():
        param = definition.params.get(key)
        if param is not None:
            merged[key] = param.check(key, value)
        elif key not in known:
            close = difflib.get_close_matches(key, list(definition.params), n=1)
            hint = f"did you mean '{close[0]}'?" if close else (
                "parameters: " + (", ".join(definition.params) or "none"))
            raise IndicatorError(f"unknown parameter '{key}' for {definition.name}",
                                 param=key, value=value, suggestion=hint)
    if definition.check is not None:
        definition.check(merged)
    return merged


def warmup_bars(spec: IndicatorSpec) -> int:
    """Leading rows this indicator leaves NaN with the spec's parameters."""
    return get_indicator(spec.type).warmup(resolve_params(spec))


def _known_param_names() -> frozenset[str]:
    _ensure_loaded()
    return FORMER_PARAMS.union(*(d.params for d in _REGISTRY.values()))


_LOADED: list[bool] = []


def _ensure_loaded() -> None:
    # Implementation modules register themselves on import; import them lazily to avoid cycles.
    if not _LOADED:
        _LOADED.append(True)
        from ktrdr.indicators import (  # noqa: F401
            directional,
            momentum,
            oscillators,
            stateful,
            trend,
            volatility,
            volume,
        )
