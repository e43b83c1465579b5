"""Settings layering: defaults < ktrdr.toml < KTRDR_* environment < options; unknown keys fail with a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktrdr.config import Settings, load_settings
from ktrdr.errors import ConfigError


def test_layers_override_in_order(tmp_path: Path) -> None:
    toml = tmp_path / "ktrdr.toml"
    toml.write_text('namespace = "fromfile"\nreplicas = 3\nack_wait_s = 10.0\n')
    env = {"KTRDR_CONFIG": str(toml), "KTRDR_REPLICAS": "2"}
    s = load_settings({"ack_wait_s": 12.5}, env=env)
    assert (s.namespace, s.replicas, s.ack_wait_s) == ("fromfile", 2, 12.5)
    assert load_settings(env={}).replicas == Settings().replicas


def test_unknown_key_in_file_names_it(tmp_path: Path) -> None:
    toml = tmp_path / "ktrdr.toml"
    toml.write_text("replicsa = 3\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env={"KTRDR_CONFIG": str(toml)})
    assert err.value.path == "replicsa" and str(toml) in str(err.value)


def test_bad_env_type_names_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env={"KTRDR_ACK_WAIT_S": "soon"})
    assert err.value.path == "$.ack_wait_s"


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"KTRDR_CONFIG": str(tmp_path / "nope.toml")})


def test_home_from_toml_in_ktrdr_home(tmp_path: Path) -> None:
    (tmp_path / "ktrdr.toml").write_text('gpu_wait_s = 5.0\n')
    s = load_settings(env={"KTRDR_HOME": str(tmp_path)})
    assert s.gpu_wait_s == 5.0 and s.home_path == tmp_path
