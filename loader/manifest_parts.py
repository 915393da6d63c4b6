"""An object streamed to S3 in parts: the bytes of a body, produced a piece at a time, regrouped
into multipart-upload parts. Pure.

S3's rules (multipart upload limits): every part but the last is at least 5 MiB, at most 10,000
parts, 5 GiB a part. A body that fits one part is one PutObject (the adapter decides from the
first two parts, so a small manifest costs one call, as before).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from loader.errors import TerminalError

MIN_PART_BYTES = 5 * 2**20
"""S3's minimum size of every part but the last."""
MAX_PARTS = 10_000
PART_BYTES = 8 * 2**20
"""Our part size: 10,000 parts of 8 MiB allow an 80 GiB body; one part is held at a time."""


def split_parts(pieces: Iterable[bytes], part_size: int = PART_BYTES) -> Iterator[bytes]:
    """Parts of exactly `part_size` bytes, then the rest (shorter, never empty unless the whole
    body is empty: an empty body is one empty part). At most one part and one piece are held."""
    if part_size < 1:
        raise ValueError("part_size must be positive")
    buffer = bytearray()
    sent = False
    for piece in pieces:
        buffer += piece
        while len(buffer) >= part_size:
            with memoryview(buffer) as view:
                part = bytes(view[:part_size])  # one copy (a slice would make two)
            del buffer[:part_size]
            sent = True
            yield part
            del part  # not held while the next part fills
    if buffer or not sent:
        yield bytes(buffer)


def check_part_count(number: int) -> None:
    """Before uploading part `number` (1-based): past S3's limit, fail (the upload is aborted)."""
    if number > MAX_PARTS:
        raise TerminalError(f"more than {MAX_PARTS} parts: the part size is too small")
