"""What local mode shows while it runs: a line per batch change, the batch table, outcomes.

`describe_changes` and `batch_table` are pure; `Watcher` reads batches through the loader's own
`BatchStore` and drains the outcome queue (the success/failure topics' SQS subscription).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from loader.models import Batch, BatchStatus

if TYPE_CHECKING:
    from rich.console import Console

    from loader.deps import Deps
    from setup_cli.worker.sqs import SqsQueues

_STYLE = {
    BatchStatus.OPEN: "cyan",
    BatchStatus.SEALED: "yellow",
    BatchStatus.LOADING: "magenta",
    BatchStatus.COMPLETE: "green",
    BatchStatus.ERROR: "bold red",
}


@dataclass(frozen=True)
class Seen:
    status: BatchStatus
    files: int


def rows_of(batch: Batch) -> int | None:
    counted = [t.rows for t in batch.targets.values() if t.rows is not None]
    return sum(counted) if counted else None


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"


def describe(batch: Batch) -> str:
    short = batch.batch_id[-8:]
    base = f"batch {short} {batch.status.value:<8} {batch.prefix}: {batch.file_count} file(s)"
    if batch.status is BatchStatus.SEALED:
        return f"{base}, {_size(batch.total_bytes)}, sealed by {batch.seal_reason}"
    if batch.status is BatchStatus.COMPLETE:
        rows = rows_of(batch)
        loaded = f", {rows} row(s)" if rows is not None else ""
        took = f" in {batch.load_duration_ms} ms" if batch.load_duration_ms is not None else ""
        return f"{base}{loaded} loaded{took}"
    if batch.status is BatchStatus.ERROR:
        return f"{base}; failed: {batch.error}"
    return base


def describe_changes(
    previous: Mapping[str, Seen], batches: Iterable[Batch]
) -> tuple[list[str], dict[str, Seen]]:
    """Lines for batches that are new or changed status / size since `previous`, and the new
    state to pass next time. Empty open batches (a prefix's next batch) are not news."""
    lines: list[str] = []
    seen = dict(previous)
    for batch in sorted(batches, key=lambda b: (b.created_at, b.batch_id)):
        now = Seen(batch.status, batch.file_count)
        if seen.get(batch.batch_id) == now:
            continue
        seen[batch.batch_id] = now
        if batch.status is BatchStatus.OPEN and batch.file_count == 0:
            continue
        lines.append(describe(batch))
    return lines, seen


def batch_table(batches: Iterable[Batch], now: float) -> Table:
    table = Table(title="batches", title_justify="left")
    for column in ("batch", "prefix", "status", "files", "bytes", "rows", "sealed by", "age"):
        table.add_column(
            column, justify="right" if column in {"files", "bytes", "rows"} else "left"
        )
    for b in sorted(batches, key=lambda b: (b.created_at, b.batch_id)):
        if b.status is BatchStatus.OPEN and b.file_count == 0:
            continue
        rows = rows_of(b)
        table.add_row(
            b.batch_id[-8:],
            Text(b.prefix),
            f"[{_STYLE[b.status]}]{b.status.value}[/]",
            str(b.file_count),
            _size(b.total_bytes),
            "" if rows is None else str(rows),
            Text(b.seal_reason or ""),
            f"{now - b.created_at:.0f}s",
        )
    return table


def outcome_line(body: str) -> str:
    """One line for a message of the outcome queue (an SNS envelope around the notifier's)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return f"outcome: {body[:200]}"
    message: Any = envelope.get("Message", "")
    with contextlib.suppress(TypeError, ValueError):
        message = json.loads(message)
    if not isinstance(message, dict):
        message = {}
    rows = message.get("rows")
    suffix = f" ({rows} rows)" if isinstance(rows, int) else ""
    return f"outcome: {envelope.get('Subject') or message.get('status') or 'notification'}{suffix}"


class Watcher:
    """Reads batches and outcomes; prints a line for each change."""

    def __init__(
        self, deps: Deps, queues: SqsQueues, outcomes_queue_url: str, console: Console
    ) -> None:
        self._deps = deps
        self._queues = queues
        self._outcomes = outcomes_queue_url
        self._console = console
        self._seen: dict[str, Seen] = {}
        self.batches: list[Batch] = []

    def refresh(self) -> list[Batch]:
        self.batches = [
            b for status in BatchStatus for b in self._deps.batches.batches_by_status(status)
        ]
        lines, self._seen = describe_changes(self._seen, self.batches)
        for line in lines:
            self._console.print(f"{time.strftime('%H:%M:%S')} {line}", markup=False)
        self._drain_outcomes()
        return self.batches

    def _drain_outcomes(self) -> None:
        messages = self._queues.receive(
            self._outcomes, max_messages=10, wait_seconds=0, visibility_timeout=30
        )
        for m in messages:
            self._console.print(f"{time.strftime('%H:%M:%S')} {outcome_line(m.body)}", markup=False)
        if messages:
            self._queues.delete(messages)
