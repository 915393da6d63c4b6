"""Batches and the file ledger in DynamoDB: register files, seal, lease, finish.

Items (batches table; see loader/tables.py):
  prefix#<prefix> / state      -> open_batch_id: the batch new files of the prefix join
  batch#<id>      / header     -> status, counts, lease, manifest, per-target state
  batch#<id>      / file#<url> -> one member: fixed once the header leaves `open`
                                  (long urls: file#sha256:<hex>, see member_sk)
Files table: one ledger item per S3 object url: the batch it joined, etag/version, receipts.

Every membership change is a transaction conditioned on the header still being `open`, and the
seal is a transaction that flips the header to `sealed` and moves the prefix to a new open batch.
So the members of a sealed batch can never change again: the manifest lists exactly them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from config.models import ReuploadPolicy
from loader.adapters.codec import decode, encode, names, values
from loader.decisions import Arrival, arrival_by_current, classify_arrival, ordered
from loader.errors import BatchConflict, LeaseLost, RetryableError, classify_aws_error
from loader.models import (
    Batch,
    BatchMember,
    BatchStatus,
    FileRecord,
    Lease,
    RegistrationOutcome,
    S3Object,
    TargetState,
)
from loader.retry import retrying
from loader.sources import Current
from loader.tables import PREFIX_INDEX, STATUS_INDEX, TableNames
from loader.transitions import LEASED, check

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A transaction holds at most 100 items: the header update plus two items per file.
FILES_PER_TRANSACTION = 49


MAX_ERROR_CHARS = 2000
"""A retry's recorded error is cut here: the header item stays far below DynamoDB's 400 KB."""


def new_batch_id(now: float) -> str:
    """Sortable by creation time, unique by its random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(4)


def member_sk(url: str) -> str:
    """Sort key of a batch member. DynamoDB caps sort keys at 1,024 bytes while S3 keys may
    be 1,024 bytes themselves, so long urls are keyed by their SHA-256 (the url is an attribute)."""
    sk = f"file#{url}"
    if len(sk.encode()) <= 1000:
        return sk
    return "file#sha256:" + hashlib.sha256(url.encode()).hexdigest()


def _state_key(prefix: str) -> dict[str, Any]:
    return encode({"pk": f"prefix#{prefix}", "sk": "state"})


def _header_key(batch_id: str) -> dict[str, Any]:
    return encode({"pk": f"batch#{batch_id}", "sk": "header"})


def _batch_from_item(item: dict[str, Any]) -> Batch:
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


def _file_from_item(item: dict[str, Any]) -> FileRecord:
    raw = decode(item)
    return FileRecord(**{k: v for k, v in raw.items() if k in FileRecord.model_fields})


@dataclass
class _Cancelled:
    """The per-item reasons of a cancelled transaction."""

    codes: list[str]
    items: list[dict[str, Any] | None]

    @classmethod
    def from_error(cls, exc: ClientError) -> _Cancelled | None:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            return None
        reasons: list[Any] = list(exc.response.get("CancellationReasons") or [])
        return cls([r.get("Code", "None") for r in reasons], [r.get("Item") for r in reasons])

    @property
    def retryable(self) -> bool:
        return any(
            c in ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")
            for c in self.codes
        )


