"""Pure decisions: values in (including `now`), values out. No boto3, no clock, no environment."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from config.models import PrefixConfig, ReuploadPolicy, Thresholds, normalise_prefix
from loader.errors import ConfigurationError
from loader.models import (
    Batch,
    BatchStatus,
    ConfigSet,
    FileRecord,
    Headroom,
    S3Object,
    SealReason,
)
from loader.sources import Current, same_etag
from loader.transitions import LEASED


def _segment_matches(pattern: str, segment: str) -> bool:
    if pattern.endswith("=*"):
        return segment.startswith(pattern[:-1]) and len(segment) >= len(pattern) - 1
    return pattern == segment


def prefix_matches(prefix: str, object_path: str) -> bool:
    """Does `bucket/dir/...` of an object fall under a configured prefix (segment by segment)?"""
    directory = object_path.split("/")[:-1]  # the last segment is the file name
    wanted = prefix.split("/")
    if len(wanted) > len(directory):
        return False
    return all(_segment_matches(p, s) for p, s in zip(wanted, directory, strict=False))


def match_config(configs: Iterable[PrefixConfig], obj: S3Object) -> PrefixConfig | None:
    """The configuration for an object: the longest matching prefix; on a tie, fewer wildcards."""
    best: PrefixConfig | None = None
    best_rank = (-1, 0)
    for config in configs:
        if not prefix_matches(config.prefix, obj.path):
            continue
        segments = config.prefix.split("/")
        rank = (len(segments), -sum(s.endswith("=*") for s in segments))
        if rank > best_rank:
            best, best_rank = config, rank
    return best


def resolve(configs: ConfigSet, obj: S3Object) -> PrefixConfig | None:
    """The configuration for an object; an invalid configuration that would match is an error,
    not a silent skip (its files would otherwise be lost)."""
    config = match_config(configs.valid, obj)
    matched_len = len(config.prefix.split("/")) if config else 0
    for prefix, reason in configs.invalid.items():
        if prefix_matches(prefix, obj.path) and len(prefix.split("/")) >= matched_len:
            raise ConfigurationError(
                f"configuration for {prefix!r} is invalid: {reason}", prefix=prefix
            )
    return config


def listing_root(prefix: str) -> tuple[str, str]:
    """Bucket and literal S3 key prefix of a configured prefix: the path up to its first Hive
    wildcard segment (`b/events/dt=*/x` -> `events/dt=`), with a trailing `/` for a static path
    (`b/events` -> `events/`, so `events2/` is not included), and `""` for a bucket root.

    It is both what to list and the only correct S3 notification filter: S3 filters are literal."""
    bucket, *segments = normalise_prefix(prefix).split("/")
    fixed = list(itertools.takewhile(lambda s: not s.endswith("=*"), segments))
    root = "".join(f"{s}/" for s in fixed)
    if len(fixed) < len(segments):
        return bucket, root + segments[len(fixed)][:-1]  # "dt=*" -> "dt="
    return bucket, root


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def passes_filter(config: PrefixConfig, key: str) -> bool:
    """`filename_filter` must match the whole file name (the key's last segment)."""
    if config.filename_filter is None:
        return True
    return _compiled(config.filename_filter).fullmatch(key.rsplit("/", 1)[-1]) is not None


def age_due_at(batch: Batch, thresholds: Thresholds) -> float | None:
    """When the age threshold will seal this batch, if it applies."""
    if thresholds.max_age_seconds is None or batch.first_file_at is None:
        return None
    return batch.first_file_at + thresholds.max_age_seconds


def seal_reason(batch: Batch, thresholds: Thresholds, now: float) -> SealReason | None:
    """Why this open batch must be sealed now, or None. An empty batch is never due."""
    if batch.status is not BatchStatus.OPEN or batch.file_count == 0:
        return None
    if thresholds.max_files is not None and batch.file_count >= thresholds.max_files:
        return SealReason.MAX_FILES
    if thresholds.max_bytes is not None and batch.total_bytes >= thresholds.max_bytes:
        return SealReason.MAX_BYTES
    due = age_due_at(batch, thresholds)
    if due is not None and now >= due:
        return SealReason.MAX_AGE
    return None


@dataclass(frozen=True)
class SealWatch:
    """What decides whether files arriving for a prefix may make its batch due: its
    thresholds, whether it is paused, and whether age timers are sent (a flush queue is set)."""

    thresholds: Thresholds
    paused: bool = False
    timed: bool = True


def headroom(watch: SealWatch, *, files: int, size: int, now: float) -> Headroom | None:
    """What the header must show before a write of `files` files and `size` bytes so that, after
    it, `seal_reason` is None and the age timer is already set: then the writer has nothing to
    decide and reads nothing. None when this write alone may reach a size threshold.

    Exact, not approximate: count + files < max_files and bytes + size < max_bytes are checked
    by DynamoDB on the very item the write updates; the age is checked at `now` (the writer's
    clock, as `seal_reason` does); a write that lacks the headroom takes the plain path (write,
    read, decide), so every write that reaches a threshold is followed by a decision."""
    if watch.paused:
        return Headroom()  # nothing seals a paused prefix's batch on arrival (Sealer.consider)
    limits = watch.thresholds
    files_below = bytes_below = None
    if limits.max_files is not None:
        files_below = limits.max_files - files
        if files_below <= 0:
            return None
    if limits.max_bytes is not None:
        bytes_below = limits.max_bytes - size
        if bytes_below <= 0:
            return None
    if limits.max_age_seconds is None:
        return Headroom(files_below, bytes_below)
    # Strictly after: at first_file_at == now - max_age the batch is due (seal_reason's >=).
    return Headroom(files_below, bytes_below, now - limits.max_age_seconds, watch.timed)


def lease_expired(batch: Batch, now: float) -> bool:
    """A leased batch whose holder stopped renewing it (crashed, timed out) may be taken over."""
    return batch.status in LEASED and (batch.lease is None or batch.lease.expires_at <= now)


class Arrival(StrEnum):
    """How a notification relates to what the ledger already holds for the same key."""

    NEW = "new"
    DUPLICATE = "duplicate"  # the same upload again (redelivery, retry, duplicate notification)
    STALE = "stale"  # an older upload whose notification arrived late
    REUPLOAD_IGNORED = "reupload_ignored"
    REUPLOAD = "reupload"  # new content, to be loaded again


def sequencer_order(sequencer: str | None) -> tuple[int, str]:
    """S3 sequencers of one key compare as hex numbers: by length once leading zeros are gone,
    then by digits. No sequencer sorts first (the one ordering of uploads of a key)."""
    digits = (sequencer or "").lstrip("0").upper()
    return (len(digits), digits)


def latest_per_url(objects: Iterable[S3Object]) -> list[S3Object]:
    """One object per url (a transaction may not touch an item twice): the latest upload, by
    sequencer; of equals, the one notified last."""
    latest: dict[str, S3Object] = {}
    for obj in objects:
        seen = latest.get(obj.url)
        if seen is None or sequencer_order(obj.sequencer) >= sequencer_order(seen.sequencer):
            latest[obj.url] = obj
    return list(latest.values())


def is_same_upload(existing: FileRecord, obj: S3Object) -> bool:
    if existing.version_id and obj.version_id:
        return existing.version_id == obj.version_id
    if existing.sequencer and obj.sequencer:
        return existing.sequencer == obj.sequencer
    if existing.etag and obj.etag:
        return existing.etag.strip('"') == obj.etag.strip('"')
    # Nothing to tell uploads apart: treat as the same one (never load twice by accident).
    return True


def classify_arrival(existing: FileRecord | None, obj: S3Object, policy: ReuploadPolicy) -> Arrival:
    if existing is None:
        return Arrival.NEW
    if is_same_upload(existing, obj):
        return Arrival.DUPLICATE
    if (
        existing.sequencer
        and obj.sequencer
        and sequencer_order(obj.sequencer) < sequencer_order(existing.sequencer)
    ):
        return Arrival.STALE
    if policy is ReuploadPolicy.RELOAD:
        return Arrival.REUPLOAD
    return Arrival.REUPLOAD_IGNORED


def ordered(existing: FileRecord, obj: S3Object) -> bool:
    """Whether sequencers tell which of two uploads of a key is later (a listing has none)."""
    return bool(existing.sequencer and obj.sequencer)


def arrival_by_current(obj: S3Object, current: Current | None) -> Arrival:
    """A re-upload the sequencers cannot order: it is one only if S3 holds its content now.
    Otherwise it is older than what the ledger knows, or superseded since (its content is gone,
    and COPY could only read the newer one, whose own notice or listing registers it)."""
    if current is not None and obj.etag and same_etag(current.etag, obj.etag):
        return Arrival.REUPLOAD
    return Arrival.STALE


def timer_delay(due_at: float, now: float, max_delay: int = 900) -> int:
    """SQS DelaySeconds for a flush timer: at most 15 minutes; a longer wait is re-armed."""
    return max(0, min(max_delay, int(due_at - now + 0.999)))


def retry_delay(attempts: int, *, base: float = 30.0, cap: float = 900.0) -> float:
    """Backoff before a batch's next automatic attempt after a transient failure."""
    return float(min(cap, base * 2**attempts))
