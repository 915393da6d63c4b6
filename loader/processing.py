"""What happens to a batch once it is sealed: manifest, load, outcome. Runs under its lease."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from loader import metrics
from loader.adapters.s3_store import split_url
from loader.decisions import retry_delay
from loader.errors import LeaseLost, LoaderError, RetryableError, SourcesChanged, TerminalError
from loader.log import logger
from loader.manifest import ManifestBuilder, failed_manifest_key, manifest_key
from loader.models import Batch, BatchStatus, TargetState
from loader.source_check import Reconciled, SourceCheck, settle_chunk, settle_sources
from loader.sources import chunks

if TYPE_CHECKING:
    from config.models import AfterLoad, PrefixConfig
    from loader.deps import Deps


MAX_SETTLES = 3
"""Loads in a row a batch may lose to files changing under it before it waits for a retry."""


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
        return self.error is None and all(t.status == "loaded" for t in self.targets.values())


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


class Processor:
    """Drives one leased batch to `complete` or `error`. Every step is safe to repeat."""

    def __init__(
        self,
        deps: Deps,
        loader: BatchLoader | None,
        notifier: Notifier | None,
        clock: Callable[[], float],
    ) -> None:
        self._deps = deps
        self._loader = loader
        self._notifier = notifier
        self._clock = clock

    def run(self, config: PrefixConfig, batch: Batch, owner: str, deadline: float) -> Batch:
        log = logger
        try:
            settled = False  # the manifest is written from members checked against S3
            if batch.status is BatchStatus.SEALED:
                batch = self._write_manifest(config, batch, owner)
                settled = True
            for _ in range(MAX_SETTLES):
                if batch.status is not BatchStatus.LOADING:
                    break
                try:
                    batch = self._load(config, batch, owner, deadline, settled=settled)
                    break
                except SourcesChanged as exc:  # rolled back: compare again, load again
                    logger.warning(
                        "sources_changed_during_load", batch_id=batch.batch_id, error=str(exc)
                    )
                    settled = False
            else:
                raise RetryableError("the batch's files kept changing during its loads")
        except LeaseLost as exc:
            # Someone took the batch over (our lease expired): they finish it, we stop.
            log.warning("lease_lost", batch_id=batch.batch_id, error=str(exc))
        except RetryableError as exc:
            batch = self._retry_later(
                config, batch, owner, LoadResult(error=str(exc), retryable=True)
            )
        except TerminalError as exc:
            batch = self._fail(config, batch, owner, LoadResult(error=str(exc)))
        return batch

    def _retry_later(
        self, config: PrefixConfig, batch: Batch, owner: str, result: LoadResult
    ) -> Batch:
        """A transient failure: keep the batch leased for a backoff, after which the sweep takes
        it over (one more attempt); report it only once the attempts are used up."""
        if batch.attempts + 1 >= self._deps.settings.max_load_attempts:
            return self._fail(config, batch, owner, result)
        delay = retry_delay(batch.attempts)
        try:
            batch = self._deps.batches.schedule_retry(
                batch.batch_id,
                owner=owner,
                now=self._clock(),
                delay=delay,
                error=result.error or "retryable failure",
            )
        except LoaderError as exc:  # the lease is gone or DynamoDB is down: expiry still works
            logger.warning("retry_not_scheduled", batch_id=batch.batch_id, error=str(exc))
            return batch
        metrics.count("BatchRetriesScheduled")
        logger.warning(
            "batch_retry_scheduled",
            batch_id=batch.batch_id,
            prefix=batch.prefix,
            attempt=batch.attempts + 1,
            retry_in_s=delay,
            error=result.error,
        )
        return batch

    def _write_manifest(self, config: PrefixConfig, batch: Batch, owner: str) -> Batch:
        started = self._clock()
        builder = ManifestBuilder()
        done = Reconciled()
        for chunk in chunks(self._deps.batches.members(batch.batch_id)):
            # Streamed in runs: members are never all held as objects. Each run is compared
            # with S3 first: files overwritten since registration (loader/sources.py).
            for member in settle_chunk(
                self._deps,
                batch.batch_id,
                chunk,
                config.reupload,
                owner=owner,
                now=self._clock(),
                done=done,
            ):
                builder.add(member)
        if done.changed:
            self._count_settled(done)
            fresh = self._deps.batches.get_batch(batch.batch_id)
            assert fresh is not None
            batch = fresh
        if builder.count != batch.file_count:
            # Base-table reads are strongly consistent, so this means a bug or a hand edit.
            raise RetryableError(
                "batch membership does not match its count",
                batch_id=batch.batch_id,
                members=builder.count,
                file_count=batch.file_count,
            )
        key = manifest_key(config.manifest, batch.prefix, batch.batch_id)
        url = self._deps.s3.put_manifest(config.manifest.bucket, key, builder.finish())
        batch = self._deps.batches.transition(
            batch.batch_id,
            owner=owner,
            current=BatchStatus.SEALED,
            wanted=BatchStatus.LOADING,
            now=self._clock(),
            lease_seconds=self._deps.settings.lease_seconds,
            manifest_url=url,
        )
        logger.info(
            "manifest_written",
            batch_id=batch.batch_id,
            prefix=batch.prefix,
            files=builder.count,
            bytes=batch.total_bytes,
            manifest=url,
            duration_ms=round((self._clock() - started) * 1000),
        )
        return batch

    @staticmethod
    def _count_settled(done: Reconciled) -> None:
        if done.superseded:
            metrics.count("FilesSuperseded", done.superseded)
        if done.adopted:
            metrics.count("VersionsAdopted", done.adopted)

    def _settle(self, config: PrefixConfig, batch: Batch, owner: str) -> Batch:
        """Before a later attempt (retry, takeover, reprocess): members overwritten in S3 since
        the manifest was written are superseded or adopted; the manifest is written again."""
        done = settle_sources(
            self._deps, batch.batch_id, config.reupload, owner=owner, now=self._clock()
        )
        if not done.changed:
            return batch
        self._count_settled(done)
        fresh = self._deps.batches.get_batch(batch.batch_id)
        assert fresh is not None and batch.manifest_url is not None
        if fresh.file_count:
            builder = ManifestBuilder()
            for member in self._deps.batches.members(batch.batch_id):
                builder.add(member)
            bucket, key = split_url(batch.manifest_url)
            self._deps.s3.put_manifest(bucket, key, builder.finish())
        return fresh

    def _load(
        self,
        config: PrefixConfig,
        batch: Batch,
        owner: str,
        deadline: float,
        *,
        settled: bool = False,
    ) -> Batch:
        if self._loader is None:
            logger.info("no_loader_configured", batch_id=batch.batch_id)
            return batch
        assert batch.manifest_url is not None
        if not settled:
            batch = self._settle(config, batch, owner)
        if batch.file_count == 0:  # every file was re-uploaded since: each loads on its own
            logger.warning("batch_emptied_by_reuploads", batch_id=batch.batch_id)
            return self._deps.batches.transition(
                batch.batch_id,
                owner=owner,
                current=BatchStatus.LOADING,
                wanted=BatchStatus.COMPLETE,
                now=self._clock(),
                completed_at=self._clock(),
            )
        started = self._clock()
        batches = self._deps.batches
        lease = self._deps.settings.lease_seconds

        def heartbeat() -> None:
            batches.renew_lease(batch.batch_id, owner=owner, now=self._clock(), lease_seconds=lease)

        def record(target: str, state: TargetState) -> None:
            batches.set_target_state(
                batch.batch_id, owner=owner, target=target, state=state, now=self._clock()
            )

        context = LoadContext(
            owner=owner,
            deadline=deadline,
            heartbeat=heartbeat,
            record=record,
            sources=SourceCheck(self._deps, batch.batch_id),
        )
        assert batch.manifest_url is not None  # kept by every update of a loading batch
        result = self._loader.load(config, batch, batch.manifest_url, context)
        duration_ms = round((self._clock() - started) * 1000)
        if result.ok:
            if self._notifier is not None:
                self._notifier.batch_finished(config, batch, result)
            batch = batches.transition(
                batch.batch_id,
                owner=owner,
                current=BatchStatus.LOADING,
                wanted=BatchStatus.COMPLETE,
                now=self._clock(),
                completed_at=self._clock(),
                load_duration_ms=duration_ms,
            )
            logger.info(
                "batch_loaded",
                batch_id=batch.batch_id,
                prefix=batch.prefix,
                files=batch.file_count,
                bytes=batch.total_bytes,
                duration_ms=duration_ms,
            )
            metrics.count("BatchesLoaded")
            metrics.count("FilesLoaded", batch.file_count)
            metrics.milliseconds("LoadDuration", duration_ms)
            if config.after_load is not None:
                self._after_load(config.after_load, batch)
            return batch
        if result.retryable:
            return self._retry_later(config, batch, owner, result)
        return self._fail(config, batch, owner, result)

    def _fail(self, config: PrefixConfig, batch: Batch, owner: str, result: LoadResult) -> Batch:
        """Make the failure visible: `error` on the batch and a failure notice. Neither a failed
        manifest that cannot be copied nor a notice that cannot be sent keeps the batch leased
        (it would be retried, and fail the same way, for ever)."""
        failed_url, copy_error = self._copy_failed_manifest(config, batch)
        if copy_error is not None:
            result = result.model_copy(
                update={"error": f"{result.error or 'load failed'} ({copy_error})"}
            )
        if self._notifier is not None:
            reported = batch.model_copy(update={"failed_manifest_url": failed_url})
            try:
                self._notifier.batch_finished(config, reported, result)
            except LoaderError as exc:
                logger.error("failure_notice_failed", batch_id=batch.batch_id, error=str(exc))
                metrics.count("FailureNoticesFailed")
        metrics.count("BatchesFailed")
        try:
            batch = self._deps.batches.transition(
                batch.batch_id,
                owner=owner,
                current=batch.status,
                wanted=BatchStatus.ERROR,
                now=self._clock(),
                error=result.error or "load failed",
                error_kind="retryable" if result.retryable else "terminal",
                failed_manifest_url=failed_url,
            )
        except LoaderError as exc:
            logger.error("batch_fail_not_recorded", batch_id=batch.batch_id, error=str(exc))
            raise
        logger.error(
            "batch_failed",
            batch_id=batch.batch_id,
            prefix=batch.prefix,
            files=batch.file_count,
            error=result.error,
        )
        return batch

    def _copy_failed_manifest(
        self, config: PrefixConfig, batch: Batch
    ) -> tuple[str | None, str | None]:
        """Copy the manifest under `failed_prefix`, in the bucket it was written to (the
        configuration may have moved since): (its url, None), or (None, why it was not)."""
        if not batch.manifest_url:
            return None, None
        bucket, key = split_url(batch.manifest_url)
        try:
            return self._deps.s3.copy(bucket, key, failed_manifest_key(config.manifest, key)), None
        except LoaderError as exc:
            logger.error("failed_manifest_not_copied", batch_id=batch.batch_id, error=str(exc))
            return None, f"failed manifest not copied: {exc}"

    def _after_load(self, action: AfterLoad, batch: Batch) -> None:
        """Tag, archive or delete the batch's source files. The data is loaded whatever happens
        here, so a failure is logged and counted, never turned into a batch error."""
        s3 = self._deps.s3
        done = failed = 0
        for member in self._deps.batches.members(batch.batch_id):
            try:
                if action.action == "tag":
                    s3.tag(member.url, action.tag_key, action.tag_value)
                elif action.action == "archive":
                    assert action.archive_prefix is not None
                    s3.move(member.url, action.archive_prefix)
                else:
                    s3.delete(member.url)
                done += 1
            except LoaderError as exc:
                failed += 1
                logger.error(
                    "after_load_failed",
                    batch_id=batch.batch_id,
                    url=member.url,
                    action=action.action,
                    error=str(exc),
                )
        logger.info(
            "after_load_done",
            batch_id=batch.batch_id,
            action=action.action,
            files=done,
            failed=failed,
        )
        if failed:
            metrics.count("AfterLoadFailures", failed)
