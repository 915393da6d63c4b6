"""Orchestration: notices in; files registered, batches sealed on time and handed to their
lifecycle (loader/lifecycle.py); timers, the sweep, reconciliation and reprocess requests."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loader import metrics
from loader.decisions import SealWatch, passes_filter, resolve
from loader.errors import BatchConflictError, ConfigurationError, LoaderError
from loader.events import (
    FlushTimer,
    Ignored,
    Invocation,
    Message,
    ReconcileRequest,
    ReprocessRequest,
    SweepRequest,
)
from loader.lifecycle import BatchLifecycle
from loader.log import logger
from loader.models import Batch, BatchStatus, RegistrationOutcome, S3Object, SealReason
from loader.reconcile import ReconcileReport, reconcile
from loader.registration import Arrivals, Registration
from loader.sealing import Sealer, configured
from loader.sources import Current

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.deps import Deps
    from loader.models import ConfigSet
    from loader.ports import BatchLoader, Notifier


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
        self.deps = deps
        self.clock = clock
        self.owner = owner or new_owner_id()
        self.registration = Registration(deps.batches, deps.ledger)
        self._lifecycle = BatchLifecycle(deps, loader, notifier, clock)
        self.sealer = Sealer(deps, self._lifecycle, self._run, clock=clock, owner=self.owner)
        self._failed: list[str] = []

    # --- entry point --------------------------------------------------------------------

    def handle(self, invocation: Invocation, *, deadline: float | None = None) -> Result:
        """Process every message; in an SQS batch a failing message fails alone."""
        deadline = deadline if deadline is not None else self.clock() + 840
        result = Result()
        by_prefix: dict[str, list[tuple[S3Object, str | None]]] = defaultdict(list)
        configs = self.deps.configs.current(self.clock())
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
        started = self.clock()
        registered = self._register_all(configs, by_prefix, started)
        for prefix, entries in by_prefix.items():
            self._ingest_prefix(
                configs,
                prefix,
                entries,
                result,
                invocation.from_sqs,
                deadline,
                done=(started, registered[prefix]),
            )
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
        return self.deps.s3.current_objects([url]).get(url)

    def _arrivals(self, config: PrefixConfig, objects: list[S3Object]) -> Arrivals:
        # Without a flush queue no age timer is sent, so none is required for headroom.
        timed = bool(self.deps.settings.flush_queue_url)
        watch = SealWatch(config.thresholds, paused=config.paused, timed=timed)
        return Arrivals(config.prefix, objects, config.reupload, watch)

    def _register_all(
        self,
        configs: ConfigSet,
        by_prefix: dict[str, list[tuple[S3Object, str | None]]],
        now: float,
    ) -> dict[str, RegistrationOutcome | LoaderError]:
        """Every prefix's files at once: few transactions, one read (loader/registration.py)."""
        arrivals = [
            self._arrivals(
                next(c for c in configs.valid if c.prefix == prefix), [o for o, _ in entries]
            )
            for prefix, entries in by_prefix.items()
        ]
        done = self.registration.register_all(arrivals, now, current_of=self._current_object)
        return dict(zip(by_prefix, done, strict=True))

    def _ingest_prefix(
        self,
        configs: ConfigSet,
        prefix: str,
        entries: list[tuple[S3Object, str | None]],
        result: Result,
        from_sqs: bool,
        deadline: float,
        done: tuple[float, RegistrationOutcome | LoaderError] | None = None,
    ) -> None:
        """Report one prefix's registration (`done`: when it started, and its outcome; else it
        registers alone now) and decide whether its batch is due."""
        config = next(c for c in configs.valid if c.prefix == prefix)
        if done is None:
            now = self.clock()
            arrivals = [self._arrivals(config, [obj for obj, _ in entries])]
            done = now, self.registration.register_all(arrivals, now, self._current_object)[0]
        started, outcome = done
        if isinstance(outcome, LoaderError):
            messages = list(dict.fromkeys(m for _, m in entries))
            if from_sqs and not outcome.retryable and len(messages) > 1:
                # One file that can never be registered must not take the others with it:
                # register message by message so only its own message fails.
                for message_id in messages:
                    own = [(o, m) for o, m in entries if m == message_id]
                    self._ingest_prefix(configs, prefix, own, result, from_sqs, deadline)
                return
            for message_id in messages:
                self._fail_message(message_id, outcome, result, from_sqs)
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
            batch_id=outcome.batch_id,
            duration_ms=round((self.clock() - started) * 1000),
        )
        metrics.count(
            "FilesRegistered", len(outcome.registered) + len(outcome.reuploads_registered)
        )
        if outcome.duplicates:
            metrics.count("DuplicateNotifications", len(outcome.duplicates))
        if outcome.batch is not None:
            try:
                sealed = self.sealer.consider(config, outcome.batch, deadline)
            except LoaderError as exc:
                # Registered, but not sealed or timed: this prefix's messages come back (their
                # files are then duplicates) and sealing is tried again; other prefixes go on.
                for message_id in dict.fromkeys(m for _, m in entries):
                    self._fail_message(message_id, exc, result, from_sqs)
                return
            if sealed is not None:
                result.sealed.append(sealed.batch_id)

    # --- sealing (loader/sealing.py) and the lifecycle (loader/lifecycle.py) -------------------

    def seal_and_process(
        self, config: PrefixConfig, batch: Batch, reason: SealReason, deadline: float
    ) -> Batch | None:
        return self.sealer.seal_and_process(config, batch, reason, deadline)

    def on_timer(self, timer: FlushTimer, deadline: float) -> None:
        self.sealer.on_timer(timer, deadline)

    def flush(self, prefix: str, deadline: float) -> Batch | None:
        """Seal a prefix's open batch now, whatever its thresholds (operator request)."""
        return self.sealer.flush(prefix, deadline)

    def sweep(self, deadline: float) -> dict[str, int]:
        """Seal overdue batches, re-arm missing timers, and resume batches whose lease expired."""
        return self.sealer.sweep(deadline)

    def _run(self, config: PrefixConfig, batch: Batch, deadline: float) -> Batch:
        """Drive a batch this worker holds through its lifecycle."""
        return self._remember(self._lifecycle.run(config, batch, self.owner, deadline))

    def _remember(self, done: Batch) -> Batch:
        """Batches that ended in error are reported by a direct invocation."""
        if done.status is BatchStatus.ERROR:
            self._failed.append(done.batch_id)
        return done

    def retry_failed(self, batch: Batch, deadline: float, **fields: Any) -> Batch:
        """Reprocess a failed batch under this service's lease (loader/lifecycle.py)."""
        config = configured(self.deps, batch.prefix, self.clock())
        if config is None:
            raise ConfigurationError(f"no configuration for prefix {batch.prefix!r}")
        return self._remember(
            self._lifecycle.reprocess(config, batch, self.owner, deadline, **fields)
        )

    def resume(self, batch: Batch, deadline: float, *, config: PrefixConfig | None = None) -> Batch:
        """Take over a sealed or loading batch whose lease expired, and drive it to the end."""
        config = config or configured(self.deps, batch.prefix, self.clock())
        if config is None:
            raise ConfigurationError(f"no configuration for prefix {batch.prefix!r}")
        return self._remember(self._lifecycle.resume(config, batch, self.owner, deadline))

    def reprocess_after_failure(self, batch_id: str, deadline: float) -> Batch | None:
        """The loader's own failure notification, routed back to it by an operator (SNS -> SQS
        or SNS -> Lambda): retry the batch, at most `max_auto_reprocess` times."""
        batch = self.deps.batches.get_batch(batch_id)
        if batch is None or batch.status is not BatchStatus.ERROR:
            return None  # already reprocessed, or never failed
        limit = self.deps.settings.max_auto_reprocess
        if batch.auto_reprocessed >= limit:
            logger.warning("auto_reprocess_exhausted", batch_id=batch_id, limit=limit)
            return None
        logger.info("auto_reprocess", batch_id=batch_id, attempt=batch.auto_reprocessed + 1)
        try:
            return self.retry_failed(batch, deadline, auto_reprocessed=batch.auto_reprocessed + 1)
        except BatchConflictError:
            return None  # someone else is reprocessing it

    # --- reconciliation: files whose notifications never arrived ----------------------------

    def reconcile(
        self, request: ReconcileRequest, deadline: float, result: Result | None = None
    ) -> ReconcileReport:
        """List configured prefixes in S3 (objects modified within the look-back window) and
        register what the ledger lacks through `handle`, as if S3 had announced it."""

        def register(objects: Iterable[S3Object]) -> Result:
            message = Message(message_id=None, notices=list(objects))
            return self.handle(Invocation(from_sqs=False, messages=[message]), deadline=deadline)

        report = reconcile(
            self.deps,
            register,
            now=self.clock(),
            lookback_seconds=request.lookback_seconds
            or self.deps.settings.reconcile_lookback_seconds,
            prefix=request.prefix,
            deadline=deadline,
            clock=self.clock,
        )
        if result is not None:
            result.registered += report.registered
            result.duplicates += report.duplicates
            result.sealed += report.sealed
        return report
