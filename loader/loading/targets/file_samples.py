"""Samples of a batch's files for the schema checks: the head of text and JSON files, the footer of
Parquet and ORC files, read with ranged GETs (never a whole file). A thin S3 adapter around the
pure readers in loader/schema/."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loader.schema import footers
from loader.schema.samples import Sample, UnreadableSampleError, decompress_head, read_sample

if TYPE_CHECKING:
    from config.copy_options import CopyOptions
    from loader.adapters.s3_store import S3Store

HEAD_BYTES = 256 * 1024
"""Bytes read from the start of a text or JSON file (compressed bytes for compressed files)."""
MAX_FILES = 20
"""Files sampled per batch: the first ones of its manifest."""


def read_samples(
    s3: S3Store, urls: Sequence[str], options: CopyOptions, *, files: int = MAX_FILES
) -> list[Sample]:
    """One sample per file, for the first `files` URLs. Raises UnreadableSampleError."""
    return [read_one(s3, url, options) for url in urls[:files]]


def read_one(s3: S3Store, url: str, options: CopyOptions) -> Sample:
    kind = options.format.type
    if kind in ("parquet", "orc"):
        tail = s3.read_range(url, last=footers.TAIL_BYTES)
        size = footers.needed(tail, kind)
        if size > len(tail):
            tail = s3.read_range(url, last=size)
        columns = footers.read_footer(tail, kind).columns
        return Sample(url=url, columns=columns, named=True, positional=True)
    head = s3.read_range(url, first=0, last=HEAD_BYTES - 1)
    data = decompress_head(head, options.compression)
    if data is None:
        raise UnreadableSampleError(f"{options.compression} input cannot be sampled here")
    try:
        return read_sample(url, data, options, complete=len(head) < HEAD_BYTES)
    except UnreadableSampleError as exc:
        raise UnreadableSampleError(f"{url}: {exc}") from None
