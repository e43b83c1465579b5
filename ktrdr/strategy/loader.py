"""Read strategy YAML into `StrategyConfig`, reporting errors by YAML path; and write it back."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import msgspec
import yaml

from ktrdr.indicators.spec import IndicatorSpec
from ktrdr.strategy.config import (
    FuzzySetConfig,
    NNInputConfig,
    StrategyConfig,
    TrainingDataConfig,
)
from ktrdr.strategy.errors import StrategyError, did_you_mean, join_path

Source = str | Path | Mapping[str, Any]


def read_source(source: Source) -> dict[str, Any]:
    """Parse a path, YAML text or an already-parsed mapping into a plain dict."""
    if isinstance(source, Mapping):
        return dict(source)
    text = str(source)
    if isinstance(source, Path) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
        try:
            text = Path(source).read_text()
        except OSError as exc:
            raise StrategyError(f"cannot read strategy file {source}: {exc.strerror}",
                                value=str(source), suggestion="check the path") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StrategyError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise StrategyError("a strategy must be a YAML mapping", value=raw)
    return raw


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _shape_training_data(raw: dict[str, Any], path: str) -> dict[str, Any]:
    # A single symbol or timeframe may be written as a bare string.
    out = dict(raw)
    for key in ("symbols", "timeframes"):
        if key in out:
            out[key] = _as_list(out[key])
    return out


def _shape_indicator(raw: dict[str, Any], path: str) -> dict[str, Any]:
    # YAML writes parameters flat beside `type`; the struct keeps them apart.
    if "type" not in raw:
        raise StrategyError("indicator has no 'type'", path=path, value=raw,
                            suggestion="add e.g. 'type: rsi'")
    params = {k: v for k, v in raw.items() if k != "type"}
    return {"type": raw["type"], "params": params}


def _shape_fuzzy_set(raw: dict[str, Any], path: str) -> dict[str, Any]:
    # Every key besides `indicator` is a membership; a bare list means triangular.
    if "indicator" not in raw:
        raise StrategyError("fuzzy set has no 'indicator'", path=path, value=raw,
                            suggestion="add 'indicator: <indicator id>[.<output>]'")
    members = {}
    for name, spec in raw.items():
        if name == "indicator":
            continue
        members[name] = {"type": "triangular", "parameters": spec} if isinstance(spec, list) else spec
    return {"indicator": raw["indicator"], "memberships": members}


def _shape_nn_input(raw: dict[str, Any], path: str) -> dict[str, Any]:
    out = dict(raw)
    if isinstance(out.get("timeframes"), str) and out["timeframes"] != "all":
        out["timeframes"] = [out["timeframes"]]
    return out


def _shape_strategy(raw: dict[str, Any], path: str) -> dict[str, Any]:
    out = dict(raw)
    if isinstance(out.get("version"), int | float):  # `version: 3.0` unquoted parses as a float
        out["version"] = str(out["version"])
    for key in ("indicators", "fuzzy_sets"):
        if out.get(key) is None and key in out:
            out[key] = {}
    return out


_SHAPERS: dict[type, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    StrategyConfig: _shape_strategy,
    TrainingDataConfig: _shape_training_data,
    IndicatorSpec: _shape_indicator,
    FuzzySetConfig: _shape_fuzzy_set,
    NNInputConfig: _shape_nn_input,
}
_AT = re.compile(r" - at `\$(?P<rest>[^`]*)`$")


def _is_struct(typ: Any) -> bool:
    return isinstance(typ, type) and issubclass(typ, msgspec.Struct)


def convert(value: Any, typ: Any, path: str = "") -> Any:
    """Convert parsed YAML into `typ`, raising `StrategyError` with the YAML path of a bad value."""
    if _is_struct(typ):
        return _convert_struct(value, typ, path)
    origin, args = get_origin(typ), get_args(typ)
    if origin is dict and _is_struct(args[1]) and isinstance(value, dict):
        return {k: convert(v, args[1], join_path(path, str(k))) for k, v in value.items()}
    if origin is list and _is_struct(args[0]) and isinstance(value, list):
        return [convert(v, args[0], join_path(path, i)) for i, v in enumerate(value)]
    try:
        return msgspec.convert(value, typ)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        if match:
            message, path = message[: match.start()], path + match["rest"]
        choices = [str(c) for c in get_args(typ)] if get_origin(typ) is Literal else []
        hint = did_you_mean(str(value), choices) if choices else None
        raise StrategyError(message, path=path, value=value, suggestion=hint) from None


def _convert_struct(value: Any, cls: type[msgspec.Struct], path: str) -> Any:
    if not isinstance(value, dict):
        raise StrategyError(f"expected a mapping, got {type(value).__name__}", path=path, value=value)
    shaper = _SHAPERS.get(cls)
    value = shaper(value, path) if shaper else value
    fields = {f.name: f for f in msgspec.structs.fields(cls)}
    for key in value:
        if key not in fields:
            raise StrategyError(f"unknown key '{key}'", path=join_path(path, str(key)), value=key,
                                suggestion=did_you_mean(str(key), fields))
    missing = [name for name, f in fields.items() if f.required and name not in value]
    if missing:
        raise StrategyError(f"missing required key '{missing[0]}'", path=join_path(path, missing[0]))
    kwargs = {k: convert(v, fields[k].type, _field_path(cls, path, k)) for k, v in value.items()}
    return cls(**kwargs)


def _field_path(cls: type, path: str, key: str) -> str:
    # Keys the shapers introduced do not exist in the YAML; keep paths the user can find.
    if (cls is IndicatorSpec and key == "params") or (cls is FuzzySetConfig and key == "memberships"):
        return path
    return join_path(path, key)


def parse_strategy(source: Source) -> StrategyConfig:
    """Decode a strategy into structs (types and constraints only, no cross-reference checks)."""
    return convert(read_source(source), StrategyConfig)


def strategy_to_dict(cfg: StrategyConfig) -> dict[str, Any]:
    """The YAML-shaped plain dict of a strategy (flat indicator params, flat memberships)."""
    data = msgspec.to_builtins(cfg)
    data["indicators"] = {k: {"type": v.type, **v.params} for k, v in cfg.indicators.items()}
    data["fuzzy_sets"] = {
        name: {"indicator": fs.indicator,
               **{m: {"type": mc.type, "parameters": list(mc.parameters)}
                  for m, mc in fs.memberships.items()}}
        for name, fs in cfg.fuzzy_sets.items()
    }
    data["nn_inputs"] = [{k: v for k, v in item.items() if v is not None} for item in data["nn_inputs"]]
    return data


def dump_strategy(cfg: StrategyConfig) -> str:
    """Write a strategy back as YAML text that `load_strategy` reads to an equal config."""
    return yaml.safe_dump(strategy_to_dict(cfg), sort_keys=False, default_flow_style=None)
