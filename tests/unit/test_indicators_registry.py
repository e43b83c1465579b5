"""The indicator vocabulary is the original KTRDR's: names, aliases, parameters, outputs, warm-up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ktrdr.indicators import (
    IndicatorError,
    IndicatorSpec,
    compute_indicator,
    compute_indicators,
    get_indicator,
    ignored_params,
    indicator_names,
    primary_output,
    reference_column,
    resolve_params,
    warmup_bars,
)
from tests.unit.tie_rich import tie_rich

# The original's registry: canonical name (class name without "Indicator", lower case) and the
# extra aliases it declares; every class name in lower case resolves too.
ORIGINAL = {
    "adline": "adlineindicator", "adx": "adxindicator", "aroon": "aroonindicator",
    "atr": "atrindicator", "bollingerbandwidth": "bollingerbandwidthindicator",
    "bollingerbands": "bbands", "cci": "cciindicator", "cmf": "cmfindicator",
    "distancefromma": "distancefrommaindicator", "donchianchannels": "donchianchannelsindicator",
    "fishertransform": "fishertransformindicator", "ichimoku": "ichimokuindicator",
    "keltnerchannels": "keltnerchannelsindicator", "simplemovingaverage": "sma",
    "exponentialmovingaverage": "ema", "weightedmovingaverage": "wma", "macd": "macdindicator",
    "mfi": "mfiindicator", "momentum": "momentumindicator", "obv": "obvindicator",
    "parabolicsar": "parabolicsarindicator", "roc": "rocindicator", "rsi": "rsiindicator",
    "rvi": "rviindicator", "squeezeintensity": "squeezeintensityindicator",
    "stochastic": "stochasticindicator", "supertrend": "supertrendindicator",
    "volumeratio": "volumeratioindicator", "vwap": "vwapindicator",
    "williamsr": "williamsrindicator", "zigzag": "zigzagindicator",
}


@pytest.fixture(scope="module")
def ohlcv() -> pd.DataFrame:
    return tie_rich(600)


def test_the_31_types_of_the_original_under_its_names_and_aliases():
    assert indicator_names() == sorted(ORIGINAL)
    for name, alias in ORIGINAL.items():
        assert get_indicator(alias).name == name
        assert get_indicator(name.upper()).name == name  # lookups ignore case, as the original's
    assert get_indicator("BollingerBandsIndicator").name == "bollingerbands"


@pytest.mark.parametrize(("typo", "hint"), [("williams_r", "williamsr"), ("Parabolic SAR",
                         "parabolicsar"), ("bolingerbands", "bollingerbands")])
def test_an_unknown_type_suggests_the_name(typo, hint):
    with pytest.raises(IndicatorError, match=f"did you mean '{hint}'"):
        get_indicator(typo)


@pytest.mark.parametrize(("type_", "params"), [
    ("macd", {"fast_period": 12, "slow_period": 26, "signal_period": 9, "source": "close"}),
    ("parabolicsar", {"initial_af": 0.02, "step_af": 0.02, "max_af": 0.2}),
    ("bollingerbands", {"period": 20, "multiplier": 2.0, "source": "close"}),
    ("stochastic", {"k_period": 14, "d_period": 3, "smooth_k": 3}),
    ("squeezeintensity", {"bb_period": 20, "bb_multiplier": 2.0, "kc_period": 20,
                          "kc_multiplier": 2.0, "source": "close"}),
    ("ichimoku", {"tenkan_period": 9, "kijun_period": 26, "senkou_b_period": 52,
                  "displacement": 26}),
    ("exponentialmovingaverage", {"period": 20, "source": "close", "adjust": True}),
])
def test_parameter_names_and_defaults_are_the_originals(type_, params):
    assert resolve_params(IndicatorSpec(type=type_)) == params


@pytest.mark.parametrize(("params", "words"), [
    ({"period": 1}, "must be >= 2 and <= 100"), ({"period": 14.5}, "whole number"),
    ({"period": "14"}, "must be a number"), ({"source": "clsoe"}, "did you mean 'close'"),
    ({"perod": 14}, "did you mean 'period'"),
])
def test_bad_parameters_say_what_is_allowed(params, words):
    with pytest.raises(IndicatorError, match=words) as info:
        resolve_params(IndicatorSpec(type="rsi", params=params))
    assert info.value.param == next(iter(params))


def test_flags_and_word_choices():
    spec = IndicatorSpec(type="distancefromma", params={"ma_type": "ema"})
    assert resolve_params(spec)["ma_type"] == "EMA"
    with pytest.raises(IndicatorError, match="true or false"):
        resolve_params(IndicatorSpec(type="ema", params={"adjust": "yes"}))
    with pytest.raises(IndicatorError, match="not supported"):
        resolve_params(IndicatorSpec(type="adline", params={"use_sma_smoothing": True}))


def test_parameters_the_original_ignored_are_ignored_and_reported():
    spec = IndicatorSpec(type="macd", params={"fast": 12, "fast_period": 5})
    assert ignored_params(spec) == ["fast"]
    assert resolve_params(spec)["fast_period"] == 5
    # A period on the squeeze (whose periods are bb_period/kc_period) is another such case.
    assert ignored_params(IndicatorSpec(type="squeezeintensity", params={"period": 20})) == ["period"]


def test_a_bare_id_is_the_primary_output(ohlcv):
    out = compute_indicator(ohlcv, "macd_12_26_9", IndicatorSpec(type="macd"))
    assert list(out.columns) == ["macd_12_26_9.line", "macd_12_26_9.signal",
                                 "macd_12_26_9.histogram", "macd_12_26_9"]
    np.testing.assert_array_equal(out["macd_12_26_9"], out["macd_12_26_9.line"])
    assert primary_output("bbands") == "upper" and primary_output("rsi") is None
    specs = {"bb": IndicatorSpec(type="bbands"), "rsi": IndicatorSpec(type="rsi")}
    assert reference_column("bb", specs) == "bb" and "bb" in compute_indicators(ohlcv, specs)
    with pytest.raises(IndicatorError, match="single output"):
        reference_column("rsi.value", specs)
    with pytest.raises(IndicatorError, match="did you mean 'bb.upper'"):
        reference_column("bb.uper", specs)


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_warmup_is_exactly_the_leading_nan_rows(ohlcv, name):
    spec = IndicatorSpec(type=name)
    out = compute_indicator(ohlcv, "x", spec)
    first_valid = [int(np.argmax(out[c].notna().to_numpy())) for c in out]
    assert max(first_valid) == warmup_bars(spec)
    assert out.iloc[warmup_bars(spec):].notna().all().all()


def test_the_documentation_lists_every_type_with_its_parameters_and_outputs():
    doc = (Path(__file__).parents[2] / "docs" / "indicators.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in doc.splitlines()
            if line.startswith("| `")}
    assert sorted(rows) == indicator_names()
    for name, row in rows.items():
        definition = get_indicator(name)
        cells = [c.strip() for c in row.split("|")]
        assert all(f"`{p}`" in cells[3] for p in definition.params), name
        outputs = ", ".join(definition.outputs) or "single"
        assert cells[4] == outputs and cells[5] == str(warmup_bars(IndicatorSpec(type=name)))


ORIGINAL_STRATEGIES = Path(__file__).parents[3] / "shared" / "ktrdr-v3-strategies"


@pytest.mark.skipif(not ORIGINAL_STRATEGIES.is_dir(), reason="the original's strategy files are absent")
def test_every_indicator_block_of_the_originals_strategies_resolves():
    import yaml

    blocks = [(path.name, ind_id, block) for path in sorted(ORIGINAL_STRATEGIES.glob("*.yaml"))
              for ind_id, block in (yaml.safe_load(path.read_text()).get("indicators") or {}).items()]
    assert len(blocks) > 30
    for name, ind_id, block in blocks:
        spec = IndicatorSpec.from_block(block)
        assert resolve_params(spec), f"{name}: {ind_id}"
    carried = IndicatorSpec.from_block({"type": "rsi", "period": 14, "data_source": "gbp"})
    assert carried.data_source == "gbp" and carried.params == {"period": 14}
