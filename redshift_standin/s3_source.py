"""Which S3 objects a COPY reads (manifest, single key or key prefix) and how to stream them."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import logging
import os
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from redshift_standin.copy_spec import Compression
from redshift_standin.errors import NotEmulatedError, S3SourceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ByteStream = IO[bytes]
log = logging.getLogger(__name__)

SKIP_MANIFEST_ENTRIES_ENV = "REDSHIFT_STANDIN_FAULT_SKIP_MANIFEST_ENTRIES"
"""Fault injection, for tests only: when set to n > 0, every manifest COPY silently leaves out the
last n entries of its manifest (no error, no history row): a COPY that loads less than it was
asked to, as the loader's load check must catch. Read at each COPY (docs/standin.md)."""
_S3_ERROR_CODE = 8001
_MISSING = ("NoSuchKey", "404", "NotFound")


@dataclass(frozen=True)
class S3Object:
    url: str
    mandatory: bool = True


def split_url(url: str) -> tuple[str, str]:
    if not url.lower().startswith("s3://"):
        raise S3SourceError(f"Invalid S3 URL '{url}'", code=_S3_ERROR_CODE)
    bucket, _, key = url[5:].partition("/")
    if not bucket:
        raise S3SourceError(f"Invalid S3 URL '{url}'", code=_S3_ERROR_CODE)
    return bucket, key


_MISSING_MESSAGE = "S3ServiceException:The specified key does not exist."


def missing_key(url: str) -> S3SourceError:
    return S3SourceError(
        f"{_MISSING_MESSAGE},Status 404,Error NoSuchKey,CanRetry 1",
        code=_S3_ERROR_CODE,
        context=f"S3 key being read : {url}",
    )


def _client_error(url: str, exc: ClientError | BotoCoreError) -> S3SourceError:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    if code in _MISSING:
        return missing_key(url)
    return S3SourceError(
        f"S3ServiceException:{exc},Error {code}",
        code=_S3_ERROR_CODE,
        context=f"S3 key being read : {url}",
    )


def read_json(s3: S3Client, url: str, what: str) -> Any:
    bucket, key = split_url(url)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise _client_error(url, exc) from exc
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise S3SourceError(
            f"{what} file is not in correct json format", code=_S3_ERROR_CODE, context=url
        ) from None


def plan_objects(s3: S3Client, source: str, *, manifest: bool) -> list[S3Object]:
    return _manifest_entries(s3, source) if manifest else _prefix_objects(s3, source)


def _manifest_entries(s3: S3Client, url: str) -> list[S3Object]:
    document = read_json(s3, url, "Manifest")
    entries = document.get("entries") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise S3SourceError(
            "Manifest file is not in correct json format: no 'entries' list",
            code=_S3_ERROR_CODE,
            context=url,
        )
    objects = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise S3SourceError("Manifest entry without a 'url'", code=_S3_ERROR_CODE, context=url)
        objects.append(S3Object(entry["url"], mandatory=bool(entry.get("mandatory", False))))
    return _fault_skip_entries(objects, url)


def _fault_skip_entries(objects: list[S3Object], manifest_url: str) -> list[S3Object]:
    skip = int(os.environ.get(SKIP_MANIFEST_ENTRIES_ENV) or 0)
    if skip <= 0:
        return objects
    kept = objects[: max(len(objects) - skip, 0)]
    log.warning(
        "FAULT INJECTION (%s=%d): COPY of %s skips %s",
        SKIP_MANIFEST_ENTRIES_ENV,
        skip,
        manifest_url,
        [o.url for o in objects[len(kept) :]],
    )
    return kept


def _prefix_objects(s3: S3Client, url: str) -> list[S3Object]:
    """Like Redshift: every object whose key starts with the given key (not only a folder)."""
    bucket, prefix = split_url(url)
    paginator = s3.get_paginator("list_objects_v2")
    keys: list[str] = []
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
    except (ClientError, BotoCoreError) as exc:
        raise _client_error(url, exc) from exc
    keys = [key for key in keys if not key.endswith("/")]
    if not keys:
        raise S3SourceError(
            f"The specified S3 prefix '{prefix}' does not exist", code=_S3_ERROR_CODE, context=url
        )
    return [S3Object(f"s3://{bucket}/{key}") for key in sorted(keys)]


class _BodyReader(io.RawIOBase):
    """Adapts a botocore StreamingBody to the raw-IO interface io.BufferedReader wants."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class _ZstdReader(io.RawIOBase):
    """Turns zstandard's own error type into OSError, like gzip and bz2 raise."""

    def __init__(self, reader: Any, error: type[Exception]) -> None:
        self._reader = reader
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return int(self._reader.readinto(buffer))
        except self._error as exc:
            raise OSError(f"zstd: {exc}") from exc

    def close(self) -> None:
        self._reader.close()
        super().close()


def open_object(s3: S3Client, obj: S3Object, compression: Compression | None) -> ByteStream | None:
    """A decompressing byte stream, or None for a missing non-mandatory manifest entry."""
    bucket, key = split_url(obj.url)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except (ClientError, BotoCoreError) as exc:
        error = _client_error(obj.url, exc)
        if not obj.mandatory and error.message.startswith(_MISSING_MESSAGE):
            return None
        raise error from exc
    raw = io.BufferedReader(_BodyReader(body), buffer_size=1 << 16)
    return decompress(raw, compression)


def decompress(raw: ByteStream, compression: Compression | None) -> ByteStream:
    if compression is None:
        return raw
    if compression is Compression.GZIP:
        return cast("ByteStream", gzip.GzipFile(fileobj=raw, mode="rb"))
    if compression is Compression.BZIP2:
        return cast("ByteStream", bz2.BZ2File(raw, mode="rb"))
    if compression is Compression.ZSTD:
        try:
            import zstandard
        except ImportError as exc:
            raise NotEmulatedError("ZSTD needs the `zstandard` package in the stand-in") from exc
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(_ZstdReader(reader, zstandard.ZstdError), buffer_size=1 << 16)
    raise NotEmulatedError(f"{compression.value} is not emulated by the stand-in")
