"""Writes only an operator makes (loader-admin, through loader/admin.py): end a stuck lease,
delete finished batches. The Lambda never calls these."""

from __future__ import annotations

from loader.adapters import conditions as when
from loader.adapters.batch_reads import BatchReads
from loader.adapters.codec import names, values
from loader.adapters.dynamo import ConditionLost, lost_condition
from loader.adapters.items import batch_from_item, header_key, member_key
from loader.errors import BatchConflictError, LeaseLostError
from loader.models import Batch, BatchStatus
from loader.transitions import LEASED

BATCH_WRITE_ITEMS = 25
"""BatchWriteItem's limit on requests per call."""


class BatchOperator(BatchReads):
    def expire_lease(self, batch_id: str, *, owner: str, now: float) -> Batch:
        """End the lease `owner` holds on a sealed or loading batch, so it can be taken over.

        The holder is not stopped: it loses the batch when someone takes it over (sweep,
        reprocess), and the new lease generation fences it out of every target.
        """
        # sealed|loading, leased by A until T --expire--> leased by A until now --take_over--> B.
        # Condition "still leased by the holder we inspected": if B has taken over meanwhile,
        # B's live lease is left alone.
        condition = when.lease_held_by(owner)
        done = self._db.update(
            self._tables.batches,
            header_key(batch_id),
            "SET #lease_expires_at = :now, #updated_at = :now",
            condition,
            names("lease_expires_at", "updated_at"),
            values(now=now),
        )
        if isinstance(done, ConditionLost):
            message = f"condition failed ({condition.expression})"
            raise lost_condition(LeaseLostError, batch_id, message, done.item)
        return batch_from_item(done)

    def delete_batch(self, batch_id: str, *, status: BatchStatus) -> int:
        """Delete a finished batch, header first, then its members; return the members deleted.

        The ledger keeps its records, so the files are still never registered twice.
        """
        if status in LEASED or status is BatchStatus.OPEN:
            raise BatchConflictError(
                f"batch {batch_id} is {status}: only finished batches are deleted"
            )
        # complete|error --delete--> (gone). Condition "still finished as listed": a batch that
        # was reprocessed since (error -> sealed) keeps everything. The header goes first:
        # members without a header are inert, a header without members would load nothing.
        lost = self._db.delete(self._tables.batches, header_key(batch_id), when.in_status(status))
        if lost is not None:
            raise lost_condition(BatchConflictError, batch_id, f"no longer {status}", lost.item)
        keys = [member_key(batch_id, m.url) for m in self.members(batch_id)]
        for start in range(0, len(keys), BATCH_WRITE_ITEMS):
            self._db.batch_delete(self._tables.batches, keys[start : start + BATCH_WRITE_ITEMS])
        return len(keys)
