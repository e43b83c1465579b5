"""Which NATS to talk to: KTRDR_NATS_URL, else the embedded server we started, else the default."""

from __future__ import annotations

from ktrdr.bus.embedded import EmbeddedServer
from ktrdr.config import DEFAULT_URL, Settings


def resolve_url(settings: Settings) -> str:
    """The URL clients should use for these settings."""
    if settings.nats_url:
        return settings.nats_url
    handle = EmbeddedServer(settings.home_path).running()
    return handle.url if handle else DEFAULT_URL
