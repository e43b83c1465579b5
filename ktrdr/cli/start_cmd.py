"""Commands that start operations through the backend: dummy, train, backtest, research, data load, validate."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import emit, fail, run, state
from ktrdr.cli.strategies_cmd import resolve_strategy, strategy_text
from ktrdr.cli.ops_cmd import finish
from ktrdr.operations import kinds

FOLLOW = typer.Option(False, "--follow", "-f", envvar="KTRDR_FOLLOW",
                      help="Show live progress until it ends (Ctrl-C cancels it).")
DEVICE = typer.Option("auto", "--device", envvar="KTRDR_DEVICE", help="auto (GPU first) | gpu | cpu.",
                      callback=checks.one_of("auto", "gpu", "cpu"))


STRATEGY = typer.Argument(..., help="Strategy name (from the strategies directory) or YAML file.")
EPOCHS = typer.Option(None, "--epochs", min=1, help="Override training.epochs (e.g. 1 for a smoke run).")
START = typer.Option(None, "--start", help="First date (ISO 8601, UTC).", callback=checks.date)
END = typer.Option(None, "--end", help="Last date (ISO 8601, UTC).", callback=checks.date)
SYMBOL_OPT = typer.Option(None, "--symbol", help="Override the strategy's symbol.", callback=checks.symbol)
TIMEFRAME_OPT = typer.Option(None, "--timeframe", help="Override its timeframe.", callback=checks.timeframe)


def start(ctx: typer.Context, area: str, payload: dict[str, Any], follow: bool, verb: str = "start") -> None:
    """Send a start request, print the reply (and warnings), optionally follow it to the end.

    With --follow, Ctrl-C is caught from before the request is sent, so an interrupt always cancels
    the run it started instead of leaving it behind.
    """
    from ktrdr.cli.session import Interrupt, follow as follow_op, open_client

    body = {k: v for k, v in payload.items() if v is not None}
    st = state(ctx)

    async def call() -> tuple[dict[str, Any], Any]:
        async with open_client(st.settings) as client:
            with Interrupt() as interrupt:
                reply = await client.start(area, body, verb)
                _announce(st, reply, follow)
                if not follow:
                    return reply, None
                return reply, await follow_op(client, reply["operation_id"], started_here=True,
                                              quiet=st.as_json, interrupt=interrupt)

    reply, record = run(call)
    if follow:
        finish(ctx, record)


def _announce(st: Any, reply: dict[str, Any], follow: bool) -> None:
    for warning in reply.get("warnings", []):
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
    if follow:
        if not st.as_json:
            typer.echo(f"started {reply['operation_id']} — Ctrl-C cancels it", err=True)
        return
    pool = f", pool {reply['pool']}" if reply["pool"] else ""
    emit(st, reply, lambda: typer.echo(f"started {reply['operation_id']} ({reply['type']}{pool})"
                                       f" — `ktrdr follow {reply['operation_id']}` to watch it"))


def dummy(ctx: typer.Context, steps: int = typer.Option(10, "--steps", min=0),
          step_seconds: float = typer.Option(0.5, "--step-seconds", min=0.0),
          fail_at: Optional[int] = typer.Option(None, "--fail-at", min=0, help="Fail at this step (for testing)."),
          follow: bool = FOLLOW) -> None:
    """Start a dummy operation (for trying the system and for scripts)."""
    start(ctx, "dummy", {"steps": steps, "step_seconds": step_seconds, "fail_at": fail_at}, follow)


def train(ctx: typer.Context, strategy: str = STRATEGY,
          symbol: Optional[list[str]] = typer.Option(None, "--symbol", help="Override the strategy's symbols.",
                                                     callback=checks.symbols),
          timeframe: Optional[list[str]] = typer.Option(None, "--timeframe", help="Override its timeframes.",
                                                        callback=checks.timeframes),
          start_: Optional[str] = START, end: Optional[str] = END,
          device: str = DEVICE, epochs: Optional[int] = EPOCHS, follow: bool = FOLLOW) -> None:
    """Train a strategy's model on a training worker (GPU first, CPU fallback)."""
    checks.period(start_, end)
    start(ctx, "training", {"strategy_yaml": strategy_text(strategy), "symbols": symbol, "timeframes": timeframe,
                            "start": start_, "end": end, "device": device, "epochs": epochs}, follow)


def backtest(ctx: typer.Context, strategy: str = STRATEGY,
             model: Optional[str] = typer.Option(None, "--model", help="NAME[@version] (default: latest).",
                                                 callback=checks.model_ref),
             symbol: Optional[str] = SYMBOL_OPT, timeframe: Optional[str] = TIMEFRAME_OPT,
             start_: Optional[str] = START, end: Optional[str] = END,
             capital: Optional[float] = typer.Option(None, "--capital", min=0.0),
             commission: Optional[float] = typer.Option(None, "--commission", min=0.0,
                                                        help="Rate per fill (default 0.001)."),
             slippage: Optional[float] = typer.Option(None, "--slippage", min=0.0,
                                                      help="Rate per fill, against us (default 0.0005)."),
             follow: bool = FOLLOW) -> None:
    """Backtest a strategy with its trained model on a backtest worker."""
    checks.period(start_, end)
    text = strategy_text(strategy)
    if model is None:
        from ktrdr.strategy import load_strategy

        model = load_strategy(text).name
    start(ctx, "backtest", {"strategy_yaml": text, "model": model, "symbol": symbol, "timeframe": timeframe,
                            "start": start_, "end": end, "capital": capital, "commission": commission,
                            "slippage": slippage}, follow)


