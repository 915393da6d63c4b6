"""Before a leased batch loads: its members compared with S3, its manifest written.

The first attempt writes the manifest from members checked against S3 as they are read
(`write_manifest`); a later attempt (retry, takeover, reprocess) compares them again and, if
something changed, writes the manifest again (`settle`). The decisions are loader/sources.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from loader import metrics
from loader.adapters.s3_store import split_url
from loader.errors import RetryableError
from loader.log import logger
from loader.manifest import ManifestEntries, manifest_key
from loader.manifest_parts import PART_BYTES, split_parts
from loader.models import Batch, BatchMember, BatchStatus
from loader.source_check import Reconciled, settle_chunk, settle_sources
from loader.sources import chunks

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.deps import Deps


def write_manifest(
    deps: Deps,
    config: PrefixConfig,
    batch: Batch,
    owner: str,
    clock: Callable[[], float],
    part_size: int = PART_BYTES,
) -> Batch:
    """sealed -> loading: the manifest of the batch's final membership, streamed to S3 in parts
    as the member query returns them (memory flat in the batch's size)."""
    started = clock()
    entries = ManifestEntries()
    done = Reconciled()

    def settled() -> Iterator[BatchMember]:
        for chunk in chunks(deps.batches.members(batch.batch_id)):
            # Each run is compared with S3 first: files overwritten since registration
            # (loader/sources.py).
            yield from settle_chunk(
                deps, batch.batch_id, chunk, config.reupload, owner=owner, now=clock(), done=done
            )

    def body() -> Iterator[bytes]:
        nonlocal batch
        yield from entries.pieces(settled())
        # Checked before the last part is sent: a mismatch aborts the upload, nothing is left.
        batch = _checked(deps, batch, done, entries.count)

    key = manifest_key(config.manifest, batch.prefix, batch.batch_id)
    url = deps.s3.put_manifest(config.manifest.bucket, key, split_parts(body(), part_size))
    batch = deps.batches.transition(
        batch.batch_id,
        owner=owner,
        current=BatchStatus.SEALED,
        wanted=BatchStatus.LOADING,
        now=clock(),
        lease_seconds=deps.settings.lease_seconds,
        manifest_url=url,
    )
    logger.info(
        "manifest_written",
        batch_id=batch.batch_id,
        prefix=batch.prefix,
        files=entries.count,
        bytes=batch.total_bytes,
        manifest=url,
        duration_ms=round((clock() - started) * 1000),
    )
    return batch


def _checked(deps: Deps, batch: Batch, done: Reconciled, count: int) -> Batch:
    """The batch as it now is (members superseded or adopted change its counts), its member
    count matching the manifest's entries."""
    if done.changed:
        _count(done)
        fresh = deps.batches.get_batch(batch.batch_id)
        assert fresh is not None
        batch = fresh
    if count != batch.file_count:
        # Base-table reads are strongly consistent, so this means a bug or a hand edit.
        raise RetryableError(
            "batch membership does not match its count",
            batch_id=batch.batch_id,
            members=count,
            file_count=batch.file_count,
        )
    return batch


def settle(
    deps: Deps,
    config: PrefixConfig,
    batch: Batch,
    owner: str,
    now: float,
    part_size: int = PART_BYTES,
) -> Batch:
    """Before a later attempt: members overwritten in S3 since the manifest was written are
    superseded or adopted, and the manifest is written again."""
    done = settle_sources(deps, batch.batch_id, config.reupload, owner=owner, now=now)
    if not done.changed:
        return batch
    _count(done)
    fresh = deps.batches.get_batch(batch.batch_id)
    assert fresh is not None and batch.manifest_url is not None
    if fresh.file_count:
        pieces = ManifestEntries().pieces(deps.batches.members(batch.batch_id))
        bucket, key = split_url(batch.manifest_url)
        deps.s3.put_manifest(bucket, key, split_parts(pieces, part_size))
    return fresh


def _count(done: Reconciled) -> None:
    if done.superseded:
        metrics.count("FilesSuperseded", done.superseded)
    if done.adopted:
        metrics.count("VersionsAdopted", done.adopted)
