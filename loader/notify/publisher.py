"""The outcome publisher: one document per finished batch (message.py), sent on every channel.

- SNS: the prefix's topic for the outcome, else the loader-wide default; none, nothing sent.
  Published with `MessageStructure="json"` (the document for machines, a text for email).
- EventBridge (when the loader has an event bus): source `s3-redshift-loader`, detail-type
  `Batch Loaded` or `Batch Failed`, detail = the same document, so rules can route outcomes
  anywhere (Step Functions, Lambda, SQS, another account's bus, ...).

A channel that cannot deliver (after its adapter's few retries of throttling, network and
internal errors) logs it (`notification_failed`, `event_failed`) and drops it: the batch's
status in DynamoDB is the record of truth, and a lost email must not leave a loaded batch
unfinished or make a failed one retry. A channel that breaks in a way nobody planned for is
logged too, and the other channels still run. Delivery is at least once (a batch finished again
after a crash notifies again). Schema: docs/notifications.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from loader.errors import LoaderError
from loader.log import logger
from loader.notify import message

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.adapters.eventbridge import EventBus
    from loader.adapters.sns import SnsTopics
    from loader.models import Batch
    from loader.ports import LoadResult
    from loader.settings import Settings

LOADED = "Batch Loaded"
FAILED = "Batch Failed"


def loader_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("s3-redshift-loader")
    except PackageNotFoundError:  # the Lambda package ships modules, not distribution metadata
        return "unknown"


@dataclass(frozen=True)
class Outcome:
    """A finished batch, and its outcome document."""

    config: PrefixConfig
    batch: Batch
    result: LoadResult
    document: dict[str, Any]
    finished_at: float


class Channel(Protocol):
    def send(self, outcome: Outcome) -> None:
        """Deliver the outcome, or log why not (never raise a LoaderError)."""
        ...


class OutcomePublisher:
    """The `Notifier` (loader/ports.py): each finished batch's outcome on every channel."""

    def __init__(
        self, channels: Sequence[Channel], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.channels = tuple(channels)
        self._clock = clock

    @cached_property
    def _version(self) -> str:
        return loader_version()

    def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None:
        finished_at = self._clock()
        document = message.document(
            config, batch, result, finished_at=finished_at, version=self._version
        )
        outcome = Outcome(config, batch, result, document, finished_at)
        for channel in self.channels:
            try:
                channel.send(outcome)
            except Exception:
                # Channels log and drop their own delivery errors; this is for the unexpected
                # (a bug, an error class nobody classified), which must neither silence the
                # other channels nor fail a finished batch: notifications are best effort.
                logger.exception(
                    "notifier_failed", batch_id=batch.batch_id, notifier=type(channel).__name__
                )


class SnsChannel:
    def __init__(self, topics: SnsTopics, settings: Settings) -> None:
        self._topics = topics
        self._settings = settings

    def send(self, outcome: Outcome) -> None:
        batch, ok = outcome.batch, outcome.result.ok
        topic = message.choose_topic(outcome.config, self._settings, ok)
        if topic is None:
            logger.info("notification_skipped", batch_id=batch.batch_id, reason="no topic")
            return
        note = message.Notification(
            topic_arn=topic,
            subject=message.subject(ok, batch),
            document=outcome.document,
            email=message.email_text(outcome.document),
        )
        try:
            message_id = self._topics.publish_outcome(
                topic, subject=note.subject, message=note.sns_message()
            )
        except LoaderError as exc:
            logger.error(
                "notification_failed", batch_id=batch.batch_id, topic=topic, error=str(exc)
            )
            return
        logger.info(
            "notification_sent",
            batch_id=batch.batch_id,
            topic=topic,
            status=outcome.document["status"],
            message_id=message_id,
        )


class EventBridgeChannel:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def send(self, outcome: Outcome) -> None:
        batch = outcome.batch
        detail_type = LOADED if outcome.result.ok else FAILED
        try:
            event_id = self._bus.put_outcome(
                detail_type=detail_type, detail=outcome.document, time=outcome.finished_at
            )
        except LoaderError as exc:
            logger.error(
                "event_failed", batch_id=batch.batch_id, bus=self._bus.name, error=str(exc)
            )
            return
        logger.info(
            "event_sent",
            batch_id=batch.batch_id,
            bus=self._bus.name,
            detail_type=detail_type,
            event_id=event_id,
        )
