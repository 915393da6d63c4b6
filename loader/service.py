"""Orchestration: notices in; files registered, batches sealed on time and handed to processing."""

from __future__ import annotations

import functools
import os
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loader import metrics
from loader.decisions import (
    age_due_at,
    lease_expired,
    match_config,
    passes_filter,
    prefix_matches,
    seal_reason,
)
from loader.errors import BatchConflict, ConfigurationError, LoaderError
from loader.events import (
    FlushTimer,
    Ignored,
    Invocation,
    Message,
    ReconcileRequest,
    ReprocessRequest,
    SweepRequest,
)
from loader.log import logger
from loader.models import Batch, BatchStatus, S3Object
from loader.processing import BatchLoader, Notifier, Processor
from loader.sources import Current

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.adapters.config_store import ConfigSet
    from loader.deps import Deps
    from loader.reconcile import ReconcileReport


def new_owner_id(request_id: str | None = None) -> str:
    base = request_id or f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{secrets.token_hex(3)}"


@dataclass
class Result:
    failed_message_ids: list[str] = field(default_factory=list)
    registered: int = 0
    duplicates: int = 0
    skipped: int = 0
    sealed: list[str] = field(default_factory=list)
    failed_batches: list[str] = field(default_factory=list)
    """Batches that this invocation drove to `error` (a direct invocation reports them)."""

    def as_response(self, from_sqs: bool) -> dict[str, Any]:
        if from_sqs:
            return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failed_message_ids]}
        return {
            "registered": self.registered,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "sealed": self.sealed,
            "failed_batches": self.failed_batches,
        }


