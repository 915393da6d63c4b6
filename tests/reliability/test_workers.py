"""Several worker processes against one moto server: thousands of files, duplicated and
reordered deliveries, thresholds changed while they run, keys re-uploaded under both policies,
and workers SIGKILLed at random moments. Every file version ends in exactly one load.

moto runs as a server with every request serialized (local_aws/moto_server.py): stricter than
DynamoDB's per-item atomicity, so it cannot invent races, and it cannot hide ours either.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from reliability.crash_run import notified, topic_with_inbox
from reliability.destinations import FakeTarget
from reliability.harness import new_session
from reliability.invariants import Outcome, Version, audit_fake, headers
from reliability.report import Report, scale, scaled
from reliability.workers import Dispatcher, preload

from config.models import PrefixConfig
from loader.deps import Deps
from loader.events import parse_event
from loader.models import BatchStatus
from loader.notify import build_notifier
from loader.service import LoaderService
from loader.settings import Settings
from local_aws import moto_patches
from local_aws.moto_server import MotoServer
from support.aws import BUCKET, MANIFEST_BUCKET, provision
from support.events import s3_event, s3_record, sqs_event

pytestmark = pytest.mark.timeout(max(300, round(300 * scale())))

LEASE = 300
MAX_AGE = 600
FOLDERS = {"ignore": f"{BUCKET}/ignore", "reload": f"{BUCKET}/reload"}
# Thresholds in force as the stream goes on (changed while the workers run).
THRESHOLDS = [
    {"max_files": 40},
    {"max_files": 7},
    {"max_bytes": 150},
    {"max_files": 60, "max_age_seconds": MAX_AGE},
]


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    moto_patches.apply()
    preload()
    with MotoServer() as moto:
        yield moto


@dataclass
class World:
    endpoint: str
    settings: Settings
    deps: Deps
    target: FakeTarget
    topic: str
    inbox: str
    session: Any

    def config(self, folder: str, thresholds: dict[str, Any]) -> PrefixConfig:
        return PrefixConfig.model_validate(
            {
                "prefix": FOLDERS[folder],
                "thresholds": thresholds,
                "manifest": {"bucket": MANIFEST_BUCKET},
                "notifications": {"success_topic_arn": self.topic, "failure_topic_arn": self.topic},
                "reupload": folder,
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

    def set_thresholds(self, thresholds: dict[str, Any]) -> None:
        for folder in FOLDERS:
            self.deps.configs.put(self.config(folder, thresholds), time.time())

    def environ(self) -> dict[str, str]:
        names = (
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "LOADER_TEST_BROKEN",
        )
        return {
            **{n: os.environ[n] for n in names if n in os.environ},
            "AWS_ENDPOINT_URL": self.endpoint,
            "LOADER_LEASE_SECONDS": str(LEASE),
            "LOADER_CONFIG_TTL_SECONDS": "0",
        }

    def sweep(self, ahead: float) -> None:
        """The scheduled sweep, as if `ahead` seconds later (ages and leases run out)."""
        clock = lambda: time.time() + ahead  # noqa: E731
        LoaderService(
            self.deps, loader=self.target, notifier=build_notifier(self.deps), clock=clock
        ).handle(parse_event({"loader": "sweep"}))

    def audit(self, expected: list[Version], ahead: float) -> Outcome:
        return audit_fake(
            self.deps, self.target, expected, prefixes=FOLDERS.values(), now=time.time() + ahead
        )


@pytest.fixture
def world(server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> World:
    server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    session = new_session()
    settings = provision(session, flush_queue=False)
    topic, inbox = topic_with_inbox(session, "outcomes")
    target = FakeTarget.create(session.client("s3"))
    built = World(server.endpoint, settings, Deps(settings, session), target, topic, inbox, session)
    built.set_thresholds(THRESHOLDS[0])
    return built


@dataclass
class Stream:
    phase1: list[dict[str, Any]]
    phase2: list[dict[str, Any]]
    expected: list[Version]
    notices: int


def make_stream(
    files: int, seed: int, duplicate_share: float = 0.15, reupload_share: float = 0.05
) -> Stream:
    """Every file once, a share of them again, shuffled; later, re-uploads of a few keys with
    their duplicates and some stale first-version notifications, shuffled too."""
    rng = random.Random(seed)

    def record(i: int, version: int) -> dict[str, Any]:
        folder = "ignore" if i % 2 else "reload"
        return s3_record(
            BUCKET,
            f"{folder}/f-{i:05d}.csv",
            size=10,
            etag=f"v{version}-{i}",
            sequencer=f"{version:016X}",
        )

    first = [record(i, 1) for i in range(files)]
    again = rng.sample(first, int(files * duplicate_share))
    reuploaded = rng.sample(range(files), max(2, int(files * reupload_share)))
    second = [record(i, 2) for i in reuploaded]
    later = second + rng.sample(second, len(second) // 3) + rng.sample(first, len(second))
    phase1, phase2 = first + again, later
    rng.shuffle(phase1)
    rng.shuffle(phase2)
    expected = [
        (f"s3://{BUCKET}/{r['s3']['object']['key']}", r["s3"]["object"]["eTag"]) for r in first
    ]
    expected += [
        (f"s3://{BUCKET}/{r['s3']['object']['key']}", r["s3"]["object"]["eTag"])
        for r in second
        if "/reload/" in f"/{r['s3']['object']['key']}"
    ]
    return Stream(_batches(phase1), _batches(phase2), expected, len(phase1) + len(phase2))


def _batches(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SQS events of 10 messages, one notification each."""
    events = []
    for start in range(0, len(records), 10):
        event = sqs_event(*(s3_event(r) for r in records[start : start + 10]))
        for n, r in enumerate(event["Records"]):
            r["messageId"] = f"m{start + n}"
        events.append(event)
    return events


