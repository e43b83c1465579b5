"""Indicator registry: names and aliases → implementation, declared outputs, parameters, warm-up."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ktrdr.errors import KtrdrError
from ktrdr.indicators.spec import IndicatorSpec, ParamValue

IndicatorFn = Callable[..., "pd.Series | pd.DataFrame"]
WarmupFn = Callable[[Mapping[str, Any]], int]


class IndicatorError(KtrdrError, ValueError):
    """An indicator type or parameter is wrong; `param` names it when it is a parameter."""

    def __init__(self, message: str, *, param: str = "", value: Any = None,
                 suggestion: str | None = None) -> None:
        super().__init__(message, hint=suggestion)
        self.param = param
        self.value = value
        self.suggestion = suggestion


@dataclass(frozen=True)
class IndicatorDef:
    """One registered indicator.

    `fn(df, **params)` returns a Series (single output) or a DataFrame whose columns are `outputs`.
    `warmup(params)` is the number of leading rows that are NaN on gap-free data (all outputs).
    """

    name: str
    fn: IndicatorFn
    params: dict[str, ParamValue]
    warmup: WarmupFn
    outputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ("close",)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    doc: str = field(default="", compare=False)

    @property
    def multi_output(self) -> bool:
        """Whether the indicator has named outputs (referenced as `id.output`)."""
        return bool(self.outputs)


_REGISTRY: dict[str, IndicatorDef] = {}
_ALIASES: dict[str, str] = {}
_SOURCES = ("open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4")


def register(
    name: str,
    *,
    params: dict[str, ParamValue],
    warmup: WarmupFn,
    outputs: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    inputs: tuple[str, ...] = ("close",),
    choices: dict[str, tuple[str, ...]] | None = None,
) -> Callable[[IndicatorFn], IndicatorFn]:
    """Decorator that adds an indicator implementation to the registry."""

    def wrap(fn: IndicatorFn) -> IndicatorFn:
        allowed = {"source": _SOURCES} if "source" in params else {}
        allowed.update(choices or {})
        definition = IndicatorDef(name, fn, dict(params), warmup, outputs, aliases, inputs,
                                  allowed, (fn.__doc__ or "").strip())
        _REGISTRY[name] = definition
        for alias in (name, *aliases):
            _ALIASES[_key(alias)] = name
        return fn

    return wrap


def _key(name: str) -> str:
    # Case, dashes, spaces and `%` do not matter: "Williams %R" == "williams_r".
    return name.lower().replace("%", "").replace("-", "_").replace(" ", "_").strip("_")


def indicator_names(with_aliases: bool = False) -> list[str]:
    """Registered indicator names (optionally with every alias)."""
    _ensure_loaded()
    return sorted(_ALIASES) if with_aliases else sorted(_REGISTRY)


def get_indicator(name: str) -> IndicatorDef:
    """The definition for a name or alias; `IndicatorError` with a suggestion otherwise."""
    _ensure_loaded()
    canonical = _ALIASES.get(_key(name))
    if canonical is None:
        close = difflib.get_close_matches(_key(name), list(_ALIASES), n=1, cutoff=0.6)
        hint = f"did you mean '{_ALIASES[close[0]]}'?" if close else "see indicator_names()"
        raise IndicatorError(f"unknown indicator type '{name}'", value=name, suggestion=hint)
    return _REGISTRY[canonical]


def resolve_params(spec: IndicatorSpec) -> dict[str, ParamValue]:
    """Defaults merged with the spec's parameters, each checked for name and value."""
    definition = get_indicator(spec.type)
    merged = dict(definition.params)
    for key, value in spec.params.items():
        if key not in definition.params:
            close = difflib.get_close_matches(key, list(definition.params), n=1)
            hint = f"did you mean '{close[0]}'?" if close else (
                "parameters: " + (", ".join(definition.params) or "none"))
            raise IndicatorError(f"unknown parameter '{key}' for {definition.name}",
                                 param=key, value=value, suggestion=hint)
        merged[key] = _check_value(definition, key, value)
    return merged


def _check_value(definition: IndicatorDef, key: str, value: ParamValue) -> ParamValue:
    default = definition.params[key]
    if isinstance(default, str):
        options = definition.choices.get(key, ())
        if value not in options:
            raise IndicatorError(f"{key} must be one of {', '.join(options)}", param=key,
                                 value=value, suggestion=_suggest(str(value), options))
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise IndicatorError(f"{key} must be a number", param=key, value=value)
    if isinstance(default, int) and not isinstance(default, bool):
        if int(value) != value or value < 1:
            raise IndicatorError(f"{key} must be a positive integer", param=key, value=value)
        return int(value)
    if value <= 0:
        raise IndicatorError(f"{key} must be > 0", param=key, value=value)
    return float(value)


def _suggest(word: str, options: tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1)
    return f"did you mean '{close[0]}'?" if close else None


def warmup_bars(spec: IndicatorSpec) -> int:
    """Leading rows this indicator leaves NaN with the spec's parameters."""
    return get_indicator(spec.type).warmup(resolve_params(spec))


_LOADED: list[bool] = []


def _ensure_loaded() -> None:
    # Implementation modules register themselves on import; import them lazily to avoid cycles.
    if not _LOADED:
        _LOADED.append(True)
        from ktrdr.indicators import momentum, stateful, trend, volatility, volume  # noqa: F401
