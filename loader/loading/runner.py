"""The BatchLoader: a batch's targets, one after the other, each exactly once.

For each target of the configuration, in order:
- a target the batch already records as loaded (an earlier invocation) is skipped;
- otherwise attempts run until one succeeds, the error is terminal, the attempts are used up or
  the time is: before each attempt the lease is renewed (`context.heartbeat()`, which raises
  LeaseLostError if another worker took the batch) and the attempt gets a statement timeout from the
  time left (timing.py); transient errors wait a jittered, growing interval first;
- the target's state is recorded on the batch (`context.record`).

Sequential on purpose: one connection at a time, and Redshift commits queue anyway.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from loader import metrics
from loader.errors import LeaseLostError, LoaderError, RetryableError, SourcesChangedError
from loader.loading import outcome
from loader.loading.job import Loaded, TargetAdapter, TargetJob
from loader.loading.timing import (
    MIN_LOAD_SECONDS,
    SAFETY_SECONDS,
    attempt_budget,
    statement_timeout_ms,
)
from loader.log import logger
from loader.manifest import manifest_urls
from loader.models import TargetStatus

if TYPE_CHECKING:
    from tenacity import RetryCallState
    from tenacity.stop import stop_base

    from config.models import PrefixConfig
    from config.targets import Target
    from loader.deps import Deps
    from loader.loading.credentials import Credentials
    from loader.models import Batch
    from loader.ports import LoadContext, LoadResult

MAX_BACKOFF_SECONDS = 20.0


def make_adapter(kind: str, deps: Deps, credentials: Credentials) -> TargetAdapter:
    """The adapter for a target type; its module (and psycopg2) is imported on first use."""
    if kind == "redshift":
        from loader.loading.targets.redshift import RedshiftAdapter

        return RedshiftAdapter(
            credentials, ca_bundle=deps.settings.redshift_ca_bundle, s3=lambda: deps.s3
        )
    if kind == "data_api":
        from loader.loading.targets.data_api import DataApiAdapter

        return DataApiAdapter(deps.data_api, credentials, s3=lambda: deps.s3)
    if kind == "postgres":
        from loader.loading.targets.postgres import PostgresAdapter

        return PostgresAdapter(credentials, deps.s3)
    raise ValueError(f"no adapter for target type {kind!r}")


class TargetsLoader:
    """`BatchLoader` for every target kind. Built once per container; adapters lazily."""

    def __init__(
        self,
        deps: Deps,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        adapters: dict[str, TargetAdapter] | None = None,
    ) -> None:
        from loader.loading.credentials import Credentials

        self._deps = deps
        self._clock = clock
        self._sleep = sleep
        self._credentials = Credentials(deps)
        self._adapters: dict[str, TargetAdapter] = dict(adapters or {})

    def load(
        self, config: PrefixConfig, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult:
        started = self._clock()
        outcomes = []
        entries = self._manifest_entries(manifest_url)
        for target in config.targets:
            prior = batch.targets.get(target.name)
            if prior is not None and prior.status is TargetStatus.LOADED:
                logger.info(
                    "target_skipped",
                    batch_id=batch.batch_id,
                    target=target.name,
                    reason="loaded by an earlier attempt",
                )
                outcomes.append(outcome.TargetOutcome(target.name, prior))
                continue
            done = self._load_target(config, target, batch, manifest_url, context, entries)
            context.record(target.name, done.state)
            outcomes.append(done)
        duration_ms = round((self._clock() - started) * 1000)
        return outcome.load_result(outcomes, duration_ms=duration_ms)

    def _load_target(
        self,
        config: PrefixConfig,
        target: Target,
        batch: Batch,
        manifest_url: str,
        context: LoadContext,
        entries: Callable[[], tuple[str, ...]],
    ) -> outcome.TargetOutcome:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_any
        from tenacity import wait_random_exponential as jittered

        previous = batch.targets.get(target.name)
        attempts = previous.attempts if previous else 0
        started = self._clock()
        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, LoaderError) and exc.retryable),
            wait=jittered(multiplier=1, max=MAX_BACKOFF_SECONDS),
            stop=stop_any(
                stop_after_attempt(self._deps.settings.target_attempts),
                # tenacity calls any callable; the cast only satisfies its annotations
                cast("stop_base", _StopBefore(context.deadline, self._clock)),
            ),
            sleep=self._sleep,
            before_sleep=_log_retry(batch.batch_id, target.name),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    loaded = self._attempt(config, target, batch, manifest_url, context, entries)
        except (LeaseLostError, SourcesChangedError):
            # LeaseLostError: the lifecycle stops, the new lease holder finishes the batch.
            # SourcesChangedError: the lifecycle compares the files with S3 again, then reloads.
            raise
        except LoaderError as exc:
            logger.error(
                "target_failed",
                batch_id=batch.batch_id,
                target=target.name,
                error=str(exc),
                retryable=exc.retryable,
                attempts=attempts,
            )
            return outcome.failed(
                target.name,
                exc,
                attempts=attempts,
                error_rows=exc.error_rows,
                schema_drift=exc.schema_drift,
            )
        logger.info(
            "target_already_loaded" if loaded.already_loaded else "target_loaded",
            batch_id=batch.batch_id,
            target=target.name,
            rows=loaded.rows,
            attempts=attempts,
            duration_ms=round((self._clock() - started) * 1000),
        )
        return outcome.loaded(
            target.name, loaded.rows, attempts=attempts, now=self._clock(), warning=loaded.warning
        )

    def _attempt(
        self,
        config: PrefixConfig,
        target: Target,
        batch: Batch,
        manifest_url: str,
        context: LoadContext,
        entries: Callable[[], tuple[str, ...]],
    ) -> Loaded:
        context.heartbeat()
        now = self._clock()
        budget = attempt_budget(
            now=now,
            deadline=context.deadline,
            renewed_at=now,
            lease_seconds=self._deps.settings.lease_seconds,
        )
        timeout_ms = statement_timeout_ms(budget, target.statement_timeout_seconds)
        if timeout_ms is None:
            raise RetryableError(
                f"target {target.name}: {budget:.0f} s left, too little to start a load",
                target=target.name,
            )
        job = TargetJob(
            config=config,
            target=target,
            batch=batch,
            manifest_url=manifest_url,
            now=now,
            budget_seconds=budget,
            timeout_ms=timeout_ms,
            heartbeat=context.heartbeat,
            manifest_entries=entries,
            sources=context.sources,
        )
        return self._adapter(target.type).load(job)

    def _manifest_entries(self, manifest_url: str) -> Callable[[], tuple[str, ...]]:
        """The manifest's URLs, read once per batch on first use (a failed read is retried)."""

        @functools.cache
        def read() -> tuple[str, ...]:
            return tuple(manifest_urls(self._deps.s3.read(manifest_url)))

        return read

    def _adapter(self, kind: str) -> TargetAdapter:
        if kind not in self._adapters:
            self._adapters[kind] = make_adapter(kind, self._deps, self._credentials)
        return self._adapters[kind]


class _StopBefore:
    """Stop retrying when the next attempt could not start in time after its wait."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock

    def __call__(self, state: RetryCallState) -> bool:
        starts_at = self._clock() + state.upcoming_sleep
        return starts_at + MIN_LOAD_SECONDS + SAFETY_SECONDS > self._deadline


def _log_retry(batch_id: str, target: str) -> Callable[[RetryCallState], None]:
    def log(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        metrics.count("TargetRetries")
        logger.warning(
            "target_retry",
            batch_id=batch_id,
            target=target,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 2),
            error=str(error),
        )

    return log
