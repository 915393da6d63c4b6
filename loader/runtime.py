"""The handler's edge: one service per warm container, request id bound, errors reported once."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from loader import metrics
from loader.deps import Deps
from loader.errors import LoaderError, MalformedEventError
from loader.events import parse_event
from loader.log import logger
from loader.service import LoaderService, new_owner_id
from loader.settings import Settings

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.models import Batch
    from loader.ports import BatchLoader, LoadContext, LoadResult, Notifier

_deps: Deps | None = None


def deps() -> Deps:
    global _deps  # noqa: PLW0603 - built once per cold start, on first use
    if _deps is None:
        _deps = Deps(Settings.from_env())
    return _deps


def reset() -> None:
    """Forget the cached clients and settings (tests change the environment between cases)."""
    global _deps  # noqa: PLW0603
    _deps = None


class _OnFirstBatch:
    """The loader and the notifier, built when a batch of this invocation first needs them: an
    invocation that only registers files never imports the loading and notify modules (a cold
    start pays them only when it seals)."""

    def __init__(self, d: Deps) -> None:
        self._deps = d

    @cached_property
    def _loader(self) -> BatchLoader:
        from loader.loading import build_loader

        loader = build_loader(self._deps)
        assert loader is not None  # the Lambda's build always has the targets
        return loader

    @cached_property
    def _notifier(self) -> Notifier:
        from loader.notify import build_notifier

        return build_notifier(self._deps)

    def load(
        self, config: PrefixConfig, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult:
        return self._loader.load(config, batch, manifest_url, context)

    def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None:
        self._notifier.batch_finished(config, batch, result)


def build_service(d: Deps, request_id: str | None = None) -> LoaderService:
    parts = _OnFirstBatch(d)
    return LoaderService(d, loader=parts, notifier=parts, owner=new_owner_id(request_id))


def _deadline(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        # Keep a margin to record the outcome after the last statement.
        return time.time() + max(remaining() / 1000 - 20, 5)
    return time.time() + 840


def handle(event: Any, context: Any) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    logger.append_keys(request_id=request_id)
    try:
        invocation = parse_event(event)
    except MalformedEventError as exc:
        logger.error("event_rejected", error=str(exc))
        raise
    service = build_service(deps(), request_id)
    try:
        result = service.handle(invocation, deadline=_deadline(context))
    finally:
        metrics.flush()
    if result.failed_batches and not invocation.from_sqs:
        _report_failed_batches(deps(), result.failed_batches)
    if result.failed_message_ids:
        logger.warning(
            "partial_batch_failure",
            failed=len(result.failed_message_ids),
            total=len(invocation.messages),
        )
    return result.as_response(invocation.from_sqs)


class BatchLoadError(LoaderError):
    """A direct invocation loaded a batch that failed (the original loader's behaviour)."""


def _report_failed_batches(d: Deps, batch_ids: list[str]) -> None:
    """Fail a direct invocation whose batch failed, so Lambda's error metrics and destinations
    see it; `SuppressFailureStatusOnSuccessfulNotification=true` keeps it successful when a
    failure topic was told (compatibility with the original loader). SQS invocations never fail
    for a load failure: their files are registered, and the batch is visible in `error`."""
    configs = {c.prefix: c for c in d.configs.current(time.time()).valid}

    def notified(batch_id: str) -> bool:
        batch = d.batches.get_batch(batch_id)
        config = configs.get(batch.prefix) if batch else None
        topic = config.notifications.failure_topic_arn if config else None
        return bool(topic or d.settings.default_failure_topic_arn)

    if d.settings.suppress_failure_status and all(notified(b) for b in batch_ids):
        logger.info("failure_status_suppressed", batches=batch_ids)
        return
    raise BatchLoadError(f"batch load failed: {', '.join(batch_ids)}", batches=batch_ids)
