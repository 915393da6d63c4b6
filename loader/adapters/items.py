"""The loader's DynamoDB items, and our models made from them (see loader/tables.py).

Batches table:
  prefix#<prefix> / state      -> open_batch_id: the batch new files of the prefix join
  batch#<id>      / header     -> status, counts, lease, manifest, per-target state
  batch#<id>      / file#<url> -> one member: fixed once the header leaves `open`
                                  (long urls: file#sha256:<hex>, see member_sk)
Files table: one ledger item per S3 object url: the batch it joined, etag/version, receipts.
"""

from __future__ import annotations

import hashlib
from typing import Any

from loader.adapters.codec import decode, encode
from loader.models import (
    Batch,
    BatchMember,
    BatchStatus,
    FileRecord,
    Lease,
    S3Object,
    TargetState,
)

MAX_SORT_KEY_BYTES = 1000
"""DynamoDB caps sort keys at 1,024 bytes; S3 keys may be 1,024 bytes themselves."""


def member_sk(url: str) -> str:
    """Sort key of a batch member; long urls are keyed by their SHA-256 (the url is an
    attribute of the item)."""
    sk = f"file#{url}"
    if len(sk.encode()) <= MAX_SORT_KEY_BYTES:
        return sk
    return "file#sha256:" + hashlib.sha256(url.encode()).hexdigest()


def state_key(prefix: str) -> dict[str, Any]:
    return encode({"pk": f"prefix#{prefix}", "sk": "state"})


def header_key(batch_id: str) -> dict[str, Any]:
    return encode({"pk": f"batch#{batch_id}", "sk": "header"})


def member_key(batch_id: str, url: str) -> dict[str, Any]:
    return encode({"pk": f"batch#{batch_id}", "sk": member_sk(url)})


def ledger_key(url: str) -> dict[str, Any]:
    return encode({"url": url})


def batch_from_item(item: dict[str, Any]) -> Batch:
    raw = decode(item)
    lease = None
    if raw.get("lease_owner"):
        lease = Lease(
            owner=raw["lease_owner"],
            expires_at=raw.get("lease_expires_at", 0),
            generation=int(raw.get("lease_generation", 0)),
        )
    fields = {k: v for k, v in raw.items() if k in Batch.model_fields and k != "targets"}
    targets = {k: TargetState(**v) for k, v in (raw.get("targets") or {}).items()}
    return Batch(**fields, lease=lease, targets=targets)


def file_from_item(item: dict[str, Any]) -> FileRecord:
    raw = decode(item)
    return FileRecord(**{k: v for k, v in raw.items() if k in FileRecord.model_fields})


def member_from_item(item: dict[str, Any]) -> BatchMember:
    return BatchMember(**decode(item))


def new_header_item(batch_id: str, prefix: str, now: float) -> dict[str, Any]:
    return encode(
        {
            "pk": f"batch#{batch_id}",
            "sk": "header",
            "batch_id": batch_id,
            "prefix": prefix,
            "status": BatchStatus.OPEN,
            "file_count": 0,
            "total_bytes": 0,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
            "targets": {},
        }
    )


# Registration writes two items per file, built straight from the notified object: the dumps of
# a new BatchMember / FileRecord (tests/unit/test_codec.py), without building and dumping two
# pydantic models per file (about half the time of building them; ~10 % of a batched file's CPU).


def new_member_item(batch_id: str, obj: S3Object) -> dict[str, Any]:
    """The member item of a file joining a batch (a BatchMember)."""
    url = obj.url
    fields = {"url": url, "size": obj.size, "etag": obj.etag, "version_id": obj.version_id}
    return {**member_key(batch_id, url), **encode(fields)}


def new_ledger_item(obj: S3Object, prefix: str, batch_id: str, now: float) -> dict[str, Any]:
    """The ledger item of a file registered for the first time (a FileRecord, received once)."""
    return encode(
        {
            "url": obj.url,
            "prefix": prefix,
            "batch_id": batch_id,
            "size": obj.size,
            "etag": obj.etag,
            "version_id": obj.version_id,
            "sequencer": obj.sequencer,
            "first_received_at": now,
            "last_received_at": now,
            "times_received": 1,
            "revision": 1,
        }
    )
