"""TLS with a self-signed certificate made here: connect() with KTRDR_TLS_CA succeeds, without it fails clearly."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ktrdr.bus.connection import connect
from ktrdr.bus.embedded import start_server
from ktrdr.config import Settings
from ktrdr.errors import BusError


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost and its key, made with the openssl CLI."""
    cert, key = directory / "server-cert.pem", directory / "server-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A nats-server that requires TLS; yields (url, the certificate clients must trust)."""
    root = tmp_path_factory.mktemp("tls")
    cert, key = make_self_signed(root)
    conf = root / "tls.conf"
    conf.write_text(f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n  timeout: 2\n}}\n')
    proc, url = start_server(root / "js", root / "server.log", port=-1, extra_args=["-c", str(conf)])
    yield url, cert
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("scheme", ["nats", "tls"])
async def test_connect_with_the_ca_succeeds(tls_server: tuple[str, Path], scheme: str) -> None:
    url, cert = tls_server
    nc = await connect(Settings(nats_url=url.replace("nats://", f"{scheme}://"), tls_ca=str(cert)))
    try:
        assert nc.is_connected
        assert (await nc.request("$JS.API.INFO", b"", timeout=2)).data
    finally:
        await nc.close()


@pytest.mark.parametrize("scheme", ["nats", "tls"])
async def test_connect_without_the_ca_is_a_clear_bus_error(tls_server: tuple[str, Path], scheme: str) -> None:
    url, _ = tls_server
    with pytest.raises(BusError) as info:
        await connect(Settings(nats_url=url.replace("nats://", f"{scheme}://")), connect_timeout=2)
    assert "certificate verify failed" in info.value.message
    assert info.value.hint is not None and "KTRDR_TLS_CA" in info.value.hint


async def test_a_certificate_for_another_name_is_refused(tls_server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = tls_server
    other, _ = make_self_signed(tmp_path)  # same names, different key: not the one the server presents
    with pytest.raises(BusError, match="certificate verify failed"):
        await connect(Settings(nats_url=url, tls_ca=str(other)), connect_timeout=2)
