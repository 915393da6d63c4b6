"""Reads of batches and the file ledger: headers, members, ledger records, index listings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from loader.adapters.codec import decode, names, values
from loader.adapters.dynamo import Dynamo
from loader.adapters.items import (
    batch_from_item,
    file_from_item,
    header_key,
    ledger_key,
    member_from_item,
    member_key,
    state_key,
)
from loader.models import Batch, BatchMember, BatchStatus, FileRecord
from loader.tables import PREFIX_INDEX, STATUS_INDEX, TableNames

BATCH_GET_KEYS = 100
"""BatchGetItem's limit on keys per call."""
_MEMBER_FIELDS = ("url", "size", "etag", "version_id")


class BatchReads:
    """Strongly consistent reads of the base table; listings from its (eventually consistent)
    indexes. The base of every batch adapter."""

    def __init__(self, db: Dynamo, tables: TableNames) -> None:
        self._db = db
        self._tables = tables

    def get_batch(self, batch_id: str) -> Batch | None:
        item = self._db.get(self._tables.batches, header_key(batch_id))
        return batch_from_item(item) if item else None

    def get_batches(self, batch_ids: Sequence[str]) -> dict[str, Batch]:
        """The headers of these batches that exist, read consistently: one call for up to
        BATCH_GET_KEYS (a GetItem for one)."""
        if len(batch_ids) == 1:
            header = self.get_batch(batch_ids[0])
            return {header.batch_id: header} if header else {}
        found: dict[str, Batch] = {}
        unique = list(dict.fromkeys(batch_ids))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [header_key(b) for b in unique[start : start + BATCH_GET_KEYS]]
            for item in self._db.batch_get(self._tables.batches, keys):
                batch = batch_from_item(item)
                found[batch.batch_id] = batch
        return found

    def open_batch(self, prefix: str) -> Batch | None:
        """The prefix's open batch (None if the prefix never had a file)."""
        state = self._db.get(self._tables.batches, state_key(prefix))
        if state is None:
            return None
        return self.get_batch(str(decode(state)["open_batch_id"]))

    def get_file(self, url: str) -> FileRecord | None:
        item = self._db.get(self._tables.files, ledger_key(url))
        return file_from_item(item) if item else None

    def file_omitted_from(self, url: str) -> str | None:
        """The batch a file was omitted from, while the ledger still assigns it there."""
        item = self._db.get(self._tables.files, ledger_key(url))
        if item is None:
            return None
        raw = decode(item)
        omitted = raw.get("omitted_from")
        return str(omitted) if omitted and omitted == raw.get("batch_id") else None

    def known_files(self, urls: Sequence[str]) -> dict[str, FileRecord]:
        """The ledger records of those urls that have one, read consistently in bulk."""
        found: dict[str, FileRecord] = {}
        unique = list(dict.fromkeys(urls))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [ledger_key(u) for u in unique[start : start + BATCH_GET_KEYS]]
            for item in self._db.batch_get(self._tables.files, keys):
                record = file_from_item(item)
                found[record.url] = record
        return found

    def members_of(self, batch_id: str, urls: Sequence[str]) -> dict[str, BatchMember]:
        """Those of `urls` that are members of the batch, read consistently in bulk: a few
        files of a large batch without reading its whole membership."""
        found: dict[str, BatchMember] = {}
        unique = list(dict.fromkeys(urls))
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [member_key(batch_id, u) for u in unique[start : start + BATCH_GET_KEYS]]
            for item in self._db.batch_get(self._tables.batches, keys):
                raw = decode(item)
                member = BatchMember(**{f: raw[f] for f in _MEMBER_FIELDS if f in raw})
                found[member.url] = member
        return found

    def members(self, batch_id: str) -> Iterator[BatchMember]:
        """Every member of a batch, strongly consistent, sorted by key, page by page."""
        items = self._db.query(
            TableName=self._tables.batches,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :file)",
            ExpressionAttributeNames=names("pk", "sk", "url", "size", "etag", "version_id"),
            ExpressionAttributeValues=values(pk=f"batch#{batch_id}", file="file#"),
            ProjectionExpression="#url, #size, #etag, #version_id",
            ConsistentRead=True,
        )
        return (member_from_item(item) for item in items)

    def batches_by_status(
        self,
        status: BatchStatus,
        *,
        since: float | None = None,
        until: float | None = None,
        newest_first: bool = True,
        limit: int | None = None,
    ) -> Iterator[Batch]:
        """Headers with a status (eventually consistent index), every page, newest first."""
        condition = "#status = :status"
        attr_values = values(status=status.value)
        if since is not None and until is not None:
            condition += " AND #updated_at BETWEEN :since AND :until"
            attr_values.update(values(since=since, until=until))
        elif since is not None:
            condition += " AND #updated_at >= :since"
            attr_values.update(values(since=since))
        elif until is not None:
            condition += " AND #updated_at <= :until"
            attr_values.update(values(until=until))
        used = ("status", "updated_at") if since is not None or until is not None else ("status",)
        yield from self._index_query(
            STATUS_INDEX, condition, names(*used), attr_values, newest_first, limit
        )

    def batches_of_prefix(
        self, prefix: str, *, newest_first: bool = True, limit: int | None = None
    ) -> Iterator[Batch]:
        yield from self._index_query(
            PREFIX_INDEX,
            "#prefix = :prefix",
            names("prefix"),
            values(prefix=prefix),
            newest_first,
            limit,
        )

    def _index_query(
        self,
        index: str,
        condition: str,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
        newest_first: bool,
        limit: int | None,
    ) -> Iterator[Batch]:
        items = self._db.query(
            TableName=self._tables.batches,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=attr_names,
            ExpressionAttributeValues=attr_values,
            ScanIndexForward=not newest_first,
        )
        for seen, item in enumerate(items, 1):
            yield batch_from_item(item)
            if limit is not None and seen >= limit:
                return
