"""Batch outcomes on EventBridge: a rule on the loader's bus routes them to any target (here an
SQS queue), with the same outcome document as the SNS message (docs/notifications.md)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from e2e.stack import Stack

from loader.adapters.eventbridge import entry_error
from loader.errors import RetryableError, TerminalError
from loader.models import BatchStatus
from loader.notify.publisher import SnsChannel

BUS = "loader-events"
PATTERN = {"source": ["s3-redshift-loader"], "detail-type": ["Batch Loaded", "Batch Failed"]}


def route_outcomes_to_a_queue(stack: Stack, *, bus: str = BUS) -> str:
    """The bus, a rule with the documented pattern, an SQS target; the loader told the bus."""
    session = stack.env.session
    events, sqs = session.client("events"), session.client("sqs")
    events.create_event_bus(Name=BUS)
    queue = sqs.create_queue(QueueName="outcome-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="batch-outcomes", EventBusName=BUS, EventPattern=json.dumps(PATTERN))
    events.put_targets(
        Rule="batch-outcomes", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}]
    )
    stack.env.deps.settings = dataclasses.replace(stack.env.deps.settings, event_bus_name=bus)
    return str(queue)


def received_events(stack: Stack, queue: str) -> list[dict[str, Any]]:
    got = stack.env.session.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_a_loaded_batch_is_an_event_on_the_bus(stack: Stack) -> None:
    # GIVEN a rule routing the loader's events to a queue
    queue = route_outcomes_to_a_queue(stack)
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target("postgres", table))

    # WHEN a batch loads
    stack.deliver(stack.put("in/a.csv", "1,a\n"), stack.put("in/b.csv", "2,b\n"))

    # THEN the queue got one "Batch Loaded" event whose detail is the outcome document
    batch = stack.batch(BatchStatus.COMPLETE)
    [event] = received_events(stack, queue)
    assert event["source"] == "s3-redshift-loader"
    assert event["detail-type"] == "Batch Loaded"
    detail = event["detail"]
    assert detail["schema"] == "s3-redshift-loader/batch-outcome/1"
    assert (detail["status"], detail["batch_id"], detail["prefix"]) == (
        "complete",
        batch.batch_id,
        "landing-bucket/in",
    )
    assert (detail["files"], detail["error"], detail["failed_manifest"]) == (2, None, None)
    assert detail["targets"] == [
        {
            "name": "warehouse",
            "type": "postgres",
            "status": "loaded",
            "rows": 2,
            "attempts": 1,
            "error": None,
        }
    ]
    assert detail["manifest"] == batch.manifest_url


def test_a_failed_batch_is_an_event_and_still_an_sns_message(stack: Stack) -> None:
    queue = route_outcomes_to_a_queue(stack)
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target("postgres", table))

    stack.deliver(stack.put("in/a.csv", "1,a\n"), stack.put("in/b.csv", "two,b\n"))

    batch = stack.batch(BatchStatus.ERROR)
    [event] = received_events(stack, queue)
    assert event["detail-type"] == "Batch Failed"
    detail = event["detail"]
    assert (detail["status"], detail["retryable"]) == ("error", False)
    assert detail["failed_manifest"] == batch.failed_manifest_url
    assert detail["error_rows"][0]["file"] == "s3://landing-bucket/in/b.csv"
    # the SNS message carries the very same document
    [envelope] = stack.failure_messages()
    assert json.loads(envelope["Message"]) == detail


def test_a_bus_that_refuses_the_event_does_not_stop_the_sns_message(stack: Stack) -> None:
    # GIVEN the loader pointed at a bus that does not exist
    route_outcomes_to_a_queue(stack, bus="no-such-bus")
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target("postgres", table))

    stack.deliver(stack.put("in/a.csv", "1,a\n"), stack.put("in/b.csv", "two,b\n"))

    # THEN the batch ends as it would have, and the failure topic still heard about it
    assert stack.batch(BatchStatus.ERROR).error_kind == "terminal"
    [envelope] = stack.failure_messages()
    assert json.loads(envelope["Message"])["status"] == "error"


def test_a_publisher_that_breaks_does_not_stop_the_event(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an SNS publisher that fails in a way nobody planned for
    def broken(*_: Any) -> None:
        raise RuntimeError("bug in the SNS publisher")

    monkeypatch.setattr(SnsChannel, "send", broken)
    queue = route_outcomes_to_a_queue(stack)
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target("postgres", table))

    stack.deliver(stack.put("in/a.csv", "1,a\n"), stack.put("in/b.csv", "2,b\n"))

    # THEN the batch is complete and the event was still put on the bus
    assert stack.batch(BatchStatus.COMPLETE).targets["warehouse"].rows == 2
    assert [e["detail-type"] for e in received_events(stack, queue)] == ["Batch Loaded"]


REFUSALS = [
    ("ThrottlingException", RetryableError),
    ("InternalFailure", RetryableError),
    ("AccessDeniedException", TerminalError),
    ("MalformedDetail", TerminalError),
]


@pytest.mark.parametrize(("code", "kind"), REFUSALS)
def test_an_entry_put_events_refused_is_an_error_of_its_kind(code: str, kind: type) -> None:
    refused = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "no"}]}
    error = entry_error(refused)
    assert type(error) is kind and code in str(error)
    assert entry_error({"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}) is None
