"""Compact, exact binary form of an OHLCV frame, object keys and object metadata.

Layout: MAGIC, a 4-byte little-endian header length, a JSON header, then one zlib stream holding
the timestamps as int64 deltas and each float64 column, every array byte-shuffled (the bytes of
equal significance stored together) because that is what makes prices and steady timestamps
compress well without pyarrow or blosc.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib

import numpy as np
import pandas as pd

from ktrdr.data.errors import CorruptDataError
from ktrdr.data.frames import OHLCV_COLUMNS, check_frame, make_frame
from ktrdr.data.symbols import normalize_symbol
from ktrdr.data.timeframes import Timeframe

MAGIC = b"KTOHLCV1"
FORMAT = "ktrdr-ohlcv/1"


def _shuffle(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr.view(np.uint8).reshape(-1, 8).T).tobytes()


def _unshuffle(raw: bytes, n: int, dtype: type) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.uint8).reshape(8, n).T.copy().view(dtype).reshape(n)


def encode_frame(df: pd.DataFrame, *, level: int = 6) -> bytes:
    """Encode a conventional OHLCV frame (see check_frame) into bytes."""
    check_frame(df, where="encode_frame")
    ts = df.index.as_unit("ns").asi8
    deltas = np.diff(ts, prepend=np.int64(0)) if len(ts) else ts
    parts = [_shuffle(deltas.astype(np.int64))]
    parts += [_shuffle(df[c].to_numpy(dtype=np.float64)) for c in OHLCV_COLUMNS]
    header = json.dumps({"format": FORMAT, "rows": len(df), "columns": list(OHLCV_COLUMNS)}).encode()
    return MAGIC + struct.pack("<I", len(header)) + header + zlib.compress(b"".join(parts), level)


def decode_frame(data: bytes, *, key: str = "") -> pd.DataFrame:
    """Decode bytes written by encode_frame; raise CorruptDataError on anything else."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise CorruptDataError("not an encoded OHLCV frame (bad magic)", key=key)
    (hlen,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    try:
        header = json.loads(data[start:start + hlen])
        payload = zlib.decompress(data[start + hlen:])
    except (ValueError, zlib.error) as exc:
        raise CorruptDataError(f"unreadable frame: {exc}", key=key, hint="re-import or reload the series") from exc
    n, cols = int(header["rows"]), header["columns"]
    if header.get("format") != FORMAT or len(payload) != 8 * n * (1 + len(cols)):
        raise CorruptDataError(f"frame header/payload mismatch ({header})", key=key)
    size = 8 * n
    ts = np.cumsum(_unshuffle(payload[:size], n, np.int64))
    values = {c: _unshuffle(payload[size * (i + 1):size * (i + 2)], n, np.float64) for i, c in enumerate(cols)}
    return make_frame(pd.to_datetime(ts, unit="ns", utc=True), values)


def digest(data: bytes) -> str:
    """SHA-256 hex digest of encoded bytes (the cache key and integrity check)."""
    return hashlib.sha256(data).hexdigest()


def frame_metadata(symbol: str, timeframe: str | Timeframe, df: pd.DataFrame, data: bytes,
                   source: str) -> dict[str, str]:
    """Metadata stored next to an encoded frame (all strings, as object-store headers)."""
    first = df.index[0].isoformat() if len(df) else ""
    last = df.index[-1].isoformat() if len(df) else ""
    return {"symbol": normalize_symbol(symbol), "timeframe": str(Timeframe.parse(timeframe)), "rows": str(len(df)),
            "first": first, "last": last, "source": source, "digest": digest(data), "format": FORMAT,
            "updated": pd.Timestamp.now(tz="UTC").isoformat()}
