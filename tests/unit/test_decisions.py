"""Pure decisions: prefix matching, filters, thresholds, leases, re-upload classification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.models import ReuploadPolicy, Thresholds
from loader.adapters.parts import Part, packed
from loader.decisions import (
    Arrival,
    SealWatch,
    classify_arrival,
    headroom,
    lease_expired,
    match_config,
    passes_filter,
    prefix_matches,
    seal_reason,
    timer_delay,
)
from loader.models import Batch, BatchStatus, FileRecord, Headroom, Lease, S3Object
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


# --- headroom: a registration write that reads nothing (issue 17) ----------------------------


def _holds(room: Headroom, header: Batch) -> bool:
    """has_headroom (loader/adapters/conditions.py) evaluated as DynamoDB would."""
    first = header.first_file_at
    return (
        header.status is BatchStatus.OPEN
        and (room.files_below is None or header.file_count < room.files_below)
        and (room.bytes_below is None or header.total_bytes < room.bytes_below)
        and (room.first_file_after is None or (first is not None and first > room.first_file_after))
        and (not room.timer_armed or header.timer_armed)
    )


@settings(max_examples=400, deadline=None)
@given(
    count=st.integers(0, 12),
    size_before=st.integers(0, 120),
    files=st.integers(1, 5),
    size=st.integers(0, 40),
    age_offset=st.integers(-40, 3),
    armed=st.booleans(),
    max_files=st.one_of(st.none(), st.integers(1, 12)),
    max_bytes=st.one_of(st.none(), st.integers(1, 120)),
    max_age=st.one_of(st.none(), st.integers(1, 60)),
)
def test_a_write_with_headroom_leaves_nothing_to_decide_and_one_without_it_is_needed(
    count, size_before, files, size, age_offset, armed, max_files, max_bytes, max_age
) -> None:
    if max_files is None and max_bytes is None and max_age is None:
        max_age = 60
    age = max(0, (max_age or 30) + age_offset)  # near the age threshold, often right at it
    thresholds = Thresholds(max_files=max_files, max_bytes=max_bytes, max_age_seconds=max_age)
    now = 1_000.0
    first = now - age if count else None
    header = batch(
        file_count=count, total_bytes=size_before, first_file_at=first, timer_armed=armed
    )
    after = header.model_copy(
        update={
            "file_count": count + files,
            "total_bytes": size_before + size,
            "first_file_at": first if first is not None else now,
        }
    )
    room = headroom(SealWatch(thresholds), files=files, size=size, now=now)
    granted = room is not None and _holds(room, header)

    nothing_to_do = seal_reason(after, thresholds, now) is None and (
        max_age is None or after.timer_armed
    )
    # Safe: granted only when nothing is due after the write and the age timer is sent.
    if granted:
        assert nothing_to_do
    # Tight: granted whenever that is so, but for a batch's first file when an age threshold
    # applies (that file arms the timer, so it must read the header and decide).
    if nothing_to_do and (count > 0 or max_age is None):
        assert granted


def test_a_paused_prefix_asks_only_for_an_open_batch() -> None:
    watch = SealWatch(Thresholds(max_files=1), paused=True)
    assert headroom(watch, files=5, size=1, now=0.0) == Headroom()


def test_a_write_that_alone_reaches_a_size_threshold_gets_no_headroom() -> None:
    assert headroom(SealWatch(Thresholds(max_files=3)), files=3, size=1, now=0.0) is None
    assert headroom(SealWatch(Thresholds(max_bytes=10)), files=1, size=10, now=0.0) is None
    assert headroom(SealWatch(Thresholds(max_files=4)), files=3, size=1, now=0.0) == Headroom(
        files_below=1
    )


def test_parts_are_packed_into_transactions_of_at_most_100_items_one_per_batch() -> None:
    def part(batch_id: str, files: int) -> Part:
        return Part(batch_id, "p", [obj(f"b/k/{i}") for i in range(files)])

    parts = [part(f"b{i}", 10) for i in range(10)] + [part("b0", 49), part("x", 1)]
    packs = packed(range(len(parts)), parts)
    assert packs == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [10], [11]]
    assert all(sum(parts[i].items for i in pack) <= 100 for pack in packs)
