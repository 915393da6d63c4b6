"""Intake: every supported event shape registers its files; bad input fails cleanly."""

from __future__ import annotations

import json

import pytest

from loader.errors import MalformedEventError
from loader.events import parse_event
from support.aws import BUCKET, Env, make_config
from support.events import (
    eventbridge_event,
    load_event,
    s3_event,
    s3_record,
    sns_envelope,
    sns_event,
    sqs_event,
)


def handle(env: Env, event: dict) -> dict:
    service = env.service()
    invocation = parse_event(event)
    return service.handle(invocation).as_response(invocation.from_sqs)


def ledger_urls(env: Env) -> set[str]:
    return {item["url"] for item in env.ledger()}


@pytest.fixture
def configured(env: Env) -> Env:
    env.put_config(make_config())
    return env


def test_a_multi_record_s3_event_registers_every_file_in_one_open_batch(configured: Env) -> None:
    event = s3_event(*(s3_record(BUCKET, f"events/f{i}.csv") for i in range(5)))

    response = handle(configured, event)

    assert response["registered"] == 5
    assert ledger_urls(configured) == {f"s3://{BUCKET}/events/f{i}.csv" for i in range(5)}
    [batch] = [b for b in configured.batches() if b.file_count]
    assert batch.status == "open" and batch.file_count == 5 and batch.total_bytes == 500
    members = list(configured.deps.batches.members(batch.batch_id))
    assert sorted(m.url for m in members) == sorted(ledger_urls(configured))


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda e: e, id="direct"),
        pytest.param(sns_event, id="sns"),
        pytest.param(sqs_event, id="sqs"),
        pytest.param(lambda e: sqs_event(sns_envelope(e)), id="sns-in-sqs"),
    ],
)
def test_wrapped_s3_notifications_are_unwrapped(configured: Env, wrap) -> None:
    event = wrap(s3_event(s3_record(BUCKET, "events/a.csv"), s3_record(BUCKET, "events/b.csv")))

    handle(configured, event)

    assert ledger_urls(configured) == {f"s3://{BUCKET}/events/a.csv", f"s3://{BUCKET}/events/b.csv"}


@pytest.mark.parametrize("in_sqs", [False, True])
def test_eventbridge_object_created_events_register_the_file(configured: Env, in_sqs: bool) -> None:
    event = eventbridge_event(BUCKET, "events/dt=2026-11-23/x y+z.json")

    handle(configured, sqs_event(event) if in_sqs else event)

    assert ledger_urls(configured) == {f"s3://{BUCKET}/events/dt=2026-11-23/x y+z.json"}


def test_keys_are_decoded_exactly_as_s3_encodes_them(configured: Env) -> None:
    # S3 sends a space as '+' and a real '+' as '%2B'.
    record = s3_record(BUCKET, "events/my file+v2 (1).csv")
    assert record["s3"]["object"]["key"] == "events/my+file%2Bv2+%281%29.csv"

    handle(configured, s3_event(record))

    assert ledger_urls(configured) == {f"s3://{BUCKET}/events/my file+v2 (1).csv"}


def test_the_shared_sample_with_a_url_encoded_key_is_decoded(env: Env) -> None:
    env.put_config(make_config(prefix="sourcebucket"))

    handle(env, load_event("s3EventDecodedKey.json"))

    assert ledger_urls(env) == {"s3://sourcebucket/Happy Face.jpg"}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}, id="test"
        ),
        pytest.param(load_event("s3EventDeleteObject.json"), id="delete"),
        pytest.param(
            load_event("s3EventBridgeNotificationObjectDeletedEvent.json"), id="eb-delete"
        ),
    ],
)
def test_test_events_and_deletions_are_ignored_without_side_effects(configured: Env, event) -> None:
    response = handle(configured, event)

    assert response["registered"] == 0
    assert configured.ledger() == []


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(load_event("eventBridgeEvent.json"), id="ec2-eventbridge"),
        pytest.param(load_event("snsEvent.json"), id="sns-not-s3"),
        pytest.param({"Records": []}, id="empty-records"),
        pytest.param(
            {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]},
            id="s3-record-without-s3",
        ),
        pytest.param({"hello": "world"}, id="unknown"),
    ],
)
def test_a_malformed_direct_event_raises_a_clear_error_and_writes_nothing(
    configured: Env, event
) -> None:
    mixed = dict(event)
    with pytest.raises(MalformedEventError):
        handle(configured, mixed)

    assert configured.ledger() == []


