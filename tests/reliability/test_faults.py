"""Throttling and transient faults: the loader backs off and completes, or fails visibly.

Faults are real error responses (botocore `before-send` answers instead of moto): DynamoDB
throttling and cancelled transactions, S3 and SNS 5xx, permission errors. Transient faults are
injected for more requests than botocore's own retries absorb, so the loader's retries, the
SQS redelivery of failed messages and the sweep all take part.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from reliability.crash_run import notified, topic_with_inbox
from reliability.destinations import FakeTarget
from reliability.harness import (
    Fault,
    Faults,
    dynamodb_error,
    fast_backoff,
    new_session,
    query_error,
    s3_error,
    throttled,
    transaction_conflict,
)
from reliability.invariants import Outcome, audit_fake, headers, reprocess_failed
from reliability.report import Report, scaled

from config.models import PrefixConfig
from loader.deps import Deps
from loader.errors import RetryableError
from loader.events import parse_event
from loader.lifecycle import BatchLifecycle
from loader.models import BatchStatus
from loader.notify import build_notifier
from loader.service import LoaderService
from support.aws import BUCKET, MANIFEST_BUCKET, Clock, provision
from support.events import s3_event, s3_record, sqs_event

SCENARIO_TRANSIENT = "transient AWS faults (fake target)"
SCENARIO_PERMANENT = "permanent faults, then reprocess"
PREFIX = f"{BUCKET}/faults"


def _conflict(request: Any) -> Any:
    items = len(json.loads(request.body)["TransactItems"])
    return transaction_conflict(items)


# (event, error response, how many requests fail): more than botocore's 3 retries where the
# loader's own retries, SQS redelivery or the sweep are meant to take over.
TRANSIENT: dict[str, tuple[str, Any, int]] = {
    "registration throttled": ("dynamodb.TransactWriteItems", throttled(), 7),
    "registration transaction conflicts": ("dynamodb.TransactWriteItems", _conflict, 7),
    "any DynamoDB call throttled": ("dynamodb", throttled(), 12),
    "reads throttled": ("dynamodb.GetItem", throttled(), 6),
    "manifest write 500": ("s3.PutObject", s3_error("InternalError", 500), 6),
    "manifest write 503 SlowDown": ("s3.PutObject", s3_error("SlowDown", 503), 6),
    "outcome writes throttled": ("dynamodb.UpdateItem", dynamodb_error("ThrottlingException"), 9),
    "notification 500": ("sns.Publish", query_error("InternalFailure", 500), 3),
    "flush timer 500": ("sqs.SendMessage", query_error("InternalError", 500), 5),
}


@dataclass
class World:
    session: Any
    settings: Any
    target: FakeTarget
    faults: Faults
    clock: Clock
    topic: str
    inbox: str
    deps: Deps

    def config(self) -> PrefixConfig:
        return PrefixConfig.model_validate(
            {
                "prefix": PREFIX,
                "thresholds": {"max_files": 5, "max_age_seconds": 300},
                "manifest": {"bucket": MANIFEST_BUCKET},
                "notifications": {"success_topic_arn": self.topic, "failure_topic_arn": self.topic},
                "targets": [
                    {
                        "type": "postgres",
                        "name": "fake",
                        "table": "events",
                        "dsn": "host=/nowhere",
                        "sslmode": "disable",
                    }
                ],
            }
        )

    def service(self) -> LoaderService:
        return LoaderService(
            self.deps,
            loader=self.target,
            notifier=build_notifier(self.deps, clock=self.clock),
            clock=self.clock,
        )

    def deliver(self, events: list[dict[str, Any]], rounds: int = 10) -> int:
        """Deliver SQS events; failed messages come back (as SQS would) until none fail; an
        invocation that fails as a whole comes back whole. Returns the failed deliveries."""
        failures = 0
        for event in events:
            pending = event
            for _ in range(rounds):
                try:
                    failed = self.service().handle(parse_event(pending)).failed_message_ids
                except RetryableError:
                    failed = [r["messageId"] for r in pending["Records"]]
                if not failed:
                    break
                failures += len(failed)
                pending = {"Records": [r for r in pending["Records"] if r["messageId"] in failed]}
            else:
                raise AssertionError(f"messages still failing after {rounds} deliveries")
        return failures

    def finish(self) -> None:
        """Age seals the last batch; leases of interrupted batches expire; sweeps."""
        for _ in range(3):
            self.clock.advance(self.deps.settings.lease_seconds + 1)
            self.service().handle(parse_event({"loader": "sweep"}))

    def audit(self, expected: list[tuple[str, str]]) -> Outcome:
        return audit_fake(self.deps, self.target, expected, prefixes=[PREFIX], now=self.clock())


@pytest.fixture
def world(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with fast_backoff(monkeypatch):
        admin = new_session()
        settings = provision(admin)
        topic, inbox = topic_with_inbox(admin, "outcomes")
        session = new_session()  # the loader's: faults are injected into it only
        faults = Faults().attach(session)
        clock = Clock()
        target = FakeTarget.create(admin.client("s3"))
        built = World(
            session, settings, target, faults, clock, topic, inbox, Deps(settings, session)
        )
        Deps(settings, admin).configs.put(built.config(), clock())
        yield built


def stream(n: int, duplicates: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """n files in SQS events of 10 messages, some delivered twice; and the expected versions."""
    records = [s3_record(BUCKET, f"faults/f-{i:04d}.csv", size=10, etag=f"e{i}") for i in range(n)]
    sent = records + records[:duplicates]
    events = [sqs_event(*(s3_event(r) for r in sent[i : i + 10])) for i in range(0, len(sent), 10)]
    expected = [(f"s3://{BUCKET}/faults/f-{i:04d}.csv", f"e{i}") for i in range(n)]
    return events, expected


@pytest.mark.parametrize("fault", list(TRANSIENT), ids=list(TRANSIENT))
def test_transient_faults_are_retried_until_every_file_is_loaded_once(
    world: World, fault: str, report: Report
) -> None:
    # GIVEN AWS answering the first requests of one kind with a transient error
    event, response, times = TRANSIENT[fault]
    injected = world.faults.add(Fault(event, response, times))
    events, expected = stream(scaled(14), duplicates=3)

    # WHEN the notifications arrive (failed messages redelivered) and the sweep runs
    world.deliver(events)
    world.finish()

    # THEN the faults were all met, and every file is loaded exactly once
    outcome = world.audit(expected)
    report.add(SCENARIO_TRANSIENT, faults=injected.injected, note=fault, **outcome.counts())
    assert injected.injected == injected.times
    outcome.assert_exactly_once()


def test_a_registration_that_keeps_failing_is_reported_to_sqs_and_succeeds_when_redelivered(
    world: World, report: Report
) -> None:
    # GIVEN DynamoDB throttling every registration for longer than the loader retries
    fault = world.faults.add(Fault("dynamodb.TransactWriteItems", throttled(), times=10_000))
    events, expected = stream(12, duplicates=0)

    # WHEN the first SQS batch is delivered
    failed = world.service().handle(parse_event(events[0])).failed_message_ids

    # THEN every message of it is reported failed (SQS will deliver them again) ...
    assert failed == sorted(r["messageId"] for r in events[0]["Records"])
    # ... and once DynamoDB recovers, the redeliveries load every file once
    fault.times = fault.injected
    world.deliver(events)
    world.finish()
    outcome = world.audit(expected)
    report.add(
        SCENARIO_TRANSIENT,
        faults=fault.injected,
        note="registration outlasts retries",
        **outcome.counts(),
    )
    outcome.assert_exactly_once()


PERMANENT = {
    "manifest bucket denies writes": (("s3.PutObject", s3_error("AccessDenied", 403)), None),
    "destination rejects the data": (None, "result"),
    "destination refuses permission": (None, "terminal"),
}


@pytest.mark.parametrize("case", list(PERMANENT), ids=list(PERMANENT))
def test_a_permanent_failure_marks_the_batch_error_notifies_and_reprocesses_to_exactly_once(
    world: World, case: str, report: Report
) -> None:
    # GIVEN a fault that retrying cannot fix
    spec, fail_with = PERMANENT[case]
    fault = world.faults.add(Fault(*spec, times=10_000)) if spec else None
    world.target.fail_with = fail_with
    events, expected = stream(10, duplicates=2)

    # WHEN the files arrive
    world.deliver(events)

    # THEN the batches are marked error, with a failure notification each, and nothing loaded
    failed = [b for b in headers(world.deps, [PREFIX]) if b.file_count]
    assert failed and all(b.status is BatchStatus.ERROR and b.error for b in failed)
    notes = [n for n in notified(world.session, world.inbox) if n["status"] == "error"]
    assert {n["batch_id"] for n in notes} == {b.batch_id for b in failed}
    assert world.target.committed() == []
    outcome = world.audit(expected)
    assert outcome.lost == [] and outcome.failed_versions == 10

    # WHEN the cause is fixed and an operator reprocesses the failed batches
    if fault is not None:
        fault.times = fault.injected
    world.target.fail_with = None
    processor = BatchLifecycle(world.deps, world.target, build_notifier(world.deps), world.clock)
    config = world.config()
    reprocess_failed(
        world.deps,
        [b.batch_id for b in failed],
        now=world.clock(),
        run=lambda b: processor.run(config, b, "operator", world.clock() + 600),
    )

    # THEN every file is loaded exactly once
    outcome = world.audit(expected)
    report.add(SCENARIO_PERMANENT, faults=len(failed), note=case, **outcome.counts())
    outcome.assert_exactly_once()


def test_notifications_that_cannot_be_sent_do_not_hold_up_loading(
    world: World, report: Report, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a topic that refuses every publish
    fault = world.faults.add(
        Fault("sns.Publish", query_error("AuthorizationError", 403), times=10_000)
    )
    events, expected = stream(10, duplicates=0)

    # WHEN the files arrive
    world.deliver(events)

    # THEN the batches complete, and the failed notification is logged for operators
    outcome = world.audit(expected)
    report.add(
        SCENARIO_PERMANENT, faults=fault.injected, note="notifications refused", **outcome.counts()
    )
    outcome.assert_exactly_once()
    assert {b.status for b in headers(world.deps, [PREFIX]) if b.file_count} == {
        BatchStatus.COMPLETE
    }
    assert [r for r in caplog.records if r.getMessage() == "notification_failed"]
