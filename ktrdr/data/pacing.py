"""IB historical-data pacing: how long to wait before the next request, with injectable time.

Rules (IB "historical data limitations", plus our 2 s spacing): at most 60 requests in any 10
minutes, at least 2 s between requests, at most 6 requests per contract in 2 s, at least 15 s
before an identical request, and an exponential back-off after a pacing violation (error 162).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import msgspec

from ktrdr.context import CancelToken


class PacingRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """IB's historical-data pacing limits (defaults are IB's documented ones)."""

    max_requests: int = 60
    window_s: float = 600.0
    min_interval_s: float = 2.0
    per_contract_max: int = 6
    per_contract_window_s: float = 2.0
    identical_interval_s: float = 15.0
    backoff_initial_s: float = 15.0
    backoff_max_s: float = 600.0


def parse_rules(text: str) -> PacingRules:
    """PacingRules from JSON (`{"min_interval_s": 3}`; unset fields keep IB's limits); ConfigError names the field."""
    from ktrdr.errors import ConfigError

    try:
        return msgspec.json.decode(text, type=PacingRules)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ConfigError(f"IB pacing rules: {exc}", path="KTRDR_IB_PACING",
                          hint="a JSON object of " + ", ".join(PacingRules.__struct_fields__)) from None


class PacingLimiter:
    """Spaces requests to obey PacingRules; thread-unsafe by design (one IB connection, one caller)."""

    def __init__(self, rules: PacingRules | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.rules = rules or PacingRules()
        self._clock, self._sleep = clock, sleep
        self._recent: deque[float] = deque(maxlen=self.rules.max_requests)
        self._per_contract: dict[str, deque[float]] = {}
        self._identical: dict[str, float] = {}
        self._backoff_s, self._blocked_until = 0.0, float("-inf")
        self.requests: deque[tuple[float, str, str]] = deque(maxlen=10_000)  # (time, contract, request)

    def delay(self, contract: str, request: str) -> float:
        """Seconds to wait before `request` on `contract` may be sent (0 when it may go now)."""
        r, now = self.rules, self._clock()
        at = [self._blocked_until]
        if self._recent:
            at.append(self._recent[-1] + r.min_interval_s)
            if len(self._recent) >= r.max_requests:
                at.append(self._recent[-r.max_requests] + r.window_s)
        mine = self._per_contract.get(contract)
        if mine is not None and len(mine) >= r.per_contract_max:
            at.append(mine[-r.per_contract_max] + r.per_contract_window_s)
        if request in self._identical:
            at.append(self._identical[request] + r.identical_interval_s)
        return max(0.0, max(at) - now)

    def acquire(self, contract: str, request: str, *, cancel: CancelToken | None = None) -> float:
        """Wait until the request is allowed, record it, and return the seconds waited."""
        waited = 0.0
        while (d := self.delay(contract, request)) > 0:
            self._pause(d, cancel)
            waited += d
        now = self._clock()
        self._recent.append(now)
        self._per_contract.setdefault(contract, deque(maxlen=self.rules.per_contract_max)).append(now)
        self._identical[request] = now
        self.requests.append((now, contract, request))
        self._forget(now)
        return waited

    def record_violation(self) -> float:
        """IB reported a pacing violation: block all requests for a doubling back-off; returns it."""
        r = self.rules
        self._backoff_s = min(r.backoff_max_s, self._backoff_s * 2 if self._backoff_s else r.backoff_initial_s)
        self._blocked_until = self._clock() + self._backoff_s
        return self._backoff_s

    def record_success(self) -> None:
        """A request succeeded: the next violation starts the back-off afresh."""
        self._backoff_s = 0.0

    def _pause(self, seconds: float, cancel: CancelToken | None) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif cancel is not None:
            cancel.wait(seconds)
        else:
            time.sleep(seconds)
        if cancel is not None:
            cancel.check()

    def _forget(self, now: float) -> None:
        # Identical-request memory only matters for identical_interval_s; keep the dict small.
        if len(self._identical) > 1000:
            horizon = now - self.rules.identical_interval_s
            self._identical = {k: t for k, t in self._identical.items() if t > horizon}
