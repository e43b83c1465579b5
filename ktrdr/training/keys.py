"""Object names of model bundles in the models bucket (torch-free, so the object-store layer can use them)."""

from __future__ import annotations

import re

from ktrdr.training.errors import BundleError

_KEY = re.compile(r"^(?P<strategy>[^/]+)/(?P<timeframe>[^/]+)_v(?P<version>[1-9][0-9]*)$")


def bundle_key(strategy: str, timeframe: str, version: int) -> str:
    """Object name of one bundle version: `{strategy}/{timeframe}_v{N}`."""
    if "/" in strategy or "/" in timeframe or version < 1:
        raise BundleError(f"bad bundle key parts {strategy!r}, {timeframe!r}, v{version}",
                          hint="strategy and timeframe must not contain '/', versions start at 1")
    return f"{strategy}/{timeframe}_v{version}"


def latest_key(strategy: str, timeframe: str) -> str:
    """Object name of the `latest` pointer, whose content is the UTF-8 bundle_key of the newest version."""
    return f"{strategy}/{timeframe}_latest"


def parse_bundle_key(key: str) -> tuple[str, str, int] | None:
    """(strategy, timeframe, version) of a versioned key, or None for anything else (e.g. a latest pointer)."""
    m = _KEY.match(key)
    return (m["strategy"], m["timeframe"], int(m["version"])) if m else None


def next_version(existing_keys: list[str], strategy: str, timeframe: str) -> int:
    """1 + the highest stored version of (strategy, timeframe) among `existing_keys`."""
    versions = [p[2] for p in map(parse_bundle_key, existing_keys) if p and p[:2] == (strategy, timeframe)]
    return max(versions, default=0) + 1