def research(ctx: typer.Context, strategy: str = STRATEGY,
             symbol: Optional[str] = SYMBOL_OPT,
             timeframe: Optional[list[str]] = typer.Option(None, "--timeframe", callback=checks.timeframes),
             start_: Optional[str] = START, end: Optional[str] = END,
             backtest_start: Optional[str] = typer.Option(None, "--backtest-start", callback=checks.date),
             backtest_end: Optional[str] = typer.Option(None, "--backtest-end", callback=checks.date),
             device: str = DEVICE, epochs: Optional[int] = EPOCHS,
             follow: bool = typer.Option(True, "--follow/--no-follow", "-f")) -> None:
    """Train, then backtest the trained model, as one parent operation."""
    checks.period(start_, end)
    checks.period(backtest_start, backtest_end, "backtest-")
    start(ctx, "research", {"strategy_yaml": strategy_text(strategy), "symbols": [symbol] if symbol else None,
                            "timeframes": timeframe, "start": start_, "end": end, "backtest_start": backtest_start,
                            "backtest_end": backtest_end, "device": device, "epochs": epochs}, follow)


def data_load(ctx: typer.Context,
              symbol: str = typer.Argument(..., help="Symbol, e.g. EURUSD or AAPL.", callback=checks.symbol),
              timeframe: str = typer.Argument(..., help="Timeframe: 1m 5m 15m 30m 1h 4h 1d 1w.",
                                              callback=checks.timeframe),
              source: Optional[str] = typer.Option(None, "--source", help="ib | synthetic | csv (default: ib "
                                                   "when a data worker reports IB, else it asks).",
                                                   callback=checks.one_of("ib", "synthetic", "csv")),
              mode: str = typer.Option("tail", "--mode", help="tail | backfill | full.",
                                       callback=checks.one_of("tail", "backfill", "full")),
              start_: Optional[str] = START, end: Optional[str] = END, follow: bool = FOLLOW) -> None:
    """Load market data through the data worker (the only process that talks to IB)."""
    checks.period(start_, end)
    source = source or default_source(ctx)
    start(ctx, "data", {"symbol": symbol, "timeframe": timeframe, "source": source, "mode": mode,
                        "start": start_, "end": end}, follow, verb="load")


def start_any(ctx: typer.Context,
              kind: str = typer.Argument(..., help=f"Operation type: {', '.join(kinds.names())}, or one the backend adds."),
              params: Optional[list[str]] = typer.Argument(None, help="KEY=VALUE parameters; VALUE is JSON or text."),
              verb: Optional[str] = typer.Option(None, "--verb", help="The API verb (default: the kind's own)."),
              follow: bool = FOLLOW) -> None:
    """Start an operation of any kind with its parameters (the backend checks them against the kind's struct)."""
    known = kinds.KINDS.get(kind)  # a kind this CLI does not know may still be one the backend serves
    start(ctx, kind, dict(_pair(p) for p in params or []), follow, verb=verb or (known.verb if known else "start"))


def _pair(text: str) -> tuple[str, Any]:
    """`key=value` with a JSON value (`times=3`, `symbols=["EURUSD"]`), or the text itself."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key:
        fail(f"parameter {text!r} is not KEY=VALUE", "e.g. `ktrdr start dummy steps=3 step_seconds=0.1`")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def default_source(ctx: typer.Context) -> str:
    """`ib` when a live data worker reports an IB connection; otherwise ask (never silently synthetic bars)."""
    from ktrdr.cli.session import open_client

    async def workers() -> list[dict[str, Any]]:
        async with open_client(state(ctx).settings) as client:
            return await client.workers()

    data = [w for w in run(workers) if w["kind"] == "data" and w["status"] in ("available", "busy", "stuck")]
    if any((w.get("notes") or {}).get("ib") == "connected" for w in data):
        return "ib"
    why = "no data worker is connected to IB" if data else "no data worker is running"
    fail(f"{why}: say where the bars come from", "add --source synthetic (generated bars) or --source csv; "
         "--source ib waits for IB (`ktrdr worker data --ib-host … --ib-port …`)", code=2)
    raise AssertionError("unreachable")


def validate(ctx: typer.Context, strategy: str = STRATEGY) -> None:
    """Check a strategy (the same code the backend uses); errors and warnings name the YAML path, line, column."""
    from ktrdr.strategy import StrategyError, StrategyWarning, validate_strategy

    path = resolve_strategy(strategy)
    warnings: list[StrategyWarning] = []
    try:
        cfg = validate_strategy(path, warnings)
    except StrategyError as exc:
        fail(f"{path}: {exc.message}", exc.hint)
    for w in warnings:
        typer.secho(f"warning: {path}: {w}", fg=typer.colors.YELLOW, err=True)
    emit(state(ctx), {"valid": True, "name": cfg.name, "warnings": [str(w) for w in warnings]},
         lambda: typer.echo(f"{path}: valid ({cfg.name})"))
