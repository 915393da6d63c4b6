"""S3: manifests in, failed manifests copied; object listing for backfill and reconciliation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from loader.errors import classify_aws_error
from loader.retry import retrying

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def split_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


class S3Store:
    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    @retrying()
    def put_manifest(self, bucket: str, key: str, body: bytes) -> str:
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        return f"s3://{bucket}/{key}"

    @retrying()
    def copy(self, bucket: str, source_key: str, target_key: str) -> str:
        try:
            self._s3.copy_object(
                Bucket=bucket, Key=target_key, CopySource={"Bucket": bucket, "Key": source_key}
            )
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        return f"s3://{bucket}/{target_key}"

    @retrying()
    def read(self, url: str) -> bytes:
        bucket, key = split_url(url)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    @retrying()
    def read_range(self, url: str, *, first: int | None = None, last: int) -> bytes:
        """Part of an object: bytes `first`..`last` (inclusive), or with `first=None` its last
        `last` bytes. A range past the end gives what there is (S3 answers 206 or 200)."""
        bucket, key = split_url(url)
        wanted = f"bytes=-{last}" if first is None else f"bytes={first}-{last}"
        try:
            return self._s3.get_object(Bucket=bucket, Key=key, Range=wanted)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""  # an empty object
            raise classify_aws_error(exc) from exc

    def open(self, url: str) -> Any:
        """A streaming body (file-like) for the object."""
        bucket, key = split_url(url)
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    @retrying()
    def tag(self, url: str, key: str, value: str) -> None:
        """Add one tag, keeping the object's other tags (PutObjectTagging replaces the set)."""
        bucket, object_key = split_url(url)
        try:
            tags = self._s3.get_object_tagging(Bucket=bucket, Key=object_key)["TagSet"]
            merged = [t for t in tags if t["Key"] != key] + [{"Key": key, "Value": value}]
            self._s3.put_object_tagging(Bucket=bucket, Key=object_key, Tagging={"TagSet": merged})
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    @retrying()
    def move(self, url: str, target_prefix: str) -> str | None:
        """Copy under `bucket/prefix` (keeping the key), then delete; None if already moved."""
        bucket, key = split_url(url)
        target_bucket, _, prefix = target_prefix.partition("/")
        target_key = f"{prefix}/{key}" if prefix else key
        try:
            # Managed copy: multipart for objects over 5 GB.
            self._s3.copy({"Bucket": bucket, "Key": key}, target_bucket, target_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return None  # a previous attempt moved it already
            raise classify_aws_error(exc) from exc
        self.delete(url)
        return f"s3://{target_bucket}/{target_key}"

    @retrying()
    def delete(self, url: str) -> None:
        bucket, key = split_url(url)
        try:
            self._s3.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    def list_objects(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """Every object under a prefix, all pages."""
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                yield from page.get("Contents", [])  # type: ignore[misc]
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
