"""Membership changes after the seal: files leave a failed batch before it is reprocessed
(`batch reprocess --omit`, or files re-uploaded into a later batch), or the lease holder of a
sealed/loading batch supersedes or adopts members overwritten in S3 (loader/sources.py).

Each chunk is one transaction, so the header's counts always equal its members:
    error --omit--> error (fewer members) --reprocess--> sealed      (`in_status(ERROR)`)
    sealed|loading --supersede/adopt--> same, before its COPY         (`lease_held_by(owner)`)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loader.adapters import conditions as when
from loader.adapters.batch_reads import BatchReads
from loader.adapters.batch_store import update_item, update_params
from loader.adapters.codec import names, values
from loader.adapters.dynamo import lost_condition
from loader.adapters.file_ledger import FILES_PER_TRANSACTION
from loader.adapters.items import header_key, ledger_key, member_key
from loader.errors import BatchConflictError, LeaseLostError
from loader.models import Batch, BatchMember, BatchStatus, FileRecord

if TYPE_CHECKING:
    from loader.adapters.conditions import Condition
    from loader.sources import Current


class BatchMembers(BatchReads):
    def omit_members(
        self, batch_id: str, urls: Sequence[str], *, now: float, owner: str | None = None
    ) -> Batch:
        """Take files out of a failed batch (`owner` None), or out of the batch `owner` leases
        (superseded files). A file the ledger still assigns to this batch is marked
        `omitted_from` it (not loaded)."""
        # Only the files named: the source check omits superseded members chunk by chunk,
        # and reading a 1,000,000-member batch whole for each would hold it all, each time.
        wanted = sorted(set(urls))
        members = self.members_of(batch_id, wanted)
        missing = [u for u in wanted if u not in members]
        if missing:
            raise BatchConflictError(
                f"not members of batch {batch_id}: {missing}", batch_id=batch_id
            )
        for start in range(0, len(wanted), FILES_PER_TRANSACTION):
            chunk = [members[u] for u in wanted[start : start + FILES_PER_TRANSACTION]]
            ledger = self.known_files([m.url for m in chunk])
            items = self._omit_items(batch_id, chunk, ledger, now, owner)
            cancelled = self._db.transact_retrying(items)
            if cancelled is not None:
                raise lost_condition(
                    BatchConflictError,
                    batch_id,
                    "files could not be omitted",
                    cancelled.items[0],
                    codes=cancelled.codes,
                )
        batch = self.get_batch(batch_id)
        assert batch is not None  # the header condition held a moment ago
        return batch

    def adopt_versions(
        self,
        batch_id: str,
        adopted: Sequence[tuple[BatchMember, Current]],
        *,
        owner: str,
        now: float,
    ) -> Batch:
        """`reupload: ignore` and a member overwritten since registration: the member and its
        ledger record take the object's current ETag and size, so it loads once, as it is now.
        Only the lease holder; the ledger only where it still names this batch."""
        for start in range(0, len(adopted), FILES_PER_TRANSACTION):
            chunk = adopted[start : start + FILES_PER_TRANSACTION]
            delta = sum(now_.size - m.size for m, now_ in chunk)
            header = self._header_change(
                batch_id,
                "ADD #total_bytes :delta SET #updated_at = :now",
                _membership_condition(owner),
                names("total_bytes", "updated_at"),
                values(delta=delta, now=now),
            )
            items: list[dict[str, Any]] = [header]
            for member, current in chunk:
                items.append(self._member_adopt(batch_id, member, current))
                items.append(self._ledger_adopt(member.url, batch_id, current))
            cancelled = self._db.transact_retrying(items)
            if cancelled is not None and cancelled.codes[0] != "None":
                raise lost_condition(
                    LeaseLostError, batch_id, "adopting current versions", cancelled.items[0]
                )
            if cancelled is not None:  # a ledger record moved meanwhile: adopt the members only
                self._db.transact_retrying(items[:1] + items[1::2])
        batch = self.get_batch(batch_id)
        assert batch is not None
        return batch

    # --- transaction items ------------------------------------------------------------------

    def _omit_items(
        self,
        batch_id: str,
        chunk: Sequence[BatchMember],
        ledger: dict[str, FileRecord],
        now: float,
        owner: str | None,
    ) -> list[dict[str, Any]]:
        header = self._header_change(
            batch_id,
            "ADD #file_count :minus_files, #total_bytes :minus_bytes SET #updated_at = :now",
            _membership_condition(owner),
            names("file_count", "total_bytes", "updated_at"),
            values(minus_files=-len(chunk), minus_bytes=-sum(m.size for m in chunk), now=now),
        )
        items: list[dict[str, Any]] = [header]
        for member in chunk:
            items.append(
                {
                    "Delete": {
                        "TableName": self._tables.batches,
                        "Key": member_key(batch_id, member.url),
                        **when.STILL_AN_ITEM.params(),
                    }
                }
            )
            if member.url in ledger and ledger[member.url].batch_id == batch_id:
                items.append(
                    self._ledger_change(
                        member.url,
                        "SET #omitted_from = :batch, #omitted_at = :now",
                        batch_id,
                        names("omitted_from", "omitted_at"),
                        values(now=now),
                    )
                )
        return items

    def _member_adopt(self, batch_id: str, member: BatchMember, current: Current) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._tables.batches,
                "Key": member_key(batch_id, member.url),
                "UpdateExpression": "SET #etag = :etag, #size = :size",
                **update_params(
                    when.STILL_AN_ITEM,
                    names("etag", "size"),
                    values(etag=current.etag, size=current.size),
                ),
            }
        }

    def _ledger_adopt(self, url: str, batch_id: str, current: Current) -> dict[str, Any]:
        return self._ledger_change(
            url,
            "SET #etag = :etag, #size = :size, #adopted = :yes",
            batch_id,
            names("etag", "size", "adopted"),
            values(etag=current.etag, size=current.size, yes=True),
        )

    def _ledger_change(
        self,
        url: str,
        expression: str,
        batch_id: str,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
    ) -> dict[str, Any]:
        return update_item(
            self._tables.files,
            ledger_key(url),
            expression,
            when.ledger_still_in(batch_id),
            attr_names,
            attr_values,
        )

    def _header_change(
        self,
        batch_id: str,
        expression: str,
        condition: Condition,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
    ) -> dict[str, Any]:
        return update_item(
            self._tables.batches,
            header_key(batch_id),
            expression,
            condition,
            attr_names,
            attr_values,
            old_on_failure=True,
        )


def _membership_condition(owner: str | None) -> Condition:
    return when.in_status(BatchStatus.ERROR) if owner is None else when.lease_held_by(owner)
