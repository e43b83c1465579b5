"""Fuzzy logic: membership functions and the engine producing membership columns."""

from ktrdr.fuzzy.engine import fuzzify, membership_columns
from ktrdr.fuzzy.membership import (
    MEMBERSHIP_FUNCTIONS,
    FuzzyError,
    check_parameters,
    gaussian,
    membership,
    trapezoidal,
    triangular,
)

__all__ = [
    "MEMBERSHIP_FUNCTIONS",
    "FuzzyError",
    "check_parameters",
    "fuzzify",
    "gaussian",
    "membership",
    "membership_columns",
    "trapezoidal",
    "triangular",
]
