r"""The post-seal lifecycle of a batch, under its lease: manifest, load, outcome, and the ways back
in after a failure (reprocess a failed batch, resume one whose holder stopped).

    sealed --write_manifest--> loading --load--> complete   (notified)
                                   |      \--> error       (failed manifest copied, notified)
                                   \--retryable--> loading, leased for a backoff: the sweep
                                                   resumes it (takes the expired lease over)
    error --reprocess--> sealed (new lease) --> ...

Every step is safe to repeat: the membership is fixed, the manifest key derives from the batch
id, and each target's own ledger skips a batch it already committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loader import metrics
from loader.adapters.s3_store import split_url
from loader.decisions import retry_delay
from loader.errors import (
    BatchConflictError,
    LeaseLostError,
    LoaderError,
    RetryableError,
    SourcesChangedError,
    TerminalError,
)
from loader.log import logger
from loader.manifest import failed_manifest_url
from loader.models import Batch, BatchStatus, ErrorKind, TargetState
from loader.ports import LoadContext, LoadResult
from loader.preparation import settle, write_manifest
from loader.source_check import BatchSources

if TYPE_CHECKING:
    from config.models import AfterLoad, PrefixConfig
    from loader.deps import Deps
    from loader.ports import BatchLoader, Notifier


MAX_SETTLES = 3
"""Loads in a row a batch may lose to files changing under it before it waits for a retry."""


class BatchLifecycle:
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
        """Drive a batch `owner` holds (sealed or loading) as far as it goes."""
        try:
            settled = False  # the manifest is written from members checked against S3
            if batch.status is BatchStatus.SEALED:
                batch = write_manifest(self._deps, config, batch, owner, self._clock)
                settled = True
            for _ in range(MAX_SETTLES):
                if batch.status is not BatchStatus.LOADING:
                    break
                try:
                    batch = self._load(config, batch, owner, deadline, settled=settled)
                    break
                except SourcesChangedError as exc:  # rolled back: compare again, load again
                    logger.warning(
                        "sources_changed_during_load", batch_id=batch.batch_id, error=str(exc)
                    )
                    settled = False
            else:
                raise RetryableError("the batch's files kept changing during its loads")
        except LeaseLostError as exc:
            # Someone took the batch over (our lease expired): they finish it, we stop.
            logger.warning("lease_lost", batch_id=batch.batch_id, error=str(exc))
        except RetryableError as exc:
            batch = self._retry_later(
                config, batch, owner, LoadResult(error=str(exc), retryable=True)
            )
        except TerminalError as exc:
            batch = self._fail(config, batch, owner, LoadResult(error=str(exc)))
        return batch

    def reprocess(
        self, config: PrefixConfig, batch: Batch, owner: str, deadline: float, **fields: Any
    ) -> Batch:
        """error -> sealed under `owner`'s lease, then run again: membership is unchanged and
        each target's ledger skips what it already loaded, so nothing loads twice."""
        self._omit_moved_members(batch)
        sealed = self._deps.batches.transition(
            batch.batch_id,
            owner=owner,
            current=BatchStatus.ERROR,
            wanted=BatchStatus.SEALED,
            now=self._clock(),
            lease_seconds=self._deps.settings.lease_seconds,
            error=None,
            error_kind=None,
            failed_manifest_url=None,
            **fields,
        )
        return self.run(config, sealed, owner, deadline)

    def resume(self, config: PrefixConfig, batch: Batch, owner: str, deadline: float) -> Batch:
        """Take over the expired lease of a sealed or loading batch, then run it."""
        return self.run(config, self.take_over(batch, owner), owner, deadline)

    def take_over(self, batch: Batch, owner: str) -> Batch:
        """The expired lease of a sealed or loading batch, now `owner`'s. Raises LeaseLostError
        while its holder's lease is live (or when someone else took it first)."""
        taken = self._deps.batches.take_over(
            batch.batch_id,
            owner=owner,
            now=self._clock(),
            lease_seconds=self._deps.settings.lease_seconds,
        )
        logger.warning(
            "lease_recovered",
            batch_id=batch.batch_id,
            prefix=batch.prefix,
            previous_owner=batch.lease.owner if batch.lease else None,
            status=taken.status.value,
        )
        return taken

    def _omit_moved_members(self, batch: Batch) -> None:
        """Files the ledger has since assigned to a later batch (a re-upload registered under
        `reupload: reload`, e.g. the fixed file) load there: reprocessing this batch must not
        load them a second time, so they leave it first (as `--omit` would)."""
        store = self._deps.batches
        members = [m.url for m in store.members(batch.batch_id)]
        ledger = store.known_files(members)
        moved = [u for u in members if u in ledger and ledger[u].batch_id != batch.batch_id]
        if not moved:
            return
        if len(moved) == len(members):
            raise BatchConflictError(
                f"batch {batch.batch_id}: every file was re-uploaded into a later batch; "
                "nothing is left to load (delete the batch)",
                batch_id=batch.batch_id,
            )
        self._deps.members.omit_members(batch.batch_id, moved, now=self._clock())
        logger.warning(
            "reprocess_omitted_reuploads",
            batch_id=batch.batch_id,
            files=len(moved),
            sample=moved[:10],
            now_in={u: ledger[u].batch_id for u in moved[:10]},
        )

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
            batch = settle(self._deps, config, batch, owner, self._clock())
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
            sources=BatchSources(self._deps, batch.batch_id),
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
                error_kind=ErrorKind.RETRYABLE if result.retryable else ErrorKind.TERMINAL,
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
        failed_url = failed_manifest_url(config.manifest, batch.manifest_url)
        if batch.manifest_url is None or failed_url is None:
            return None, None
        bucket, key = split_url(batch.manifest_url)
        try:
            return self._deps.s3.copy(bucket, key, split_url(failed_url)[1]), None
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
