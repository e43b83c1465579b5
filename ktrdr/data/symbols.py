"""Symbols and series keys: normalisation, FX-pair detection, `{SYMBOL}/{timeframe}` object keys."""

from __future__ import annotations

import re

from ktrdr.data.errors import DataError
from ktrdr.data.timeframes import Timeframe

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")
CURRENCIES = frozenset(
    "USD EUR GBP JPY CHF AUD NZD CAD SEK NOK DKK HKD SGD CNH MXN ZAR TRY PLN HUF CZK ILS KRW RUB".split())


def normalize_symbol(symbol: str) -> str:
    """Upper-case a symbol and check it is usable in keys and file names."""
    sym = symbol.strip().upper()
    if not _SYMBOL.match(sym):
        raise DataError(f"invalid symbol {symbol!r}", hint="use letters, digits, '.', '_' or '-' (e.g. EURUSD, AAPL)")
    return sym


def series_key(symbol: str, timeframe: str | Timeframe) -> str:
    """Object key of one series: `{SYMBOL}/{timeframe}`."""
    return f"{normalize_symbol(symbol)}/{Timeframe.parse(timeframe)}"


def parse_series_key(key: str) -> tuple[str, Timeframe]:
    """(symbol, timeframe) from a key made by series_key."""
    symbol, sep, tf = key.partition("/")
    if not sep:
        raise DataError(f"not a series key: {key!r}", hint="keys look like EURUSD/1h")
    return normalize_symbol(symbol), Timeframe.parse(tf)


def is_fx_pair(symbol: str) -> bool:
    """True for six-letter currency pairs such as EURUSD (also EUR.USD / EUR/USD)."""
    sym = symbol.strip().upper().replace(".", "").replace("/", "")
    return len(sym) == 6 and sym[:3] in CURRENCIES and sym[3:] in CURRENCIES and sym[:3] != sym[3:]
