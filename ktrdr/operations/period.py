"""Dates a person types (`--start 2024-01-31`): strict ISO 8601, UTC, checked before anything is queued.

pandas reads "yesterday" and "now" as dates; an operation's period must mean the same thing when a worker
runs it a day later, so only ISO 8601 is accepted here.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ktrdr.errors import ConfigError

MAX_LEN = 64  # an ISO date/time is ~30 characters; a hostile megabyte never reaches the parser
ISO_HINT = "write dates as ISO 8601, e.g. 2024-01-31 or 2024-01-31T09:30:00Z (UTC unless it says otherwise)"


def parse_date(value: str, field: str = "start") -> datetime:
    """An aware UTC datetime from an ISO 8601 date or date-time; ConfigError naming `field` otherwise."""
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_LEN:
        raise ConfigError(f"`{field}` is not a date: {value!r:.80}", path=field, hint=ISO_HINT)
    try:
        stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ConfigError(f"`{field}` is not a date: {value!r}", path=field, hint=ISO_HINT) from None
    return stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)


def check_period(start: str | None, end: str | None, prefix: str = "") -> None:
    """Both ends parse (when given) and the end comes after the start."""
    first = parse_date(start, f"{prefix}start") if start is not None else None
    last = parse_date(end, f"{prefix}end") if end is not None else None
    if first is not None and last is not None and last <= first:
        raise ConfigError(f"`{prefix}end` ({end}) is not after `{prefix}start` ({start})", path=f"{prefix}end",
                          hint="give an end date later than the start date")
