"""The container worker: its loop against a real (moto) SQS, and the whole worker process against
moto + the Redshift stand-in, stopped by SIGTERM in the middle of a load and restarted."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from loader.deps import Deps
from loader.models import BatchStatus
from loader.settings import Settings
from local_aws.moto_server import MotoServer
from redshift_standin.testing import embedded_postgres, standin
from setup_cli.local.samples import FEEDS, ORDERS_TABLE, sample_file
from setup_cli.local.stack import (
    REGION,
    Resources,
    aws_environment,
    loader_environment,
    provision,
)
from setup_cli.worker.decisions import WorkerOptions
from setup_cli.worker.loop import Worker
from setup_cli.worker.sqs import SqsQueues
from support.local_stack import child_env, ids_in, spawned, wait_until

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    with MotoServer() as server:
        for name, value in aws_environment(server.endpoint).items():
            monkeypatch.setenv(name, value)
        yield server


# --- the loop, against SQS ----------------------------------------------------------------------


def loop_worker(queue_url: str, invoke: Callable[..., Any], **options: Any) -> Worker:
    settings = {"wait_seconds": 0, "idle_sleep": 0.05, "sweep_interval": 0, **options}
    sqs = boto3.client("sqs")
    return Worker(
        WorkerOptions(queue_urls=(queue_url,), **settings), SqsQueues(sqs, time.monotonic), invoke
    )


def queue_counts(queue_url: str) -> tuple[int, int]:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_stopped_mid_batch_it_finishes_the_batch_and_deletes_only_what_succeeded(
    moto: MotoServer,
) -> None:
    # Given three messages, and a handler that fails "b" and is interrupted while it runs
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="worker-loop")["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("loader") == "sweep":
            return {}
        records = event["Records"]
        seen.append(sorted(r["body"] for r in records))
        worker.stop("SIGTERM in the test")  # the signal arrives mid-batch
        failed = [r["messageId"] for r in records if r["body"] == "b"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    worker = loop_worker(url, handler, visibility_timeout=3)

    # When the worker runs until it is stopped
    assert worker.run() == 0

    # Then the batch in hand was finished: "a" and "c" deleted, "b" left to come back
    assert seen == [["a", "b", "c"]]
    assert queue_counts(url) == (0, 1)

    def redelivered() -> list[str]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in got]

    assert wait_until(redelivered, 10, "the failed message to become visible again") == ["b"]


def test_visibility_is_extended_while_a_slow_batch_runs(moto: MotoServer) -> None:
    # Given a message whose visibility timeout is shorter than its processing
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="worker-heartbeat")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="slow")
    seen_by_others: list[list[Any]] = []

    def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("loader") == "sweep":
            return {}
        time.sleep(3.6)  # past the 3 s visibility timeout it was received with
        peek = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        seen_by_others.append(peek.get("Messages", []))
        worker.stop()
        return {}

    worker = loop_worker(url, slow_handler, visibility_timeout=3)

    # When it is processed
    worker.run()

    # Then no other consumer could receive it meanwhile, and it is gone afterwards
    assert seen_by_others == [[]]
    assert queue_counts(url) == (0, 0)


def test_the_sweep_runs_on_its_own_timer_even_with_nothing_to_receive(moto: MotoServer) -> None:
    url = boto3.client("sqs").create_queue(QueueName="worker-idle")["QueueUrl"]
    sweeps: list[float] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert event == {"loader": "sweep"}
        sweeps.append(time.monotonic())
        return {"sealed": [], "registered": 0}

    worker = loop_worker(url, handler, sweep_interval=0.3)
    threading.Timer(1.2, worker.stop).start()

    worker.run()

    assert 3 <= len(sweeps) <= 6
    assert all(b - a >= 0.29 for a, b in itertools.pairwise(sweeps))


# --- the process, end to end --------------------------------------------------------------------

GET_OBJECT_DELAY = 0.25  # per S3 read by the stand-in's COPY: a 9-file load takes over 2 s
FILES = 24
ROWS_PER_FILE = 5
WORKER = [
    "-m", "setup_cli.worker",
    "--wait-seconds", "0", "--idle-sleep", "0.2", "--sweep-interval", "1",
    "--visibility-timeout", "20", "--batch-size", "10",
]  # fmt: skip


def slow_s3(endpoint: str) -> Callable[[], Any]:
    def build() -> Any:
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        client.meta.events.register(
            "before-call.s3.GetObject", lambda **_: time.sleep(GET_OBJECT_DELAY)
        )
        return client

    return build


@pytest.fixture
def worker_stack(moto: MotoServer) -> Iterator[Resources]:
    """moto + PostgreSQL behind a stand-in whose S3 reads are slow; batches seal at 8 files."""
    with embedded_postgres() as postgres, standin(postgres, slow_s3(moto.endpoint)) as proxy:
        yield provision(
            boto3.Session(region_name=REGION),
            endpoint=moto.endpoint,
            standin=proxy,
            age_seconds=2,
            max_files=8,
        )


def unfinished_batches(resources: Resources) -> list[str]:
    batches = Deps(Settings.from_env(loader_environment(resources))).batches
    return [
        f"{b.batch_id}:{b.status.value}"
        for status in (BatchStatus.OPEN, BatchStatus.SEALED, BatchStatus.LOADING, BatchStatus.ERROR)
        for b in batches.batches_by_status(status)
        if b.file_count
    ]


def test_a_worker_sigtermed_mid_load_then_restarted_loads_every_file_exactly_once(
    worker_stack: Resources,
) -> None:
    stack = worker_stack
    # Given 24 CSV files whose notifications wait in the queue
    csv = FEEDS[0]
    s3 = boto3.client("s3")
    files = [
        sample_file(csv, f"part-{i:03d}.csv", 1 + i * ROWS_PER_FILE, ROWS_PER_FILE)
        for i in range(FILES)
    ]
    for f in files:
        s3.put_object(Bucket=stack.bucket, Key=f"{csv.folder}/{f.name}", Body=f.body)
    env = child_env({**aws_environment(stack.endpoint), **loader_environment(stack)})

    # When a worker gets SIGTERM while it loads its first batch
    with spawned(WORKER, env) as first:
        first.wait_for_event("batch_sealed", 60)
        first.signal(signal.SIGTERM)
        code = first.wait(60)

    # Then it finishes that batch, deletes its messages, leaves the rest and exits 0
    assert code == 0, first.output
    events = first.events()
    names = [e.get("message") for e in events]
    stop_at = names.index("worker_stop_requested")
    assert events[stop_at]["mid_batch"] is True, first.output
    started = [e for e in events[:stop_at] if e.get("message") == "worker_batch_started"][-1]
    done = next(e for e in events[stop_at:] if e.get("message") == "worker_batch_done")
    assert (done["deleted"], done["retried"]) == (started["messages"], 0)
    assert "batch_loaded" in names[stop_at:]
    assert names[-1] == "worker_stopped"
    assert names.count("worker_batch_started") == names.count("worker_batch_done")
    left = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.notification_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(left["ApproximateNumberOfMessages"]) > 0, "expected work left for the restart"

    # When a new worker starts and runs until everything is loaded
    expected = list(range(1, FILES * ROWS_PER_FILE + 1))
    with spawned(WORKER, env) as second:
        wait_until(
            lambda: (
                len(ids_in(stack.postgres_dsn, ORDERS_TABLE, "order_id")) >= len(expected)
                and not unfinished_batches(stack)
            ),
            60,
            "every file loaded and every batch complete",
        )
        second.signal(signal.SIGTERM)
        assert second.wait(60) == 0, second.output

    # Then every row is there exactly once, every file is in a complete batch, and the queues
    # are empty
    assert ids_in(stack.postgres_dsn, ORDERS_TABLE, "order_id") == expected
    assert unfinished_batches(stack) == []
    store = Deps(Settings.from_env(loader_environment(stack))).batches
    for f in files:
        record = store.get_file(f"s3://{stack.bucket}/{csv.folder}/{f.name}")
        assert record is not None, f.name
        batch = store.get_batch(record.batch_id)
        assert batch is not None and batch.status is BatchStatus.COMPLETE, f.name
    assert queue_counts(stack.notification_queue_url) == (0, 0)
    assert queue_counts(stack.flush_queue_url) == (0, 0)
