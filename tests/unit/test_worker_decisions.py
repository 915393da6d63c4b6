"""The container worker's pure decisions: the event it builds, what it deletes, when it extends
visibility and when it sweeps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loader.events import parse_event
from setup_cli.worker.decisions import (
    MAX_VISIBILITY_SECONDS,
    InFlight,
    Received,
    WorkerSettingsError,
    extension_margin,
    extensions,
    lambda_event,
    next_sweep_at,
    settle,
    sweep_due,
    wait_for_work,
    worker_options,
)
from support.events import s3_event, s3_record

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/loader-notifications"
ARN = "arn:aws:sqs:us-east-1:123456789012:loader-notifications"


def received(message_id: str, body: str = "{}", at: float = 100.0, **kw: Any) -> Received:
    return Received(QUEUE, message_id, f"rh-{message_id}", body, at, **kw)


def batch(*ids: str) -> list[Received]:
    return [received(i) for i in ids]


# --- the event --------------------------------------------------------------------------------


def test_the_event_is_an_sqs_event_the_loader_parses_message_by_message() -> None:
    notice = s3_event(s3_record("landing", "events/a b.csv", size=12))
    messages = [
        received("m1", body=json.dumps(notice)),
        received("m2", body='{"loader": "sweep"}'),
    ]

    event = lambda_event(messages, queue_arn=ARN, region="us-east-1")
    invocation = parse_event(event)

    assert invocation.from_sqs
    assert [m.message_id for m in invocation.messages] == ["m1", "m2"]
    [obj] = invocation.messages[0].notices
    assert obj.url == "s3://landing/events/a b.csv"  # type: ignore[union-attr]
    record = event["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == ARN
    assert record["receiptHandle"] == "rh-m1"


def test_message_attributes_take_the_lambda_shape() -> None:
    message = received(
        "m1",
        message_attributes={
            "kind": {"DataType": "String", "StringValue": "csv"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )

    attributes = lambda_event([message], queue_arn=ARN, region="eu-west-1")["Records"][0][
        "messageAttributes"
    ]

    assert attributes["kind"] == {
        "stringValue": "csv",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert attributes["blob"]["binaryValue"] == "AAE="


# --- what gets deleted ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}]
)
def test_a_response_without_failures_deletes_every_message(response: Any) -> None:
    messages = batch("a", "b", "c")

    outcome = settle(messages, response, raised=False)

    assert outcome.delete == tuple(messages)
    assert outcome.retry == ()


def test_only_the_messages_the_handler_did_not_report_failed_are_deleted() -> None:
    a, b, c = batch("a", "b", "c")

    outcome = settle([a, b, c], {"batchItemFailures": [{"itemIdentifier": "b"}]}, raised=False)

    assert outcome.delete == (a, c)
    assert outcome.retry == (b,)
    assert outcome.reason is None


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ({"batchItemFailures": [{"itemIdentifier": "zz"}]}, "invalid batchItemFailures"),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, "invalid batchItemFailures"),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, "invalid batchItemFailures"),
        ({"batchItemFailures": [{"id": "a"}]}, "invalid batchItemFailures"),
        ({"batchItemFailures": "a"}, "not a list"),
        ("ok", "not an object"),
    ],
)
def test_an_invalid_partial_response_retries_the_whole_batch(response: Any, reason: str) -> None:
    messages = batch("a", "b")

    outcome = settle(messages, response, raised=False)

    assert outcome.delete == ()
    assert outcome.retry == tuple(messages)
    assert reason in (outcome.reason or "")


def test_a_handler_that_raised_deletes_nothing() -> None:
    messages = batch("a", "b")

    outcome = settle(messages, {"batchItemFailures": []}, raised=True)

    assert outcome.delete == ()
    assert outcome.retry == tuple(messages)


# --- visibility -------------------------------------------------------------------------------


def inflight(received_at: float, visible_until: float, handle: str = "rh") -> InFlight:
    return InFlight(QUEUE, handle, received_at, visible_until)


def test_a_message_is_extended_once_half_its_visibility_is_used_up() -> None:
    fresh = inflight(100, 160, "fresh")
    half_used = inflight(70, 130, "half")

    due = extensions([fresh, half_used], now=100, visibility_timeout=60, tick=1)

    assert [(e.message.receipt_handle, e.timeout) for e in due] == [("half", 60)]


def test_the_margin_never_drops_below_two_heartbeat_ticks() -> None:
    assert extension_margin(4, tick=5) == 10
    assert extension_margin(600, tick=1) == 300


def test_extensions_stop_at_the_twelve_hour_limit_counted_from_receipt() -> None:
    now = 10_000 + MAX_VISIBILITY_SECONDS - 25
    near_limit = inflight(10_000, now + 5, "near")
    at_limit = inflight(0, now + 5, "over")

    due = extensions([near_limit, at_limit], now=now, visibility_timeout=60, tick=1)

    assert [(e.message.receipt_handle, e.timeout) for e in due] == [("near", 25)]


# --- the sweep timer --------------------------------------------------------------------------


def test_the_sweep_is_due_on_its_interval_and_never_when_disabled() -> None:
    first = next_sweep_at(100, 5)

    assert first == 105
    assert not sweep_due(104.9, first)
    assert sweep_due(105, first)
    assert next_sweep_at(100, 0) is None
    assert not sweep_due(10**9, None)


def test_waiting_for_work_never_outlasts_the_next_sweep() -> None:
    assert wait_for_work(100, 100.2, longest=0.5) == pytest.approx(0.2)
    assert wait_for_work(100, 130, longest=0.5) == 0.5
    assert wait_for_work(100, 90, longest=0.5) == 0
    assert wait_for_work(100, None, longest=0.5) == 0.5


# --- settings ---------------------------------------------------------------------------------


def test_queues_come_from_flags_else_the_environment_plus_the_flush_queue() -> None:
    env = {
        "LOADER_NOTIFICATION_QUEUE_URL": "q1, q2",
        "LOADER_FLUSH_QUEUE_URL": "flush",
        "LOADER_WORKER_SWEEP_SECONDS": "2.5",
        "LOADER_WORKER_BATCH_SIZE": "4",
    }

    from_env = worker_options(env, {})
    from_flags = worker_options(env, {"queue_urls": ["q9"], "batch_size": 7})
    without_flush = worker_options(env, {}, flush_queue=False)

    assert from_env.queue_urls == ("q1", "q2", "flush")
    assert (from_env.sweep_interval, from_env.batch_size) == (2.5, 4)
    assert from_flags.queue_urls == ("q9", "flush")
    assert from_flags.batch_size == 7
    assert without_flush.queue_urls == ("q1", "q2")


@pytest.mark.parametrize(
    ("env", "flags", "problem"),
    [
        ({}, {}, "no queue to consume"),
        ({"LOADER_FLUSH_QUEUE_URL": "f"}, {"batch_size": 11}, "batch_size"),
        ({"LOADER_FLUSH_QUEUE_URL": "f"}, {"wait_seconds": 21}, "wait_seconds"),
        ({"LOADER_FLUSH_QUEUE_URL": "f", "LOADER_WORKER_WAIT_SECONDS": "soon"}, {}, "number"),
        ({"LOADER_FLUSH_QUEUE_URL": "f"}, {"visibility_timeout": 1}, "visibility_timeout"),
    ],
)
def test_unusable_settings_are_refused_with_the_setting_named(
    env: dict[str, str], flags: dict[str, Any], problem: str
) -> None:
    with pytest.raises(WorkerSettingsError, match=problem):
        worker_options(env, flags)
