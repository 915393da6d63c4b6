"""What a target adapter is asked to do, and what it answers. Values only."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from loader.errors import ConfigurationError, LoaderError
from loader.loading.sql.ledger import LedgerEntry
from loader.loading.timing import SAFETY_SECONDS

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from config.targets import Target
    from loader.models import Batch
    from loader.ports import LoadErrorRow, SchemaDrift, SourceCheck


@dataclass(frozen=True)
class TargetJob:
    """One attempt at loading one batch into one target."""

    config: PrefixConfig
    target: Target
    batch: Batch
    manifest_url: str
    now: float
    """The loader's clock at the start of the attempt (the ledger's loaded_at)."""
    budget_seconds: float
    """How long the attempt may take, connection and polling included."""
    timeout_ms: int
    """`statement_timeout` for the transaction (less than the budget)."""
    heartbeat: Callable[[], None]
    """Renews the batch's lease; for adapters that wait a long time (Data API polling)."""
    manifest_entries: Callable[[], tuple[str, ...]] | None = None
    """The manifest's file URLs, read on first call (the load check's expectation, the files the
    schema checks sample); None when unknown (PostgreSQL reads the manifest itself)."""
    sources: SourceCheck | None = None
    """The members' registered ETags, and the check that S3 still holds them (None: not
    checked, e.g. a loader driven without a batch store)."""

    def transaction_deadline(self) -> float:
        """When (time.monotonic) the load transaction must be over, counted from now."""
        return time.monotonic() + self.budget_seconds - SAFETY_SECONDS

    @property
    def entry(self) -> LedgerEntry:
        return LedgerEntry(
            batch_id=self.batch.batch_id,
            target=self.target.name,
            prefix=self.batch.prefix,
            manifest_url=self.manifest_url,
            files=self.batch.file_count,
            loaded_at=self.now,
            generation=self.batch.lease.generation if self.batch.lease else 0,
            holder=self.batch.lease.owner if self.batch.lease else "",
        )


@dataclass(frozen=True)
class Loaded:
    rows: int
    already_loaded: bool = False
    """True when the target's ledger showed an earlier attempt had committed the batch."""
    warning: str | None = None
    """Loaded, but with something an operator must know (kept on the target's state)."""


class TargetAdapter(Protocol):
    def load(self, job: TargetJob) -> Loaded:
        """Load (or find loaded) the batch; raise RetryableError/TerminalError otherwise,
        with the rejected rows in `error.error_rows` when known."""
        ...


def with_error_rows(error: LoaderError, rows: tuple[LoadErrorRow, ...]) -> LoaderError:
    error.error_rows = tuple(rows)
    return error


def with_schema_drift(error: LoaderError, drift: SchemaDrift) -> LoaderError:
    """The error, its message naming the drift (and the DDL that would fix it)."""
    named = type(error)(f"{error} | {drift.summary}", **error.fields)
    named.error_rows = error.error_rows
    named.schema_drift = drift
    return named


def bad_statement(target: str, exc: ValueError) -> ConfigurationError:
    """The SQL builders refuse inconsistent settings with ValueError: a configuration problem."""
    return ConfigurationError(f"target {target}: {exc}", target=target)
