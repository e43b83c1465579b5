"""The monitor installs as `ktrdr_tui`, and the explicit package list in pyproject.toml stays complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_ktrdr_package_and_the_monitor_are_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ktrdr").rglob("__init__.py")}
    assert on_disk <= set(config["packages"]), f"add to [tool.setuptools] packages: {on_disk - set(config['packages'])}"
    assert config["package-dir"]["ktrdr_tui"] == "tui" and "ktrdr_tui" in config["packages"]


def test_the_monitor_imports_under_its_package_name_with_its_stylesheet() -> None:
    import ktrdr_tui
    from ktrdr_tui.app import MonitorApp

    assert Path(ktrdr_tui.__file__).parent.name == "tui"
    assert (Path(ktrdr_tui.__file__).parent / MonitorApp.CSS_PATH).is_file()