class LoaderService:
    def __init__(
        self,
        deps: Deps,
        *,
        loader: BatchLoader | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        self._deps = deps
        self._clock = clock
        self._owner = owner or new_owner_id()
        self._processor = Processor(deps, loader, notifier, clock)
        self._failed: list[str] = []

    # --- entry point --------------------------------------------------------------------

    def handle(self, invocation: Invocation, *, deadline: float | None = None) -> Result:
        """Process every message; in an SQS batch a failing message fails alone."""
        deadline = deadline if deadline is not None else self._clock() + 840
        result = Result()
        by_prefix: dict[str, list[tuple[S3Object, str | None]]] = defaultdict(list)
        configs = self._deps.configs.current(self._clock())
        for message in invocation.messages:
            if message.error is not None:
                logger.error("message_rejected", message_id=message.message_id, error=message.error)
                result.failed_message_ids.append(str(message.message_id))
                continue
            for notice in message.notices:
                try:
                    self._route(notice, message.message_id, configs, by_prefix, result, deadline)
                except LoaderError as exc:
                    self._fail_message(message.message_id, exc, result, invocation.from_sqs)
        for prefix, entries in by_prefix.items():
            self._ingest_prefix(configs, prefix, entries, result, invocation.from_sqs, deadline)
        result.failed_message_ids = sorted(set(result.failed_message_ids))
        result.failed_batches = list(self._failed)
        return result

    def _route(
        self,
        notice: object,
        message_id: str | None,
        configs: ConfigSet,
        by_prefix: dict[str, list[tuple[S3Object, str | None]]],
        result: Result,
        deadline: float,
    ) -> None:
        if isinstance(notice, S3Object):
            config = resolve(configs, notice)
            if config is None:
                logger.info("no_configuration", url=notice.url)
                result.skipped += 1
            elif not passes_filter(config, notice.key):
                logger.info("filtered_out", url=notice.url, prefix=config.prefix)
                result.skipped += 1
            else:
                by_prefix[config.prefix].append((notice, message_id))
        elif isinstance(notice, FlushTimer):
            self.on_timer(notice, deadline)
        elif isinstance(notice, SweepRequest):
            self.sweep(deadline)
        elif isinstance(notice, ReconcileRequest):
            self.reconcile(notice, deadline, result)
        elif isinstance(notice, ReprocessRequest):
            self.reprocess_after_failure(notice.batch_id, deadline)
        elif isinstance(notice, Ignored):
            logger.info("event_ignored", reason=notice.reason)

    def _fail_message(
        self, message_id: str | None, exc: LoaderError, result: Result, from_sqs: bool
    ) -> None:
        logger.error(
            "message_failed", message_id=message_id, error=str(exc), retryable=exc.retryable
        )
        if not from_sqs:
            raise exc
        result.failed_message_ids.append(str(message_id))

    # --- registration -------------------------------------------------------------------

    def _current_object(self, url: str) -> Current | None:
        """What S3 holds now for `url` (asked for re-uploads sequencers cannot order)."""
        return self._deps.s3.current_objects([url]).get(url)

    def _ingest_prefix(
        self,
        configs: ConfigSet,
        prefix: str,
        entries: list[tuple[S3Object, str | None]],
        result: Result,
        from_sqs: bool,
        deadline: float,
    ) -> None:
        config = next(c for c in configs.valid if c.prefix == prefix)
        objects = [obj for obj, _ in entries]
        started = self._clock()
        try:
            outcome = self._deps.batches.register(
                prefix, objects, started, config.reupload, current_of=self._current_object
            )
        except LoaderError as exc:
            messages = list(dict.fromkeys(m for _, m in entries))
            if from_sqs and not exc.retryable and len(messages) > 1:
                # One file that can never be registered must not take the others with it:
                # register message by message so only its own message fails.
                for message_id in messages:
                    own = [(o, m) for o, m in entries if m == message_id]
                    self._ingest_prefix(configs, prefix, own, result, from_sqs, deadline)
                return
            for message_id in messages:
                self._fail_message(message_id, exc, result, from_sqs)
            return
        result.registered += len(outcome.registered) + len(outcome.reuploads_registered)
        result.duplicates += len(outcome.duplicates)
        if outcome.reuploads_ignored:
            logger.info(
                "reuploads_ignored",
                prefix=prefix,
                files=len(outcome.reuploads_ignored),
                sample=outcome.reuploads_ignored[:10],
                reason="reupload: ignore keeps the first upload; "
                "`loader-admin file reprocess URL` loads the current one",
            )
        logger.info(
            "files_registered",
            prefix=prefix,
            files=len(outcome.registered),
            duplicates=len(outcome.duplicates),
            reuploads=len(outcome.reuploads_registered),
            reuploads_ignored=len(outcome.reuploads_ignored),
            batch_id=outcome.batch.batch_id if outcome.batch else None,
            duration_ms=round((self._clock() - started) * 1000),
        )
        metrics.count(
            "FilesRegistered", len(outcome.registered) + len(outcome.reuploads_registered)
        )
        if outcome.duplicates:
            metrics.count("DuplicateNotifications", len(outcome.duplicates))
        if outcome.batch is not None:
            try:
                self._consider(config, outcome.batch, deadline, result)
            except LoaderError as exc:
                # Registered, but not sealed or timed: this prefix's messages come back (their
                # files are then duplicates) and sealing is tried again; other prefixes go on.
                for message_id in dict.fromkeys(m for _, m in entries):
                    self._fail_message(message_id, exc, result, from_sqs)

    # --- sealing ------------------------------------------------------------------------

    def _consider(
        self, config: PrefixConfig, batch: Batch, deadline: float, result: Result | None = None
    ) -> None:
        """Seal the batch if a threshold is met; otherwise make sure its age timer is set."""
        if config.paused:
            return
        now = self._clock()
        reason = seal_reason(batch, config.thresholds, now)
        if reason is not None:
            sealed = self.seal_and_process(config, batch, reason, deadline)
            if sealed is not None and result is not None:
                result.sealed.append(sealed.batch_id)
            return
        due = age_due_at(batch, config.thresholds)
        timers = self._deps.timers
        if due is not None and timers is not None and not batch.timer_armed:
            # Send first, then mark: a crash in between re-sends (harmless), never loses it.
            timers.arm(prefix=batch.prefix, batch_id=batch.batch_id, due_at=due, now=now)
            self._deps.batches.mark_timer_armed(batch.batch_id)

    def seal_and_process(
        self, config: PrefixConfig, batch: Batch, reason: str, deadline: float
    ) -> Batch | None:
        lease = self._deps.settings.lease_seconds
        try:
            sealed = self._deps.batches.seal(
                batch.batch_id,
                batch.prefix,
                reason=reason,
                owner=self._owner,
                now=self._clock(),
                lease_seconds=lease,
            )
        except BatchConflict:
            logger.debug("seal_lost", batch_id=batch.batch_id)  # another worker sealed it
            return None
        logger.info(
            "batch_sealed",
            batch_id=sealed.batch_id,
            prefix=sealed.prefix,
            reason=reason,
            files=sealed.file_count,
            bytes=sealed.total_bytes,
        )
        return self._run(config, sealed, deadline)

    def _run(self, config: PrefixConfig, batch: Batch, deadline: float) -> Batch:
        """Drive a batch this worker holds; remember the ones that ended in error."""
        done = self._processor.run(config, batch, self._owner, deadline)
        if done.status is BatchStatus.ERROR:
            self._failed.append(done.batch_id)
        return done

    def retry_failed(self, batch: Batch, deadline: float, **fields: Any) -> Batch:
        """error -> sealed under our lease, then processed again: membership is unchanged and
        each target's ledger skips what it already loaded, so nothing loads twice."""
        config = self._config_for_prefix(batch.prefix)
        if config is None:
            raise ConfigurationError(f"no configuration for prefix {batch.prefix!r}")
        self._omit_moved_members(batch)
        sealed = self._deps.batches.transition(
            batch.batch_id,
            owner=self._owner,
            current=BatchStatus.ERROR,
            wanted=BatchStatus.SEALED,
            now=self._clock(),
            lease_seconds=self._deps.settings.lease_seconds,
            error=None,
            error_kind=None,
            failed_manifest_url=None,
            **fields,
        )
        return self._run(config, sealed, deadline)

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
            raise BatchConflict(
                f"batch {batch.batch_id}: every file was re-uploaded into a later batch; "
                "nothing is left to load (delete the batch)",
                batch_id=batch.batch_id,
            )
        store.omit_members(batch.batch_id, moved, now=self._clock())
        logger.warning(
            "reprocess_omitted_reuploads",
            batch_id=batch.batch_id,
            files=len(moved),
            sample=moved[:10],
            now_in={u: ledger[u].batch_id for u in moved[:10]},
        )

    def reprocess_after_failure(self, batch_id: str, deadline: float) -> Batch | None:
        """The loader's own failure notification, routed back to it by an operator (SNS -> SQS
        or SNS -> Lambda): retry the batch, at most `max_auto_reprocess` times."""
        batch = self._deps.batches.get_batch(batch_id)
        if batch is None or batch.status is not BatchStatus.ERROR:
            return None  # already reprocessed, or never failed
        limit = self._deps.settings.max_auto_reprocess
        if batch.auto_reprocessed >= limit:
            logger.warning("auto_reprocess_exhausted", batch_id=batch_id, limit=limit)
            return None
        logger.info("auto_reprocess", batch_id=batch_id, attempt=batch.auto_reprocessed + 1)
        try:
            return self.retry_failed(batch, deadline, auto_reprocessed=batch.auto_reprocessed + 1)
        except BatchConflict:
            return None  # someone else is reprocessing it

    def on_timer(self, timer: FlushTimer, deadline: float) -> None:
        batch = self._deps.batches.get_batch(timer.batch_id)
        if batch is None or batch.status is not BatchStatus.OPEN:
            return  # already sealed by a threshold, a sweep or an operator
        config = self._config_for_prefix(batch.prefix)
        if config is None or config.paused:
            return
        now = self._clock()
        due = age_due_at(batch, config.thresholds)
        if due is not None and due > now + 1 and self._deps.timers is not None:
            # Not due yet (SQS caps delays at 15 minutes, or the threshold grew): wait again.
            self._deps.timers.arm(prefix=batch.prefix, batch_id=batch.batch_id, due_at=due, now=now)
            return
        self._consider(config, batch, deadline)

    def flush(self, prefix: str, deadline: float) -> Batch | None:
        """Seal a prefix's open batch now, whatever its thresholds (operator request)."""
        config = self._config_for_prefix(prefix)
        if config is None:
            raise ConfigurationError(f"no configuration for prefix {prefix!r}")
        batch = self._deps.batches.open_batch(config.prefix)
        if batch is None or batch.file_count == 0:
            return None
        return self.seal_and_process(config, batch, "flush", deadline)

    # --- the sweep: safety net for timers and crashed workers ------------------------------

    def sweep(self, deadline: float) -> dict[str, int]:
        """Seal overdue batches, re-arm missing timers, and resume batches whose lease expired."""
        counts = {"sealed": 0, "recovered": 0}
        now = self._clock()
        configs = {c.prefix: c for c in self._deps.configs.current(now).valid}
        oldest: dict[str, float] = {}
        for batch in self._deps.batches.batches_by_status(BatchStatus.OPEN):
            config = configs.get(batch.prefix)
            if config is None or batch.file_count == 0:
                continue
            if batch.first_file_at is not None:
                oldest[batch.prefix] = now - batch.first_file_at
            # Per prefix: what is waiting, and for how long (Snowpipe's "pending files").
            metrics.gauge("FilesPending", batch.file_count, prefix=batch.prefix)
            metrics.gauge(
                "OldestPendingFileAgeSeconds",
                oldest.get(batch.prefix, 0.0),
                unit="Seconds",
                prefix=batch.prefix,
            )
            if seal_reason(batch, config.thresholds, self._clock()) is not None:
                counts["sealed"] += 1
            self._isolated(batch, functools.partial(self._consider, config, batch, deadline))
        for status in (BatchStatus.SEALED, BatchStatus.LOADING):
            for batch in self._deps.batches.batches_by_status(status):
                if lease_expired(batch, self._clock()) and self._isolated(
                    batch, functools.partial(self._recover, batch, configs, deadline)
                ):
                    counts["recovered"] += 1
        # The template's alarm watches this one (dimension: service only).
        metrics.gauge(
            "OldestOpenBatchAgeSeconds", max(oldest.values(), default=0.0), unit="Seconds"
        )
        # Once a minute in Lambda, every few seconds locally: a sweep that did nothing is debug.
        log = logger.info if counts["sealed"] or counts["recovered"] else logger.debug
        log(
            "sweep_done",
            sealed=counts["sealed"],
            recovered=counts["recovered"],
            oldest_open_batch_age_s=round(max(oldest.values(), default=0.0), 1),
        )
        return counts

    def _isolated(self, batch: Batch, step: Callable[[], bool | None]) -> bool:
        """One batch's trouble is logged and left to the next sweep: it never stops the sweep
        from reaching the batches after it."""
        try:
            return bool(step())
        except LoaderError as exc:
            logger.error(
                "sweep_batch_failed",
                batch_id=batch.batch_id,
                prefix=batch.prefix,
                error=str(exc),
                retryable=exc.retryable,
            )
            metrics.count("SweepBatchFailures")
            return False

    def _recover(self, batch: Batch, configs: dict[str, PrefixConfig], deadline: float) -> bool:
        config = configs.get(batch.prefix)
        if config is None:
            logger.error("orphan_batch", batch_id=batch.batch_id, prefix=batch.prefix)
            return False
        try:
            taken = self._deps.batches.take_over(
                batch.batch_id,
                owner=self._owner,
                now=self._clock(),
                lease_seconds=self._deps.settings.lease_seconds,
            )
        except BatchConflict:
            return False
        logger.warning(
            "lease_recovered",
            batch_id=batch.batch_id,
            prefix=batch.prefix,
            previous_owner=batch.lease.owner if batch.lease else None,
            status=taken.status.value,
        )
        self._run(config, taken, deadline)
        return True

    def _config_for_prefix(self, prefix: str) -> PrefixConfig | None:
        return next(
            (c for c in self._deps.configs.current(self._clock()).valid if c.prefix == prefix),
            None,
        )

    # --- reconciliation: files whose notifications never arrived ----------------------------

    def reconcile(
        self, request: ReconcileRequest, deadline: float, result: Result | None = None
    ) -> ReconcileReport:
        """List configured prefixes in S3 (objects modified within the look-back window) and
        register what the ledger lacks through `handle`, as if S3 had announced it."""
        from loader.reconcile import reconcile

        def register(objects: Iterable[S3Object]) -> Result:
            message = Message(message_id=None, notices=list(objects))
            return self.handle(Invocation(from_sqs=False, messages=[message]), deadline=deadline)

        report = reconcile(
            self._deps,
            register,
            now=self._clock(),
            lookback_seconds=request.lookback_seconds
            or self._deps.settings.reconcile_lookback_seconds,
            prefix=request.prefix,
            deadline=deadline,
            clock=self._clock,
        )
        if result is not None:
            result.registered += report.registered
            result.duplicates += report.duplicates
            result.sealed += report.sealed
        return report


def resolve(configs: ConfigSet, obj: S3Object) -> PrefixConfig | None:
    """The configuration for an object; an invalid configuration that would match is an error,
    not a silent skip (its files would otherwise be lost)."""
    config = match_config(configs.valid, obj)
    matched_len = len(config.prefix.split("/")) if config else 0
    for prefix, reason in configs.invalid.items():
        if prefix_matches(prefix, obj.path) and len(prefix.split("/")) >= matched_len:
            raise ConfigurationError(
                f"configuration for {prefix!r} is invalid: {reason}", prefix=prefix
            )
    return config


def objects_only(notices: Iterable[object]) -> list[S3Object]:
    return [n for n in notices if isinstance(n, S3Object)]