def test_a_malformed_event_among_good_records_writes_nothing_at_all(configured: Env) -> None:
    event = s3_event(s3_record(BUCKET, "events/good.csv"), {"eventSource": "aws:s3"})

    with pytest.raises(MalformedEventError):
        handle(configured, event)

    assert configured.ledger() == []


def test_in_an_sqs_batch_only_the_bad_messages_fail(configured: Env) -> None:
    event = sqs_event(
        s3_event(s3_record(BUCKET, "events/one.csv")),
        "Test message.",
        {"message": "foo1"},
        s3_event(s3_record(BUCKET, "events/two.csv")),
    )

    response = handle(configured, event)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "msg-1"}, {"itemIdentifier": "msg-2"}]
    }
    assert ledger_urls(configured) == {
        f"s3://{BUCKET}/events/one.csv",
        f"s3://{BUCKET}/events/two.csv",
    }


def test_the_shared_non_s3_sqs_sample_fails_every_message(configured: Env) -> None:
    response = handle(configured, load_event("sqsEvent.json"))

    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        "059f36b4-87a3-44ab-83d2-661975830a7d",
        "2e1424d4-f796-459a-8184-9c92662be6da",
    ]


def test_a_key_matching_no_configuration_is_skipped_not_failed(configured: Env) -> None:
    response = handle(configured, sqs_event(s3_event(s3_record(BUCKET, "elsewhere/x.csv"))))

    assert response == {"batchItemFailures": []}
    assert configured.ledger() == []


def test_files_not_matching_the_filename_filter_are_skipped(env: Env) -> None:
    env.put_config(make_config(filename_filter=r".*\.csv(\.gz)?"))

    handle(
        env,
        s3_event(
            s3_record(BUCKET, "events/a.csv.gz"),
            s3_record(BUCKET, "events/_SUCCESS"),
            s3_record(BUCKET, "events/b.csv"),
        ),
    )

    assert ledger_urls(env) == {f"s3://{BUCKET}/events/a.csv.gz", f"s3://{BUCKET}/events/b.csv"}


def test_a_file_under_an_invalid_stored_configuration_fails_its_message(env: Env) -> None:
    # An operator hand-edited the item: its files must not be silently dropped.
    env.session.client("dynamodb").put_item(
        TableName=env.settings.tables.config,
        Item={
            "prefix": {"S": f"{BUCKET}/broken"},
            "config": {"S": json.dumps({"prefix": f"{BUCKET}/broken", "thresholds": {}})},
        },
    )

    response = handle(env, sqs_event(s3_event(s3_record(BUCKET, "broken/x.csv"))))

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert env.ledger() == []


def test_the_longest_matching_prefix_wins_including_hive_wildcards(env: Env) -> None:
    env.put_config(make_config(prefix=f"{BUCKET}/events"))
    env.put_config(make_config(prefix=f"{BUCKET}/events/dt=*"))

    handle(
        env,
        s3_event(
            s3_record(BUCKET, "events/dt=2026-11-23/a.csv"), s3_record(BUCKET, "events/other/b.csv")
        ),
    )

    by_url = {item["url"]: item["prefix"] for item in env.ledger()}
    assert by_url == {
        f"s3://{BUCKET}/events/dt=2026-11-23/a.csv": f"{BUCKET}/events/dt=*",
        f"s3://{BUCKET}/events/other/b.csv": f"{BUCKET}/events",
    }
