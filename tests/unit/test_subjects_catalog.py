"""subjects.md must name every subject, stream, consumer and bucket the protocol module builds."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ktrdr.operations.kinds import work_pairs
from ktrdr.protocol.subjects import KV_BUCKETS, OBJECT_BUCKETS, Names

CATALOG = Path(__file__).resolve().parents[2] / "subjects.md"


def documented() -> set[str]:
    """Every back-quoted name in subjects.md."""
    return set(re.findall(r"`([^`]+)`", CATALOG.read_text()))


def built_names(n: Names) -> set[str]:
    """Every name the Names class can build, with parameters shown as <param>."""
    out: set[str] = set()
    for attr, member in inspect.getmembers(type(n)):
        if attr.startswith("_"):
            continue
        value = getattr(n, attr)
        if isinstance(value, str):
            out.add(value)
        elif callable(value) and attr not in ("work_pairs", "bucket", "work_consumer", "lifecycle_subjects",
                                                "folded_subjects", "progress_subjects"):
            params = list(inspect.signature(value).parameters)
            placeholders = {p: f"PH{i}" for i, p in enumerate(params)}
            built = value(*placeholders.values())
            for p, ph in placeholders.items():
                built = built.replace(ph, f"<{'operation_id' if p == 'op_id' else p}>")
            out.add(built)
    out.update(n.lifecycle_subjects()[:1] + n.progress_subjects())
    out.update(n.bucket(b) for b in (*KV_BUCKETS, *OBJECT_BUCKETS))
    out.update(n.work_consumer(t, p) for t, p in work_pairs())
    out.update(n.work(t, p) for t, p in work_pairs())
    return out


def test_every_built_name_is_documented() -> None:
    missing = sorted(built_names(Names("ktrdr")) - documented())
    assert not missing, f"add these to subjects.md: {missing}"


def test_every_api_endpoint_is_documented() -> None:
    from ktrdr.operations.kinds import api_endpoints

    n = Names("ktrdr")
    missing = sorted(n.api(a, v) for a, v in api_endpoints() if n.api(a, v) not in documented())
    assert not missing, f"add these endpoints to subjects.md: {missing}"


def test_catalog_check_notices_an_undocumented_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Names, "telemetry", lambda self, host: f"{self.ns}.telemetry.{host}", raising=False)
    assert "ktrdr.telemetry.<host>" in built_names(Names("ktrdr")) - documented()
