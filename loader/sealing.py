"""Open batches sealed on time, and leased batches whose holder stopped taken over.

A batch is sealed when a threshold is met (`decisions.seal_reason`) by the worker that added the
file, by its flush timer (a delayed SQS message armed at its first file: the age threshold with
no new files), by the sweep (every minute: the safety net for lost timers), or by an operator's
flush. Exactly one sealer wins (the seal's condition); the winner holds the batch's lease and
hands it to `run` (the lifecycle). The sweep also takes over leased batches whose lease expired
(their holder crashed or timed out) and hands them to `run` again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from loader import metrics
from loader.decisions import age_due_at, lease_expired, seal_reason, timer_delay
from loader.errors import BatchConflictError, ConfigurationError, LoaderError
from loader.log import logger
from loader.models import Batch, BatchStatus, SealReason
from loader.transitions import LEASED

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.deps import Deps
    from loader.events import FlushTimer
    from loader.lifecycle import BatchLifecycle

Run = Callable[["PrefixConfig", Batch, float], Batch]
"""Drives a batch this worker holds to its end (the service's lifecycle run)."""


def configured(deps: Deps, prefix: str, now: float) -> PrefixConfig | None:
    """The valid configuration of exactly this prefix, as currently stored."""
    return next((c for c in deps.configs.current(now).valid if c.prefix == prefix), None)


class Sealer:
    def __init__(
        self,
        deps: Deps,
        lifecycle: BatchLifecycle,
        run: Run,
        *,
        clock: Callable[[], float],
        owner: str,
    ) -> None:
        self._deps = deps
        self._lifecycle = lifecycle
        self._run = run
        self._clock = clock
        self._owner = owner

    def consider(self, config: PrefixConfig, batch: Batch, deadline: float) -> Batch | None:
        """Seal the batch if a threshold is met (returns it as its lifecycle left it);
        otherwise make sure its age timer is set."""
        if config.paused:
            return None
        now = self._clock()
        reason = seal_reason(batch, config.thresholds, now)
        if reason is not None:
            return self.seal_and_process(config, batch, reason, deadline)
        due = age_due_at(batch, config.thresholds)
        timers = self._deps.timers
        if due is not None and timers is not None and not batch.timer_armed:
            # Send first, then mark: a crash in between re-sends (harmless), never loses it.
            delay = timer_delay(due, now)
            timers.arm(prefix=batch.prefix, batch_id=batch.batch_id, due_at=due, delay=delay)
            self._deps.batches.mark_timer_armed(batch.batch_id)
        return None

    def seal_and_process(
        self, config: PrefixConfig, batch: Batch, reason: SealReason, deadline: float
    ) -> Batch | None:
        """open -> sealed under this worker's lease, then the lifecycle; None if another
        worker sealed it first."""
        try:
            sealed = self._deps.batches.seal(
                batch.batch_id,
                batch.prefix,
                reason=reason,
                owner=self._owner,
                now=self._clock(),
                lease_seconds=self._deps.settings.lease_seconds,
            )
        except BatchConflictError:
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

    def on_timer(self, timer: FlushTimer, deadline: float) -> None:
        """A batch's flush timer fired: seal it if due, else wait again."""
        batch = self._deps.batches.get_batch(timer.batch_id)
        if batch is None or batch.status is not BatchStatus.OPEN:
            return  # already sealed by a threshold, a sweep or an operator
        config = configured(self._deps, batch.prefix, self._clock())
        if config is None or config.paused:
            return
        now = self._clock()
        due = age_due_at(batch, config.thresholds)
        timers = self._deps.timers
        if due is not None and due > now + 1 and timers is not None:
            # Not due yet (SQS caps delays at 15 minutes, or the threshold grew): wait again.
            delay = timer_delay(due, now)
            timers.arm(prefix=batch.prefix, batch_id=batch.batch_id, due_at=due, delay=delay)
            return
        self.consider(config, batch, deadline)

    def flush(self, prefix: str, deadline: float) -> Batch | None:
        """Seal a prefix's open batch now, whatever its thresholds (operator request)."""
        config = configured(self._deps, prefix, self._clock())
        if config is None:
            raise ConfigurationError(f"no configuration for prefix {prefix!r}")
        batch = self._deps.batches.open_batch(config.prefix)
        if batch is None or batch.file_count == 0:
            return None
        return self.seal_and_process(config, batch, SealReason.FLUSH, deadline)

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
            self._isolated(batch, functools.partial(self.consider, config, batch, deadline))
        for status in sorted(LEASED, key=list(BatchStatus).index):
            for batch in self._deps.batches.batches_by_status(status):
                if lease_expired(batch, self._clock()) and self._isolated(
                    batch, functools.partial(self._recover, batch, configs, deadline)
                ):
                    counts["recovered"] += 1
        # The template's alarm watches this one (dimension: service only).
        oldest_age = max(oldest.values(), default=0.0)
        metrics.gauge("OldestOpenBatchAgeSeconds", oldest_age, unit="Seconds")
        # Once a minute in Lambda, every few seconds locally: a sweep that did nothing is debug.
        log = logger.info if counts["sealed"] or counts["recovered"] else logger.debug
        log(
            "sweep_done",
            sealed=counts["sealed"],
            recovered=counts["recovered"],
            oldest_open_batch_age_s=round(oldest_age, 1),
        )
        return counts

    def _isolated(self, batch: Batch, step: Callable[[], object]) -> bool:
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
            taken = self._lifecycle.take_over(batch, self._owner)
        except BatchConflictError:
            return False
        self._run(config, taken, deadline)
        return True
