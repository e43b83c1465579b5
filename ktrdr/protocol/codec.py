"""JSON encode/decode with reused decoders; every decode failure becomes a ProtocolError with a path."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from ktrdr.errors import ProtocolError
from ktrdr.protocol.messages import CancelRequest, OperationEvent

T = TypeVar("T")

#: Largest payload we accept (the nats-server default max_payload).
MAX_PAYLOAD = 1024 * 1024
_PATH = re.compile(r" - at `(\$[^`]*)`$")
_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder] = {}


def encode(msg: Any) -> bytes:
    """Encode a wire message (or any msgspec-encodable value) as JSON bytes."""
    return _encoder.encode(msg)


def _decoder(type_: Any) -> msgspec.json.Decoder:
    dec = _decoders.get(type_)
    if dec is None:
        dec = _decoders[type_] = msgspec.json.Decoder(type_)
    return dec


def decode(data: bytes | bytearray | memoryview | str, type_: type[T] | Any, *, subject: str = "") -> T:
    """Decode JSON into `type_`; raise ProtocolError naming the bad field's path on any problem."""
    if len(data) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(data)} bytes exceeds the {MAX_PAYLOAD}-byte limit",
                            subject=subject)
    try:
        return _decoder(type_).decode(data)
    except msgspec.ValidationError as exc:
        raise _protocol_error(str(exc), subject) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not valid JSON: {exc}", path="$", subject=subject) from None
    except RecursionError:  # msgspec's answer to deep nesting in an Any-typed field: a bad message, not a crash
        raise ProtocolError("JSON nested too deeply", path="$", subject=subject) from None


def _protocol_error(text: str, subject: str) -> ProtocolError:
    match = _PATH.search(text)
    path = match.group(1) if match else "$"
    message = _PATH.sub("", text)
    where = f" on {subject}" if subject else ""
    return ProtocolError(f"{message} at `{path}`{where}", path=path, subject=subject)


def decode_event(data: bytes, *, subject: str = "") -> OperationEvent:
    """Decode one operation event (tagged by its `event` field)."""
    return decode(data, OperationEvent, subject=subject)


def decode_cancel(data: bytes, *, subject: str = "") -> CancelRequest:
    """Decode a cancel request; an empty (or whitespace) body means the default request."""
    if not bytes(data).strip():
        return CancelRequest()
    return decode(data, CancelRequest, subject=subject)
