"""Registration transactions in parts: one prefix's new files for its open batch, several
prefixes' parts packed into one transaction, and what a cancellation says about each part.

A part is one header update (the batch's counts, under BATCH_STILL_OPEN or `has_headroom`) then
a ledger item and a member item per file, in this order: a cancellation's reasons come back in
the same order, so each part's own losses are read from its own slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from loader.adapters.codec import decode
from loader.adapters.dynamo import TRANSACTION_ITEMS, Cancelled
from loader.adapters.items import file_from_item
from loader.models import BatchStatus, FileRecord, Headroom, S3Object


@dataclass(frozen=True)
class Refused:
    """A registration transaction that lost: the batch was sealed meanwhile, or is open but
    without the headroom asked for, and/or some files were in the ledger already (with their
    records, where DynamoDB returned them)."""

    batch_sealed: bool
    known: dict[str, FileRecord | None] = field(default_factory=dict)
    no_headroom: bool = False


@dataclass(frozen=True)
class Part:
    """One prefix's new files for its open batch: one header update and two items per file.
    With `headroom`, the header update holds only if no seal can be due after it."""

    batch_id: str
    prefix: str
    chunk: Sequence[S3Object]
    headroom: Headroom | None = None

    @property
    def items(self) -> int:
        return 1 + 2 * len(self.chunk)


def packed(waiting: Sequence[int], parts: Sequence[Part]) -> list[list[int]]:
    """Parts (by index, in order) into transactions of at most TRANSACTION_ITEMS items, never two
    of one batch in a transaction (DynamoDB refuses two writes of one item)."""
    packs: list[list[int]] = []
    room, batches = 0, set[str]()
    for i in waiting:
        part = parts[i]
        if not packs or part.items > room or part.batch_id in batches:
            packs.append([])
            room, batches = TRANSACTION_ITEMS, set()
        packs[-1].append(i)
        room -= part.items
        batches.add(part.batch_id)
    return packs


def refused(part: Part, cancelled: Cancelled, start: int) -> Refused:
    """A part's own losses, its header at `start`, then a ledger and a member item per file."""
    header_lost = cancelled.lost(start)
    old = cancelled.item(start) if header_lost else None
    still_open = old is not None and decode(old).get("status") == BatchStatus.OPEN
    known: dict[str, FileRecord | None] = {}
    for i, obj in enumerate(part.chunk):
        ledger = start + 1 + 2 * i
        if cancelled.lost(ledger):
            item = cancelled.item(ledger)
            known[obj.url] = file_from_item(item) if item else None
    return Refused(
        batch_sealed=header_lost and not still_open,
        known=known,
        no_headroom=header_lost and still_open,
    )
