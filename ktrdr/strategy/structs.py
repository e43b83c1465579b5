"""The base of every strategy config struct and the constrained number types they use."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec
from msgspec import Meta

PositiveInt = Annotated[int, Meta(gt=0)]
NonNegInt = Annotated[int, Meta(ge=0)]
PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegFloat = Annotated[float, Meta(ge=0)]
UnitFloat = Annotated[float, Meta(ge=0, le=1)]


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base for every config struct: frozen, keyword-only, unknown fields rejected.

    `IGNORED` maps keys the original KTRDR accepted but never used to the reason; the loader
    accepts them with a warning naming their path, and drops them.
    """

    IGNORED: ClassVar[dict[str, str]] = {}
