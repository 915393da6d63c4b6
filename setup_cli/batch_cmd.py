"""`loader-admin batch`: list, inspect, reprocess, unlock, delete and flush batches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from loader.models import BatchStatus
from setup_cli.context import Format, Output, Yes, cli
from setup_cli.output import (
    age,
    emit_json,
    examples,
    fields,
    ok,
    out,
    parse_duration,
    parse_time,
    table,
    warn,
    when,
)

if TYPE_CHECKING:
    from loader.models import Batch, BatchMember

app = typer.Typer(
    help="Batches: list, show, reprocess, unlock, delete, flush.", no_args_is_help=True
)

BatchId = Annotated[str, typer.Argument(help="Batch id, as `batch list` shows it.")]
Since = Annotated[str | None, typer.Option(help="Updated at or after: ISO time or e.g. 2h, 7d.")]
Until = Annotated[str | None, typer.Option(help="Updated at or before: ISO time or e.g. 1d.")]


def summary(batch: Batch) -> dict[str, Any]:
    data = batch.model_dump(mode="json")
    data["lease"] = batch.lease.model_dump() if batch.lease else None
    data["load_attempts"] = load_attempts(batch)
    return data


def load_attempts(batch: Batch) -> int:
    """Load runs started: the first by whoever sealed the batch, one more per take-over
    (`attempts` counts the take-overs). A target's own count adds its in-run retries."""
    return 0 if batch.status is BatchStatus.OPEN else batch.attempts + 1


def retrying(batch: Batch) -> bool:
    """Leased, and its last attempt failed with a retryable error."""
    return batch.status in (BatchStatus.SEALED, BatchStatus.LOADING) and bool(batch.last_error)


def next_retry(batch: Batch, now: float) -> str | None:
    if not retrying(batch) or batch.retry_at is None:
        return None
    left = batch.retry_at - now
    return f"{when(batch.retry_at)} (in {age(left)})" if left > 0 else "now (retrying)"


def error_text(batch: Batch) -> str | None:
    """The batch's error, else the error it is retrying after."""
    if batch.error:
        return batch.error
    return f"retrying: {batch.last_error}" if retrying(batch) else None


