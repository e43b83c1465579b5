"""Declared indicator parameters: a default, a kind and its bounds, checked in one place."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ktrdr.errors import KtrdrError
from ktrdr.indicators.spec import ParamValue

SOURCES = ("open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4")


class IndicatorError(KtrdrError, ValueError):
    """An indicator type or parameter is wrong; `param` names it when it is a parameter."""

    def __init__(self, message: str, *, param: str = "", value: object = None,
                 suggestion: str | None = None) -> None:
        super().__init__(message, hint=suggestion)
        self.param = param
        self.value = value
        self.suggestion = suggestion


@dataclass(frozen=True)
class Param:
    """One parameter: its default (whose type is the parameter's kind) and allowed values.

    Numbers lie in [lo, hi] (`lo_open`: lo itself excluded); strings are one of `choices`
    (compared without case, returned as spelled in `choices`).
    """

    default: ParamValue
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[str, ...] = ()

    def check(self, name: str, value: object) -> ParamValue:
        """The value as the parameter's kind, or `IndicatorError` saying what is allowed."""
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise IndicatorError(f"{name} must be true or false", param=name, value=value)
            return value
        if isinstance(self.default, str):
            return self._check_choice(name, value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IndicatorError(f"{name} must be a number", param=name, value=value)
        if isinstance(self.default, int) and int(value) != value:
            raise IndicatorError(f"{name} must be a whole number", param=name, value=value)
        number = int(value) if isinstance(self.default, int) else float(value)
        below = self.lo is not None and (number <= self.lo if self.lo_open else number < self.lo)
        if below or (self.hi is not None and number > self.hi):
            raise IndicatorError(f"{name} must be {self.bounds()}", param=name, value=value)
        return number

    def bounds(self) -> str:
        """The allowed range in words, e.g. '>= 2 and <= 200'."""
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {_num(self.lo)}")
        if self.hi is not None:
            parts.append(f"<= {_num(self.hi)}")
        return " and ".join(parts) or "any number"

    def _check_choice(self, name: str, value: object) -> str:
        lowered = {c.lower(): c for c in self.choices}
        if isinstance(value, str) and value.lower() in lowered:
            return lowered[value.lower()]
        close = difflib.get_close_matches(str(value).lower(), list(lowered), n=1)
        raise IndicatorError(f"{name} must be one of {', '.join(self.choices)}", param=name,
                             value=value,
                             suggestion=f"did you mean '{lowered[close[0]]}'?" if close else None)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def integer(default: int, lo: int, hi: int) -> Param:
    """A whole-number parameter in [lo, hi]."""
    return Param(default, lo, hi)


def number(default: float, lo: float, hi: float, *, lo_open: bool = True) -> Param:
    """A real parameter in (lo, hi] (or [lo, hi] with lo_open=False)."""
    return Param(float(default), lo, hi, lo_open)


def flag(default: bool) -> Param:
    """A true/false parameter."""
    return Param(default)


def choice(default: str, *choices: str) -> Param:
    """A parameter that is one of a few words."""
    return Param(default, choices=choices)


SOURCE = choice("close", *SOURCES)
