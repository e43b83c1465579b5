"""`ktrdr --help` stays quick: importing the command line loads none of what only a running command needs."""

from __future__ import annotations

import json
import subprocess
import sys

# Made lazy for start-up time (bench/bench_cli.py): each is imported inside the command body that uses it.
LAZY = ("asyncio", "ssl", "ktrdr.config", "ktrdr.bus", "nats", "rich", "pandas", "numpy", "torch", "yaml",
        "ktrdr.data", "ktrdr_tui", "textual")


def _heavy(loaded: set[str], lazy: tuple[str, ...]) -> list[str]:
    """The modules of `loaded` that are, or are inside, one of `lazy`."""
    return sorted(name for name in loaded for one in lazy if name == one or name.startswith(one + "."))


def _loaded_after(code: str) -> set[str]:
    """Top-level module names (and ktrdr sub-packages) present in sys.modules after running `code` afresh."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    """`import ktrdr.cli.main` (what every `ktrdr` run pays) loads none of LAZY."""
    loaded = _loaded_after("import ktrdr.cli.main")
    assert "ktrdr.cli.main" in loaded  # the probe really imported the command line
    heavy = _heavy(loaded, LAZY)
    assert heavy == [], f"imported at start-up, make them lazy again: {heavy}"


def test_help_loads_no_runtime_module() -> None:
    """Rendering `ktrdr --help` (rich comes in for the help itself) still loads no runtime module."""
    loaded = _loaded_after("from ktrdr.cli.main import _invoke\n_invoke(['--help'])")
    assert "rich" in loaded  # the help really was rendered
    heavy = _heavy(loaded, tuple(lazy for lazy in LAZY if lazy != "rich"))
    assert heavy == [], f"imported by --help, make them lazy again: {heavy}"

