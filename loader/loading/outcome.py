"""Per-target outcomes and the batch's `LoadResult`. Pure.

`LoadResult.error` is a short, bounded summary (each failed target's error plus its first
rejected rows); the full list of rejected rows travels in `LoadResult.error_rows` to the
notification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loader.errors import LoaderError
from loader.models import TargetState, TargetStatus
from loader.ports import LoadErrorRow, LoadResult, SchemaDrift

SUMMARY_ROWS = 3
MAX_SUMMARY = 2000
MAX_ERROR_ROWS = 50


@dataclass(frozen=True)
class TargetOutcome:
    name: str
    state: TargetState
    retryable: bool = False
    error_rows: tuple[LoadErrorRow, ...] = ()
    schema_drift: SchemaDrift | None = None

    @property
    def failed(self) -> bool:
        return self.state.status is TargetStatus.FAILED


def loaded(
    name: str, rows: int, *, attempts: int, now: float, warning: str | None = None
) -> TargetOutcome:
    state = TargetState(
        status=TargetStatus.LOADED, rows=rows, attempts=attempts, loaded_at=now, error=warning
    )
    return TargetOutcome(name, state)


def failed(
    name: str,
    error: LoaderError,
    *,
    attempts: int,
    error_rows: Sequence[LoadErrorRow] = (),
    schema_drift: SchemaDrift | None = None,
) -> TargetOutcome:
    rows = tuple(error_rows)
    text = target_error(str(error), rows)
    state = TargetState(status=TargetStatus.FAILED, error=text, attempts=attempts)
    return TargetOutcome(
        name, state, retryable=error.retryable, error_rows=rows, schema_drift=schema_drift
    )


def target_error(message: str, rows: Sequence[LoadErrorRow]) -> str:
    """The error plus its first rejected rows, e.g. `... | s3://b/k.csv line 3 [id]: reason`."""
    parts = [message]
    parts += [describe_row(row) for row in rows[:SUMMARY_ROWS]]
    if len(rows) > SUMMARY_ROWS:
        parts.append(f"(+{len(rows) - SUMMARY_ROWS} more rejected rows)")
    return _bounded(" | ".join(parts))


def describe_row(row: LoadErrorRow) -> str:
    where = row.file or "?"
    if row.line is not None:
        where += f" line {row.line}"
    if row.column:
        where += f" [{row.column}]"
    return f"{where}: {row.reason}"


def load_result(outcomes: Sequence[TargetOutcome], *, duration_ms: int | None) -> LoadResult:
    """Every target's state; error/retryable from the failed ones (retry only if all may pass)."""
    failures = [o for o in outcomes if o.failed]
    error = None
    if failures:
        error = _bounded("; ".join(o.state.error or f"target {o.name} failed" for o in failures))
    rows = tuple(row for o in failures for row in o.error_rows)[:MAX_ERROR_ROWS]
    return LoadResult(
        targets={o.name: o.state for o in outcomes},
        error=error,
        retryable=bool(failures) and all(o.retryable for o in failures),
        error_rows=rows,
        schema_drift=tuple(o.schema_drift for o in failures if o.schema_drift is not None),
        duration_ms=duration_ms,
    )


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 3] + "..."
