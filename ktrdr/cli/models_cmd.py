"""`ktrdr models list|show`: the trained model bundles in the models bucket (read-only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Optional, TypeVar

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import State, emit, run, state

T = TypeVar("T")
app = typer.Typer(no_args_is_help=True, help="Trained model bundles (versioned per strategy, symbol set and timeframe).")
JSON = typer.Option(False, "--json", help="Machine-readable output (same as the global --json).")


def _state(ctx: typer.Context, as_json: bool) -> State:
    st = state(ctx)
    st.as_json = st.as_json or as_json
    return st


def _with_models(st: State, body: Callable[[Any], Awaitable[T]]) -> T:
    """Connect, bind the models bucket, run `body(store)`, close."""
    from ktrdr.bus.handle import Bus
    from ktrdr.bus.resolve import resolve_url

    async def go() -> T:
        bus = await Bus.open(st.settings, resolve_url(st.settings), name="ktrdr-models")
        try:
            return await body(await bus.js.object_store(bus.names.bucket("models")))
        finally:
            await bus.close()

    return run(go)


async def _list(store: Any, strategy: str | None) -> list[dict[str, Any]]:
    from ktrdr.bus.objects_models import list_models, resolve_model

    rows = [m for m in await list_models(store) if strategy in (None, m["strategy"])]
    latest = {await resolve_model(store, f"{s}/{line}") for s, line in {(m["strategy"], m["line"]) for m in rows}}
    return [m | {"latest": m["key"] in latest} for m in rows]


@app.command("list")
def list_(ctx: typer.Context, strategy: Optional[str] = typer.Option(None, "--strategy", help="Only this one.",
                                                        callback=checks.name),
          as_json: bool = JSON) -> None:
    """Every stored bundle version: strategy, symbols (of a multi-symbol model), timeframe, version, size,
    created, which one is latest."""
    st = _state(ctx, as_json)
    rows = _with_models(st, lambda store: _list(store, strategy))
    emit(st, rows, lambda: _render_list(rows))


def _render_list(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo("no models stored (train one: ktrdr train STRATEGY.yaml)")
        return
    table = Table("key", "strategy", "symbols", "timeframe", "version", "size", "created", "latest")
    for r in rows:
        table.add_row(r["key"], r["strategy"], ",".join(r["symbols"]) or "-", r["timeframe"], str(r["version"]),
                      f"{r['size'] / 1024:.1f} KiB",
                      str(r["created"])[:19], "*" if r["latest"] else "")
    Console().print(table)


async def _show(store: Any, ref: str) -> dict[str, Any]:
    from ktrdr.bus.objects_models import load_bundle, resolve_model
    from ktrdr.training.bundle import ModelBundle
    from ktrdr.training.keys import parse_bundle_key

    key = await resolve_model(store, ref)
    blob = await load_bundle(store, key)
    bundle = ModelBundle.from_bytes(blob)
    _, _, version = parse_bundle_key(key) or ("", "", 0)
    return {"key": key, "version": version, "size": len(blob),
            "parameters": sum(int(w.numel()) for w in bundle.weights.values())} | bundle.meta()


@app.command()
def show(ctx: typer.Context,
         ref: str = typer.Argument(..., help="strategy, strategy@N, strategy/1h (its latest), strategy/1h_vN; "
                                                  "a multi-symbol model also strategy/EURUSD+GBPUSD_1h_vN.",
                                  callback=checks.model_ref),
         yaml_: bool = typer.Option(False, "--yaml", help="Also print the strategy YAML the model was trained on."),
         as_json: bool = JSON) -> None:
    """One bundle: model, features, label config, test and training metrics, data summary."""
    st = _state(ctx, as_json)
    info = _with_models(st, lambda store: _show(store, ref))
    emit(st, info, lambda: _render_show(info, yaml_))


def _headline(test: dict[str, Any]) -> str:
    """The test metrics that matter most, against their baseline."""
    if "accuracy" in test:
        return (f"accuracy {test['accuracy']:.3f} (majority baseline {test['baseline_accuracy']:.3f}), "
                f"macro F1 {test['macro']['f1']:.3f}, {test['samples']} samples")
    if "mae" in test:
        return (f"MAE {test['mae']:.5f}, directional {test['directional_accuracy']:.3f} "
                f"(baseline {test['baseline_directional_accuracy']:.3f}), {test['samples']} samples")
    return "no test samples"


def _render_show(info: dict[str, Any], with_yaml: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    model, training = info["model_config"], info["metrics"].get("training", {})
    data = info["data_summary"]
    table = Table(show_header=False)
    for name, value in (
        ("key", info["key"]), ("created", info["created_at"]), ("strategy", info["strategy"]),
        ("model", f"{model.get('type')} {model.get('hidden_layers')} {info['output_format']}, "
                  f"{info['parameters']} parameters"),
        ("features", f"{len(info['feature_names'])}: {', '.join(info['feature_names'])}"),
        ("labels", ", ".join(f"{k}={v}" for k, v in info["label_config"].items())),
        ("weighting", data.get("labels", {}).get("sample_weighting", "uniform")),
        ("test", _headline(info["metrics"].get("test", {}))),
        ("training", f"{training.get('epochs_run')} epochs (best {training.get('best_epoch')}), "
                     f"device {training.get('device')}, {training.get('duration_s', 0):.1f}s"),
        ("data", f"{data.get('symbols')} {data.get('timeframes')} {data.get('start')} → {data.get('end')}, "
                 f"samples {data.get('samples')}"),
    ):
        table.add_row(name, str(value))
    Console().print(table)
    if with_yaml:
        typer.echo(info["strategy_yaml"])
