"""The two races the batch protocol exists for, forced to happen in the worst order.

Random scheduling (test_workers.py) hits these windows only sometimes; here one worker is held
at the exact call, in its own thread, while another worker goes all the way, then released:

- a worker that decided to seal a batch another worker has already sealed and loaded;
- a worker that registers files into a batch another worker has sealed since it looked.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from reliability.crash_run import notified, topic_with_inbox
from reliability.destinations import FakeTarget
from reliability.harness import new_session
from reliability.invariants import audit_fake, headers
from reliability.report import Report

from config.models import PrefixConfig
from loader.deps import Deps
from loader.events import parse_event
from loader.models import BatchStatus
from loader.notify import build_notifier
from loader.service import LoaderService
from loader.settings import Settings
from support.aws import BUCKET, MANIFEST_BUCKET, Clock, provision
from support.events import s3_event, s3_record

PREFIX = f"{BUCKET}/race"


class Hold:
    """Holds a worker just before the first call `matches` accepts, until released."""

    def __init__(self, session: boto3.Session, matches: Callable[[str, dict[str, Any]], bool]):
        self.reached, self.released = threading.Event(), threading.Event()
        self._matches, self._done = matches, False
        # The API parameters as the worker passed them; nothing has been sent yet.
        session.events.register_first("before-parameter-build", self._before)

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if self._done or not self._matches(model.name, params):
            return
        self._done = True
        self.reached.set()
        assert self.released.wait(60), "never released"


def _updates(params: dict[str, Any]) -> list[dict[str, Any]]:
    return [i["Update"] for i in params.get("TransactItems", []) if "Update" in i]


def is_seal(operation: str, params: dict[str, Any]) -> bool:
    return operation == "TransactWriteItems" and any(
        "#seal_reason" in u.get("ExpressionAttributeNames", {}) for u in _updates(params)
    )


def is_registration(operation: str, params: dict[str, Any]) -> bool:
    return operation == "TransactWriteItems" and any(
        "Put" in i and "url" in i["Put"]["Item"] for i in params.get("TransactItems", [])
    )


@dataclass
class World:
    admin: boto3.Session
    settings: Settings
    target: FakeTarget
    topic: str
    inbox: str
    clock: Clock

    def worker(
        self, hold: Callable[[str, dict[str, Any]], bool] | None = None
    ) -> tuple[LoaderService, Hold | None]:
        session = new_session()
        held = Hold(session, hold) if hold else None
        deps = Deps(self.settings, session)
        service = LoaderService(
            deps,
            loader=self.target,
            notifier=build_notifier(deps, clock=self.clock),
            clock=self.clock,
        )
        return service, held


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        admin = new_session()
        settings = provision(admin, flush_queue=False)
        topic, inbox = topic_with_inbox(admin, "outcomes")
        clock = Clock()
        config = PrefixConfig.model_validate(
            {
                "prefix": PREFIX,
                "thresholds": {"max_files": 4, "max_age_seconds": 600},
                "manifest": {"bucket": MANIFEST_BUCKET},
                "notifications": {"success_topic_arn": topic},
                "targets": [
                    {
                        "type": "postgres",
                        "name": "fake",
                        "table": "t",
                        "dsn": "host=/nowhere",
                        "sslmode": "disable",
                    }
                ],
            }
        )
        Deps(settings, admin).configs.put(config, clock())
        yield World(admin, settings, FakeTarget.create(admin.client("s3")), topic, inbox, clock)


def files(*names: str) -> dict[str, Any]:
    return s3_event(*(s3_record(BUCKET, f"race/{n}.csv", size=10, etag=n) for n in names))


def interleave(
    held: LoaderService,
    hold: Hold,
    event_held: dict[str, Any],
    other: LoaderService,
    event_other: dict[str, Any],
) -> None:
    """`held` runs until its hold; `other` runs to the end; then `held` finishes."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            held.handle(parse_event(event_held))
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert hold.reached.wait(30), "the held worker never reached its call"
    other.handle(parse_event(event_other))
    hold.released.set()
    thread.join(30)
    assert not thread.is_alive() and errors == []


def expected(*names: str) -> list[tuple[str, str]]:
    return [(f"s3://{BUCKET}/race/{n}.csv", n) for n in names]


def test_a_worker_that_lost_the_race_to_seal_leaves_the_batch_alone(
    world: World, report: Report
) -> None:
    # GIVEN worker B holding a full batch it is about to seal
    b, hold = world.worker(hold=is_seal)
    a, _ = world.worker()
    a.handle(parse_event(files("f1", "f2")))

    # WHEN worker A fills the same batch, seals, loads and completes it first, then B goes on
    interleave(b, hold, files("b1", "b2"), a, files("a1"))

    # THEN the batch was sealed, loaded and notified once, with every file in it
    [batch] = [x for x in headers(Deps(world.settings, world.admin), [PREFIX]) if x.file_count]
    assert batch.status is BatchStatus.COMPLETE and batch.file_count == 5
    assert world.target.load_calls() == Counter({batch.batch_id: 1})
    notes = Counter(n["batch_id"] for n in notified(world.admin, world.inbox))
    assert notes == Counter({batch.batch_id: 1})
    outcome = audit_fake(
        Deps(world.settings, world.admin),
        world.target,
        expected("f1", "f2", "b1", "b2", "a1"),
        prefixes=[PREFIX],
        now=world.clock(),
    )
    report.add("forced races (seal, registration)", faults=1, **outcome.counts())
    outcome.assert_exactly_once()


def test_files_registered_after_a_seal_they_did_not_see_go_to_the_next_batch(
    world: World, report: Report
) -> None:
    # GIVEN worker B about to register two files into the open batch it knows
    a, _ = world.worker()
    a.handle(parse_event(files("f1", "f2")))
    b, hold = world.worker(hold=is_registration)

    # WHEN worker A fills that batch, seals and loads it in the meantime, then B goes on, and
    # later the age threshold seals what B registered
    interleave(b, hold, files("b1", "b2"), a, files("a1", "a2"))
    world.clock.advance(601)
    a.handle(parse_event({"loader": "sweep"}))

    # THEN B's files are in the next batch, loaded once, and the first batch holds only A's
    outcome = audit_fake(
        Deps(world.settings, world.admin),
        world.target,
        expected("f1", "f2", "a1", "a2", "b1", "b2"),
        prefixes=[PREFIX],
        now=world.clock(),
    )
    report.add("forced races (seal, registration)", faults=1, **outcome.counts())
    outcome.assert_exactly_once()
    loaded = sorted(sorted(urls) for urls in world.target.committed())
    assert [len(urls) for urls in loaded] in ([2, 4], [4, 2])
    assert json.dumps(loaded).count("/b1.csv") == 1
