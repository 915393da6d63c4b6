"""A manifest larger than one part goes to S3 as a multipart upload (moto), reads back
byte-identical, and a failure part-way leaves nothing: no object, no pending upload.

The part size is a parameter: S3's 5 MiB minimum is lowered in moto for these tests only, so a
few kilobytes make several parts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from loader.errors import RetryableError
from loader.events import parse_event
from loader.manifest import ManifestEntries, build_manifest, manifest_key
from loader.manifest_parts import split_parts
from loader.models import BatchMember, BatchStatus
from loader.preparation import write_manifest
from support.aws import BUCKET, MANIFEST_BUCKET, Env, make_config
from support.events import s3_event, s3_record

PART = 1024
KEY = "manifests/events/batch-1.json"


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", PART)


def members(n: int) -> list[BatchMember]:
    return [
        BatchMember(url=f"s3://{BUCKET}/events/file-{i:05d}.csv", size=10 + i, etag=None)
        for i in range(n)
    ]


def stored(env: Env, key: str = KEY) -> dict[str, Any]:
    return env.session.client("s3").get_object(Bucket=MANIFEST_BUCKET, Key=key)


def pending_uploads(env: Env) -> list[dict[str, Any]]:
    listing = env.session.client("s3").list_multipart_uploads(Bucket=MANIFEST_BUCKET)
    return listing.get("Uploads", [])


def test_a_manifest_larger_than_one_part_is_uploaded_in_parts_and_reads_back_identical(
    env: Env,
) -> None:
    body = build_manifest(members(100))  # ~8 KB: 8 parts of 1 KiB
    pieces = ManifestEntries().pieces(members(100))

    url = env.deps.s3.put_manifest(MANIFEST_BUCKET, KEY, split_parts(pieces, PART))

    assert url == f"s3://{MANIFEST_BUCKET}/{KEY}"
    got = stored(env)
    assert got["Body"].read() == body
    # A multipart object's ETag ends in "-<number of parts>".
    assert got["ETag"].strip('"').endswith(f"-{-(-len(body) // PART)}")
    assert got["ContentType"] == "application/json"
    assert pending_uploads(env) == []


def test_a_manifest_of_one_part_is_one_put(env: Env) -> None:
    body = build_manifest(members(3))

    env.deps.s3.put_manifest(MANIFEST_BUCKET, KEY, split_parts([body], PART))

    got = stored(env)
    assert got["Body"].read() == body and "-" not in got["ETag"]


def failing_after(parts: int) -> Iterator[bytes]:
    yield from [b"x" * PART] * parts
    raise RetryableError("member query failed")


@pytest.mark.parametrize("parts_before", [1, 3])
def test_a_failure_mid_upload_aborts_it_leaving_no_object_and_no_pending_upload(
    env: Env, parts_before: int
) -> None:
    with pytest.raises(RetryableError):
        env.deps.s3.put_manifest(MANIFEST_BUCKET, KEY, failing_after(parts_before))

    listing = env.session.client("s3").list_objects_v2(Bucket=MANIFEST_BUCKET)
    assert listing.get("Contents", []) == []
    assert pending_uploads(env) == []


def test_a_failed_rewrite_leaves_the_previous_manifest_whole(env: Env) -> None:
    old = build_manifest(members(2))
    env.deps.s3.put_manifest(MANIFEST_BUCKET, KEY, old)

    with pytest.raises(RetryableError):
        env.deps.s3.put_manifest(MANIFEST_BUCKET, KEY, failing_after(4))

    assert stored(env)["Body"].read() == old
    assert pending_uploads(env) == []


def sealed_batch(env: Env, files: int):
    config = env.put_config(make_config(thresholds={"max_files": 10_000}))
    records = [s3_record(BUCKET, f"events/file-{i:05d}.csv", size=10) for i in range(files)]
    env.service().handle(parse_event(s3_event(*records)))
    [batch] = env.batches(BatchStatus.OPEN)
    sealed = env.deps.batches.seal(
        batch.batch_id,
        batch.prefix,
        reason="max_files",
        owner="me",
        now=env.clock(),
        lease_seconds=300,
    )
    return config, sealed


def test_a_sealed_batch_streams_its_manifest_in_parts_and_moves_to_loading(env: Env) -> None:
    config, batch = sealed_batch(env, 40)

    loading = write_manifest(env.deps, config, batch, "me", env.clock, part_size=PART)

    assert loading.status is BatchStatus.LOADING
    body = stored(env, manifest_key(config.manifest, batch.prefix, batch.batch_id))["Body"].read()
    assert body == build_manifest(env.deps.batches.members(batch.batch_id))
    assert len(env.manifest_urls(loading)) == 40 and len(body) > 2 * PART


def test_a_membership_that_does_not_match_the_count_aborts_the_manifest(env: Env) -> None:
    config, batch = sealed_batch(env, 40)
    wrong = batch.model_copy(update={"file_count": 41})

    with pytest.raises(RetryableError, match="does not match"):
        write_manifest(env.deps, config, wrong, "me", env.clock, part_size=PART)

    listing = env.session.client("s3").list_objects_v2(Bucket=MANIFEST_BUCKET)
    assert listing.get("Contents", []) == [] and pending_uploads(env) == []
    assert env.deps.batches.get_batch(batch.batch_id).status is BatchStatus.SEALED
