"""Read strategy YAML into `StrategyConfig`, reporting errors by YAML path; and write it back."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import msgspec
import yaml

from ktrdr.strategy.config import (
    FuzzySetConfig,
    IndicatorDefinition,
    StrategyConfig,
    SymbolsConfig,
    TimeframesConfig,
)
from ktrdr.strategy.errors import StrategyError, StrategyWarning, did_you_mean, join_path
from ktrdr.strategy.labels_config import LABEL_SOURCES, LabelConfig
from ktrdr.strategy.yamlsafe import MAX_BYTES, Document, parse_yaml

Source = str | Path | Mapping[str, Any]


def read_document(source: Source) -> Document:
    """Parse a path, YAML text or an already-parsed mapping (which has no line/column marks)."""
    if isinstance(source, Mapping):
        return Document(data=dict(source))
    text = str(source)
    if isinstance(source, Path) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
        text = _read_file(Path(source))
    doc = parse_yaml(text)
    if not isinstance(doc.data, dict):
        raise StrategyError(f"a strategy must be a YAML mapping, got {type(doc.data).__name__}", value=doc.data,
                            line=1, column=1, suggestion="start with 'name: my_strategy'")
    return doc


def read_source(source: Source) -> dict[str, Any]:
    """Parse a path, YAML text or an already-parsed mapping into a plain dict."""
    return read_document(source).data


def _read_file(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > 4 * MAX_BYTES:  # never read a huge file just to reject it (4: the widest UTF-8 character)
            raise StrategyError(f"{path} is {size:,} bytes; a strategy file is a few kB", value=str(path),
                                suggestion="check that this is the right file")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StrategyError(f"cannot read strategy file {path}: {exc.strerror}",
                            value=str(path), suggestion="check the path") from None
    except UnicodeDecodeError:
        raise StrategyError(f"{path} is not UTF-8 text", value=str(path)) from None


def _shape_selection(raw: dict[str, Any], key: str) -> dict[str, Any]:
    # The original also reads the list under the field's own name (`symbols:` / `timeframes:`).
    out = dict(raw)
    if key in out and "list" not in out:
        out["list"] = out.pop(key)
    return out


def _shape_indicator(raw: dict[str, Any], path: str) -> dict[str, Any]:
    # YAML writes parameters flat beside `type`; the struct keeps them apart.
    if "type" not in raw:
        raise StrategyError("indicator has no 'type'", path=path, value=raw, suggestion="add e.g. 'type: rsi'")
    params = {k: v for k, v in raw.items() if k not in ("type", "data_source")}
    out = {"type": raw["type"], "params": params}
    if "data_source" in raw:
        out["data_source"] = raw["data_source"]
    return out


def _shape_fuzzy_set(raw: dict[str, Any], path: str) -> dict[str, Any]:
    # Every key besides `indicator` is a membership; a bare list means triangular.
    if "indicator" not in raw:
        raise StrategyError("fuzzy set has no 'indicator'", path=path, value=raw,
                            suggestion="add 'indicator: <indicator id>[.<output>]'")
    members = {name: {"type": "triangular", "parameters": spec} if isinstance(spec, list) else spec
               for name, spec in raw.items() if name != "indicator"}
    return {"indicator": raw["indicator"], "memberships": members}


def _shape_strategy(raw: dict[str, Any], path: str) -> dict[str, Any]:
    out = dict(raw)
    if isinstance(out.get("version"), int | float):  # `version: 3.0` unquoted parses as a float
        out["version"] = str(out["version"])
    if out.get("description") is None and "description" in out:
        out["description"] = ""
    for key in ("indicators", "fuzzy_sets"):
        if out.get(key) is None and key in out:
            out[key] = {}
    return out


_SHAPERS: dict[type, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    StrategyConfig: _shape_strategy,
    SymbolsConfig: lambda raw, path: _shape_selection(raw, "symbols"),
    TimeframesConfig: lambda raw, path: _shape_selection(raw, "timeframes"),
    IndicatorDefinition: _shape_indicator,
    FuzzySetConfig: _shape_fuzzy_set,
}
_HIDDEN_FIELDS = {(IndicatorDefinition, "params"), (FuzzySetConfig, "memberships")}
_AT = re.compile(r" - at `\$(?P<rest>[^`]*)`$")


def _is_struct(typ: Any) -> bool:
    return isinstance(typ, type) and issubclass(typ, msgspec.Struct)


class Decoder:
    """Converts parsed YAML into structs; collects warnings for accepted-but-ignored keys."""

    def __init__(self) -> None:
        self.warnings: list[StrategyWarning] = []

    def convert(self, value: Any, typ: Any, path: str = "") -> Any:
        """Convert `value` into `typ`, raising StrategyError with the YAML path of a bad value."""
        if _is_struct(typ):
            return self._struct(value, typ, path)
        if typ is LabelConfig:
            return self._labels(value, path)
        origin, args = get_origin(typ), get_args(typ)
        if origin is dict and _is_struct(args[1]) and isinstance(value, dict):
            return {k: self.convert(v, args[1], join_path(path, str(k))) for k, v in value.items()}
        if origin is list and _is_struct(args[0]) and isinstance(value, list):
            return [self.convert(v, args[0], join_path(path, i)) for i, v in enumerate(value)]
        if origin in (Union, UnionType) and value is not None:
            options = [a for a in args if a is not type(None)]
            if len(options) == 1:  # `X | None` given a value: decode it as X
                return self.convert(value, options[0], path)
            structs = [a for a in options if _is_struct(a)]
            if structs and isinstance(value, dict):  # `bool | X` given a mapping
                return self.convert(value, structs[0], path)
        return _plain(value, typ, path)

    def _labels(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise StrategyError(f"expected a mapping, got {type(value).__name__}", path=path, value=value)
        source = value.get("source", "zigzag")
        if source not in LABEL_SOURCES:
            raise StrategyError(f"unknown label source '{source}'", path=join_path(path, "source"),
                                value=source, suggestion=did_you_mean(str(source), LABEL_SOURCES))
        return self._struct(value, LABEL_SOURCES[source], path)

    def _struct(self, value: Any, cls: type[msgspec.Struct], path: str) -> Any:
        if not isinstance(value, dict):
            raise StrategyError(f"expected a mapping, got {type(value).__name__}", path=path, value=value)
        shaper = _SHAPERS.get(cls)
        value = shaper(value, path) if shaper else value
        fields = {f.encode_name: f for f in msgspec.structs.fields(cls)}
        ignored: dict[str, str] = getattr(cls, "IGNORED", {})
        kwargs = {}
        for key, item in value.items():
            key_path = join_path(path, str(key))
            if key in ignored and key not in fields:
                self.warnings.append(StrategyWarning(key_path, f"accepted but has no effect: {ignored[key]}"))
            elif key not in fields:
                raise StrategyError(f"unknown key '{key}'", path=key_path, value=key,
                                    suggestion=did_you_mean(str(key), fields))
            else:
                hidden = (cls, fields[key].name) in _HIDDEN_FIELDS
                kwargs[fields[key].name] = self.convert(item, fields[key].type, path if hidden else key_path)
        missing = [name for name, f in fields.items() if f.required and name not in value]
        if missing:
            raise StrategyError(f"missing required key '{missing[0]}'", path=path,
                                suggestion=f"add '{missing[0]}:'")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise StrategyError(str(exc), path=path) from None


def _plain(value: Any, typ: Any, path: str) -> Any:
    try:
        return msgspec.convert(value, typ)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        if match:
            message, path = message[: match.start()], path + match["rest"]
        choices = [str(c) for a in (typ, *get_args(typ)) if get_origin(a) is Literal for c in get_args(a)]
        hint = did_you_mean(str(value), choices) if choices else None
        raise StrategyError(message, path=path, value=value, suggestion=hint) from None


def convert(value: Any, typ: Any, path: str = "") -> Any:
    """Convert parsed YAML into `typ` (warnings dropped); see `Decoder`."""
    return Decoder().convert(value, typ, path)


def parse_strategy(source: Source, warnings: list[StrategyWarning] | None = None) -> StrategyConfig:
    """Decode a strategy into structs (types and constraints only, no cross-reference checks)."""
    return decode_document(read_document(source), warnings)


def decode_document(doc: Document, warnings: list[StrategyWarning] | None = None) -> StrategyConfig:
    """Decode a parsed document; errors and warnings carry the line and column of their path."""
    decoder = Decoder()
    try:
        cfg = decoder.convert(doc.data, StrategyConfig)
    except StrategyError as exc:
        raise exc.located(doc.marks) from None
    if warnings is not None:
        warnings.extend(w.located(doc.marks) for w in decoder.warnings)
    return cfg


def strategy_to_dict(cfg: StrategyConfig) -> dict[str, Any]:
    """The YAML-shaped plain dict of a strategy (flat indicator params, flat memberships, no defaults)."""
    data = msgspec.to_builtins(cfg)
    data["indicators"] = {
        k: {"type": v.type, **({"data_source": v.data_source} if v.data_source else {}), **v.params}
        for k, v in cfg.indicators.items()}
    data["fuzzy_sets"] = {
        name: {"indicator": fs.indicator,
               **{m: {"type": mc.type, "parameters": list(mc.parameters)} for m, mc in fs.memberships.items()}}
        for name, fs in cfg.fuzzy_sets.items()
    }
    return _drop_none(data)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def dump_strategy(cfg: StrategyConfig) -> str:
    """Write a strategy back as YAML text that `load_strategy` reads to an equal config."""
    return yaml.safe_dump(strategy_to_dict(cfg), sort_keys=False, default_flow_style=None)
