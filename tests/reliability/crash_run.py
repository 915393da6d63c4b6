"""One full run of the protocol, as a script of deliveries, that can be killed anywhere.

The run, for one prefix (max 3 files per batch, 600 s age threshold, policy `reload`):

  1. an SQS batch of two messages: f0, f1              -> registered in the open batch
  2. a direct S3 event: f1 again, f2                   -> a duplicate, a new file; 3 files:
                                                          sealed, manifest, loaded, notified
  3. a direct S3 event: f0 re-uploaded (new etag)      -> registered again, in the new batch
  4. 601 s later, the scheduled sweep                  -> sealed by age, loaded, notified

Flush timers are left out (no flush queue): the sweep is the age threshold's safety net and
the cheaper run lets every call be a crash point.

When the worker dies, the delivery it was handling is delivered again (SQS redelivery, Lambda
retry), to the same warm container; the later deliveries follow. Then recovery: the leases
expire and a fresh container runs the sweep.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from reliability.destinations import FakeTarget
from reliability.harness import Protocol, SimulatedCrash
from reliability.invariants import Outcome, Version, audit_fake

from config.models import PrefixConfig
from loader.deps import Deps
from loader.events import parse_event
from loader.notify import build_notifier
from loader.ports import LoadContext, LoadResult
from loader.service import LoaderService
from loader.settings import Settings
from support.aws import BUCKET, MANIFEST_BUCKET, Clock
from support.events import s3_event, s3_record, sqs_event

MAX_FILES = 3
MAX_AGE = 600


def topic_with_inbox(session: boto3.Session, name: str) -> tuple[str, str]:
    """An SNS topic and the SQS queue subscribed to it (to read what was notified)."""
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return topic, queue


def notified(session: boto3.Session, queue_url: str) -> list[dict[str, Any]]:
    """Every notification document delivered to the inbox so far (drains it)."""
    sqs = session.client("sqs")
    found = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return found
        for m in messages:
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


class _Counted:
    """The fake destination, its load counted as one protocol step."""

    def __init__(self, target: FakeTarget, protocol: Protocol) -> None:
        self._target, self._protocol = target, protocol

    def load(self, config: Any, batch: Any, manifest_url: str, context: LoadContext) -> LoadResult:
        with self._protocol.step("target.fake"):
            return self._target.load(config, batch, manifest_url, context)


@dataclass
class Delivery:
    name: str
    event: Callable[[], dict[str, Any]]
    before: Callable[[], None] = lambda: None
    _cached: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        """Built once: a redelivery is the same message, not a new one."""
        if self._cached is None:
            self.before()
            self._cached = self.event()
        return self._cached


@dataclass
class CrashRun:
    session: boto3.Session
    settings: Settings
    target: FakeTarget
    case: str
    topic: str
    inbox: str
    protocol: Protocol = field(default_factory=Protocol)
    clock: Clock = field(default_factory=Clock)
    crashes: int = 0

    @property
    def prefix(self) -> str:
        return f"{BUCKET}/crash/{self.case}"

    def config(self) -> PrefixConfig:
        return PrefixConfig.model_validate(
            {
                "prefix": self.prefix,
                "thresholds": {"max_files": MAX_FILES, "max_age_seconds": MAX_AGE},
                "manifest": {"bucket": MANIFEST_BUCKET},
                "notifications": {"success_topic_arn": self.topic, "failure_topic_arn": self.topic},
                "reupload": "reload",
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

    def service(self, deps: Deps) -> LoaderService:
        return LoaderService(
            deps,
            loader=_Counted(self.target, self.protocol),
            notifier=build_notifier(deps, clock=self.clock),
            clock=self.clock,
        )

    # --- the files --------------------------------------------------------------------------

    def record(self, i: int, version: int = 1) -> dict[str, Any]:
        return s3_record(
            BUCKET,
            f"crash/{self.case}/f{i}.csv",
            size=10,
            etag=f"{self.case}-f{i}-v{version}",
            sequencer=f"{version:016X}",
        )

    def expected(self) -> list[Version]:
        versions = [(0, 1), (1, 1), (2, 1), (0, 2)]
        return [
            (f"s3://{BUCKET}/crash/{self.case}/f{i}.csv", f"{self.case}-f{i}-v{v}")
            for i, v in versions
        ]

    def deliveries(self) -> list[Delivery]:
        r = self.record
        return [
            Delivery("sqs: f0, f1", lambda: sqs_event(s3_event(r(0)), s3_event(r(1)))),
            Delivery("s3: f1 again, f2", lambda: s3_event(r(1), r(2))),
            Delivery("s3: f0 re-uploaded", lambda: s3_event(r(0, 2))),
            Delivery(
                "sweep", lambda: {"loader": "sweep"}, before=lambda: self.clock.advance(MAX_AGE + 1)
            ),
        ]

    # --- the run --------------------------------------------------------------------------------

    def run(self) -> None:
        """Every delivery; a crash makes the same delivery come again to the warm container."""
        deps = Deps(self.settings, self.session)
        service = self.service(deps)
        for delivery in self.deliveries():
            while True:
                try:
                    result = service.handle(parse_event(delivery.payload()))
                except SimulatedCrash:
                    self.crashes += 1
                    service = self.service(deps)  # the container survives the error
                    continue
                assert result.failed_message_ids == [], delivery.name
                break

    def recover(self) -> None:
        """The crashed worker's leases expire; a fresh container's sweep finishes its batches."""
        self.protocol.disarm()
        self.clock.advance(self.settings.lease_seconds + 1)
        deps = Deps(self.settings, self.session)
        self.service(deps).handle(parse_event({"loader": "sweep"}))

    def audit(self) -> Outcome:
        deps = Deps(self.settings, self.session)
        return audit_fake(
            deps, self.target, self.expected(), prefixes=[self.prefix], now=self.clock()
        )
