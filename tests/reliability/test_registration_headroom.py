"""Registration without a read, and several prefixes in one transaction (issue 17, targets 1, 4).

A registration write that finds headroom on its batch (open, below every size threshold by more
than it adds, not due by age, age timer sent) reads nothing and decides nothing; every other
write takes the plain path and is followed by a read and the decision. These tests hold the
thresholds to their exact values on both paths, make a prefix's part of a shared transaction
lose while the others go on, and count the DynamoDB calls of the steady state on real moto calls.

`--broken=headroom-condition` (headroom granted to any open batch) and
`--broken=registration-condition` (files may join a sealed batch) make them fail.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from loader.deps import Deps
from loader.events import parse_event
from loader.models import BatchStatus
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record, sqs_event
from support.fakes import RecordingLoader


@pytest.fixture
def loader(env: Env) -> RecordingLoader:
    return RecordingLoader(env.session)


def record(i: int, folder: str = "events", size: int = 10) -> dict[str, Any]:
    return s3_record(BUCKET, f"{folder}/file-{i:05d}.csv", size=size)


def one_by_one(env: Env, loader: RecordingLoader, records: list[dict[str, Any]]) -> None:
    """Each file in its own invocation (S3 event), one warm container."""
    for r in records:
        env.service(loader=loader).handle(parse_event(s3_event(r)))


def in_sqs_batches(
    env: Env, loader: RecordingLoader, records: list[dict[str, Any]], size: int
) -> list[Any]:
    """SQS batches of `size` messages, one file each; returns each invocation's result."""
    results = []
    for start in range(0, len(records), size):
        event = sqs_event(*(s3_event(r) for r in records[start : start + size]))
        results.append(env.service(loader=loader).handle(parse_event(event)))
    return results


def sealed_counts(env: Env, reason: str) -> list[int]:
    done = [b for b in env.batches() if b.status is not BatchStatus.OPEN]
    assert all(b.seal_reason == reason for b in done), [b.seal_reason for b in done]
    return sorted(b.file_count for b in done)


def open_count(env: Env, prefix: str = f"{BUCKET}/events") -> int:
    batch = env.deps.batches.open_batch(prefix)
    return batch.file_count if batch else 0


def assert_each_file_once(env: Env, urls: list[str]) -> None:
    ledger = {item["url"]: item for item in env.ledger()}
    assert sorted(ledger) == sorted(urls)
    members = Counter(m.url for b in env.batches() for m in env.deps.batches.members(b.batch_id))
    assert members == Counter(urls)
    for url in urls:  # the ledger and the membership agree
        batch = ledger[url]["batch_id"]
        assert url in {m.url for m in env.deps.batches.members(batch)}


@contextmanager
def dynamodb_calls(deps: Deps) -> Iterator[Counter[str]]:
    """The DynamoDB operations the loader's own client makes (botocore before-call hooks)."""
    calls: Counter[str] = Counter()
    client = deps.client("dynamodb")

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.dynamodb.*", count)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb.*", count)


# --- the count threshold, exact on both paths ------------------------------------------------


def test_one_file_per_invocation_seals_at_exactly_max_files(env: Env, loader) -> None:
    # Given a prefix sealed at 5 files (and by age, so every batch has a timer to arm).
    env.put_config(make_config(thresholds={"max_files": 5, "max_age_seconds": 300}))

    # When 12 files arrive one per invocation.
    one_by_one(env, loader, [record(i) for i in range(12)])

    # Then two batches were sealed at exactly 5 and loaded; 2 files wait in the open one.
    assert sealed_counts(env, "max_files") == [5, 5]
    assert sorted(len(urls) for urls in loader.loaded.values()) == [5, 5]
    assert open_count(env) == 2
    assert_each_file_once(env, [f"s3://{BUCKET}/events/file-{i:05d}.csv" for i in range(12)])


def test_sqs_batches_seal_at_the_first_count_that_reaches_max_files(env: Env, loader) -> None:
    # A write registers its files whole: the count crosses max_files by less than one write's
    # files (the documented bound), exactly as before headroom.
    env.put_config(make_config(thresholds={"max_files": 6, "max_age_seconds": 300}))
    in_sqs_batches(env, loader, [record(i) for i in range(12)], size=3)
    assert sealed_counts(env, "max_files") == [6, 6]
    assert open_count(env) == 0

    env.put_config(make_config(thresholds={"max_files": 7, "max_age_seconds": 300}))
    in_sqs_batches(env, loader, [record(i) for i in range(12, 21)], size=3)
    assert sealed_counts(env, "max_files") == [6, 6, 9]  # 7 <= 9 < 7 + 3


def test_the_byte_threshold_seals_at_exactly_max_bytes(env: Env, loader) -> None:
    env.put_config(make_config(thresholds={"max_bytes": 50, "max_age_seconds": 300}))
    one_by_one(env, loader, [record(i, size=10) for i in range(11)])
    done = [b for b in env.batches() if b.status is not BatchStatus.OPEN]
    assert sorted(b.total_bytes for b in done) == [50, 50]
    assert {b.seal_reason for b in done} == {"max_bytes"}


