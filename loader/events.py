"""Event intake: turn any supported Lambda event into plain notices. Pure: no I/O.

Supported shapes: S3 notifications (any number of records), the same wrapped in SNS, in SQS, or
SNS-in-SQS; EventBridge "Object Created" events (direct or in SQS); the loader's own flush-timer
messages; the scheduled sweep; and the scheduled reconciliation (`{"loader": "reconcile"}`). S3
test events, deletions and restores are ignored, not errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeGuard
from urllib.parse import unquote_plus

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


# --- parsing: the shapes AWS sends, read directly; anything else goes to the wire models -----
#
# Building pydantic wire models cost ~15 ms of every cold start and a few microseconds per
# record. The records S3, EventBridge and the loader itself send are read here with plain type
# checks that accept only what the wire models (loader/event_wire.py) would accept unchanged;
# any other record goes through those models, which coerce it or refuse it with the same clear
# error as ever. Keys in their Python spelling (`etag`, `version_id`, ...) are accepted by the
# models (populate_by_name), so their presence sends a record to the slow path too.

MAX_KEY_BYTES = 1024  # S3's limit: anything longer cannot name a real object

_S3_RECORD_NAMES = frozenset({"event_source", "event_name", "event_time"})
_S3_OBJECT_NAMES = frozenset({"etag", "version_id"})
_EVENTBRIDGE_OBJECT_NAMES = frozenset({"version_id"})


class _Fields(NamedTuple):
    """What a notification says about one object (key as sent)."""

    bucket: str
    key: str
    size: int
    etag: str | None
    version_id: str | None
    sequencer: str | None


def _is_str(value: Any) -> TypeGuard[str]:
    """A str the wire models take as it is (they refuse lone surrogates: not Unicode text)."""
    if type(value) is not str:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: Any) -> TypeGuard[str]:
    return value != "" and _is_str(value)


def _optional_text(value: Any) -> TypeGuard[str | None]:
    return value is None or _is_str(value)


def _seconds(value: Any) -> TypeGuard[int | float]:
    """A number the wire models read as the same float (bools and huge ints go the slow way)."""
    return type(value) is float or (type(value) is int and abs(value) <= 2**53)


def _object_fields(
    bucket: Any, obj: Any, etag_key: str, version_key: str, python_names: frozenset[str]
) -> _Fields | None:
    """The object of an S3 or EventBridge notification, when it is exactly as AWS sends it."""
    if type(bucket) is not dict or type(obj) is not dict or python_names & obj.keys():
        return None
    name, key, size = bucket.get("name"), obj.get("key"), obj.get("size", 0)
    etag, version_id, sequencer = obj.get(etag_key), obj.get(version_key), obj.get("sequencer")
    if not (_text(name) and _text(key) and type(size) is int and size >= 0):
        return None
    if not (_optional_text(etag) and _optional_text(version_id) and _optional_text(sequencer)):
        return None
    return _Fields(name, key, size, etag, version_id, sequencer)


def _checked_key(key: str) -> str:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise MalformedEventError(f"object key longer than S3's {MAX_KEY_BYTES} bytes")
    return key


def _s3_header(raw: dict[str, Any]) -> tuple[str, str, str | None, _Fields]:
    """eventSource, eventName, eventTime and the object of an S3 record."""
    source, name, time = raw.get("eventSource"), raw.get("eventName"), raw.get("eventTime")
    entity = raw.get("s3")
    if (
        _is_str(source)
        and _is_str(name)
        and _optional_text(time)
        and type(entity) is dict
        and not _S3_RECORD_NAMES & raw.keys()
    ):
        fields = _object_fields(
            entity.get("bucket"), entity.get("object"), "eTag", "versionId", _S3_OBJECT_NAMES
        )
        if fields is not None:
            return source, name, time, fields
    from loader.event_wire import S3Record, validated

    record = validated(S3Record, raw, "S3 record")
    obj = record.s3.object
    fields = _Fields(
        record.s3.bucket.name, obj.key, obj.size, obj.etag, obj.version_id, obj.sequencer
    )
    return record.event_source, record.event_name, record.event_time, fields


def _s3_record(raw: dict[str, Any]) -> Notice:
    event_source, event_name, event_time, obj = _s3_header(raw)
    if event_source != "aws:s3":
        raise MalformedEventError(f"unexpected eventSource {event_source!r} in an S3 record")
    if not event_name.removeprefix("s3:").startswith("ObjectCreated:"):
        return Ignored(f"S3 event {event_name} is not an object creation")
    return S3Object(
        bucket=obj.bucket,
        # S3 URL-encodes keys in notifications: a space arrives as '+', a real '+' as '%2B'.
        key=_checked_key(unquote_plus(obj.key)),
        size=obj.size,
        etag=obj.etag,
        version_id=obj.version_id,
        sequencer=obj.sequencer,
        event_time=event_time,
    )


def _eventbridge_object(detail: Any) -> _Fields:
    if type(detail) is dict:
        fields = _object_fields(
            detail.get("bucket"),
            detail.get("object"),
            "etag",
            "version-id",
            _EVENTBRIDGE_OBJECT_NAMES,
        )
        if fields is not None:
            return fields
    from loader.event_wire import EventBridgeDetail, validated

    parsed = validated(EventBridgeDetail, detail, "EventBridge S3 event")
    obj = parsed.object
    return _Fields(parsed.bucket.name, obj.key, obj.size, obj.etag, obj.version_id, obj.sequencer)


def _eventbridge(raw: dict[str, Any]) -> list[Notice]:
    detail_type = raw.get("detail-type")
    if raw.get("source") == "aws.events" and detail_type == "Scheduled Event":
        return [SweepRequest()]
    if raw.get("source") != "aws.s3":
        raise MalformedEventError(f"unsupported EventBridge source {raw.get('source')!r}")
    if detail_type != "Object Created":
        return [Ignored(f"EventBridge S3 event {detail_type!r} is not an object creation")]
    obj = _eventbridge_object(raw.get("detail"))
    event_time = raw.get("time")
    if event_time is not None and not isinstance(event_time, str):
        raise MalformedEventError("EventBridge event 'time' is not a string")
    # EventBridge carries the key as written, not URL-encoded.
    return [
        S3Object(
            bucket=obj.bucket,
            key=_checked_key(obj.key),
            size=obj.size,
            etag=obj.etag,
            version_id=obj.version_id,
            sequencer=obj.sequencer,
            event_time=event_time,
        )
    ]


def _flush_timer(raw: dict[str, Any]) -> FlushTimer:
    prefix, batch_id, due_at = raw.get("prefix"), raw.get("batch_id"), raw.get("due_at")
    if _text(prefix) and _text(batch_id) and _seconds(due_at):
        return FlushTimer(prefix, batch_id, float(due_at))
    from loader.event_wire import FlushTimerWire, validated

    timer = validated(FlushTimerWire, raw, "flush timer")
    return FlushTimer(timer.prefix, timer.batch_id, timer.due_at)


def _loader_message(raw: dict[str, Any]) -> list[Notice]:
    kind = raw.get("loader")
    if kind == SWEEP:
        return [SweepRequest()]
    if kind == FLUSH_TIMER:
        return [_flush_timer(raw)]
    if kind == RECONCILE:
        from loader.event_wire import ReconcileWire, validated

        request = validated(ReconcileWire, raw, "reconcile request")
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
