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


def test_operation_records_change_only_inside_the_operations_package() -> None:
    # Every state change is a compare-and-set in ktrdr.operations (transitions, aggregator); a caller elsewhere
    # writing records directly would bypass the table of allowed moves.
    sources = [*(ROOT / "ktrdr").rglob("*.py"), *(ROOT / "tui").rglob("*.py")]
    writers = [f"{path.relative_to(ROOT)}:{n}" for path in sources if "operations" not in path.relative_to(ROOT).parts
               for n, line in enumerate(path.read_text().splitlines(), 1)
               if ".put_if(" in line or ".ops.kv.put(" in line or ".ops.kv.update(" in line]
    assert writers == [], f"operation records written outside ktrdr/operations: {writers}"
