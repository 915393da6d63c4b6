"""`loader-admin reconcile`: register files whose S3 notifications never arrived.

The same job the Lambda runs on its schedule (`{"loader": "reconcile"}`), from
`loader/reconcile.py`, through the loader's own intake (`Operations.register`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from loader.reconcile import ReconcileReport, reconcile
from setup_cli.context import Format, Output, cli
from setup_cli.errors import EXIT_ERROR
from setup_cli.output import emit_json, err, examples, ok, parse_duration, table, warn, when


def register(app: typer.Typer) -> None:
    app.command(
        "reconcile",
        epilog=examples(
            "loader-admin reconcile --dry-run",
            "loader-admin reconcile my-bucket/events --lookback 6h",
        ),
    )(reconcile_command)


def reconcile_command(
    ctx: typer.Context,
    prefix: Annotated[
        str | None,
        typer.Argument(help="One configured prefix (default: every one).", show_default=False),
    ] = None,
    lookback: Annotated[
        str | None,
        typer.Option(
            help="Objects modified this recently (e.g. 1h, 2d); default "
            "LOADER_RECONCILE_LOOKBACK_SECONDS (1h).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what is missing; register nothing.")
    ] = False,
    output: Output = None,
) -> None:
    """List each configured prefix in S3 and register the files the ledger lacks among objects
    modified within the look-back window (notifications that never arrived). Known files are
    left alone: running it twice registers nothing the second time. Exit 1 if a prefix failed."""
    state = cli(ctx)
    ops = state.ops()
    seconds = (
        parse_duration(lookback)
        if lookback is not None
        else ops.deps.settings.reconcile_lookback_seconds
    )
    now = state.clock()
    report = reconcile(
        ops.deps,
        ops.register,
        now=now,
        lookback_seconds=seconds,
        prefix=prefix,
        dry_run=dry_run,
        clock=state.clock,
    )
    if state.fmt(output) is Format.JSON:
        emit_json(_as_dict(report, seconds))
    else:
        _print(report)
    if report.failed:
        raise typer.Exit(EXIT_ERROR)


def _as_dict(report: ReconcileReport, lookback: float) -> dict[str, object]:
    prefixes = []
    for entry in report.prefixes:
        data = entry.as_dict()
        if report.dry_run:
            data["files"] = [o.url for o in entry.plan.new] if entry.plan else []
        prefixes.append(data)
    return {
        "since": report.since,
        "lookback_seconds": lookback,
        "dry_run": report.dry_run,
        "listed": report.total("listed"),
        "known": report.total("known"),
        "missing": report.total("missing"),
        "registered": report.registered,
        "prefixes": prefixes,
    }


def _print(report: ReconcileReport) -> None:
    rows = [
        (
            d["prefix"],
            d["listed"],
            d["known"],
            d["missing"],
            d["registered"],
            d["outside_window"],
            d["filtered"] - d["outside_window"],
            d["other_configuration"],
            d["error"] or "ok",
        )
        for d in (p.as_dict() for p in report.prefixes)
    ]
    table(
        f"modified since {when(report.since)}",
        [
            "prefix",
            "listed",
            "known",
            "missing",
            "registered",
            "too old",
            "filtered",
            "other config",
            "result",
        ],
        rows,
    )
    missing = report.total("missing")
    if report.dry_run:
        for entry in report.prefixes:
            for obj in entry.plan.new if entry.plan else []:
                err.print(f"  would register {obj.url}", markup=False)
        warn(f"dry run: {missing} file(s) would be registered")
    elif missing:
        warn(
            f"registered {report.registered} file(s) whose notifications never arrived, "
            f"{len(report.sealed)} batch(es) sealed"
        )
    else:
        ok("nothing missing")
    for entry in report.failed:
        err.print(Text.assemble(("error:", "red"), f" {entry.prefix}: {entry.error}"))