@app.command(
    "list",
    epilog=examples(
        "loader-admin batch list --status error --since 7d",
        "loader-admin batch list --prefix my-bucket/events --limit 20 -o json",
    ),
)
def list_batches(
    ctx: typer.Context,
    status: Annotated[BatchStatus | None, typer.Option(help="Only this status.")] = None,
    prefix: Annotated[str | None, typer.Option(help="Only this configured prefix.")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    output: Output = None,
) -> None:
    """Batches, newest first, across every page of the index."""
    state = cli(ctx)
    now = state.clock()
    found = state.ops().list_batches(
        status=status,
        prefix=prefix,
        since=parse_time(since, now) if since else None,
        until=parse_time(until, now) if until else None,
        limit=limit,
    )
    if state.fmt(output) is Format.JSON:
        emit_json([summary(b) for b in found])
        return
    rows = [
        (
            b.batch_id,
            b.prefix,
            b.status.value,
            b.file_count,
            b.total_bytes,
            load_attempts(b),
            when(b.updated_at),
            next_retry(b, now),
            _clip(error_text(b), 80),
        )
        for b in found
    ]
    table(
        None,
        [
            "batch",
            "prefix",
            "status",
            "files",
            "bytes",
            "attempts",
            "updated",
            "next retry",
            "error",
        ],
        rows,
    )


def _clip(text: str | None, length: int) -> str | None:
    if text is None or len(text) <= length:
        return text
    return text[: length - 1] + "…"


@app.command(epilog=examples("loader-admin batch show 20261123T100000Z-1a2b3c4d"))
def show(ctx: typer.Context, batch_id: BatchId, output: Output = None) -> None:
    """One batch: status, files and sizes, targets, errors, manifest, lease and timings."""
    state = cli(ctx)
    ops = state.ops()
    batch = ops.batch(batch_id)
    members = sorted(ops.deps.batches.members(batch_id), key=lambda m: m.url)
    if state.fmt(output) is Format.JSON:
        emit_json({**summary(batch), "files": [m.model_dump() for m in members]})
        return
    _show_batch(batch, members, state.clock())


def _lease(batch: Batch, now: float) -> str | None:
    lease = batch.lease
    if lease is None:
        return None
    left = lease.expires_at - now
    return f"{lease.owner}, " + (f"expires in {age(left)}" if left > 0 else "expired")


def _show_batch(batch: Batch, members: list[BatchMember], now: float) -> None:
    fields(
        [
            ("batch", batch.batch_id),
            ("prefix", batch.prefix),
            ("status", batch.status.value),
            ("files", batch.file_count),
            ("bytes", batch.total_bytes),
            ("created", when(batch.created_at)),
            ("first file", when(batch.first_file_at)),
            (
                "sealed",
                f"{when(batch.sealed_at)} ({batch.seal_reason})" if batch.sealed_at else None,
            ),
            ("completed", when(batch.completed_at)),
            ("load took", f"{batch.load_duration_ms} ms" if batch.load_duration_ms else None),
            ("manifest", batch.manifest_url),
            ("failed manifest", batch.failed_manifest_url),
            ("lease", _lease(batch, now)),
            ("attempts", load_attempts(batch)),
            ("next retry", next_retry(batch, now)),
            ("error", batch.error),
            ("last error", batch.last_error if batch.last_error != batch.error else None),
        ]
    )
    if batch.targets:
        table(
            "targets",
            ["target", "status", "rows", "attempts", "loaded", "error"],
            [
                (n, t.status, t.rows, t.attempts, when(t.loaded_at), t.error)
                for n, t in sorted(batch.targets.items())
            ],
        )
    table("files", ["url", "bytes"], [(m.url, m.size) for m in members])


@app.command(
    epilog=examples(
        "loader-admin batch reprocess 20261123T100000Z-1a2b3c4d",
        "loader-admin batch reprocess ID --omit s3://bucket/events/bad.csv --dry-run",
    )
)
def reprocess(
    ctx: typer.Context,
    batch_id: BatchId,
    omit: Annotated[
        list[str] | None, typer.Option(help="Leave this file out (repeatable); failed batch only.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
    output: Output = None,
) -> None:
    """Load a failed batch again, or resume a stuck one whose lease expired. Targets that already
    loaded the batch are skipped (their ledger), so each file lands once."""
    state = cli(ctx)
    ops = state.ops()
    plan = ops.plan_reprocess(batch_id, omit or [])
    result = None if dry_run else ops.reprocess(plan)
    if state.fmt(output) is Format.JSON:
        emit_json(
            {
                "batch_id": batch_id,
                "action": plan.action,
                "dry_run": dry_run,
                "load": [m.url for m in plan.load],
                "omit": plan.omit,
                "result": summary(result) if result else None,
            }
        )
        _exit_on_error(result)
        return
    verb = "would " + plan.action if dry_run else plan.action
    out.print(f"{verb} batch {batch_id}: {len(plan.load)} file(s), {len(plan.omit)} omitted")
    for url in plan.omit:
        out.print(f"  omit {url}", markup=False)
    if result is not None:
        _report_outcome(result)


def _exit_on_error(batch: Batch | None) -> None:
    if batch is not None and batch.status is BatchStatus.ERROR:
        raise typer.Exit(1)


def _report_outcome(batch: Batch) -> None:
    if batch.status is BatchStatus.COMPLETE:
        ok(f"batch {batch.batch_id} complete")
    elif batch.status is BatchStatus.ERROR:
        warn(f"batch {batch.batch_id} failed again: {batch.error}")
        raise typer.Exit(1)
    else:
        warn(f"batch {batch.batch_id} is {batch.status}: the sweep retries it when the lease ends")


@app.command(epilog=examples("loader-admin batch unlock 20261123T100000Z-1a2b3c4d --force"))
def unlock(
    ctx: typer.Context,
    batch_id: BatchId,
    force: Annotated[bool, typer.Option(help="End a lease that has not expired yet.")] = False,
    output: Output = None,
) -> None:
    """End the lease of a stuck sealed/loading batch, so the sweep or `batch reprocess` takes it
    over. Refused while the lease is live, unless --force (the holder is known to be gone)."""
    state = cli(ctx)
    batch = state.ops().unlock(batch_id, force=force)
    if state.fmt(output) is Format.JSON:
        emit_json(summary(batch))
        return
    ok(
        f"batch {batch_id}: lease expired; `loader-admin batch reprocess {batch_id}` loads it now, "
        "or the sweep resumes it within a minute"
    )


@app.command(
    epilog=examples(
        "loader-admin batch delete --status complete --older-than 30d",
        "loader-admin batch delete --status complete --older-than 30d --execute --yes",
    )
)
def delete(
    ctx: typer.Context,
    status: Annotated[
        list[BatchStatus] | None, typer.Option(help="complete (default) and/or error; repeatable.")
    ] = None,
    older_than: Annotated[
        str | None, typer.Option(help="Last updated before this long ago, e.g. 30d.")
    ] = None,
    prefix: Annotated[str | None, typer.Option(help="Only this configured prefix.")] = None,
    execute: Annotated[
        bool, typer.Option("--execute", help="Really delete (default: dry run).")
    ] = False,
    yes: Yes = False,
    output: Output = None,
) -> None:
    """Delete finished batches (headers and members). A dry run unless --execute; open, sealed
    and loading batches are refused. The file ledger is kept: files never load twice."""
    state = cli(ctx)
    ops = state.ops()
    statuses = status or [BatchStatus.COMPLETE]
    age_limit = parse_duration(older_than) if older_than else None
    doomed = ops.plan_delete(statuses, older_than=age_limit, prefix=prefix)
    deleted: list[str] = []
    skipped: dict[str, str] = {}
    if execute and doomed and (yes or typer.confirm(f"Delete {len(doomed)} batch(es)?")):
        deleted, skipped = ops.delete(doomed)
    if state.fmt(output) is Format.JSON:
        emit_json(
            {
                "dry_run": not execute,
                "matched": [summary(b) for b in doomed],
                "deleted": deleted,
                "skipped": skipped,
            }
        )
        return
    table(
        None,
        ["batch", "prefix", "status", "files", "updated"],
        [(b.batch_id, b.prefix, b.status.value, b.file_count, when(b.updated_at)) for b in doomed],
    )
    if not execute:
        warn(f"dry run: {len(doomed)} batch(es) would be deleted; add --execute to delete them")
        return
    ok(f"deleted {len(deleted)} batch(es)")
    for batch_id, reason in skipped.items():
        warn(f"kept {batch_id}: {reason}")


@app.command(epilog=examples("loader-admin batch flush my-bucket/events"))
def flush(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(help="Configured prefix.")],
    output: Output = None,
) -> None:
    """Seal the prefix's open batch now, whatever its thresholds, and load it."""
    state = cli(ctx)
    batch = state.ops().flush(prefix)
    if state.fmt(output) is Format.JSON:
        emit_json(summary(batch) if batch else None)
        _exit_on_error(batch)
        return
    if batch is None:
        warn(f"{prefix}: nothing sealed (the open batch is empty, or was sealed meanwhile)")
        return
    _report_outcome(batch)
