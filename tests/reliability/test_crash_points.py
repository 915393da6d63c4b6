"""A worker killed at any external call of a full run loses nothing and duplicates nothing.

The run (crash_run.py) is recorded once at collection; every call it makes (registration and
seal transactions, manifest write, the destination's load, outcome writes, notification, timers,
sweep queries) becomes two cases: the worker dies just before the call, or just after it took
effect. Redelivery, lease expiry and the sweep then do their work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws
from reliability.crash_run import CrashRun, notified, topic_with_inbox
from reliability.destinations import FakeTarget
from reliability.harness import CrashPoint, Protocol, new_session
from reliability.invariants import headers
from reliability.report import Report

from loader.deps import Deps
from loader.models import BatchStatus
from loader.settings import Settings
from support.aws import provision

SCENARIO = "crash at every call (fake target)"


@dataclass
class World:
    admin: boto3.Session
    settings: Settings
    target: FakeTarget
    topic: str
    inbox: str

    def run(self, case: str, crash: CrashPoint | None = None) -> CrashRun:
        worker = new_session()  # the loader's session, watched
        run = CrashRun(
            worker,
            self.settings,
            self.target,
            case,
            self.topic,
            self.inbox,
            protocol=Protocol(crash),
        )
        Deps(self.settings, self.admin).configs.put(run.config(), run.clock())
        run.protocol.attach(worker)
        return run


def _world() -> World:
    admin = new_session()
    settings = provision(admin, flush_queue=False)
    topic, inbox = topic_with_inbox(admin, "outcomes")
    return World(admin, settings, FakeTarget.create(admin.client("s3")), topic, inbox)


def record_calls() -> list[str]:
    """The calls of one uninterrupted run (collection time: the cases are its calls)."""
    with mock_aws():
        run = _world().run("recording")
        run.run()
        return run.protocol.calls


@pytest.fixture
def world() -> Iterator[World]:
    """A fresh AWS per case: moto's scans and index queries grow with what earlier cases left."""
    with mock_aws():
        yield _world()


def test_the_recorded_run_loads_every_file_version_once(world: World) -> None:
    run = world.run("uninterrupted")

    run.run()

    run.audit().assert_exactly_once()
    statuses = [b.status for b in headers(Deps(world.settings, world.admin), [run.prefix])]
    assert sorted(statuses) == [BatchStatus.COMPLETE, BatchStatus.COMPLETE, BatchStatus.OPEN]


def test_a_worker_killed_at_any_call_loses_and_duplicates_nothing(
    world: World, crash_point: CrashPoint, report: Report
) -> None:
    # GIVEN a worker that dies at this call of the run
    run = world.run(crash_point.id, crash_point)

    # WHEN the deliveries go on (the interrupted one again), then the leases expire and the
    # sweep runs
    run.run()
    run.recover()

    # THEN every file version is in exactly one committed load, no batch is left behind,
    # and every loaded batch was notified at least once
    outcome = run.audit()
    report.add(SCENARIO, faults=run.crashes, **outcome.counts())
    assert run.crashes == 1
    outcome.assert_exactly_once()
    batches = headers(Deps(world.settings, world.admin), [run.prefix])
    complete = {b.batch_id for b in batches if b.status is BatchStatus.COMPLETE}
    assert len(complete) == 2
    notes = Counter(
        n["batch_id"]
        for n in notified(world.admin, world.inbox)
        if n["prefix"] == run.prefix and n["status"] == "complete"
    )
    assert complete <= set(notes), f"loaded batches never notified: {complete - set(notes)}"
