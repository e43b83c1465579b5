"""Errors of the market-data area: one root, structured fields, builtin second bases."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ktrdr.errors import KtrdrError, OperationCancelled

if TYPE_CHECKING:
    import pandas as pd


class DataError(KtrdrError):
    """Root of every market-data error."""


class TimeframeError(DataError, ValueError):
    """A timeframe string is unknown or a timeframe conversion is impossible."""

    def __init__(self, message: str, *, value: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.value = value


class FrameError(DataError, ValueError):
    """A DataFrame does not follow the OHLCV frame convention; `where` names it."""

    def __init__(self, message: str, *, where: str = "frame", hint: str | None = None) -> None:
        super().__init__(f"{where}: {message}", hint=hint)
        self.where = where


class CsvFormatError(DataError, ValueError):
    """A CSV file is malformed at `path`, `line` (1-based, header is line 1) and `column`."""

    def __init__(self, problem: str, *, path: str, line: int, column: str, hint: str | None = None) -> None:
        super().__init__(f"{path}:{line}: column '{column}': {problem}", hint=hint)
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem


class DataNotFoundError(DataError, LookupError):
    """No stored series (or provider file) for `symbol`/`timeframe`."""

    def __init__(self, symbol: str, timeframe: str, *, where: str = "store", hint: str | None = None) -> None:
        super().__init__(f"no data for {symbol} {timeframe} in {where}", hint=hint)
        self.symbol = symbol
        self.timeframe = timeframe


class CorruptDataError(DataError, ValueError):
    """Stored bytes cannot be decoded or do not match their digest; `key` names the object."""

    def __init__(self, message: str, *, key: str = "", hint: str | None = None) -> None:
        super().__init__(f"{key or 'frame'}: {message}", hint=hint)
        self.key = key


class ProviderError(DataError):
    """A data provider failed; `retryable` says whether trying again later may help."""

    def __init__(self, message: str, *, retryable: bool = False, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


class ContractNotFound(ProviderError, LookupError):
    """The broker does not know the symbol."""

    def __init__(self, symbol: str, *, hint: str | None = None) -> None:
        super().__init__(f"no contract found for symbol {symbol!r}", hint=hint)
        self.symbol = symbol


class FetchError(ProviderError):
    """A fetch failed part-way; `partial` holds the bars fetched before the failure."""

    def __init__(self, message: str, *, partial: pd.DataFrame, retryable: bool = False, hint: str | None = None) -> None:
        super().__init__(message, retryable=retryable, hint=hint)
        self.partial = partial


class FetchCancelled(OperationCancelled):
    """A fetch was cancelled between segments; `partial` holds the bars fetched so far."""

    def __init__(self, reason: str, *, partial: pd.DataFrame) -> None:
        super().__init__(reason)
        self.partial = partial


class DataLoadError(DataError):
    """A data load failed; what it fetched was saved and `result` describes it (the cause is chained)."""

    def __init__(self, message: str, *, result: Any, retryable: bool = False) -> None:
        super().__init__(message)
        self.result = result
        self.retryable = retryable


class DataLoadCancelled(OperationCancelled):
    """A data load was cancelled; what it fetched was saved and `result` describes it."""

    def __init__(self, reason: str, *, result: Any) -> None:
        super().__init__(reason)
        self.result = result