def test_a_file_arriving_after_the_batch_is_due_by_age_seals_it(env: Env, loader) -> None:
    # Given a batch whose age timer was sent, and which is overdue (the timer is late).
    env.put_config(make_config(thresholds={"max_files": 100, "max_age_seconds": 60}))
    one_by_one(env, loader, [record(0), record(1)])
    env.clock.advance(61)

    # When one more file arrives, it finds no headroom: the batch is sealed by age.
    one_by_one(env, loader, [record(2)])

    assert sealed_counts(env, "max_age") == [3]


def test_the_first_file_of_a_batch_another_container_created_arms_its_age_timer(
    env: Env, loader
) -> None:
    # Given a batch flushed by one container (which created its successor)...
    env.put_config(make_config(thresholds={"max_files": 100, "max_age_seconds": 300}))
    one_by_one(env, loader, [record(0)])
    assert len(env.flush_timers()) == 1
    env.service(loader=loader).flush(f"{BUCKET}/events", env.clock() + 600)
    # ...when another container registers the successor's first file,
    other = dataclasses.replace(env, clock=env.clock)
    other.deps = Deps(env.settings, env.session)
    one_by_one(other, loader, [record(2)])

    # then that file armed the successor's timer, though it tried the headroom write first.
    [timer] = env.flush_timers()
    successor = env.deps.batches.open_batch(f"{BUCKET}/events")
    assert successor is not None and successor.timer_armed
    assert timer["body"]["batch_id"] == successor.batch_id


# --- several prefixes in one transaction ------------------------------------------------------

PREFIXES = ["events", "clicks", "views"]


def test_a_mixed_batch_whose_prefix_was_sealed_meanwhile_registers_every_file_once(
    env: Env, loader
) -> None:
    # Given three prefixes with an open batch each, known to this warm container,
    for folder in PREFIXES:
        env.put_config(make_config(prefix=f"{BUCKET}/{folder}", thresholds={"max_files": 100}))
    first = {f: record(0, f) for f in PREFIXES}
    in_sqs_batches(env, loader, list(first.values()), size=10)
    before = {f: env.deps.batches.open_batch(f"{BUCKET}/{f}") for f in PREFIXES}
    # and "events" sealed by another worker, unseen by this container,
    other = Deps(env.settings, env.session)
    other.batches.seal(
        before["events"].batch_id,  # type: ignore[union-attr]
        f"{BUCKET}/events",
        reason="flush",
        owner="another-worker",
        now=env.clock(),
        lease_seconds=300,
    )
    # and one file of "views" delivered again.
    records = [record(i, f) for i in range(1, 6) for f in PREFIXES] + [first["views"]]

    # When one SQS batch brings 5 new files of each prefix (their parts share a transaction),
    with dynamodb_calls(env.deps) as calls:
        [result] = in_sqs_batches(env, loader, records, size=len(records))

    # then in this very invocation every file is registered once, nothing fails,
    assert result.failed_message_ids == []
    assert (result.registered, result.duplicates) == (15, 1)
    urls = [f"s3://{BUCKET}/{f}/file-{i:05d}.csv" for i in range(6) for f in PREFIXES]
    assert_each_file_once(env, urls)
    # the sealed batch kept its one file, and "events" went on in its next batch;
    sealed = env.deps.batches.get_batch(before["events"].batch_id)  # type: ignore[union-attr]
    assert sealed is not None and sealed.file_count == 1
    now_open = env.deps.batches.open_batch(f"{BUCKET}/events")
    assert now_open is not None and now_open.file_count == 5
    for folder in ("clicks", "views"):
        header = env.deps.batches.get_batch(before[folder].batch_id)  # type: ignore[union-attr]
        assert header is not None and header.file_count == 6
    # and "clicks", which lost nothing, was written again without the others: the shared
    # transaction, the retry of "clicks", "events" and "views" alone, one read of the headers.
    assert calls["TransactWriteItems"] == 4, calls


# --- DynamoDB calls of the steady state -------------------------------------------------------


@pytest.fixture
def warm(env: Env) -> Env:
    """The production configuration cache (60 s), as a warm Lambda container has it."""
    settings = dataclasses.replace(env.settings, config_ttl_seconds=60)
    warm = dataclasses.replace(env, settings=settings)
    warm.deps = Deps(settings, env.session)
    return warm


def test_a_single_file_event_in_the_steady_state_makes_one_dynamodb_call(warm: Env, loader) -> None:
    warm.put_config(make_config(thresholds={"max_files": 1000, "max_age_seconds": 300}))
    one_by_one(warm, loader, [record(0), record(1)])  # the first file arms the timer

    with dynamodb_calls(warm.deps) as calls:
        one_by_one(warm, loader, [record(2)])

    assert calls == Counter({"TransactWriteItems": 1})


def test_an_sqs_batch_over_ten_prefixes_shares_three_transactions_and_reads_nothing(
    warm: Env, loader
) -> None:
    folders = [f"p{n}" for n in range(10)]
    for folder in folders:
        warm.put_config(make_config(prefix=f"{BUCKET}/{folder}", thresholds={"max_files": 1000}))
    in_sqs_batches(warm, loader, [record(0, f) for f in folders], size=10)  # warm up

    records = [record(i, f) for i in range(1, 11) for f in folders]
    with dynamodb_calls(warm.deps) as calls:
        [result] = in_sqs_batches(warm, loader, records, size=100)

    assert result.registered == 100 and result.failed_message_ids == []
    # 10 parts of 21 items (a header, 2 items per file): 4 + 4 + 2 per transaction of <= 100.
    assert calls == Counter({"TransactWriteItems": 3})
