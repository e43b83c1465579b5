"""Connect to NATS with credentials, TLS and reconnect-forever, logging every disconnect and error."""

from __future__ import annotations

import asyncio
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
    if "permissions violation" in str(exc).lower():
        # The server drops the message and keeps the connection: without this line the caller only sees a timeout.
        log.warning("NATS permission denied: %s — these credentials' role may not do this (see docs/deployment.md)",
                    str(exc).removeprefix("nats: "))
        return
    # Socket errors repeat on every reconnect attempt (the disconnect callback already said so).
    level = logging.DEBUG if isinstance(exc, (OSError, TimeoutError)) else logging.WARNING
    log.log(level, "nats error: %s", exc)


def _connect_hint(exc: BaseException) -> str:
    """What to do about a failed first connect, by its cause."""
    if isinstance(exc, ssl.SSLError):
        return ("TLS failed: set KTRDR_TLS_CA to the CA that signed the server's certificate "
                "(and KTRDR_TLS_CERT/KTRDR_TLS_KEY if the server requires client certificates)")
    if _fatal(exc):
        return "the server refused the credentials: check KTRDR_USER/KTRDR_PASSWORD, KTRDR_TOKEN or KTRDR_CREDS"
    return "start the stack with `ktrdr up` (or set KTRDR_NATS_URL to a running server)"


async def _on_disconnect() -> None:
    log.warning("disconnected from nats; reconnecting")


async def _on_reconnect() -> None:
    log.info("reconnected to nats")


def _fatal(exc: BaseException) -> bool:
    """Errors a retry cannot fix: a refused certificate or refused credentials."""
    return isinstance(exc, (ssl.SSLError, nats.errors.AuthorizationError)) or "authorization" in str(exc).lower()


async def _first_connect(nc: Client, options: dict[str, Any], timeout: float) -> None:
    """Connect; give up at `timeout` or at the first fatal error (nats-py can wait forever after a TLS failure)."""
    seen: list[BaseException] = []
    fatal = asyncio.Event()

    async def on_error(exc: Exception) -> None:
        if nc.is_connecting:
            seen.append(exc)
            if _fatal(exc):
                fatal.set()
        await _on_error(exc)

    attempt = asyncio.ensure_future(nc.connect(error_cb=on_error, **options))
    stop = asyncio.ensure_future(fatal.wait())
    try:
        done, _ = await asyncio.wait({attempt, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if attempt in done and not fatal.is_set():
        attempt.result()  # raises the connect error, if any
        return
    attempt.cancel()
    await nc.close()
    raise seen[-1] if seen else TimeoutError(f"no connection within {timeout:.0f}s")


async def connect(settings: Settings, url: str | None = None, *, name: str = "ktrdr",
                  connect_timeout: float = 5.0) -> Client:
    """Connect once (raising BusError with a hint if unreachable or refused), then reconnect forever."""
    target = url or settings.nats_url or DEFAULT_URL
    nc = Client()

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):  # our own close is not news
            await _on_disconnect()

    options = dict(servers=[s.strip() for s in target.split(",")], name=name, connect_timeout=connect_timeout,
                   max_reconnect_attempts=1, reconnect_time_wait=0.2, allow_reconnect=True,
                   disconnected_cb=on_disconnect, reconnected_cb=_on_reconnect, tls=tls_context(settings),
                   **_auth_options(settings))
    try:
        # A bounded first attempt so an unreachable server is an error, not a hang; forever afterwards.
        await _first_connect(nc, options, timeout=2 * connect_timeout + 1)
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        await nc.close()
        raise BusError(f"cannot connect to NATS at {target}: {exc or type(exc).__name__}",
                       hint=_connect_hint(exc)) from None
    nc.options["max_reconnect_attempts"] = -1
    nc.options["reconnect_time_wait"] = 0.5
    return nc


async def flush(nc: Client, timeout: float = 10.0) -> None:
    """A round trip after everything written so far: once it returns, the server has our subscriptions.

    nats-py's own flush() writes its PING straight to the socket while SUB commands wait in the pending
    buffer for its flusher task, so the PONG can come back before the server has seen the SUB (a request
    right after subscribe + flush got 'no responders' 4 times in 100). Writing the buffer first keeps the order.
    """
    await nc._flush_pending(force_flush=True)  # private, but the only way to wait for the buffered commands
    await nc.flush(timeout)
