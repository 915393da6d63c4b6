"""`loader-admin status`: one screen of health; exit 3 when something needs attention."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from loader.admin import Health, PrefixHealth
from setup_cli.context import Format, Output, cli
from setup_cli.errors import EXIT_ATTENTION
from setup_cli.output import age, emit_json, err, ok, table, when


def _row(p: PrefixHealth, now: float) -> dict[str, Any]:
    batch = p.open_batch
    return {
        "prefix": p.prefix,
        "configured": p.configured,
        "paused": p.paused,
        "open_batch_id": batch.batch_id if batch else None,
        "open_files": batch.file_count if batch else 0,
        "open_bytes": batch.total_bytes if batch else 0,
        "open_age_seconds": now - batch.first_file_at if batch and batch.first_file_at else None,
        "overdue_seconds": p.overdue_seconds,
        "last_load_at": p.last_load_at,
        "errors": p.errors,
        "leases": p.leases,
        "expired_leases": p.expired_leases,
        "retrying": p.retrying,
        "problems": p.problems,
    }


def _print(health: Health, now: float) -> None:
    rows = []
    for p in health.prefixes:
        r = _row(p, now)
        rows.append(
            (
                p.prefix + (" (paused)" if p.paused else ""),
                r["open_files"],
                r["open_bytes"],
                age(r["open_age_seconds"]),
                when(p.last_load_at),
                p.errors,
                f"{p.leases} ({p.expired_leases} expired)" if p.leases else 0,
                "; ".join(p.problems) or "ok",
            )
        )
    table(
        None,
        [
            "prefix",
            "pending files",
            "bytes",
            "open for",
            "last load",
            "errors",
            "leases",
            "attention",
        ],
        rows,
    )
    for prefix, reason in health.invalid_configs.items():
        err.print(f"invalid configuration {prefix}: {reason}", markup=False)


def register(app: typer.Typer) -> None:
    @app.command(epilog="Example: `loader-admin status -o json || page-someone`")
    def status(
        ctx: typer.Context,
        grace: Annotated[
            int, typer.Option(help="Seconds an open batch may be overdue before it counts.")
        ] = 300,
        output: Output = None,
    ) -> None:
        """Per prefix: pending files and age of the open batch, last successful load, batches
        in error, leases held. Exit 3 when something needs attention (for monitoring)."""
        state = cli(ctx)
        health = state.ops().health(grace_seconds=grace)
        now = state.clock()
        if state.fmt(output) is Format.JSON:
            emit_json(
                {
                    "needs_attention": health.needs_attention,
                    "prefixes": [_row(p, now) for p in health.prefixes],
                    "invalid_configurations": health.invalid_configs,
                }
            )
        else:
            _print(health, now)
        if health.needs_attention:
            raise typer.Exit(EXIT_ATTENTION)
        if state.fmt(output) is not Format.JSON:
            ok("all good")
