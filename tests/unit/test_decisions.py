"""Pure decisions: prefix matching, filters, thresholds, leases, re-upload classification."""

from __future__ import annotations

import pytest

from config.models import ReuploadPolicy
from loader.decisions import (
    Arrival,
    classify_arrival,
    lease_expired,
    match_config,
    passes_filter,
    prefix_matches,
    seal_reason,
    timer_delay,
)
from loader.models import Batch, BatchStatus, FileRecord, Lease, S3Object
from support.aws import make_config


def obj(path: str, **kw) -> S3Object:
    bucket, key = path.split("/", 1)
    return S3Object(bucket=bucket, key=key, size=1, **kw)


def batch(**kw) -> Batch:
    base = {
        "batch_id": "b",
        "prefix": "p",
        "status": BatchStatus.OPEN,
        "created_at": 0.0,
        "updated_at": 0.0,
    }
    return Batch(**(base | kw))


@pytest.mark.parametrize(
    ("prefix", "path", "matches"),
    [
        ("bkt/events", "bkt/events/a.csv", True),
        ("bkt/events", "bkt/events/2026/a.csv", True),
        ("bkt/events", "bkt/eventsX/a.csv", False),  # segment-wise, not string prefix
        ("bkt/events", "bkt/events", False),  # 'events' is the file name here
        ("bkt", "bkt/a.csv", True),
        ("bkt/events/dt=*", "bkt/events/dt=2026-11-23/a.csv", True),
        ("bkt/events/dt=*", "bkt/events/dt=/a.csv", True),
        ("bkt/events/dt=*", "bkt/events/hour=1/a.csv", False),
        ("bkt/events/dt=*/h=*", "bkt/events/dt=1/h=2/x/a.csv", True),
        ("bkt/events/dt=*", "bkt/events/a.csv", False),
    ],
)
def test_prefixes_match_directory_segments(prefix: str, path: str, matches: bool) -> None:
    assert prefix_matches(prefix, path) is matches


def test_the_longest_prefix_wins_and_literals_beat_wildcards() -> None:
    configs = [
        make_config(prefix="landing-bucket/events"),
        make_config(prefix="landing-bucket/events/dt=*"),
        make_config(prefix="landing-bucket/events/dt=2026-01-01"),
    ]

    def chosen(path: str) -> str | None:
        config = match_config(configs, obj(path))
        return config.prefix if config else None

    assert (
        chosen("landing-bucket/events/dt=2026-01-01/a.csv") == "landing-bucket/events/dt=2026-01-01"
    )
    assert chosen("landing-bucket/events/dt=2026-01-02/a.csv") == "landing-bucket/events/dt=*"
    assert chosen("landing-bucket/events/other/a.csv") == "landing-bucket/events"
    assert chosen("landing-bucket/elsewhere/a.csv") is None


def test_the_filename_filter_must_match_the_whole_file_name() -> None:
    config = make_config(filename_filter=r".*\.csv(\.gz)?")

    assert passes_filter(config, "events/a.csv")
    assert passes_filter(config, "events/sub.csv/a.csv.gz")
    assert not passes_filter(config, "events/a.csv.tmp")
    assert not passes_filter(config, "events/a.csv/_SUCCESS")


def test_every_threshold_seals_and_an_empty_batch_never_does() -> None:
    t = make_config(thresholds={"max_files": 3, "max_bytes": 100, "max_age_seconds": 60}).thresholds

    assert seal_reason(batch(file_count=0, first_file_at=None), t, 10_000) is None
    assert seal_reason(batch(file_count=3, total_bytes=1, first_file_at=0), t, 1) == "max_files"
    assert seal_reason(batch(file_count=1, total_bytes=100, first_file_at=0), t, 1) == "max_bytes"
    assert seal_reason(batch(file_count=1, total_bytes=1, first_file_at=0), t, 59.9) is None
    assert seal_reason(batch(file_count=1, total_bytes=1, first_file_at=0), t, 60) == "max_age"
    assert seal_reason(batch(status=BatchStatus.SEALED, file_count=9), t, 1) is None


