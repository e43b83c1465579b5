"""Market data: OHLCV frames, storage, CSV, gap analysis, providers (CSV, synthetic, IB) and data loads."""

from ktrdr.data.calendars import CALENDARS, holiday_name, open_mask, us_holidays
from ktrdr.data.codec import decode_frame, digest, encode_frame, frame_metadata
from ktrdr.data.csv_provider import CsvProvider
from ktrdr.data.csvio import csv_filename, read_csv, read_csv_with_report, symbol_timeframe_from_filename, write_csv
from ktrdr.data.errors import (ContractNotFound, CorruptDataError, CsvFormatError, DataError, DataLoadCancelled,
                               DataLoadError, DataNotFoundError, FetchCancelled, FetchError, FrameError, ProviderError,
                               TimeframeError)
from ktrdr.data.frames import (OHLCV_COLUMNS, check_frame, empty_frame, make_frame, merge_frames, resample,
                               slice_frame)
from ktrdr.data.gaps import Gap, GapReport, analyze_gaps
from ktrdr.data.ib import IbProvider
from ktrdr.data.loading import LOAD_MODES, LoadResult, load_data
from ktrdr.data.pacing import PacingLimiter, PacingRules
from ktrdr.data.providers import DataProvider
from ktrdr.data.store import DataRepository, FrameStore, MemoryFrameStore, SeriesInfo
from ktrdr.data.symbols import is_fx_pair, normalize_symbol, parse_series_key, series_key
from ktrdr.data.synthetic import SyntheticProvider
from ktrdr.data.timeframes import Timeframe, to_utc
from ktrdr.data.validation import ValidationReport, validate

__all__ = [
    "CALENDARS", "LOAD_MODES", "OHLCV_COLUMNS", "ContractNotFound", "CorruptDataError", "CsvFormatError",
    "CsvProvider", "DataError", "DataLoadCancelled", "DataLoadError", "DataNotFoundError", "DataProvider",
    "DataRepository", "FetchCancelled", "FetchError", "FrameError", "FrameStore", "Gap", "GapReport", "IbProvider",
    "LoadResult", "MemoryFrameStore", "PacingLimiter", "PacingRules", "ProviderError", "SeriesInfo",
    "SyntheticProvider", "Timeframe", "TimeframeError", "ValidationReport", "analyze_gaps", "check_frame",
    "csv_filename", "decode_frame", "digest", "empty_frame", "encode_frame", "frame_metadata", "holiday_name",
    "is_fx_pair", "load_data", "make_frame", "merge_frames", "normalize_symbol", "open_mask", "parse_series_key",
    "read_csv", "read_csv_with_report", "resample", "series_key", "slice_frame", "symbol_timeframe_from_filename",
    "to_utc", "us_holidays", "validate", "write_csv",
]
