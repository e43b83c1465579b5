"""`ktrdr --help` stays quick: it loads none of what only a running command needs, nor any command's module."""

from __future__ import annotations

import json
import subprocess
import sys

from ktrdr.cli.main import COMMANDS

# Made lazy for start-up time (bench/bench_cli.py): each is imported inside the command body that uses it.
LAZY = ("asyncio", "ssl", "ktrdr.config", "ktrdr.bus", "nats", "rich", "pandas", "numpy", "torch", "yaml",
        "ktrdr.data", "ktrdr_tui", "textual", "msgspec")
# What typer's rich help would bring (most of --help's time when it was on), and every command's own module.
HELP_ONLY = ("typer.rich_utils", "markdown_it", "pygments", *sorted({entry.module for entry in COMMANDS.values()}))


def _heavy(loaded: set[str], lazy: tuple[str, ...]) -> list[str]:
    """The modules of `loaded` that are, or are inside, one of `lazy`."""
    return sorted(name for name in loaded for one in lazy if name == one or name.startswith(one + "."))


def _run_afresh(code: str) -> tuple[str, set[str]]:
    """What `code` printed, and the module names present in sys.modules after it, in a new interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    *printed, modules = done.stdout.strip().splitlines()
    return "\n".join(printed), set(json.loads(modules))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    """`import ktrdr.cli.main` (what every `ktrdr` run pays) loads none of LAZY nor any command module."""
    _, loaded = _run_afresh("import ktrdr.cli.main")
    assert "ktrdr.cli.main" in loaded  # the probe really imported the command line
    heavy = _heavy(loaded, LAZY + HELP_ONLY)
    assert heavy == [], f"imported at start-up, make them lazy again: {heavy}"


def test_help_lists_every_command_and_loads_none_of_them() -> None:
    """Rendering `ktrdr --help` loads no runtime module, no rich help and no command module."""
    printed, loaded = _run_afresh("from ktrdr.cli.main import _invoke\n_invoke(['--help'])")
    listed = [line.split()[0] for line in printed.split("Commands:")[1].splitlines() if line[2:3].strip()]
    assert listed == list(COMMANDS)  # the help really was rendered, every command in it
    heavy = _heavy(loaded, LAZY + HELP_ONLY)
    assert heavy == [], f"imported by --help, make them lazy again: {heavy}"


def test_a_command_loads_its_own_module_only() -> None:
    """The probes above would see an eager import: `ktrdr ops --help` loads the ops module and no other's."""
    _, loaded = _run_afresh("from ktrdr.cli.main import _invoke\n_invoke(['ops', '--help'])")
    assert "ktrdr.cli.ops_cmd" in loaded
    others = _heavy(loaded, tuple(m for m in HELP_ONLY if m.startswith("ktrdr.") and m != "ktrdr.cli.ops_cmd"))
    assert others == [], others
