"""S3: manifests in, failed manifests copied; object listing for backfill and reconciliation."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import LoaderError, SourcesChangedError, classify_aws_error
from loader.log import logger
from loader.manifest_parts import check_part_count
from loader.retry import retrying
from loader.sources import Current

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


_JSON = "application/json"
LIST_AT_LEAST = 4
"""Members in one folder from which listing it beats a HEAD per file."""


def split_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


class S3Store:
    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    def put_manifest(self, bucket: str, key: str, body: bytes | Iterable[bytes]) -> str:
        """Write a manifest: the whole body, or its parts as they come (manifest_parts.py). One
        part is one PutObject; more are a multipart upload, aborted on any failure, including
        one raised while the next part is produced: the object appears only on completion, so
        a failed write leaves the previous manifest (or none), never half of one."""
        parts = iter([body] if isinstance(body, bytes) else body)
        head = [next(parts, b"")]
        second = next(parts, None)
        if second is None:
            self._put(bucket, key, head[0])
        else:
            head.append(second)
            del second  # each part is let go once sent: at most two are held
            self._put_in_parts(bucket, key, _one_by_one(head, parts))
        return f"s3://{bucket}/{key}"

    @retrying()
    def _put(self, bucket: str, key: str, body: bytes) -> None:
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=_JSON)
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    def _put_in_parts(self, bucket: str, key: str, parts: Iterable[bytes]) -> None:
        upload_id = self._call(
            "create_multipart_upload", Bucket=bucket, Key=key, ContentType=_JSON
        )["UploadId"]
        where = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        completed = False
        try:
            done = []
            for number, part in enumerate(parts, 1):
                check_part_count(number)
                etag = self._call("upload_part", **where, PartNumber=number, Body=part)["ETag"]
                done.append({"ETag": etag, "PartNumber": number})
                del part  # not held while the next part fills
            self._call("complete_multipart_upload", **where, MultipartUpload={"Parts": done})
            completed = True
        finally:
            if not completed:
                self._abort(where)

    @retrying()
    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self._s3, operation)(**params)
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    def _abort(self, where: dict[str, str]) -> None:
        """Best effort, never masking the error that stopped the upload; an upload left
        behind is invisible and the bucket's AbortIncompleteMultipartUpload rule removes it."""
        try:
            self._call("abort_multipart_upload", **where)
        except (LoaderError, BotoCoreError, ClientError) as exc:
            logger.warning("manifest_upload_not_aborted", key=where["Key"], error=str(exc))

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

    def open(self, url: str, etag: str | None = None) -> Any:
        """A streaming body (file-like) for the object; with `etag`, only that content
        (If-Match): an object overwritten since is a retryable error, never other bytes."""
        bucket, key = split_url(url)
        try:
            if etag is None:
                return self._s3.get_object(Bucket=bucket, Key=key)["Body"]
            quoted = '"' + etag.strip('"') + '"'
            return self._s3.get_object(Bucket=bucket, Key=key, IfMatch=quoted)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise SourcesChangedError(
                    f"{url} changed since it was registered", url=url
                ) from exc
            raise classify_aws_error(exc) from exc

    def current_objects(self, urls: Iterable[str]) -> dict[str, Current | None]:
        """What S3 holds now for each url (None: gone). A folder holding several of them is
        listed (1,000 keys a call, from the first to the last of them); lone files are HEADed."""
        folders: dict[tuple[str, str], list[str]] = defaultdict(list)
        for url in urls:
            bucket, key = split_url(url)
            folders[(bucket, posixpath.dirname(key))].append(key)
        found: dict[str, Current | None] = {}
        for (bucket, folder), keys in folders.items():
            keys.sort()
            if len(keys) >= LIST_AT_LEAST:
                found.update(self._listed(bucket, folder, keys))
            else:
                found.update({f"s3://{bucket}/{k}": self._head(bucket, k) for k in keys})
        return found

    def _listed(self, bucket: str, folder: str, keys: list[str]) -> dict[str, Current | None]:
        wanted = set(keys)
        found: dict[str, Current | None] = {f"s3://{bucket}/{k}": None for k in keys}
        prefix = f"{folder}/" if folder else ""
        # StartAfter is exclusive: the first key without its last character sorts just before it.
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "StartAfter": keys[0][:-1]}
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(**kwargs):
                for item in page.get("Contents", []):
                    if item["Key"] in wanted:
                        found[f"s3://{bucket}/{item['Key']}"] = Current(
                            str(item["ETag"]).strip('"'), int(item["Size"])
                        )
                contents = page.get("Contents") or []
                if contents and contents[-1]["Key"] >= keys[-1]:
                    break
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        return found

    @retrying()
    def _head(self, bucket: str, key: str) -> Current | None:
        try:
            head = self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise classify_aws_error(exc) from exc
        return Current(str(head["ETag"]).strip('"'), int(head["ContentLength"]))

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


def _one_by_one(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The parts read ahead, then the rest, holding none once handed on."""
    while head:
        yield head.pop(0)
    yield from rest
