"""Connect to NATS with credentials, TLS and reconnect-forever, logging every disconnect and error."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import nats
from nats.aio.client import Client

from ktrdr.config import DEFAULT_URL, Settings
from ktrdr.errors import BusError

log = logging.getLogger("ktrdr.bus")


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """An SSL context from KTRDR_TLS_CA/CERT/KEY, or None when TLS is not configured."""
    if not (settings.tls_ca or settings.tls_cert or settings.nats_url.startswith("tls://")):
        return None
    ctx = ssl.create_default_context(cafile=settings.tls_ca or None)
    if settings.tls_cert:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key or None)
    return ctx


def _auth_options(settings: Settings) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if settings.creds:
        opts["user_credentials"] = settings.creds
    if settings.user:
        opts["user"], opts["password"] = settings.user, settings.password
    if settings.token:
        opts["token"] = settings.token
    return opts


async def _on_error(exc: Exception) -> None:
    # Socket errors repeat on every reconnect attempt (the disconnect callback already said so).
    level = logging.DEBUG if isinstance(exc, (OSError, TimeoutError)) else logging.WARNING
    log.log(level, "nats error: %s", exc)


async def _on_disconnect() -> None:
    log.warning("disconnected from nats; reconnecting")


async def _on_reconnect() -> None:
    log.info("reconnected to nats")


async def connect(settings: Settings, url: str | None = None, *, name: str = "ktrdr",
                  connect_timeout: float = 5.0) -> Client:
    """Connect once (raising BusError with a hint if unreachable), then reconnect forever."""
    target = url or settings.nats_url or DEFAULT_URL
    try:
        # A bounded first attempt so an unreachable server is an error, not a hang; forever afterwards.
        nc = await nats.connect(
            servers=[s.strip() for s in target.split(",")], name=name, connect_timeout=connect_timeout,
            max_reconnect_attempts=1, reconnect_time_wait=0.2, allow_reconnect=True,
            error_cb=_on_error, disconnected_cb=_on_disconnect, reconnected_cb=_on_reconnect,
            tls=tls_context(settings), **_auth_options(settings))
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise BusError(f"cannot connect to NATS at {target}: {exc or type(exc).__name__}",
                       hint="start one with `ktrdr nats up` or set KTRDR_NATS_URL") from None
    nc.options["max_reconnect_attempts"] = -1
    nc.options["reconnect_time_wait"] = 0.5
    return nc
