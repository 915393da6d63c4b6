"""The envelope parser's fast path (plain type checks) says what the wire models say.

loader/events.py reads records in the shape AWS sends with plain type checks and sends any
other record to the pydantic wire models (loader/event_wire.py). Whatever a record holds, the
notice it becomes, or the error it is refused with, must be what the wire models alone give.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from loader import events
from loader.errors import MalformedEventError
from loader.event_wire import EventBridgeDetail, FlushTimerWire, S3Record, validated
from loader.models import S3Object

ODD_VALUES = st.sampled_from(
    [None, "", "x", "a b%2B", "é", "a\ud800", 0, 7, -1, 2**60, True, 1.5, 2.0, "12", {}, [], ["x"]]
)


def _maybe_set(fields: dict[str, Any], names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """`fields`, with some keys dropped or replaced by odd values (the names given may be added)."""
    keys = sorted(set(fields) | set(names))
    missing = object()
    changes = st.dictionaries(st.sampled_from(keys), st.one_of(ODD_VALUES, st.just(missing)))

    def apply(change: dict[str, Any]) -> dict[str, Any]:
        out = dict(fields)
        for key, value in change.items():
            if value is missing:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    return changes.map(apply)


def _outcome(parse: Any, raw: Any) -> Any:
    try:
        return parse(raw)
    except MalformedEventError as exc:
        return ("refused", str(exc))


def _s3_by_models(raw: dict[str, Any]) -> Any:
    """What the parser did before it had a fast path."""
    record = validated(S3Record, raw, "S3 record")
    if record.event_source != "aws:s3":
        raise MalformedEventError(f"unexpected eventSource {record.event_source!r} in an S3 record")
    if not record.event_name.removeprefix("s3:").startswith("ObjectCreated:"):
        return events.Ignored(f"S3 event {record.event_name} is not an object creation")
    obj = record.s3.object
    return S3Object(
        bucket=record.s3.bucket.name,
        key=events._checked_key(unquote_plus(obj.key)),
        size=obj.size,
        etag=obj.etag,
        version_id=obj.version_id,
        sequencer=obj.sequencer,
        event_time=record.event_time,
    )


S3_OBJECTS = _maybe_set(
    {"key": "events/a+b.csv", "size": 10, "eTag": "e", "versionId": "v", "sequencer": "s"},
    ["etag", "version_id"],
)
S3_RECORDS = st.builds(
    lambda top, bucket, obj: {**top, "s3": {"bucket": bucket, "object": obj}},
    _maybe_set(
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "eventTime": "2026-12-08T00:00:00.000Z",
        },
        ["event_source", "event_name", "event_time"],
    ),
    _maybe_set({"name": "landing"}, []),
    S3_OBJECTS,
)


@settings(max_examples=400)
@given(S3_RECORDS)
def test_an_s3_record_parses_as_the_wire_models_say(raw: dict[str, Any]) -> None:
    assert _outcome(events._s3_record, raw) == _outcome(_s3_by_models, raw)


def _eventbridge_by_models(detail: Any) -> Any:
    parsed = validated(EventBridgeDetail, detail, "EventBridge S3 event")
    obj = parsed.object
    return (parsed.bucket.name, obj.key, obj.size, obj.etag, obj.version_id, obj.sequencer)


EVENTBRIDGE_DETAILS = st.builds(
    lambda bucket, obj: {"bucket": bucket, "object": obj},
    _maybe_set({"name": "landing"}, []),
    _maybe_set(
        {"key": "events/a.csv", "size": 10, "etag": "e", "version-id": "v", "sequencer": "s"},
        ["version_id"],
    ),
)


@settings(max_examples=300)
@given(st.one_of(EVENTBRIDGE_DETAILS, ODD_VALUES))
def test_an_eventbridge_detail_parses_as_the_wire_models_say(detail: Any) -> None:
    fast = _outcome(lambda d: tuple(events._eventbridge_object(d)), detail)

    assert fast == _outcome(_eventbridge_by_models, detail)


def _timer_by_models(raw: dict[str, Any]) -> events.FlushTimer:
    timer = validated(FlushTimerWire, raw, "flush timer")
    return events.FlushTimer(timer.prefix, timer.batch_id, timer.due_at)


@settings(max_examples=200)
@given(_maybe_set({"loader": "flush_timer", "prefix": "b/p", "batch_id": "b1", "due_at": 5}, []))
def test_a_flush_timer_parses_as_the_wire_models_say(raw: dict[str, Any]) -> None:
    fast, slow = _outcome(events._flush_timer, raw), _outcome(_timer_by_models, raw)

    assert fast == slow
    assert type(fast) is type(slow)
