"""Before a leased batch loads: its members compared with S3, its manifest written.

The first attempt writes the manifest from members checked against S3 as they are read
(`write_manifest`); a later attempt (retry, takeover, reprocess) compares them again and, if
something changed, writes the manifest again (`settle`). The decisions are loader/sources.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from loader import metrics
from loader.adapters.s3_store import split_url
from loader.errors import RetryableError
from loader.log import logger
from loader.manifest import ManifestBuilder, manifest_key
from loader.models import Batch, BatchStatus
from loader.source_check import Reconciled, settle_chunk, settle_sources
from loader.sources import chunks

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.deps import Deps


def write_manifest(
    deps: Deps, config: PrefixConfig, batch: Batch, owner: str, clock: Callable[[], float]
) -> Batch:
    """sealed -> loading: the manifest of the batch's final membership, written to S3."""
    started = clock()
    builder = ManifestBuilder()
    done = Reconciled()
    for chunk in chunks(deps.batches.members(batch.batch_id)):
        # Streamed in runs: members are never all held as objects. Each run is compared
        # with S3 first: files overwritten since registration (loader/sources.py).
        for member in settle_chunk(
            deps, batch.batch_id, chunk, config.reupload, owner=owner, now=clock(), done=done
        ):
            builder.add(member)
    if done.changed:
        _count(done)
        fresh = deps.batches.get_batch(batch.batch_id)
        assert fresh is not None
        batch = fresh
    if builder.count != batch.file_count:
        # Base-table reads are strongly consistent, so this means a bug or a hand edit.
        raise RetryableError(
            "batch membership does not match its count",
            batch_id=batch.batch_id,
            members=builder.count,
            file_count=batch.file_count,
        )
    key = manifest_key(config.manifest, batch.prefix, batch.batch_id)
    url = deps.s3.put_manifest(config.manifest.bucket, key, builder.finish())
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
        files=builder.count,
        bytes=batch.total_bytes,
        manifest=url,
        duration_ms=round((clock() - started) * 1000),
    )
    return batch


def settle(deps: Deps, config: PrefixConfig, batch: Batch, owner: str, now: float) -> Batch:
    """Before a later attempt: members overwritten in S3 since the manifest was written are
    superseded or adopted, and the manifest is written again."""
    done = settle_sources(deps, batch.batch_id, config.reupload, owner=owner, now=now)
    if not done.changed:
        return batch
    _count(done)
    fresh = deps.batches.get_batch(batch.batch_id)
    assert fresh is not None and batch.manifest_url is not None
    if fresh.file_count:
        builder = ManifestBuilder()
        for member in deps.batches.members(batch.batch_id):
            builder.add(member)
        bucket, key = split_url(batch.manifest_url)
        deps.s3.put_manifest(bucket, key, builder.finish())
    return fresh


def _count(done: Reconciled) -> None:
    if done.superseded:
        metrics.count("FilesSuperseded", done.superseded)
    if done.adopted:
        metrics.count("VersionsAdopted", done.adopted)
