"""Sweep grids: `--set` values read as YAML, the full grid, seeded samples of it, overrides at YAML paths and
every variant validated with the path (and a "did you mean") of what is wrong."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ktrdr.strategy import StrategyError, load_strategy
from ktrdr.strategy.sweep_grid import MAX_VARIANTS, Axis, expand, grid, parse_set

EXAMPLE = (Path(__file__).parents[2] / "strategies" / "rsi_mean_reversion.yaml").read_text()


def test_values_are_yaml_and_lists_keep_their_commas() -> None:
    assert parse_set("model.architecture.hidden_layers=[32],[64, 32]").values == ([32], [64, 32])
    assert parse_set("training.labels.zigzag_threshold=0.003,0.005").values == (0.003, 0.005)
    assert parse_set("model.type=mlp,'a,b',{x: 1}").values == ("mlp", "a,b", {"x": 1})


@pytest.mark.parametrize("text", ["no_equals", "=1,2", "a.b=", "a.b=1,,2", "a.b=[1,"])
def test_malformed_set_names_the_problem(text: str) -> None:
    with pytest.raises(StrategyError):
        parse_set(text)


def test_grid_is_the_cartesian_product() -> None:
    axes = [Axis("a", (1, 2, 3)), Axis("b", ("x", "y"))]
    assert grid(axes) == [{"a": a, "b": b} for a, b in itertools.product((1, 2, 3), ("x", "y"))]


def test_samples_are_distinct_members_of_the_grid_and_repeat_with_the_seed() -> None:
    axes = [Axis("a", tuple(range(10))), Axis("b", tuple(range(10))), Axis("c", tuple(range(10)))]
    full = grid(axes[:2])
    drawn = grid(axes, samples=20, seed=7)
    assert len(drawn) == 20 and len({tuple(d.values()) for d in drawn}) == 20
    assert drawn == grid(axes, samples=20, seed=7) and drawn != grid(axes, samples=20, seed=8)
    assert all({"a": d["a"], "b": d["b"]} in full for d in drawn)
    assert grid(axes[:1], samples=50) == grid(axes[:1])  # more samples than variants: all of them


def test_huge_grid_is_refused_unless_sampled() -> None:
    axes = [Axis(f"p{i}", tuple(range(10))) for i in range(12)]  # 10^12 variants: never built
    with pytest.raises(StrategyError, match="--samples"):
        grid(axes)
    assert len(grid(axes, samples=MAX_VARIANTS, seed=1)) == MAX_VARIANTS
    with pytest.raises(StrategyError):
        grid([Axis("a", (1,)), Axis("a", (2,))])


def test_variants_carry_their_overrides_and_validate() -> None:
    sets = ["model.architecture.hidden_layers=[32],[64,32]", "indicators.rsi_14.period=7,21",
            "nn_inputs.2.normalization=zscore,minmax"]
    variants = expand(EXAMPLE, [parse_set(s) for s in sets])
    assert len(variants) == 8
    for overrides, text in variants:
        cfg = load_strategy(text)
        assert list(cfg.model.architecture.hidden_layers) == overrides["model.architecture.hidden_layers"]
        assert cfg.indicators["rsi_14"].params["period"] == overrides["indicators.rsi_14.period"]
        assert cfg.nn_inputs[2].normalization == overrides["nn_inputs.2.normalization"]


@pytest.mark.parametrize("text,path,hint", [
    ("model.archtecture.dropout=0.1", "model.archtecture", "architecture"),
    ("model.architecture.hiden_layers=[8]", "model.architecture.hiden_layers", "hidden_layers"),
    ("indicators.rsi_14.period=14,1", "indicators.rsi_14.period", None),
    ("nn_inputs.7.fuzzy_set=rsi_14", "nn_inputs.7", "0..2"),
    ("model.type.deeper=1", "model.type.deeper", None),
])
def test_bad_path_or_value_names_it(text: str, path: str, hint: str | None) -> None:
    with pytest.raises(StrategyError) as err:
        expand(EXAMPLE, [parse_set(text)])
    assert err.value.path == path
    if hint:
        assert hint in str(err.value)
