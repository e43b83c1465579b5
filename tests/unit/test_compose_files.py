"""compose.yaml, the Dockerfile and services/: their structure, and every `ktrdr` command they run exists."""

from __future__ import annotations

import configparser
import plistlib
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from ktrdr.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
KTRDR_SERVICES = ("backend", "backtest-worker", "training-worker", "training-worker-gpu", "data-worker", "monitor-web")
UNITS = sorted((ROOT / "services").glob("*.service"))


def check_cli(argv: list[str]) -> None:
    """Parse `ktrdr ...` with the real typer app down to its leaf command; unknown names or options raise."""
    assert argv[0] == "ktrdr", argv
    cmd: Any = typer.main.get_command(app)
    args, path = argv[1:], ["ktrdr"]
    while hasattr(cmd, "commands") and args and not args[0].startswith("-"):
        assert args[0] in cmd.commands, f"`{' '.join(path)}` has no command {args[0]!r} (in {argv})"
        path.append(args[0])
        cmd, args = cmd.commands[args[0]], args[1:]
    assert not hasattr(cmd, "commands"), f"{argv} names a command group, not a command"
    cmd.make_context(" ".join(path), list(args), resilient_parsing=False)  # unknown options raise here


def command_of(service: dict[str, Any]) -> list[str]:
    """A compose service's command as a list, with `${VAR:-default}` replaced by its default as compose does."""
    command = service["command"]
    argv = command.split() if isinstance(command, str) else list(command)
    return [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(a)) for a in argv]


def test_every_service_is_there() -> None:
    assert set(SERVICES) >= {"nats", "nats-box", *KTRDR_SERVICES}


def test_nats_runs_jetstream_with_a_config_from_the_nats_directory() -> None:
    nats = SERVICES["nats"]
    assert nats["image"].split(":")[0] == "nats"
    command = command_of(nats)
    assert "-js" in command
    config = command[command.index("-c") + 1]
    mounts = dict(v.split(":")[:2][::-1] for v in nats["volumes"] if v.startswith("./"))
    assert mounts["/etc/nats"] == "./nats"
    assert (ROOT / "nats" / Path(config).relative_to("/etc/nats")).is_file()
    assert "healthcheck" in nats


@pytest.mark.parametrize("name", KTRDR_SERVICES)
def test_ktrdr_services_build_the_image_reach_nats_and_wait_for_it(name: str) -> None:
    service = SERVICES[name]
    assert service["image"].startswith("ktrdr:") and service["build"]["context"] == "."
    assert service["environment"]["KTRDR_NATS_URL"] == "nats://nats:4222"
    assert service["depends_on"]["nats"]["condition"] == "service_healthy"
    assert service["stop_signal"] == "SIGTERM"


@pytest.mark.parametrize("name", KTRDR_SERVICES)
def test_each_service_command_exists_in_the_cli(name: str) -> None:
    check_cli(command_of(SERVICES[name]))


def test_the_gpu_worker_reserves_nvidia_gpus_and_builds_cuda_torch() -> None:
    gpu = SERVICES["training-worker-gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["build"]["args"]["TORCH_VARIANT"].startswith("cu")
    assert command_of(gpu)[-2:] == ["--pool", "gpu"]
    assert "gpu" in gpu["profiles"]


def test_the_ib_data_worker_runs_only_under_its_profile() -> None:
    assert SERVICES["data-worker"]["profiles"] == ["ib"]
    assert not any("profiles" in SERVICES[s] for s in ("nats", "backend", "backtest-worker", "training-worker"))


def test_scalable_services_have_no_fixed_container_name() -> None:
    assert not [s for s in ("backtest-worker", "training-worker") if "container_name" in SERVICES[s]]


def test_the_web_monitor_is_published_on_the_hosts_loopback_only() -> None:
    web = SERVICES["monitor-web"]
    assert command_of(web)[:3] == ["ktrdr", "monitor", "--web"]
    assert [p.rsplit(":", 2)[0] for p in web["ports"]] == ["127.0.0.1"], "no login: never on every host address"


def test_the_image_copies_every_package_directory() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    dirs = {"ktrdr", *re.findall(r'= "(\w+)"', pyproject.split("package-dir", 1)[1].splitlines()[0])}
    copied = set(re.findall(r"^COPY (\w+) \./", (ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert dirs <= copied, f"the Dockerfile does not copy {sorted(dirs - copied)}"


def test_dockerfile_takes_the_torch_variant_the_compose_file_passes() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.splitlines()[[ln.startswith("FROM") for ln in text.splitlines()].index(True)] == \
        "FROM python:3.11-slim"
    assert "ARG TORCH_VARIANT=cpu" in text and "${TORCH_VARIANT}" in text
    assert SERVICES["backend"]["build"]["args"]["TORCH_VARIANT"] == "cpu"


def unit(path: Path) -> configparser.ConfigParser:
    """A systemd unit file read as INI (case kept)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_there_is_a_unit_per_process_kind() -> None:
    names = {p.stem for p in UNITS}
    assert {"ktrdr-backend", "ktrdr-worker-backtest", "ktrdr-worker-training", "ktrdr-worker-training-gpu",
            "ktrdr-worker-data"} <= names


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_units_restart_on_failure_stop_with_sigterm_and_read_their_environment(path: Path) -> None:
    service = unit(path)["Service"]
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"].rstrip("s")) >= 30, "leave time to checkpoint"
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/ktrdr/")
    argv = service["ExecStart"].split()
    assert argv[0].endswith("/ktrdr")
    check_cli(["ktrdr", *argv[1:]])


def test_environment_example_names_the_connection_settings() -> None:
    text = (ROOT / "services" / "ktrdr.env.example").read_text()
    for key in ("KTRDR_NATS_URL", "KTRDR_CREDS", "KTRDR_USER", "KTRDR_PASSWORD", "KTRDR_TLS_CA", "KTRDR_REPLICAS"):
        assert f"{key}=" in text, key


def test_launchd_plist_runs_a_worker_that_exists() -> None:
    (plist,) = (ROOT / "services").glob("*.plist")
    job = plistlib.loads(plist.read_bytes())
    assert job["KeepAlive"] and "KTRDR_NATS_URL" in job["EnvironmentVariables"]
    check_cli(["ktrdr", *job["ProgramArguments"][1:]])
