"""EventBridge: the loader's outcome events, put on its event bus."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import LoaderError, RetryableError, TerminalError, classify_aws_error
from loader.retry import retrying

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "s3-redshift-loader"
# PutEvents entry error codes worth another try (the others are the request's fault).
_TRANSIENT_ENTRY_CODES = frozenset(
    {"InternalException", "InternalFailure", "ThrottlingException", "ServiceUnavailable"}
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


class EventBus:
    """One event bus; every event the loader puts there has the source `SOURCE`."""

    def __init__(self, client: EventBridgeClient, name: str) -> None:
        self._events = client
        self.name = name

    @retrying(attempts=4, deadline=10.0)
    def put_outcome(self, *, detail_type: str, detail: dict[str, Any], time: float) -> str:
        """Put one event; return its id. A refused entry is an error like a failed call."""
        entry = {
            "EventBusName": self.name,
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
            "Time": datetime.fromtimestamp(time, UTC),
        }
        try:
            response: Any = self._events.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from exc
        error = entry_error(response)
        if error is not None:
            raise error
        entries = response.get("Entries") or [{}]
        return str(entries[0].get("EventId", ""))