class BatchStore:
    """The loader's verbs on batches and the ledger. One instance per warm container."""

    def __init__(self, client: DynamoDBClient, tables: TableNames) -> None:
        self._db = client
        self._tables = tables
        self._open_batch: dict[str, str] = {}  # prefix -> id of its open batch, as last seen

    # --- registration -------------------------------------------------------------------

    def register(
        self,
        prefix: str,
        objects: Sequence[S3Object],
        now: float,
        policy: ReuploadPolicy = ReuploadPolicy.IGNORE,
        current_of: Callable[[str], Current | None] | None = None,
    ) -> RegistrationOutcome:
        """Record each object once in the ledger and in the prefix's open batch, atomically.

        `current_of(url)`: what S3 holds now, asked when a re-upload's order cannot be told
        from sequencers (decisions.arrival_by_current)."""
        pending = _latest_per_url(objects)
        outcome = RegistrationOutcome(prefix=prefix, batch=None)
        batch_id = self._open_batch_id(prefix, now)
        rounds_left = 100 + len(pending)
        while pending:
            rounds_left -= 1
            if rounds_left < 0:
                raise RetryableError("registration kept conflicting", prefix=prefix)
            chunk, rest = pending[:FILES_PER_TRANSACTION], pending[FILES_PER_TRANSACTION:]
            cancelled = self._register_chunk(batch_id, prefix, chunk, now)
            if cancelled is None:
                outcome.registered.extend(o.url for o in chunk)
                pending = rest
                continue
            if cancelled.codes[0] == "ConditionalCheckFailed":
                # The batch was sealed under us: follow the prefix to its new open batch.
                batch_id = self._open_batch_id(prefix, now, refresh=True)
            settled = self._settle_known_files(
                prefix, chunk, cancelled, now, policy, outcome, current_of
            )
            pending = [o for o in chunk if o.url not in settled] + rest
        header = self.get_batch(batch_id)
        return outcome.model_copy(update={"batch": header})

    @retrying()
    def _register_chunk(
        self, batch_id: str, prefix: str, chunk: Sequence[S3Object], now: float
    ) -> _Cancelled | None:
        # The header update carries the condition "batch still open" (see _header_add).
        header_update = self._header_add(
            batch_id, files=len(chunk), size=sum(o.size for o in chunk), now=now
        )
        items: list[dict[str, Any]] = [header_update]
        for obj in chunk:
            items.append(self._ledger_put(obj, prefix, batch_id, now))
            items.append(self._member_put(obj, batch_id))
        return self._transact(items)

    def _ledger_put(self, obj: S3Object, prefix: str, batch_id: str, now: float) -> dict[str, Any]:
        record = FileRecord(
            url=obj.url,
            prefix=prefix,
            batch_id=batch_id,
            size=obj.size,
            etag=obj.etag,
            version_id=obj.version_id,
            sequencer=obj.sequencer,
            first_received_at=now,
            last_received_at=now,
        )
        return {
            "Put": {
                "TableName": self._tables.files,
                "Item": encode(record.model_dump(exclude={"previous_batches"})),
                # Condition "never registered": a redelivered or concurrent duplicate loses here
                # and gets the existing record back to decide what it is.
                "ConditionExpression": "attribute_not_exists(#url)",
                "ExpressionAttributeNames": names("url"),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _member_put(self, obj: S3Object, batch_id: str) -> dict[str, Any]:
        member = BatchMember(url=obj.url, size=obj.size, etag=obj.etag, version_id=obj.version_id)
        return {
            "Put": {
                "TableName": self._tables.batches,
                "Item": encode(
                    {"pk": f"batch#{batch_id}", "sk": member_sk(obj.url), **member.model_dump()}
                ),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": names("pk"),
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> _Cancelled | None:
        """Run a transaction; a lost condition comes back as reasons, anything else raises."""
        try:
            self._db.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            cancelled = _Cancelled.from_error(exc)
            if cancelled is None:
                raise classify_aws_error(exc) from exc
            if cancelled.retryable:
                raise RetryableError("transaction conflict", codes=cancelled.codes) from exc
            return cancelled
        return None

    def _settle_known_files(
        self,
        prefix: str,
        chunk: Sequence[S3Object],
        cancelled: _Cancelled,
        now: float,
        policy: ReuploadPolicy,
        outcome: RegistrationOutcome,
        current_of: Callable[[str], Current | None] | None = None,
    ) -> set[str]:
        """Files the ledger already knew: decide each one; return the urls now settled."""
        settled: set[str] = set()
        for index, obj in enumerate(chunk):
            code = cancelled.codes[1 + 2 * index] if len(cancelled.codes) > 1 + 2 * index else ""
            if code != "ConditionalCheckFailed":
                continue
            item = cancelled.items[1 + 2 * index]
            existing = _file_from_item(item) if item else self.get_file(obj.url)
            if existing is None:
                continue  # deleted meanwhile: register it normally on the next pass
            arrival = classify_arrival(existing, obj, policy)
            if arrival is Arrival.REUPLOAD and current_of and not ordered(existing, obj):
                arrival = arrival_by_current(obj, current_of(obj.url))
            settled.add(obj.url)
            if arrival is Arrival.REUPLOAD:
                self._register_reupload(prefix, obj, existing, now)
                outcome.reuploads_registered.append(obj.url)
                continue
            if arrival is Arrival.REUPLOAD_IGNORED:
                self._record_receipt(obj.url, now, ignored=obj)
                outcome.reuploads_ignored.append(obj.url)
            else:
                self._record_receipt(obj.url, now)
                outcome.duplicates.append(obj.url)
        return settled

    @retrying()
    def _record_receipt(self, url: str, now: float, *, ignored: S3Object | None = None) -> None:
        """One more notification for a registered file; a re-upload `reupload: ignore` left
        alone is remembered on the record (`file show` says a newer upload was ignored)."""
        expression = "ADD #times_received :one SET #last_received_at = :now"
        attr_names = names("times_received", "last_received_at", "url")
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
        self._db.update_item(
            TableName=self._tables.files,
            Key=encode({"url": url}),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(#url)",
            ExpressionAttributeNames=attr_names,
            ExpressionAttributeValues=attr_values,
        )

    def _register_reupload(
        self, prefix: str, obj: S3Object, existing: FileRecord, now: float
    ) -> None:
        """New content under a loaded key (policy `reload`): it joins the open batch again."""
        for _ in range(20):
            batch_id = self._open_batch_id(prefix, now)
            if existing.batch_id == batch_id:
                # Its batch has not been sealed: the member and the ledger now record the new
                # upload, so a redelivery of its notice is a duplicate, not one more re-upload.
                cancelled = self._transact(self._refresh_items(obj, existing, batch_id, now))
                if cancelled is None or cancelled.codes[1] == "ConditionalCheckFailed":
                    return  # done, or someone else recorded this re-upload
                self._open_batch_id(prefix, now, refresh=True)  # sealed meanwhile: next batch
                continue
            ledger = {
                "Update": {
                    "TableName": self._tables.files,
                    "Key": encode({"url": obj.url}),
                    "UpdateExpression": (
                        "SET #batch_id = :batch, #size = :size, #etag = :etag, #version_id = :vid, "
                        "#last_received_at = :now, #revision = #revision + :one, "
                        "#previous_batches = list_append(if_not_exists(#previous_batches, :empty),"
                        " :old)"
                        + (", #sequencer = :seq" if obj.sequencer else "")
                        + " ADD #times_received :one"
                        # A listing gives no sequencer: the old upload's must not stay with the
                        # new upload's ETag (its own notice would look newer still).
                        + ("" if obj.sequencer else " REMOVE #sequencer")
                    ),
                    # Condition "still the revision we decided on": a concurrent re-upload of
                    # the same key must not register twice.
                    "ConditionExpression": "#revision = :revision",
                    "ExpressionAttributeNames": names(
                        "batch_id",
                        "size",
                        "etag",
                        "last_received_at",
                        "revision",
                        "previous_batches",
                        "times_received",
                        "version_id",
                        "sequencer",
                    ),
                    "ExpressionAttributeValues": values(
                        batch=batch_id,
                        size=obj.size,
                        etag=obj.etag or "",
                        vid=obj.version_id or "",
                        now=now,
                        one=1,
                        empty=[],
                        old=[existing.batch_id],
                        revision=existing.revision,
                        **({"seq": obj.sequencer} if obj.sequencer else {}),
                    ),
                }
            }
            header = self._header_add(batch_id, files=1, size=obj.size, now=now)
            cancelled = self._transact([header, ledger, self._member_put(obj, batch_id)])
            if cancelled is None:
                return
            if cancelled.codes[1] == "ConditionalCheckFailed":
                return  # someone else registered this re-upload
            self._open_batch_id(prefix, now, refresh=True)
        raise RetryableError(
            "could not register re-upload: the open batch kept changing", url=obj.url
        )

    def _refresh_items(
        self, obj: S3Object, existing: FileRecord, batch_id: str, now: float
    ) -> list[dict[str, Any]]:
        """A re-upload of a member of a still-open batch: the header's bytes, the ledger record
        and the member now describe the new upload (one transaction)."""
        sequencer = ", #sequencer = :seq" if obj.sequencer else ""
        forget = "" if obj.sequencer else " REMOVE #sequencer"  # a listing: see above
        ledger = {
            "Update": {
                "TableName": self._tables.files,
                "Key": encode({"url": obj.url}),
                "UpdateExpression": (
                    "SET #size = :size, #etag = :etag, #version_id = :vid, "
                    f"#last_received_at = :now, #revision = #revision + :one{sequencer} "
                    f"ADD #times_received :one{forget}"
                ),
                # Condition "still the revision we decided on, in this batch".
                "ConditionExpression": "#revision = :revision AND #batch_id = :batch",
                "ExpressionAttributeNames": names(
                    "size",
                    "etag",
                    "version_id",
                    "last_received_at",
                    "revision",
                    "times_received",
                    "batch_id",
                    "sequencer",
                ),
                "ExpressionAttributeValues": values(
                    size=obj.size,
                    etag=obj.etag or "",
                    vid=obj.version_id or "",
                    now=now,
                    one=1,
                    revision=existing.revision,
                    batch=batch_id,
                    **({"seq": obj.sequencer} if obj.sequencer else {}),
                ),
            }
        }
        member = BatchMember(url=obj.url, size=obj.size, etag=obj.etag, version_id=obj.version_id)
        member_update = {
            "Update": {
                "TableName": self._tables.batches,
                "Key": encode({"pk": f"batch#{batch_id}", "sk": member_sk(obj.url)}),
                "UpdateExpression": "SET #size = :size, #etag = :etag, #version_id = :vid",
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": names("size", "etag", "version_id", "pk"),
                "ExpressionAttributeValues": values(
                    size=member.size, etag=member.etag or "", vid=member.version_id or ""
                ),
            }
        }
        header = self._header_add(batch_id, files=0, size=obj.size - existing.size, now=now)
        return [header, ledger, member_update]

    def _header_add(self, batch_id: str, *, files: int, size: int, now: float) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._tables.batches,
                "Key": _header_key(batch_id),
                "UpdateExpression": (
                    "ADD #file_count :n, #total_bytes :bytes SET #updated_at = :now, "
                    "#last_file_at = :now, #first_file_at = if_not_exists(#first_file_at, :now)"
                ),
                # Condition "batch still open": open -> sealed is one-way, so once sealed,
                # no file can join and the manifest built from the members is final.
                "ConditionExpression": "#status = :open",
                "ExpressionAttributeNames": names(
                    "file_count",
                    "total_bytes",
                    "updated_at",
                    "last_file_at",
                    "first_file_at",
                    "status",
                ),
                "ExpressionAttributeValues": values(
                    n=files, bytes=size, now=now, open=BatchStatus.OPEN.value
                ),
            }
        }

    # --- the open batch of a prefix -------------------------------------------------------

    def _open_batch_id(self, prefix: str, now: float, *, refresh: bool = False) -> str:
        if not refresh and prefix in self._open_batch:
            return self._open_batch[prefix]
        for _ in range(10):
            state = self._get(_state_key(prefix))
            if state is not None:
                batch_id = str(decode(state)["open_batch_id"])
                self._open_batch[prefix] = batch_id
                return batch_id
            batch_id = new_batch_id(now)
            cancelled = self._transact(
                [
                    {
                        "Put": {
                            "TableName": self._tables.batches,
                            "Item": {
                                **_state_key(prefix),
                                **encode({"open_batch_id": batch_id, "updated_at": now}),
                            },
                            # Condition "first batch of the prefix": racing first files agree.
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": names("pk"),
                        }
                    },
                    self._new_header_put(batch_id, prefix, now),
                ]
            )
            if cancelled is None:
                self._open_batch[prefix] = batch_id
                return batch_id
        raise RetryableError("could not find or create the open batch", prefix=prefix)

    def _new_header_put(self, batch_id: str, prefix: str, now: float) -> dict[str, Any]:
        header = {
            "pk": f"batch#{batch_id}",
            "sk": "header",
            "batch_id": batch_id,
            "prefix": prefix,
            "status": BatchStatus.OPEN.value,
            "file_count": 0,
            "total_bytes": 0,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
            "targets": {},
        }
        return {
            "Put": {
                "TableName": self._tables.batches,
                "Item": encode(header),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": names("pk"),
            }
        }

    def open_batch(self, prefix: str) -> Batch | None:
        """The prefix's open batch, read consistently (None if the prefix never had a file)."""
        state = self._get(_state_key(prefix))
        if state is None:
            return None
        return self.get_batch(str(decode(state)["open_batch_id"]))

    # --- sealing and leases ---------------------------------------------------------------

    def seal(
        self,
        batch_id: str,
        prefix: str,
        *,
        reason: str,
        owner: str,
        now: float,
        lease_seconds: float,
    ) -> Batch:
        """open -> sealed under a lease held by `owner`; the prefix moves to a new open batch.

        Raises BatchConflict if the batch is no longer open (someone else sealed it) or empty.
        """
        check(BatchStatus.OPEN, BatchStatus.SEALED)
        successor = new_batch_id(now)
        seal = {
            "Update": {
                "TableName": self._tables.batches,
                "Key": _header_key(batch_id),
                "UpdateExpression": (
                    "SET #status = :sealed, #sealed_at = :now, #seal_reason = :reason, "
                    "#lease_owner = :owner, #lease_expires_at = :expires, #updated_at = :now "
                    "ADD #lease_generation :one"
                ),
                # Condition "open and not empty": exactly one sealer wins; the files it holds
                # now are all it will ever hold.
                "ConditionExpression": "#status = :open AND #file_count > :zero",
                "ExpressionAttributeNames": names(
                    "status",
                    "sealed_at",
                    "seal_reason",
                    "lease_owner",
                    "lease_expires_at",
                    "updated_at",
                    "file_count",
                    "lease_generation",
                ),
                "ExpressionAttributeValues": values(
                    sealed=BatchStatus.SEALED.value,
                    now=now,
                    reason=reason,
                    owner=owner,
                    expires=now + lease_seconds,
                    open=BatchStatus.OPEN.value,
                    zero=0,
                    one=1,
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        rotate = {
            "Update": {
                "TableName": self._tables.batches,
                "Key": _state_key(prefix),
                "UpdateExpression": "SET #open_batch_id = :next, #updated_at = :now",
                # Condition "the prefix still points here": rotation never orphans a batch.
                "ConditionExpression": "#open_batch_id = :current",
                "ExpressionAttributeNames": names("open_batch_id", "updated_at"),
                "ExpressionAttributeValues": values(next=successor, now=now, current=batch_id),
            }
        }
        cancelled = self._transact_retrying(
            [seal, rotate, self._new_header_put(successor, prefix, now)]
        )
        if cancelled is not None:
            current = _batch_from_item(cancelled.items[0]) if cancelled.items[0] else None
            raise BatchConflict(
                f"batch {batch_id} could not be sealed",
                current=current,
                batch_id=batch_id,
                codes=cancelled.codes,
            )
        self._open_batch[prefix] = successor
        sealed = self.get_batch(batch_id)
        assert sealed is not None  # just sealed, headers are never deleted while leased
        return sealed

    @retrying()
    def _transact_retrying(self, items: list[dict[str, Any]]) -> _Cancelled | None:
        return self._transact(items)

    @retrying()
    def take_over(self, batch_id: str, *, owner: str, now: float, lease_seconds: float) -> Batch:
        """Take the lease of a sealed/loading batch whose holder stopped renewing it."""
        return self._update_header(
            batch_id,
            "SET #lease_owner = :owner, #lease_expires_at = :expires, #updated_at = :now "
            "ADD #attempts :one, #lease_generation :one",
            # Condition "leased and expired": a live holder keeps its batch. The expiry is read
            # on this worker's clock, so a holder whose clock disagrees may still be loading:
            # the new generation is what fences it out of each target (loading/ledger.py).
            "#status IN (:sealed, :loading) AND "
            "(attribute_not_exists(#lease_expires_at) OR #lease_expires_at <= :now)",
            names(
                "lease_owner",
                "lease_expires_at",
                "updated_at",
                "attempts",
                "status",
                "lease_generation",
            ),
            values(
                owner=owner,
                expires=now + lease_seconds,
                now=now,
                one=1,
                sealed=BatchStatus.SEALED.value,
                loading=BatchStatus.LOADING.value,
            ),
            lost=LeaseLost,
        )

    @retrying()
    def renew_lease(self, batch_id: str, *, owner: str, now: float, lease_seconds: float) -> Batch:
        return self._update_header(
            batch_id,
            "SET #lease_expires_at = :expires, #updated_at = :now",
            "#lease_owner = :owner AND #status IN (:sealed, :loading)",
            names("lease_expires_at", "updated_at", "lease_owner", "status"),
            values(
                owner=owner,
                expires=now + lease_seconds,
                now=now,
                sealed=BatchStatus.SEALED.value,
                loading=BatchStatus.LOADING.value,
            ),
            lost=LeaseLost,
        )

    @retrying()
    def schedule_retry(
        self, batch_id: str, *, owner: str, now: float, delay: float, error: str
    ) -> Batch:
        """Keep the lease for the backoff `delay` (the sweep takes the batch over when it ends)
        and record why and when, so operators see a batch that keeps retrying."""
        return self._update_header(
            batch_id,
            "SET #lease_expires_at = :expires, #updated_at = :now, "
            "#last_error = :error, #retry_at = :expires",
            # Same condition as renew_lease: only the holder, only while leased.
            "#lease_owner = :owner AND #status IN (:sealed, :loading)",
            names(
                "lease_expires_at", "updated_at", "last_error", "retry_at", "lease_owner", "status"
            ),
            values(
                owner=owner,
                expires=now + delay,
                now=now,
                error=error[:MAX_ERROR_CHARS],
                sealed=BatchStatus.SEALED.value,
                loading=BatchStatus.LOADING.value,
            ),
            lost=LeaseLost,
        )

    @retrying()
    def transition(
        self,
        batch_id: str,
        *,
        owner: str | None,
        current: BatchStatus,
        wanted: BatchStatus,
        now: float,
        lease_seconds: float | None = None,
        **fields: Any,
    ) -> Batch:
        """Move a batch along the transition table; leased states require the caller's lease."""
        check(current, wanted)
        sets = {"status": wanted.value, "updated_at": now, **fields}
        if wanted in LEASED and owner is not None and lease_seconds is not None:
            sets.update(lease_owner=owner, lease_expires_at=now + lease_seconds)
        removes = [] if wanted in LEASED else ["lease_owner", "lease_expires_at"]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        condition = "#status = :current_status"
        attr_names = names(*sets, *removes, "status")
        attr_values = values(**sets, current_status=current.value)
        if wanted in LEASED and current not in LEASED:  # a new lease (reprocess): a new holder
            expression += " ADD #lease_generation :one_more"
            attr_names.update(names("lease_generation"))
            attr_values.update(values(one_more=1))
        if current in LEASED:
            condition += " AND #lease_owner = :owner"
            attr_values.update(values(owner=owner))
            attr_names.update(names("lease_owner"))
        return self._update_header(
            batch_id,
            expression,
            condition,
            attr_names,
            attr_values,
            lost=LeaseLost if current in LEASED else BatchConflict,
        )

    @retrying()
    def set_target_state(
        self, batch_id: str, *, owner: str, target: str, state: TargetState, now: float
    ) -> Batch:
        """Record where one target stands; only the lease holder may."""
        return self._update_header(
            batch_id,
            "SET #targets.#target = :state, #updated_at = :now",
            "#lease_owner = :owner",
            names("targets", "updated_at", "lease_owner") | {"#target": target},
            values(state=state.model_dump(), now=now, owner=owner),
            lost=LeaseLost,
        )

    @retrying()
    def mark_timer_armed(self, batch_id: str) -> None:
        self._db.update_item(
            TableName=self._tables.batches,
            Key=_header_key(batch_id),
            UpdateExpression="SET #timer_armed = :yes",
            ConditionExpression="attribute_exists(#pk)",
            ExpressionAttributeNames=names("timer_armed", "pk"),
            ExpressionAttributeValues=values(yes=True),
        )

    def _update_header(
        self,
        batch_id: str,
        expression: str,
        condition: str,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
        *,
        lost: type[BatchConflict],
    ) -> Batch:
        try:
            response = self._db.update_item(
                TableName=self._tables.batches,
                Key=_header_key(batch_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=attr_names,
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
                current = _batch_from_item(item) if item else self.get_batch(batch_id)
                raise lost(
                    f"batch {batch_id}: condition failed ({condition})",
                    current=current,
                    batch_id=batch_id,
                ) from exc
            raise classify_aws_error(exc) from exc
        return _batch_from_item(response["Attributes"])

    # --- reads -----------------------------------------------------------------------------

    @retrying()
    def _get(self, key: dict[str, Any], table: str | None = None) -> dict[str, Any] | None:
        try:
            response = self._db.get_item(
                TableName=table or self._tables.batches, Key=key, ConsistentRead=True
            )
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        return response.get("Item")

    def get_batch(self, batch_id: str) -> Batch | None:
        item = self._get(_header_key(batch_id))
        return _batch_from_item(item) if item else None

    def get_file(self, url: str) -> FileRecord | None:
        item = self._get(encode({"url": url}), self._tables.files)
        return _file_from_item(item) if item else None

    def members(self, batch_id: str) -> Iterator[BatchMember]:
        """Every member of a batch, strongly consistent, page by page."""
        kwargs: dict[str, Any] = {
            "TableName": self._tables.batches,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :file)",
            "ExpressionAttributeNames": names("pk", "sk", "url", "size", "etag", "version_id"),
            "ExpressionAttributeValues": values(pk=f"batch#{batch_id}", file="file#"),
            "ProjectionExpression": "#url, #size, #etag, #version_id",
            "ConsistentRead": True,
        }
        while True:
            page = self._query_page(kwargs)
            for item in page.get("Items", []):
                yield BatchMember(**decode(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @retrying()
    def _query_page(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._db.query(**kwargs)  # type: ignore[return-value]
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

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
        kwargs: dict[str, Any] = {
            "TableName": self._tables.batches,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": attr_names,
            "ExpressionAttributeValues": attr_values,
            "ScanIndexForward": not newest_first,
        }
        seen = 0
        while True:
            page = self._query_page(kwargs)
            for item in page.get("Items", []):
                yield _batch_from_item(item)
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- operator verbs (loader-admin; loader/admin.py decides when to use them) -------------

    @retrying()
    def expire_lease(self, batch_id: str, *, owner: str, now: float) -> Batch:
        """End the lease `owner` holds on a sealed or loading batch, so it can be taken over.

        The holder is not stopped: it loses the batch when someone takes it over (sweep, reprocess).
        """
        # sealed|loading, leased by A until T --expire--> leased by A until now --take_over--> B.
        # Condition "still leased by the holder we inspected": if B has taken over meanwhile,
        # B's live lease is left alone.
        return self._update_header(
            batch_id,
            "SET #lease_expires_at = :now, #updated_at = :now",
            "#status IN (:sealed, :loading) AND #lease_owner = :owner",
            names("lease_expires_at", "updated_at", "status", "lease_owner"),
            values(
                now=now,
                owner=owner,
                sealed=BatchStatus.SEALED.value,
                loading=BatchStatus.LOADING.value,
            ),
            lost=LeaseLost,
        )

    def omit_members(
        self, batch_id: str, urls: Sequence[str], *, now: float, owner: str | None = None
    ) -> Batch:
        """Take files out of a failed batch before it is reprocessed (`batch reprocess --omit`),
        or, with `owner`, out of the loading batch that owner leases (superseded files).

        Each chunk is one transaction, so the header's counts always equal its members. A file
        the ledger still assigns to this batch is marked `omitted_from` it (not loaded).
        """
        members = {m.url: m for m in self.members(batch_id)}
        wanted = sorted(set(urls))
        missing = [u for u in wanted if u not in members]
        if missing:
            raise BatchConflict(f"not members of batch {batch_id}: {missing}", batch_id=batch_id)
        for start in range(0, len(wanted), FILES_PER_TRANSACTION):
            chunk = [members[u] for u in wanted[start : start + FILES_PER_TRANSACTION]]
            ledger = self.known_files([m.url for m in chunk])
            items = self._omit_items(batch_id, chunk, ledger, now, owner)
            cancelled = self._transact_retrying(items)
            if cancelled is not None:
                current = _batch_from_item(cancelled.items[0]) if cancelled.items[0] else None
                raise BatchConflict(
                    f"files could not be omitted from batch {batch_id}",
                    current=current,
                    batch_id=batch_id,
                    codes=cancelled.codes,
                )
        batch = self.get_batch(batch_id)
        assert batch is not None  # the header condition held a moment ago
        return batch

    def _omit_items(
        self,
        batch_id: str,
        chunk: Sequence[BatchMember],
        ledger: dict[str, FileRecord],
        now: float,
        owner: str | None = None,
    ) -> list[dict[str, Any]]:
        header = {
            "Update": {
                "TableName": self._tables.batches,
                "Key": _header_key(batch_id),
                "UpdateExpression": (
                    "ADD #file_count :minus_files, #total_bytes :minus_bytes SET #updated_at = :now"
                ),
                **_status_condition(owner),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        header["Update"]["ExpressionAttributeNames"] |= names(
            "file_count", "total_bytes", "updated_at"
        )
        header["Update"]["ExpressionAttributeValues"] |= values(
            minus_files=-len(chunk), minus_bytes=-sum(m.size for m in chunk), now=now
        )
        items: list[dict[str, Any]] = [header]
        for member in chunk:
            items.append(
                {
                    "Delete": {
                        "TableName": self._tables.batches,
                        "Key": encode({"pk": f"batch#{batch_id}", "sk": member_sk(member.url)}),
                        # Condition "still a member": a concurrent omit cannot count a file twice.
                        "ConditionExpression": "attribute_exists(#pk)",
                        "ExpressionAttributeNames": names("pk"),
                    }
                }
            )
            if member.url in ledger and ledger[member.url].batch_id == batch_id:
                items.append(self._ledger_omit(member.url, batch_id, now))
        return items

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
        Only the lease holder, while loading; the ledger only where it still names this batch."""
        for start in range(0, len(adopted), FILES_PER_TRANSACTION):
            chunk = adopted[start : start + FILES_PER_TRANSACTION]
            header = {
                "Update": {
                    "TableName": self._tables.batches,
                    "Key": _header_key(batch_id),
                    "UpdateExpression": "ADD #total_bytes :delta SET #updated_at = :now",
                    **_status_condition(owner),
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
            header["Update"]["ExpressionAttributeNames"] |= names("total_bytes", "updated_at")
            header["Update"]["ExpressionAttributeValues"] |= values(
                delta=sum(now_.size - m.size for m, now_ in chunk), now=now
            )
            items: list[dict[str, Any]] = [header]
            for member, current in chunk:
                items.append(self._member_adopt(batch_id, member, current))
                items.append(self._ledger_adopt(member.url, batch_id, current))
            cancelled = self._transact_retrying(items)
            if cancelled is not None and cancelled.codes[0] != "None":
                raise LeaseLost(f"batch {batch_id}: adopting current versions", batch_id=batch_id)
            if cancelled is not None:  # a ledger record moved meanwhile: adopt the members only
                self._transact_retrying(items[:1] + items[1::2])
        batch = self.get_batch(batch_id)
        assert batch is not None
        return batch

    def _member_adopt(self, batch_id: str, member: BatchMember, current: Current) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._tables.batches,
                "Key": encode({"pk": f"batch#{batch_id}", "sk": member_sk(member.url)}),
                "UpdateExpression": "SET #etag = :etag, #size = :size",
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": names("etag", "size", "pk"),
                "ExpressionAttributeValues": values(etag=current.etag, size=current.size),
            }
        }

    def _ledger_adopt(self, url: str, batch_id: str, current: Current) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._tables.files,
                "Key": encode({"url": url}),
                "UpdateExpression": "SET #etag = :etag, #size = :size, #adopted = :yes",
                # Condition "the ledger still assigns the file to this batch".
                "ConditionExpression": "#batch_id = :batch",
                "ExpressionAttributeNames": names("etag", "size", "adopted", "batch_id"),
                "ExpressionAttributeValues": values(
                    etag=current.etag, size=current.size, yes=True, batch=batch_id
                ),
            }
        }

    def _ledger_omit(self, url: str, batch_id: str, now: float) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._tables.files,
                "Key": encode({"url": url}),
                "UpdateExpression": "SET #omitted_from = :batch, #omitted_at = :now",
                # Condition "the ledger still assigns the file to this batch": a file that a
                # re-upload moved to another batch keeps its record untouched.
                "ConditionExpression": "#batch_id = :batch",
                "ExpressionAttributeNames": names("omitted_from", "omitted_at", "batch_id"),
                "ExpressionAttributeValues": values(batch=batch_id, now=now),
            }
        }

    def file_omitted_from(self, url: str) -> str | None:
        """The batch a file was omitted from, while the ledger still assigns it there."""
        item = self._get(encode({"url": url}), self._tables.files)
        if item is None:
            return None
        raw = decode(item)
        omitted = raw.get("omitted_from")
        return str(omitted) if omitted and omitted == raw.get("batch_id") else None

    def delete_batch(self, batch_id: str, *, status: BatchStatus) -> int:
        """Delete a finished batch, header first, then its members; return the members deleted.

        The ledger keeps its records, so the files are still never registered twice.
        """
        if status in LEASED or status is BatchStatus.OPEN:
            raise BatchConflict(f"batch {batch_id} is {status}: only finished batches are deleted")
        # complete|error --delete--> (gone). Condition "still finished as listed": a batch that
        # was reprocessed since (error -> sealed) keeps everything. The header goes first:
        # members without a header are inert, a header without members would load nothing.
        try:
            self._db.delete_item(
                TableName=self._tables.batches,
                Key=_header_key(batch_id),
                ConditionExpression="#status = :status",
                ExpressionAttributeNames=names("status"),
                ExpressionAttributeValues=values(status=status.value),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                item: Any = exc.response.get("Item")
                raise BatchConflict(
                    f"batch {batch_id} is no longer {status}",
                    current=_batch_from_item(item) if item else None,
                    batch_id=batch_id,
                ) from exc
            raise classify_aws_error(exc) from exc
        keys = [
            encode({"pk": f"batch#{batch_id}", "sk": member_sk(m.url)})
            for m in self.members(batch_id)
        ]
        for start in range(0, len(keys), 25):
            self._write_batch([{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]])
        return len(keys)

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        pending = {self._tables.batches: requests}
        for attempt in range(10):
            try:
                response = self._db.batch_write_item(RequestItems=pending)  # type: ignore[arg-type]
            except ClientError as exc:
                raise classify_aws_error(exc) from exc
            pending = response.get("UnprocessedItems") or {}  # type: ignore[assignment]
            if not pending:
                return
            time.sleep(min(0.05 * 2**attempt, 2.0))
        raise RetryableError("batch write kept leaving items unprocessed")

    def requeue_file(self, prefix: str, obj: S3Object, now: float) -> str:
        """Put a registered file into the prefix's open batch again (`file reprocess`).

        The ledger moves the file there and remembers the batch it leaves in `previous_batches`;
        the conditions are the re-upload's ("still the revision we decided on", "batch still
        open"). Returns the batch the ledger now assigns the file to.
        """
        existing = self.get_file(obj.url)
        if existing is None:
            outcome = self.register(prefix, [obj], now)
            assert outcome.batch is not None  # register always ends on the open batch
            return outcome.batch.batch_id
        self._register_reupload(prefix, obj, existing, now)
        record = self.get_file(obj.url)
        assert record is not None  # ledger records are only deleted by their TTL
        return record.batch_id

    def known_files(self, urls: Sequence[str]) -> dict[str, FileRecord]:
        """The ledger records of those urls that have one, read consistently in bulk."""
        found: dict[str, FileRecord] = {}
        unique = list(dict.fromkeys(urls))
        for start in range(0, len(unique), 100):
            keys = [encode({"url": u}) for u in unique[start : start + 100]]
            request: dict[str, Any] = {self._tables.files: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(10):
                try:
                    response = self._db.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise classify_aws_error(exc) from exc
                for item in response.get("Responses", {}).get(self._tables.files, []):
                    record = _file_from_item(item)
                    found[record.url] = record
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise RetryableError("ledger reads kept coming back unprocessed")
        return found


def _status_condition(owner: str | None) -> dict[str, Any]:
    """Membership changes outside registration: a failed batch (operator, `owner` None:
    error --omit--> error with fewer members --reprocess--> sealed, no load reads it meanwhile),
    or the batch `owner` leases (sealed|loading --supersede/adopt--> same, before its COPY)."""
    if owner is None:
        return {
            "ConditionExpression": "#status = :error",
            "ExpressionAttributeNames": names("status"),
            "ExpressionAttributeValues": values(error=BatchStatus.ERROR.value),
        }
    return {
        "ConditionExpression": "#status IN (:sealed, :loading) AND #lease_owner = :owner",
        "ExpressionAttributeNames": names("status", "lease_owner"),
        "ExpressionAttributeValues": values(
            sealed=BatchStatus.SEALED.value, loading=BatchStatus.LOADING.value, owner=owner
        ),
    }


def _latest_per_url(objects: Sequence[S3Object]) -> list[S3Object]:
    """One object per url (a transaction may not touch an item twice); the latest upload wins."""
    latest: dict[str, S3Object] = {}
    for obj in objects:
        seen = latest.get(obj.url)
        if seen is None or (obj.sequencer or "").rjust(32, "0") >= (seen.sequencer or "").rjust(
            32, "0"
        ):
            latest[obj.url] = obj
    return list(latest.values())
