"""`ktrdr backend`: run the API service, registry, aggregator and routing (never operations)."""

from __future__ import annotations

from typing import Optional

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import run, state


def backend(ctx: typer.Context,
            backend_id: Optional[str] = typer.Option(None, "--backend-id", envvar="KTRDR_BACKEND_ID",
                                                     callback=checks.namespace,
                                                     help="Stable id (default: generated)."),
            ) -> None:
    """Serve the backend until Ctrl-C or SIGTERM; run several for redundancy."""
    from ktrdr.backend.serve import serve_backend
    from ktrdr.workers.serve import setup_logging

    setup_logging()
    settings = state(ctx).settings
    run(lambda: serve_backend(settings, backend_id=backend_id), loop=settings.event_loop)