def test_a_lease_expires_only_for_leased_batches() -> None:
    held = Lease(owner="w", expires_at=100)

    assert not lease_expired(batch(status=BatchStatus.SEALED, lease=held), 99)
    assert lease_expired(batch(status=BatchStatus.SEALED, lease=held), 100)
    assert lease_expired(batch(status=BatchStatus.LOADING, lease=None), 0)
    assert not lease_expired(batch(status=BatchStatus.OPEN, lease=held), 1000)
    assert not lease_expired(batch(status=BatchStatus.COMPLETE, lease=held), 1000)


def record(**kw) -> FileRecord:
    base = {
        "url": "s3://b/k",
        "prefix": "b",
        "batch_id": "x",
        "size": 1,
        "first_received_at": 0.0,
        "last_received_at": 0.0,
    }
    return FileRecord(**(base | kw))


@pytest.mark.parametrize(
    ("existing", "incoming", "policy", "expected"),
    [
        (None, {"etag": "a"}, ReuploadPolicy.IGNORE, Arrival.NEW),
        ({"etag": "a"}, {"etag": "a"}, ReuploadPolicy.RELOAD, Arrival.DUPLICATE),
        ({"etag": '"a"'}, {"etag": "a"}, ReuploadPolicy.RELOAD, Arrival.DUPLICATE),
        (
            {"etag": "a", "sequencer": "0A"},
            {"etag": "b", "sequencer": "0B"},
            ReuploadPolicy.IGNORE,
            Arrival.REUPLOAD_IGNORED,
        ),
        (
            {"etag": "a", "sequencer": "0A"},
            {"etag": "b", "sequencer": "0B"},
            ReuploadPolicy.RELOAD,
            Arrival.REUPLOAD,
        ),
        (
            {"etag": "b", "sequencer": "00FF"},
            {"etag": "a", "sequencer": "0100"},
            ReuploadPolicy.RELOAD,
            Arrival.REUPLOAD,
        ),  # hex compare after padding
        (
            {"etag": "b", "sequencer": "0B"},
            {"etag": "a", "sequencer": "0A"},
            ReuploadPolicy.RELOAD,
            Arrival.STALE,
        ),
        (
            {"version_id": "v1", "etag": "a"},
            {"version_id": "v1", "etag": "zzz"},
            ReuploadPolicy.RELOAD,
            Arrival.DUPLICATE,
        ),
        ({}, {}, ReuploadPolicy.RELOAD, Arrival.DUPLICATE),  # nothing tells them apart
    ],
)
def test_arrivals_are_classified_against_the_ledger(existing, incoming, policy, expected) -> None:
    found = record(**existing) if existing is not None else None

    assert classify_arrival(found, obj("b/k", **incoming), policy) is expected


def test_timer_delays_are_capped_at_fifteen_minutes() -> None:
    assert timer_delay(due_at=100, now=40) == 60
    assert timer_delay(due_at=100, now=40.5) == 60
    assert timer_delay(due_at=10_000, now=0) == 900
    assert timer_delay(due_at=0, now=10) == 0


def test_a_reupload_sequencers_cannot_order_counts_only_if_s3_holds_its_content() -> None:
    from loader.decisions import arrival_by_current, ordered
    from loader.models import FileRecord, S3Object
    from loader.sources import Current

    listed = FileRecord(
        url="s3://b/k", prefix="b", batch_id="x", size=1, etag="e2", first_received_at=0,
        last_received_at=0,
    )  # fmt: skip
    late = S3Object(bucket="b", key="k", size=1, etag="e1", sequencer="0001")
    assert not ordered(listed, late)  # a listing recorded no sequencer
    # the late notice of an older upload: S3 holds the content the ledger already has
    assert arrival_by_current(late, Current("e2", 1)) is Arrival.STALE
    assert arrival_by_current(late, None) is Arrival.STALE  # gone since
    # a genuine re-upload: S3 holds the notice's content
    assert arrival_by_current(late, Current('"e1"', 1)) is Arrival.REUPLOAD
