"""The seams of the loader: what a sealed batch's lifecycle hands to the code that loads it and
to the code that announces its outcome, and what comes back. Types only, no behaviour.

    lifecycle (loader/lifecycle.py) --BatchLoader.load(config, batch, manifest, LoadContext)-->
        loader/loading/ (the targets)                      --> LoadResult
    lifecycle --Notifier.batch_finished(config, batch, LoadResult)--> loader/notify/ (SNS, ...)

Everything here is imported by both sides, so it imports neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from loader.models import TargetState, TargetStatus

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.models import Batch


class LoadErrorRow(BaseModel):
    """One rejected input row, as the target reported it (for operators and notifications)."""

    model_config = ConfigDict(frozen=True)

    target: str
    file: str | None = None
    line: int | None = None
    column: str | None = None
    reason: str
    code: str | None = None
    raw_line: str | None = None
    raw_value: str | None = None


class SchemaDrift(BaseModel):
    """A target's table and its files disagree: what differs, and the DDL that would fix it."""

    model_config = ConfigDict(frozen=True)

    target: str
    table: str
    extra_columns: tuple[str, ...] = ()
    """Columns the files carry and the table lacks, in file order."""
    missing_columns: tuple[str, ...] = ()
    """Columns the table requires (positional formats: any it loads) that the files lack."""
    order_differs: bool = False
    """Positional files hold the columns in another order than the table."""
    alter_table: tuple[str, ...] = ()
    """The ALTER TABLE statements that would add the extra columns (nullable)."""
    summary: str
    """One line for people (also part of the target's error)."""


class LoadResult(BaseModel):
    """Per-target outcome of loading one batch."""

    model_config = ConfigDict(frozen=True)

    targets: dict[str, TargetState] = Field(default_factory=dict)
    error: str | None = None
    retryable: bool = False
    error_rows: tuple[LoadErrorRow, ...] = ()
    """The first rejected rows of failed targets (bounded), for the failure notification."""
    schema_drift: tuple[SchemaDrift, ...] = ()
    """Failed targets whose files and table disagree (loader/schema/drift.py)."""
    duration_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(
            t.status is TargetStatus.LOADED for t in self.targets.values()
        )


class SourceCheck(Protocol):
    """The batch's members as the load expects them (loader/source_check.py): their registered
    ETags, and whether S3 still holds those versions."""

    @property
    def etags(self) -> dict[str, str | None]: ...

    def changed(self) -> list[str]:
        """The members whose object is no longer the version this load read."""
        ...

    def verify(self, target: str) -> None:
        """Raise SourcesChangedError (retryable) if any member changed."""
        ...


@dataclass
class LoadContext:
    """What a loader may do while it holds the batch: prove it is alive and record progress."""

    owner: str
    deadline: float
    heartbeat: Callable[[], None]
    record: Callable[[str, TargetState], None]
    sources: SourceCheck | None = None
    """The members' registered versions, for targets that check them while loading."""


class BatchLoader(Protocol):
    def load(
        self, config: PrefixConfig, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult: ...


class Notifier(Protocol):
    def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None: ...
