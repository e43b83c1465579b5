"""What a person types, checked once in the CLI: a one-line error (exit 2) and a hint, never a traceback.

Every id, name and date argument uses one of these as its typer `callback`, so nothing malformed reaches
the bus (whose own checks speak of subjects and keys, which mean nothing to the person typing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Optional

import typer

_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
ID_HINT = "operation ids look like op_dummy_20240131_093000_1a2b3c4d; `ktrdr ops` lists them"


class BadInput(typer.BadParameter):
    """A value the user typed is malformed; the message says what and the hint what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nhint: {hint}")
        self.plain, self.hint = message, hint


def _shown(value: str) -> str:
    """The value quoted for a message, cut short when long."""
    return repr(value) if len(value) <= 60 else repr(value[:57] + "…")


def op_id(value: Optional[str]) -> Optional[str]:
    """An operation id: letters, digits, '_' and '-' only."""
    if value is not None and not _ID.match(value):
        raise BadInput(f"{_shown(value)} is not an operation id", ID_HINT)
    return value


def name(value: Optional[str]) -> Optional[str]:
    """A worker, model or series name: letters, digits, '_' and '-' only (a dot allowed inside)."""
    if value is not None and not re.match(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$", value):
        raise BadInput(f"{_shown(value)} is not a valid name", "use letters, digits, '.', '_' or '-'")
    return value


def _accepts(value: Optional[str], parse: Callable[[str], object], errors: type[Exception], what: str,
             hint: str) -> Optional[str]:
    """`value` when `parse` takes it (or it is absent); BadInput saying it is not `what` otherwise."""
    if value is None:
        return None
    try:
        parse(value)
    except errors as exc:
        raise BadInput(f"{_shown(value)} is not {what}", getattr(exc, "hint", None) or hint) from None
    return value


def symbol(value: Optional[str]) -> Optional[str]:
    """A market symbol such as EURUSD or AAPL."""
    from ktrdr.data.errors import DataError
    from ktrdr.data.symbols import normalize_symbol

    return _accepts(value, normalize_symbol, DataError, "a symbol", "e.g. EURUSD or AAPL")


def symbols(values: Optional[list[str]]) -> Optional[list[str]]:
    """Every symbol of a repeatable option."""
    for value in values or []:
        symbol(value)
    return values


def timeframe(value: Optional[str]) -> Optional[str]:
    """A timeframe such as 1h or 1d."""
    from ktrdr.data.timeframes import Timeframe, TimeframeError

    return _accepts(value, Timeframe.parse, TimeframeError, "a timeframe", "use one of 1m 5m 15m 30m 1h 4h 1d 1w")


def timeframes(values: Optional[list[str]]) -> Optional[list[str]]:
    """Every timeframe of a repeatable option."""
    for value in values or []:
        timeframe(value)
    return values


def date(value: Optional[str]) -> Optional[str]:
    """An ISO 8601 date or date-time."""
    from ktrdr.errors import ConfigError
    from ktrdr.operations.period import parse_date

    return _accepts(value, parse_date, ConfigError, "a date", "write dates as ISO 8601, e.g. 2024-01-31")


def period(start: Optional[str], end: Optional[str], prefix: str = "") -> None:
    """The end after the start (both already parse); exit 2 with the hint otherwise."""
    from ktrdr.operations.period import check_period
    from ktrdr.errors import ConfigError

    try:
        check_period(start, end)
    except ConfigError as exc:
        flag = f"--{prefix}end"
        raise BadInput(f"{flag} {end} is not after --{prefix}start {start}", exc.hint or "") from None


def model_ref(value: Optional[str]) -> Optional[str]:
    """A model reference: NAME, NAME@N, NAME/1h or NAME/1h_vN."""
    if value is not None and not re.match(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}(@\d{1,9}|/[A-Za-z0-9_+.-]{1,200})?$",
                                          value):
        raise BadInput(f"{_shown(value)} is not a model reference",
                       "write NAME, NAME@N, NAME/1h or NAME/1h_vN; `ktrdr models list` shows them")
    return value


def one_of(*allowed: str) -> Callable[[Optional[str]], Optional[str]]:
    """A callback accepting only `allowed` (or nothing)."""

    def check(value: Optional[str]) -> Optional[str]:
        if value is not None and value not in allowed:
            raise BadInput(f"{_shown(value)} is not one of {', '.join(allowed)}", f"use one of {', '.join(allowed)}")
        return value

    return check


def namespace(value: Optional[str]) -> Optional[str]:
    """A namespace or worker id: letters, digits, '_' and '-' (it prefixes every name on the server)."""
    if value is not None and not _ID.match(value):
        raise BadInput(f"{_shown(value)} is not a valid namespace or id", "use letters, digits, '_' or '-'")
    return value
