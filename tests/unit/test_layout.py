"""The repository layout rules: nats/ holds server configuration only and cannot shadow nats-py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_nats_resolves_to_nats_py_from_the_repository_root() -> None:
    code = "import nats, nats.js; print(nats.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "site-packages" in out.stdout and not out.stdout.startswith(str(ROOT / "nats"))


def test_nats_directory_holds_no_python() -> None:
    assert (ROOT / "nats" / "server.conf").is_file()
    assert not list((ROOT / "nats").rglob("*.py")), "nats/ must hold server configuration only"


def test_protocol_imports_nothing_else_of_ours() -> None:
    for path in (ROOT / "ktrdr" / "protocol").glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ktrdr", "from ktrdr")):
                assert line.startswith(("from ktrdr.protocol", "from ktrdr.errors")), f"{path.name}: {line}"
