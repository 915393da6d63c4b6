"""EventBridge events of batch outcomes, on `LOADER_EVENT_BUS_NAME` (docs/notifications.md).

One event per finished batch: source `s3-redshift-loader`, detail-type `Batch Loaded` or
`Batch Failed`, detail = the outcome document of the SNS message (message.document), so rules
can route outcomes anywhere (Step Functions, Lambda, SQS, another account's bus, ...).

As with SNS, an event that cannot be put (after a few retries of throttling, network and
internal errors, or of an entry EventBridge refused with such an error) is logged
(`event_failed`) and dropped: the batch's status in DynamoDB is the record of truth. Delivery is
at least once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import LoaderError, RetryableError, TerminalError, classify_aws_error
from loader.loading import message
from loader.loading.notifier import loader_version
from loader.log import logger
from loader.retry import retrying

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.deps import Deps
    from loader.models import Batch
    from loader.ports import LoadResult

SOURCE = "s3-redshift-loader"
LOADED = "Batch Loaded"
FAILED = "Batch Failed"
# PutEvents entry error codes worth another try (the others are the request's fault).
_TRANSIENT_ENTRY_CODES = frozenset(
    {"InternalException", "InternalFailure", "ThrottlingException", "ServiceUnavailable"}
)


@dataclass(frozen=True)
class BusEvent:
    bus: str
    detail_type: str
    detail: dict[str, Any]
    time: float

    def entry(self) -> dict[str, Any]:
        """The `PutEvents` entry."""
        return {
            "EventBusName": self.bus,
            "Source": SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":"), ensure_ascii=False),
            "Time": datetime.fromtimestamp(self.time, UTC),
        }


def build_event(
    config: PrefixConfig,
    batch: Batch,
    result: LoadResult,
    *,
    bus: str,
    finished_at: float,
    version: str,
) -> BusEvent:
    """The event of a batch outcome. Pure."""
    return BusEvent(
        bus=bus,
        detail_type=LOADED if result.ok else FAILED,
        detail=message.document(config, batch, result, finished_at=finished_at, version=version),
        time=finished_at,
    )


def entry_error(response: dict[str, Any]) -> LoaderError | None:
    """PutEvents answers 200 even when it refused the entry: `FailedEntryCount` says so."""
    if not response.get("FailedEntryCount"):
        return None
    entries: list[dict[str, Any]] = response.get("Entries", [])
    failed = next((e for e in entries if e.get("ErrorCode")), {})
    code = str(failed.get("ErrorCode", "unknown"))
    text = f"PutEvents refused the event: {code}: {failed.get('ErrorMessage', '')}"
    if code in _TRANSIENT_ENTRY_CODES:
        return RetryableError(text, code=code)
    return TerminalError(text, code=code)


class EventBridgeNotifier:
    """`Notifier` putting one event per finished batch on the loader's event bus."""

    def __init__(self, deps: Deps, *, clock: Callable[[], float] = time.time) -> None:
        self._deps = deps
        self._clock = clock

    @cached_property
    def _version(self) -> str:
        return loader_version()

    def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None:
        bus = self._deps.settings.event_bus_name
        if bus is None:
            return
        event = build_event(
            config, batch, result, bus=bus, finished_at=self._clock(), version=self._version
        )
        try:
            event_id = self._put(event)
        except LoaderError as exc:
            logger.error("event_failed", batch_id=batch.batch_id, bus=bus, error=str(exc))
            return
        logger.info(
            "event_sent",
            batch_id=batch.batch_id,
            bus=bus,
            detail_type=event.detail_type,
            event_id=event_id,
        )

    @retrying(attempts=4, deadline=10.0)
    def _put(self, event: BusEvent) -> str:
        try:
            response = self._deps.client("events").put_events(Entries=[event.entry()])
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from exc
        error = entry_error(response)
        if error is not None:
            raise error
        entries = response.get("Entries") or [{}]
        return str(entries[0].get("EventId", ""))
