"""The declarative form of one indicator instance: its type name and parameters."""

from __future__ import annotations

import msgspec

ParamValue = int | float | str | bool


class IndicatorSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One indicator instance: registry type name (or alias) plus keyword parameters."""

    type: str
    params: dict[str, ParamValue] = {}