def run_stream(
    world: World, stream: Stream, *, kills: int, seed: int, change_thresholds: bool
) -> Dispatcher:
    steps = len(stream.phase1)
    # After a quarter, half and three quarters of the first phase, new thresholds.
    marks = {stage * steps // len(THRESHOLDS): stage for stage in range(1, len(THRESHOLDS))}

    def between(done: int) -> None:
        if change_thresholds and done in marks:
            world.set_thresholds(THRESHOLDS[marks[done]])

    dispatcher = Dispatcher(world.environ(), workers=4, kills=kills, seed=seed, between=between)
    try:
        dispatcher.run(stream.phase1)
        world.set_thresholds(THRESHOLDS[-1])
        world.sweep(ahead=MAX_AGE + LEASE + 1)  # the first versions' batches all end
        dispatcher.between = lambda done: None
        dispatcher.run(stream.phase2)
    finally:
        dispatcher.stop()
    world.sweep(ahead=MAX_AGE + LEASE + 1)
    world.sweep(ahead=2 * (MAX_AGE + LEASE + 1))
    return dispatcher


def test_concurrent_workers_load_every_version_once_through_duplicates_reorders_and_changes(
    world: World, report: Report
) -> None:
    # GIVEN four workers, a stream of notifications with duplicates in any order, thresholds
    # changed three times while they run, and a few keys uploaded again under each policy
    stream = make_stream(scaled(800), seed=11)

    # WHEN the stream is delivered
    dispatcher = run_stream(world, stream, kills=0, seed=11, change_thresholds=True)

    # THEN every version is loaded exactly once (the re-upload once more under `reload` only)
    outcome = world.audit(stream.expected, ahead=3 * (MAX_AGE + LEASE))
    report.add(
        "concurrent workers, duplicates, changes, re-uploads",
        faults=dispatcher.failed_messages,
        **outcome.counts(),
    )
    outcome.assert_exactly_once()
    # ... and without crashes, each batch was handed to the target and notified exactly once
    batches = [b for b in headers(world.deps, FOLDERS.values()) if b.file_count]
    assert {b.status for b in batches} == {BatchStatus.COMPLETE}
    calls = world.target.load_calls()
    assert [b for b, n in calls.items() if n != 1] == [], "batches loaded more than once"
    notes = Counter(n["batch_id"] for n in notified(world.session, world.inbox))
    assert {b.batch_id: notes[b.batch_id] for b in batches if notes[b.batch_id] != 1} == {}
    # ... and the re-uploaded keys of `reload` were loaded in a later batch than their first
    _assert_reloads_come_later(world)


def _assert_reloads_come_later(world: World) -> None:
    """Each key re-uploaded under `reload` was loaded again, in another batch, after the first
    one reached the target (the target's own clock: workers and sweeps run on different ones)."""
    committed = world.target.commit_times()
    ledger = world.session.client("dynamodb").get_paginator("scan")
    reloaded = 0
    for page in ledger.paginate(TableName=world.settings.tables.files):
        for item in page["Items"]:
            if int(item["revision"]["N"]) == 1:
                continue
            reloaded += 1
            assert "/reload/" in item["url"]["S"], "a re-upload was registered under ignore"
            first = item["previous_batches"]["L"][-1]["S"]
            second = item["batch_id"]["S"]
            assert first != second and committed[first] < committed[second]
    assert reloaded


def test_workers_killed_at_random_moments_lose_and_duplicate_nothing(
    world: World, report: Report
) -> None:
    # GIVEN four workers of which some are SIGKILLed while handling deliveries
    stream = make_stream(scaled(300), seed=23)
    kills = scaled(4)

    # WHEN the stream is delivered (a killed worker's delivery comes again, to another worker),
    # then the leases expire and the sweep runs
    dispatcher = run_stream(world, stream, kills=kills, seed=23, change_thresholds=True)

    # THEN every version is loaded exactly once, and no batch is left behind
    outcome = world.audit(stream.expected, ahead=3 * (MAX_AGE + LEASE))
    report.add("worker processes SIGKILLed", faults=dispatcher.killed, **outcome.counts())
    assert dispatcher.killed == kills
    outcome.assert_exactly_once()
    batches = [b for b in headers(world.deps, FOLDERS.values()) if b.file_count]
    assert {b.status for b in batches} == {BatchStatus.COMPLETE}
