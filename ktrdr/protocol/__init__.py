"""The wire protocol: subjects, messages and codec. Imports nothing else of ours but errors."""

from ktrdr.protocol.codec import decode, decode_cancel, decode_event, encode
from ktrdr.protocol.subjects import Names, names

__all__ = ["Names", "decode", "decode_cancel", "decode_event", "encode", "names"]
