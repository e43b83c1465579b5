"""Vectorized membership functions and their parameter checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ktrdr.errors import KtrdrError

MembershipFn = Callable[[np.ndarray, Sequence[float]], np.ndarray]


class FuzzyError(KtrdrError, ValueError):
    """Membership parameters are invalid for their function type."""


def triangular(x: np.ndarray, p: Sequence[float]) -> np.ndarray:
    """Triangle rising from a to 1 at b, falling to 0 at c (a == b or b == c gives a shoulder)."""
    a, b, c = p
    return _ramp_up(x, a, b) * _ramp_down(x, b, c)


def trapezoidal(x: np.ndarray, p: Sequence[float]) -> np.ndarray:
    """Trapezoid: 0 at a, 1 on [b, c], 0 again at d."""
    a, b, c, d = p
    return _ramp_up(x, a, b) * _ramp_down(x, c, d)


def gaussian(x: np.ndarray, p: Sequence[float]) -> np.ndarray:
    """exp(-(x - mu)² / (2 sigma²))."""
    mu, sigma = p
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2)


def _ramp_up(x: np.ndarray, a: float, b: float) -> np.ndarray:
    # A zero-width ramp is a step: full membership from b on (a left shoulder).
    if b == a:
        return np.where(x >= b, 1.0, 0.0) * (x == x)  # x == x keeps NaN as NaN
    return np.clip((x - a) / (b - a), 0.0, 1.0)


def _ramp_down(x: np.ndarray, b: float, c: float) -> np.ndarray:
    if c == b:
        return np.where(x <= b, 1.0, 0.0) * (x == x)
    return np.clip((c - x) / (c - b), 0.0, 1.0)


MEMBERSHIP_FUNCTIONS: dict[str, tuple[MembershipFn, int]] = {
    "triangular": (triangular, 3),
    "trapezoidal": (trapezoidal, 4),
    "gaussian": (gaussian, 2),
}


def check_parameters(kind: str, params: Sequence[float]) -> None:
    """Raise `FuzzyError` unless `params` fit the membership type (count, order, sigma > 0)."""
    if kind not in MEMBERSHIP_FUNCTIONS:
        raise FuzzyError(f"unknown membership type '{kind}'",
                         hint="use triangular, trapezoidal or gaussian")
    count = MEMBERSHIP_FUNCTIONS[kind][1]
    if len(params) != count:
        raise FuzzyError(f"{kind} takes {count} parameters, got {len(params)}",
                         hint={3: "[a, b, c]", 4: "[a, b, c, d]", 2: "[mu, sigma]"}[count])
    if not all(np.isfinite(params)):
        raise FuzzyError(f"{kind} parameters must be finite numbers")
    if kind == "gaussian":
        if params[1] <= 0:
            raise FuzzyError(f"gaussian sigma must be > 0, got {params[1]}",
                             hint="the second parameter is the width sigma")
    elif any(lo > hi for lo, hi in zip(params, params[1:])):
        raise FuzzyError(f"{kind} parameters must be in non-decreasing order, got {list(params)}",
                         hint=f"sort them: {sorted(params)}")


def membership(kind: str, x: np.ndarray, params: Sequence[float]) -> np.ndarray:
    """Evaluate one membership function on an array (NaN in, NaN out)."""
    check_parameters(kind, params)
    return MEMBERSHIP_FUNCTIONS[kind][0](np.asarray(x, dtype="float64"), params)
