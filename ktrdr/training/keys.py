"""Object names of model bundles in the models bucket (torch-free, so the object-store layer can use them).

A bundle's name is `{strategy}/{line}_v{N}`. The line is the timeframe for a model trained on one symbol
(`trend/1h_v3`) and `{SYM1+SYM2+…}_{timeframe}` for one trained on several (`fx/EURUSD+GBPUSD_1h_v1`), so that
a model of a symbol set never shares versions or a `latest` pointer with a single-symbol model of that strategy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ktrdr.training.errors import BundleError

_KEY = re.compile(r"^(?P<strategy>[^/]+)/(?P<line>[^/]+)_v(?P<version>[1-9][0-9]*)$")
SYMBOL_JOIN = "+"


def model_line(symbols: Sequence[str], timeframe: str) -> str:
    """The key part naming what a model was trained on: the timeframe, prefixed by the symbols when several."""
    if len(symbols) <= 1:
        return timeframe
    if any(SYMBOL_JOIN in s or "/" in s for s in symbols):
        raise BundleError(f"symbols {list(symbols)} cannot name a model line",
                          hint=f"symbols must not contain {SYMBOL_JOIN!r} or '/'")
    return f"{SYMBOL_JOIN.join(symbols)}_{timeframe}"


def split_line(line: str) -> tuple[list[str], str]:
    """(symbols, timeframe) of a line: no symbols for a single-symbol line; timeframes never contain '_'."""
    symbols, sep, timeframe = line.rpartition("_")
    return (symbols.split(SYMBOL_JOIN), timeframe) if sep else ([], line)


def bundle_key(strategy: str, line: str, version: int) -> str:
    """Object name of one bundle version: `{strategy}/{line}_v{N}` (line: see model_line)."""
    if "/" in strategy or "/" in line or version < 1:
        raise BundleError(f"bad bundle key parts {strategy!r}, {line!r}, v{version}",
                          hint="strategy and timeframe must not contain '/', versions start at 1")
    return f"{strategy}/{line}_v{version}"


def latest_key(strategy: str, line: str) -> str:
    """Object name of the `latest` pointer, whose content is the UTF-8 bundle_key of the newest version."""
    return f"{strategy}/{line}_latest"


def parse_bundle_key(key: str) -> tuple[str, str, int] | None:
    """(strategy, line, version) of a versioned key, or None for anything else (e.g. a latest pointer)."""
    m = _KEY.match(key)
    return (m["strategy"], m["line"], int(m["version"])) if m else None


def next_version(existing_keys: list[str], strategy: str, line: str) -> int:
    """1 + the highest stored version of (strategy, line) among `existing_keys`."""
    versions = [p[2] for p in map(parse_bundle_key, existing_keys) if p and p[:2] == (strategy, line)]
    return max(versions, default=0) + 1
