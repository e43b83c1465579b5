"""docs/strategy-grammar.md cannot drift: every example validates and every key of the grammar is named."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
import yaml

from ktrdr.strategy import validate_strategy
from ktrdr.strategy.labels_config import LABEL_SOURCES
from ktrdr.strategy.loader import _HIDDEN_FIELDS
from ktrdr.strategy.structs import Config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "strategy-grammar.md").read_text()
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def _config_structs() -> set[type]:
    """Every struct of the grammar (all subclasses of the config base, wherever they are defined)."""
    import ktrdr.strategy.config  # noqa: F401  (defines them all, directly or by import)

    found, todo = set(), [Config]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub)
            todo.append(sub)
    return found


def test_the_first_example_is_a_whole_valid_strategy() -> None:
    assert validate_strategy(BLOCKS[0]).name == "rsi_minimal"


@pytest.mark.parametrize("block", BLOCKS[1:], ids=[f"example{i}" for i in range(1, len(BLOCKS))])
def test_every_section_example_validates_in_the_whole_strategy(block: str) -> None:
    merged = yaml.safe_load(BLOCKS[0]) | yaml.safe_load(block)
    validate_strategy(merged)


def test_every_key_and_label_source_is_documented() -> None:
    prose = re.sub(r"```.*?```", "", DOC, flags=re.S)
    documented = {word for span in re.findall(r"`([^`]+)`", prose) for word in re.findall(r"[a-z_]+", span)}
    structs = _config_structs()
    keys = {f.encode_name for cls in structs for f in msgspec.structs.fields(cls)
            if (cls, f.name) not in _HIDDEN_FIELDS}  # params / memberships are written flat
    keys |= {k for cls in structs for k in getattr(cls, "IGNORED", {})}
    keys |= set(LABEL_SOURCES)
    assert keys - documented == set()
