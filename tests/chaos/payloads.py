"""Hostile payloads for the hostile-input tests: random bytes, truncated JSON, wrong types, huge strings, deep nesting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktrdr.errors import ProtocolError
from ktrdr.protocol.codec import MAX_PAYLOAD, decode

#: JSON values of every type; for any one field most of them are the wrong type.
WRONG = ["x", "", 1.5, -1, 0, [1, "a"], {"k": "v"}, True, None, "\u0000\ufffd"]
HUGE = MAX_PAYLOAD - 4096  # near the 1 MB limit, leaving room for the rest of the message


def sample(type_: type) -> dict[str, Any]:
    """A minimal valid body for a request struct: its required fields with plausible values."""
    plausible = {"operation_id": "op_dummy_x", "strategy_yaml": "name: x", "symbol": "EURUSD", "timeframe": "1h",
                 "steps": [{"type": "dummy"}]}
    return {f.name: plausible.get(f.name, "x") for f in msgspec.structs.fields(type_) if f.required}


def _deep(depth: int, key: str | None) -> bytes:
    nested = b"[" * depth + b"]" * depth
    return b'{"%s": {"a": %s}}' % (key.encode(), nested) if key else nested


def hostile(example: dict[str, Any], fields: list[str]) -> st.SearchStrategy[bytes]:
    """Bodies that a reader of `example`'s type must survive (a few may happen to be valid)."""
    valid = msgspec.json.encode(example)
    keys = fields or ["x"]
    wrong = st.tuples(st.sampled_from(keys), st.sampled_from(WRONG)).map(
        lambda kv: msgspec.json.encode({**example, kv[0]: kv[1]}))
    return st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(valid) - 1).map(lambda i: valid[:i]),
        wrong,
        st.tuples(st.sampled_from([None, *keys]), st.integers(100, 4000)).map(lambda t: _deep(t[1], t[0])),
        st.sampled_from(keys).map(lambda k: msgspec.json.encode({**example, k: "x" * HUGE})),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def is_valid(body: bytes, type_: type) -> bool:
    """Whether `body` decodes as `type_` (an empty body counts as `{}`, as the backend reads it)."""
    try:
        decode(body.strip() or b"{}", type_)
    except (ProtocolError, RecursionError):
        return False
    return True


async def fuzz(strategy: st.SearchStrategy[bytes], check: Callable[[bytes], Awaitable[None]],
               examples: int) -> None:
    """Run `check` on `examples` generated bodies (hypothesis runs in a thread; checks run on this loop)."""
    loop = asyncio.get_running_loop()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(body: bytes) -> None:
        asyncio.run_coroutine_threadsafe(check(body), loop).result(60)

    await asyncio.to_thread(run)
