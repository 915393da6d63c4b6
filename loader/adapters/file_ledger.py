"""Registration's writes: files into the ledger and into a batch, in one transaction each.

Every write that adds to a batch carries BATCH_STILL_OPEN on its header; every ledger write its
own condition (NEVER_REGISTERED, `still_revision`). What to write, and what to do when a
condition is lost, is decided by loader/registration.py; this adapter reports losses in our
terms (`Refused`, `Placed`).

Several prefixes' new files share transactions (`add_parts`): a transaction is cancelled whole,
so the parts whose own conditions held are written again without the part that lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from loader.adapters import conditions as when
from loader.adapters.batch_store import update_item, update_params
from loader.adapters.codec import names, values
from loader.adapters.dynamo import ConditionLost, Dynamo
from loader.adapters.items import (
    header_key,
    ledger_key,
    member_key,
    new_ledger_item,
    new_member_item,
)
from loader.adapters.parts import Part, Refused, packed, refused
from loader.errors import LoaderError, RetryableError, TerminalError
from loader.models import FileRecord, Headroom, S3Object
from loader.retry import retrying

if TYPE_CHECKING:
    from loader.adapters.conditions import Condition
    from loader.tables import TableNames

__all__ = ["FILES_PER_TRANSACTION", "FileLedger", "Part", "Placed", "Refused"]

FILES_PER_TRANSACTION = 49
"""A transaction holds at most 100 items: the header update plus two items per file."""


class Placed(StrEnum):
    """What became of a re-upload written into a batch."""

    DONE = "done"
    ALREADY = "already"
    """Someone else recorded this re-upload first (the ledger's revision moved on)."""
    BATCH_SEALED = "batch_sealed"
    """The batch was sealed meanwhile: the prefix has a new open batch to try."""


class FileLedger:
    def __init__(self, db: Dynamo, tables: TableNames) -> None:
        self._db = db
        self._tables = tables

    @retrying()
    def add_files(
        self,
        batch_id: str,
        prefix: str,
        chunk: Sequence[S3Object],
        now: float,
        headroom: Headroom | None = None,
    ) -> Refused | None:
        """New files (at most FILES_PER_TRANSACTION): each in the ledger and a member of the open
        batch, with the batch's counts, in one transaction."""
        part = Part(batch_id, prefix, chunk, headroom)
        cancelled = self._db.transact(self._part_items(part, now))
        return None if cancelled is None else refused(part, cancelled, 0)

    def add_parts(self, parts: Sequence[Part], now: float) -> list[Refused | LoaderError | None]:
        """Each part's files as `add_files` would write them, packed into as few transactions
        as fit. Per part: None (written), Refused (one of its own conditions lost), or the
        error it fails with on its own."""
        results: dict[int, Refused | LoaderError | None] = {}
        waiting = list(range(len(parts)))
        while waiting:  # each round settles at least one part: its own loss, or all written
            again: list[int] = []
            for pack in packed(waiting, parts):
                again += self._add_pack(pack, parts, now, results)
            waiting = again
        return [results[i] for i in range(len(parts))]

    def _add_pack(
        self,
        pack: list[int],
        parts: Sequence[Part],
        now: float,
        results: dict[int, Refused | LoaderError | None],
    ) -> list[int]:
        """Write one transaction of parts, record each part's result, and return the parts that
        were cancelled only by another part's loss (written again without it)."""
        items = [item for i in pack for item in self._part_items(parts[i], now)]
        try:
            cancelled = self._db.transact_retrying(items)
        except LoaderError as exc:
            for i in pack:  # whose error is it? Each part on its own says.
                results[i] = exc if len(pack) == 1 else self._alone(parts[i], now)
            return []
        if cancelled is None:
            results.update(dict.fromkeys(pack))
            return []
        innocent, start = [], 0
        for i in pack:
            stop = start + parts[i].items
            if cancelled.refused(start, stop):
                results[i] = refused(parts[i], cancelled, start)
            else:
                innocent.append(i)
            start = stop
        if len(innocent) == len(pack):  # no part to blame: never loop on it
            error = RetryableError("transaction cancelled without a reason", codes=cancelled.codes)
            results.update(dict.fromkeys(pack, error))
            return []
        return innocent

    def _alone(self, part: Part, now: float) -> Refused | LoaderError | None:
        try:
            return self.add_files(part.batch_id, part.prefix, part.chunk, now, part.headroom)
        except LoaderError as exc:
            return exc

    def _part_items(self, part: Part, now: float) -> list[dict[str, Any]]:
        size = sum(o.size for o in part.chunk)
        condition = when.BATCH_STILL_OPEN
        if part.headroom is not None:
            condition = when.has_headroom(part.headroom)
        items = [
            self._header_add(
                part.batch_id, files=len(part.chunk), size=size, now=now, condition=condition
            )
        ]
        for obj in part.chunk:
            items.append(self._ledger_put(obj, part.prefix, part.batch_id, now))
            items.append(self._member_put(obj, part.batch_id))
        return items

    @retrying()
    def record_receipt(self, url: str, now: float, *, ignored: S3Object | None = None) -> None:
        """One more notification for a registered file; a re-upload `reupload: ignore` left
        alone is remembered on the record (`file show` says a newer upload was ignored)."""
        expression = "ADD #times_received :one SET #last_received_at = :now"
        attr_names = names("times_received", "last_received_at")
        attr_values = values(one=1, now=now)
        if ignored is not None:
            expression += (
                ", #ignored_etag = :ietag, #ignored_size = :isize, #ignored_at = :now, "
                "#ignored_version_id = :ivid"
            )
            attr_names |= names("ignored_etag", "ignored_size", "ignored_at", "ignored_version_id")
            attr_values |= values(
                ietag=ignored.etag or "", isize=ignored.size, ivid=ignored.version_id or ""
            )
        done = self._db.update(
            self._tables.files,
            ledger_key(url),
            expression,
            when.STILL_REGISTERED,
            attr_names,
            attr_values,
        )
        if isinstance(done, ConditionLost):
            raise TerminalError(f"{url} is no longer in the file ledger", url=url)

    def move_to_batch(
        self, obj: S3Object, existing: FileRecord, batch_id: str, now: float
    ) -> Placed:
        """A re-upload of a file of an earlier batch (policy `reload`): the ledger moves it to
        `batch_id` (the earlier batch is remembered in `previous_batches`), where it joins."""
        sequencer = ", #sequencer = :seq" if obj.sequencer else ""
        # A listing gives no sequencer: the old upload's must not stay with the new upload's
        # ETag (its own notice would look newer still).
        forget = "" if obj.sequencer else " REMOVE #sequencer"
        ledger = self._ledger_update(
            obj.url,
            "SET #batch_id = :batch, #size = :size, #etag = :etag, #version_id = :vid, "
            "#last_received_at = :now, #revision = #revision + :one, "
            "#previous_batches = list_append(if_not_exists(#previous_batches, :empty), :old)"
            f"{sequencer} ADD #times_received :one{forget}",
            when.still_revision(existing.revision),
            names(
                "batch_id",
                "size",
                "etag",
                "last_received_at",
                "previous_batches",
                "times_received",
                "version_id",
                "sequencer",
            ),
            values(
                batch=batch_id,
                size=obj.size,
                etag=obj.etag or "",
                vid=obj.version_id or "",
                now=now,
                one=1,
                empty=[],
                old=[existing.batch_id],
                **({"seq": obj.sequencer} if obj.sequencer else {}),
            ),
        )
        header = self._header_add(batch_id, files=1, size=obj.size, now=now)
        return self._placed([header, ledger, self._member_put(obj, batch_id)])

    def refresh_in_batch(
        self, obj: S3Object, existing: FileRecord, batch_id: str, now: float
    ) -> Placed:
        """A re-upload of a member of a still-open batch: the header's bytes, the ledger record
        and the member now describe the new upload, so a redelivery of its notice is a
        duplicate, not one more re-upload."""
        sequencer = ", #sequencer = :seq" if obj.sequencer else ""
        forget = "" if obj.sequencer else " REMOVE #sequencer"  # a listing: see move_to_batch
        ledger = self._ledger_update(
            obj.url,
            "SET #size = :size, #etag = :etag, #version_id = :vid, "
            f"#last_received_at = :now, #revision = #revision + :one{sequencer} "
            f"ADD #times_received :one{forget}",
            when.still_revision(existing.revision) & when.ledger_still_in(batch_id),
            names(
                "size",
                "etag",
                "version_id",
                "last_received_at",
                "times_received",
                "sequencer",
            ),
            values(
                size=obj.size,
                etag=obj.etag or "",
                vid=obj.version_id or "",
                now=now,
                one=1,
                **({"seq": obj.sequencer} if obj.sequencer else {}),
            ),
        )
        member = {
            "Update": {
                "TableName": self._tables.batches,
                "Key": member_key(batch_id, obj.url),
                "UpdateExpression": "SET #size = :size, #etag = :etag, #version_id = :vid",
                **update_params(
                    when.STILL_AN_ITEM,
                    names("size", "etag", "version_id"),
                    values(size=obj.size, etag=obj.etag or "", vid=obj.version_id or ""),
                ),
            }
        }
        header = self._header_add(batch_id, files=0, size=obj.size - existing.size, now=now)
        return self._placed([header, ledger, member])

    def _placed(self, items: list[dict[str, Any]]) -> Placed:
        cancelled = self._db.transact(items)
        if cancelled is None:
            return Placed.DONE
        if cancelled.lost(1):  # the ledger item's condition
            return Placed.ALREADY
        return Placed.BATCH_SEALED

    # --- transaction items ------------------------------------------------------------------

    def _header_add(
        self,
        batch_id: str,
        *,
        files: int,
        size: int,
        now: float,
        condition: Condition = when.BATCH_STILL_OPEN,
    ) -> dict[str, Any]:
        """The batch's counts; if its condition is lost, the header as it was tells a sealed
        batch from one open without the headroom asked for."""
        return {
            "Update": {
                "TableName": self._tables.batches,
                "Key": header_key(batch_id),
                "UpdateExpression": (
                    "ADD #file_count :n, #total_bytes :bytes SET #updated_at = :now, "
                    "#last_file_at = :now, #first_file_at = if_not_exists(#first_file_at, :now)"
                ),
                **update_params(
                    condition,
                    names(
                        "file_count", "total_bytes", "updated_at", "last_file_at", "first_file_at"
                    ),
                    values(n=files, bytes=size, now=now),
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _ledger_put(self, obj: S3Object, prefix: str, batch_id: str, now: float) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._tables.files,
                "Item": new_ledger_item(obj, prefix, batch_id, now),
                **when.NEVER_REGISTERED.params(),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _member_put(self, obj: S3Object, batch_id: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._tables.batches,
                "Item": new_member_item(batch_id, obj),
                **when.NEW_ITEM.params(),
            }
        }

    def _ledger_update(
        self,
        url: str,
        expression: str,
        condition: Condition,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
    ) -> dict[str, Any]:
        return update_item(
            self._tables.files, ledger_key(url), expression, condition, attr_names, attr_values
        )
