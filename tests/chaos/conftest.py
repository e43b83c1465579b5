"""Chaos tests reuse the integration fixtures (a bus, in-process workers) on the session server."""

from tests.integration.conftest import aggregator, backends, bus, client, workers  # noqa: F401
