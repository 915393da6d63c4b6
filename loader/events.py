"""Event intake: turn any supported Lambda event into plain notices. Pure: no I/O.

Supported shapes: S3 notifications (any number of records), the same wrapped in SNS, in SQS, or
SNS-in-SQS; EventBridge "Object Created" events (direct or in SQS); the loader's own flush-timer
messages; the scheduled sweep; and the scheduled reconciliation (`{"loader": "reconcile"}`). S3
test events, deletions and restores are ignored, not errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loader.errors import MalformedEventError
from loader.models import S3Object

SWEEP = "sweep"
FLUSH_TIMER = "flush_timer"
RECONCILE = "reconcile"


@dataclass(frozen=True)
class FlushTimer:
    """The loader's own delayed message: look at this batch again when its age threshold passes."""

    prefix: str
    batch_id: str
    due_at: float


@dataclass(frozen=True)
class SweepRequest:
    """Seal every overdue batch and recover expired leases."""


@dataclass(frozen=True)
class ReconcileRequest:
    """List the configured prefixes (or one) in S3 and register files whose notifications never
    arrived, among objects modified in the look-back window (default: the setting)."""

    prefix: str | None = None
    lookback_seconds: float | None = None


@dataclass(frozen=True)
class ReprocessRequest:
    """The loader's own failure notification, routed back to it: retry that batch."""

    batch_id: str


@dataclass(frozen=True)
class Ignored:
    reason: str


Notice = S3Object | FlushTimer | SweepRequest | ReconcileRequest | ReprocessRequest | Ignored

# The schema of the loader's own outcome notifications (loader/notify/message.py).
OUTCOME_SCHEMA = "s3-redshift-loader/batch-outcome/1"


@dataclass
class Message:
    """One unit that succeeds or fails as a whole: an SQS message, or a whole direct invocation."""

    message_id: str | None
    notices: list[Notice] = field(default_factory=list)
    error: str | None = None


@dataclass
class Invocation:
    from_sqs: bool
    messages: list[Message]


# --- wire models (aliases for wire names; the key is decoded once, here) -------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _S3Bucket(_Wire):
    name: str = Field(min_length=1)


class _S3ObjectWire(_Wire):
    key: str = Field(min_length=1)
    size: int = Field(default=0, ge=0)
    etag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")
    sequencer: str | None = None


class _S3Entity(_Wire):
    bucket: _S3Bucket
    object: _S3ObjectWire


class _S3Record(_Wire):
    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    event_time: str | None = Field(default=None, alias="eventTime")
    s3: _S3Entity


class _EventBridgeObject(_Wire):
    key: str = Field(min_length=1)
    size: int = Field(default=0, ge=0)
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class _EventBridgeDetail(_Wire):
    bucket: _S3Bucket
    object: _EventBridgeObject


class _FlushTimerWire(_Wire):
    prefix: str = Field(min_length=1)
    batch_id: str = Field(min_length=1)
    due_at: float


class _ReconcileWire(_Wire):
    prefix: str | None = Field(default=None, min_length=1)
    lookback_seconds: float | None = Field(default=None, gt=0)


# --- parsing -------------------------------------------------------------------------------


MAX_KEY_BYTES = 1024  # S3's limit: anything longer cannot name a real object


def _checked_key(key: str) -> str:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise MalformedEventError(f"object key longer than S3's {MAX_KEY_BYTES} bytes")
    return key


def _s3_record(raw: dict[str, Any]) -> Notice:
    try:
        record = _S3Record.model_validate(raw)
    except ValidationError as exc:
        raise MalformedEventError(f"malformed S3 record: {_first_error(exc)}") from exc
    if record.event_source != "aws:s3":
        raise MalformedEventError(f"unexpected eventSource {record.event_source!r} in an S3 record")
    if not record.event_name.removeprefix("s3:").startswith("ObjectCreated:"):
        return Ignored(f"S3 event {record.event_name} is not an object creation")
    obj = record.s3.object
    return S3Object(
        bucket=record.s3.bucket.name,
        # S3 URL-encodes keys in notifications: a space arrives as '+', a real '+' as '%2B'.
        key=_checked_key(unquote_plus(obj.key)),
        size=obj.size,
        etag=obj.etag,
        version_id=obj.version_id,
        sequencer=obj.sequencer,
        event_time=record.event_time,
    )


