"""Settings: defaults < ktrdr.toml < KTRDR_* environment < command-line options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import msgspec

from ktrdr.errors import ConfigError

DEFAULT_URL = "nats://127.0.0.1:4222"


def default_home() -> Path:
    """Per-user data directory (XDG on Linux, ~/Library on macOS)."""
    if xdg := os.environ.get("XDG_DATA_HOME"):
        return Path(xdg) / "ktrdr"
    mac = Path.home() / "Library" / "Application Support"
    return (mac if mac.is_dir() else Path.home() / ".local" / "share") / "ktrdr"


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every tunable of the system; each field is also `KTRDR_<FIELD>` in the environment."""

    nats_url: str = ""
    namespace: str = "ktrdr"
    home: str = ""
    creds: str = ""
    user: str = ""
    password: str = ""
    token: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    replicas: int = 1
    ack_wait_s: float = 30.0
    max_deliver: int = 5
    heartbeat_s: float = 2.0
    gpu_wait_s: float = 30.0
    retention_days: float = 7.0
    worker_ttl_s: float = 3600.0  # the registry forgets a worker this long after its last heartbeat
    events_max_age_days: float = 30.0
    # the backend's and workers' event loop: uvloop where installed (not on Windows), else asyncio's own
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    @property
    def home_path(self) -> Path:
        """KTRDR_HOME as a Path (default: the per-user data dir)."""
        return Path(self.home).expanduser() if self.home else default_home()


_FIELDS = {f.name: f.type for f in msgspec.structs.fields(Settings)}


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = msgspec.toml.decode(path.read_bytes())
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", path=str(path),
                          hint="fix the syntax or remove the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings", path=str(path))
    return data


def _from_env(env: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        raw = env.get(f"KTRDR_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = raw
    return values


def config_file(env: dict[str, str]) -> Path | None:
    """The ktrdr.toml in use: KTRDR_CONFIG, ./ktrdr.toml, or KTRDR_HOME/ktrdr.toml."""
    if explicit := env.get("KTRDR_CONFIG"):
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"KTRDR_CONFIG points to {path}, which does not exist",
                              path="KTRDR_CONFIG", hint="create it or unset the variable")
        return path
    home = Path(env["KTRDR_HOME"]) if env.get("KTRDR_HOME") else default_home()
    for candidate in (Path("ktrdr.toml"), home / "ktrdr.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Resolve settings from every layer; unknown keys and bad types raise ConfigError with their path."""
    env = dict(os.environ) if env is None else env
    merged: dict[str, Any] = {}
    source = "ktrdr.toml"
    if (path := config_file(env)) is not None:
        merged.update(_from_toml(path))
        source = str(path)
    merged.update(_from_env(env))
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting in {source} or KTRDR_* environment: {exc}",
                          path=str(exc).rsplit("`", 2)[-2] if "`" in str(exc) else "",
                          hint="see `ktrdr --help` or the README's configuration table") from None
