"""`loader-admin file`: one file's story, loading a file again, and backfilling a prefix."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loader.admin import FileInfo
from setup_cli.backfill import Window, plan_backfill
from setup_cli.backfill import backfill as backfill_files
from setup_cli.context import Format, Output, cli
from setup_cli.errors import EXIT_ERROR
from setup_cli.output import emit_json, err, examples, fields, ok, parse_time, table, warn, when

app = typer.Typer(
    help="Files: where a file went, load it again, backfill a prefix.", no_args_is_help=True
)

Url = Annotated[str, typer.Argument(help="s3://bucket/key (or bucket/key).")]


def _info(info: FileInfo) -> dict[str, Any]:
    record = info.record
    return {
        "url": info.url,
        "registered": record is not None,
        "batch_id": record.batch_id if record else None,
        "batch_status": info.batch.status.value if info.batch else None,
        "omitted_from": info.omitted_from,
        "loaded_at": info.loaded_at,
        "times_received": record.times_received if record else 0,
        "first_received_at": record.first_received_at if record else None,
        "last_received_at": record.last_received_at if record else None,
        "size": record.size if record else None,
        "etag": record.etag if record else None,
        "previous_batches": record.previous_batches if record else [],
        "newer_upload_ignored": (
            {
                "etag": record.ignored_etag,
                "size": record.ignored_size,
                "version_id": record.ignored_version_id or None,
                "received_at": record.ignored_at,
            }
            if record is not None and record.newer_upload_ignored
            else None
        ),
    }


def _print_info(info: FileInfo) -> None:
    data = _info(info)
    if not data["registered"]:
        warn(f"{info.url} is not registered (never received, or filtered out)")
        return
    batch = data["batch_id"]
    if info.batch is None:
        batch += " (deleted)"
    elif info.omitted_from:
        batch += f" ({info.batch.status}; this file omitted, not loaded)"
    else:
        batch += f" ({info.batch.status})"
    fields(
        [
            ("file", info.url),
            ("batch", batch),
            ("loaded", when(data["loaded_at"])),
            ("times received", data["times_received"]),
            ("first received", when(data["first_received_at"])),
            ("last received", when(data["last_received_at"])),
            ("size", data["size"]),
            ("etag", data["etag"]),
            ("previous batches", ", ".join(data["previous_batches"]) or None),
        ]
    )
    ignored = data["newer_upload_ignored"]
    if ignored is not None:
        warn(
            f"a newer upload (etag {ignored['etag']}, {ignored['size']} bytes, received "
            f"{when(ignored['received_at'])}) was ignored by policy (reupload: ignore); "
            f"`loader-admin file reprocess {info.url}` loads it"
        )


@app.command(epilog=examples("loader-admin file show s3://my-bucket/events/a.csv"))
def show(ctx: typer.Context, url: Url, output: Output = None) -> None:
    """Is the file registered, in which batch, loaded when, received how many times. Exit 1
    when the ledger does not know the file (as `aws s3api head-object` fails on a missing key)."""
    state = cli(ctx)
    info = state.ops().file_info(url)
    if state.fmt(output) is Format.JSON:
        emit_json(_info(info))
    else:
        _print_info(info)
    if info.record is None:
        raise typer.Exit(EXIT_ERROR)


@app.command(epilog=examples("loader-admin file reprocess s3://my-bucket/events/a.csv --flush"))
def reprocess(
    ctx: typer.Context,
    url: Url,
    flush: Annotated[bool, typer.Option(help="Seal and load its batch right away.")] = False,
    output: Output = None,
) -> None:
    """Load one file again: it joins its prefix's open batch (its earlier batch is remembered)."""
    state = cli(ctx)
    ops = state.ops()
    info = ops.reprocess_file(url)
    if flush and info.batch is not None:
        ops.flush(info.batch.prefix)
        info = ops.file_info(url)
    if state.fmt(output) is Format.JSON:
        emit_json(_info(info))
        return
    ok(f"{info.url} queued in batch {info.record.batch_id if info.record else '?'}")
    _print_info(info)


@app.command(
    epilog=examples(
        "loader-admin file backfill my-bucket/events --since 2026-11-01 --dry-run",
        "loader-admin file backfill my-bucket/events --regex 'dt=2026-11-2'",
    )
)
def backfill(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="Configured prefix to list in S3.")],
    regex: Annotated[
        str | None, typer.Option(help="Only keys where this Python regex is found.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Modified at or after (ISO time or e.g. 2d).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Modified at or before.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List only.")] = False,
    output: Output = None,
) -> None:
    """Register the objects under a configured prefix that the ledger does not know yet, through
    the loader's own intake (filters, batching, thresholds). Known files are skipped."""
    state = cli(ctx)
    ops = state.ops()
    now = state.clock()
    window = Window(
        regex=regex,
        since=parse_time(since, now) if since else None,
        until=parse_time(until, now) if until else None,
    )
    plan = plan_backfill(ops, prefix, window)
    counts = {
        "new": len(plan.new),
        "known": plan.known,
        "filtered": plan.filtered,
        "other_configuration": plan.elsewhere,
    }
    if dry_run:
        if state.fmt(output) is Format.JSON:
            emit_json({**counts, "dry_run": True, "files": [o.url for o in plan.new]})
            return
        table(None, ["would register", "bytes"], [(o.url, o.size) for o in plan.new])
        warn(
            f"dry run: {counts['new']} file(s) would be registered; {plan.known} already known, "
            f"{plan.filtered} filtered out, {plan.elsewhere} under another configuration"
        )
        return
    with Progress(
        TextColumn("registering"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("files", total=len(plan.new))
        result = backfill_files(ops, plan, lambda n: progress.advance(task, n))
    summary = {
        **counts,
        "registered": result.registered,
        "duplicates": result.duplicates,
        "sealed": result.sealed,
    }
    if state.fmt(output) is Format.JSON:
        emit_json(summary)
        return
    ok(
        f"registered {result.registered} file(s), {plan.known} already known, "
        f"{len(result.sealed)} batch(es) sealed"
    )
