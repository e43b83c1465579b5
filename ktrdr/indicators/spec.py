"""The declarative form of one indicator instance: its type name and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

ParamValue = int | float | str | bool


class IndicatorSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One indicator instance: registry type name (or alias) plus keyword parameters.

    `data_source` names a context data frame to compute on instead of the strategy's own bars
    (the original's key beside `type`); None means the bars themselves.
    """

    type: str
    params: dict[str, ParamValue] = {}
    data_source: str | None = None

    @classmethod
    def from_block(cls, block: Mapping[str, Any]) -> IndicatorSpec:
        """The spec of a YAML indicator block, whose parameters sit flat beside `type`."""
        params = {k: v for k, v in block.items() if k not in ("type", "data_source")}
        return cls(type=block["type"], params=params, data_source=block.get("data_source"))