def _eventbridge(raw: dict[str, Any]) -> list[Notice]:
    detail_type = raw.get("detail-type")
    if raw.get("source") == "aws.events" and detail_type == "Scheduled Event":
        return [SweepRequest()]
    if raw.get("source") != "aws.s3":
        raise MalformedEventError(f"unsupported EventBridge source {raw.get('source')!r}")
    if detail_type != "Object Created":
        return [Ignored(f"EventBridge S3 event {detail_type!r} is not an object creation")]
    try:
        detail = _EventBridgeDetail.model_validate(raw.get("detail"))
    except ValidationError as exc:
        raise MalformedEventError(f"malformed EventBridge S3 event: {_first_error(exc)}") from exc
    obj = detail.object
    event_time = raw.get("time")
    if event_time is not None and not isinstance(event_time, str):
        raise MalformedEventError("EventBridge event 'time' is not a string")
    # EventBridge carries the key as written, not URL-encoded.
    return [
        S3Object(
            bucket=detail.bucket.name,
            key=_checked_key(obj.key),
            size=obj.size,
            etag=obj.etag,
            version_id=obj.version_id,
            sequencer=obj.sequencer,
            event_time=event_time,
        )
    ]


def _loader_message(raw: dict[str, Any]) -> list[Notice]:
    kind = raw.get("loader")
    if kind == SWEEP:
        return [SweepRequest()]
    if kind == FLUSH_TIMER:
        try:
            timer = _FlushTimerWire.model_validate(raw)
        except ValidationError as exc:
            raise MalformedEventError(f"malformed flush timer: {_first_error(exc)}") from exc
        return [FlushTimer(timer.prefix, timer.batch_id, timer.due_at)]
    if kind == RECONCILE:
        try:
            request = _ReconcileWire.model_validate(raw)
        except ValidationError as exc:
            raise MalformedEventError(f"malformed reconcile request: {_first_error(exc)}") from exc
        return [ReconcileRequest(request.prefix, request.lookback_seconds)]
    raise MalformedEventError(f"unknown loader message kind {kind!r}")


def parse_payload(raw: Any, *, depth: int = 0) -> list[Notice]:
    """Notices in one payload: an S3 notification, an SNS envelope, an EventBridge event, ..."""
    if depth > 3:
        raise MalformedEventError("envelopes nested too deeply")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise MalformedEventError(f"message body is not JSON: {exc.msg}") from exc
        except RecursionError as exc:
            raise MalformedEventError("message body is nested too deeply") from exc
    if not isinstance(raw, dict):
        raise MalformedEventError(f"expected a JSON object, got {type(raw).__name__}")
    if raw.get("Event") == "s3:TestEvent":
        return [Ignored("S3 test event")]
    if "loader" in raw:
        return _loader_message(raw)
    if raw.get("schema") == OUTCOME_SCHEMA:
        return [_outcome(raw)]
    if raw.get("Type") == "Notification" and "Message" in raw:  # SNS envelope inside SQS
        return parse_payload(raw["Message"], depth=depth + 1)
    if "detail-type" in raw:
        return _eventbridge(raw)
    records = raw.get("Records")
    if isinstance(records, list):
        return _records(records, depth)
    raise MalformedEventError("event is not an S3, SNS, SQS, EventBridge or loader event")


def _outcome(raw: dict[str, Any]) -> Notice:
    batch_id = raw.get("batch_id")
    if not isinstance(batch_id, str) or not batch_id:
        raise MalformedEventError("outcome notification without batch_id")
    if raw.get("status") != "error":
        return Ignored(f"outcome notification with status {raw.get('status')!r}")
    return ReprocessRequest(batch_id)


def _records(records: list[Any], depth: int) -> list[Notice]:
    if not records:
        raise MalformedEventError("event has an empty Records list")
    notices: list[Notice] = []
    for record in records:
        if not isinstance(record, dict):
            raise MalformedEventError("a record is not a JSON object")
        if record.get("EventSource") == "aws:sns":
            sns = record.get("Sns")
            if not isinstance(sns, dict) or "Message" not in sns:
                raise MalformedEventError("SNS record without Sns.Message")
            notices.extend(parse_payload(sns["Message"], depth=depth + 1))
        else:
            notices.append(_s3_record(record))
    return notices


def parse_event(event: Any) -> Invocation:
    """Split a Lambda event into messages. An SQS batch gives one message per SQS record, each
    parsed on its own (a bad one fails alone); anything else is one message, all or nothing."""
    if isinstance(event, dict):
        records = event.get("Records")
        if (
            isinstance(records, list)
            and records
            and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
        ):
            return Invocation(from_sqs=True, messages=[_sqs_message(r) for r in records])
    return Invocation(from_sqs=False, messages=[Message(None, parse_payload(event))])


def _sqs_message(record: dict[str, Any]) -> Message:
    message_id = str(record.get("messageId") or "")
    if not message_id:
        # Without an id we cannot report a partial failure: fail the whole invocation instead.
        raise MalformedEventError("SQS record without messageId")
    try:
        return Message(message_id, parse_payload(record.get("body")))
    except MalformedEventError as exc:
        return Message(message_id, error=str(exc))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err.get("loc", ()))
    return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))
