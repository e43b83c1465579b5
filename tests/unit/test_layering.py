"""Dependencies point one way: the layering rules of DESIGN.md, checked on every import (lazy ones too)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ("data", "indicators", "fuzzy", "training", "backtesting", "strategy")


def imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function ("ktrdr_tui" stands for the monitor)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def offenders(folders: list[Path], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    """`file: module` for each import under `folders` that starts with a forbidden prefix."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for module in sorted(imports(path)):
                if module.startswith(forbidden) and not module.startswith(allowed):
                    found.append(f"{path.relative_to(ROOT)}: {module}")
    return found


def test_protocol_imports_nothing_of_ours_but_errors() -> None:
    assert not offenders([ROOT / "ktrdr" / "protocol"], ("ktrdr",), ("ktrdr.protocol", "ktrdr.errors"))


def test_domain_imports_no_nats_and_no_bus() -> None:
    folders = [ROOT / "ktrdr" / name for name in DOMAIN]
    assert not offenders(folders, ("nats", "ktrdr.bus", "ktrdr.workers", "ktrdr.backend", "ktrdr.operations"))


def test_backend_and_monitor_import_no_worker_module() -> None:
    assert not offenders([ROOT / "ktrdr" / "backend", ROOT / "tui"], ("ktrdr.workers",))


def test_monitor_imports_no_backend_module() -> None:
    assert not offenders([ROOT / "tui"], ("ktrdr.backend",))


def test_operation_kinds_and_parameters_import_no_worker_or_backend() -> None:
    files = [ROOT / "ktrdr" / "operations" / "kinds.py", ROOT / "ktrdr" / "operations" / "params.py"]
    found = [f"{f.name}: {m}" for f in files for m in imports(f) if m.startswith(("ktrdr.workers", "ktrdr.backend"))]
    assert not found


def test_the_check_notices_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text("def f():\n    from ktrdr.workers.dummy import run_dummy\n")
    assert imports(tmp_path / "x.py") == {"ktrdr.workers.dummy"}


@pytest.mark.parametrize("module", ["ktrdr.backend.service", "ktrdr.client", "ktrdr_tui.app", "ktrdr.cli.main"])
def test_importing_backend_client_monitor_or_cli_loads_no_torch(module: str) -> None:
    code = f"import sys, {module}; assert 'torch' not in sys.modules, 'torch loaded'"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
