"""Registration: each notified object recorded once in the file ledger and once in its prefix's
open batch, atomically (loader/adapters/file_ledger.py writes; this module decides).

    objects --latest upload per url--> chunks of FILES_PER_TRANSACTION
      chunk --add_files--> registered                      (one transaction: ledger + members)
            \\-refused--> batch sealed meanwhile? follow the prefix to its new open batch;
                         files already in the ledger? classify each arrival
                         (decisions.classify_arrival): a duplicate or an ignored re-upload
                         counts a receipt, a re-upload to load (`reupload: reload`) moves the
                         file to the open batch; the rest go round again

A round that loses only to a concurrent seal makes progress on the next one; `MAX_ROUNDS`
bounds a registration that keeps losing (retryable: the notification comes back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from config.models import ReuploadPolicy
from loader.adapters.file_ledger import FILES_PER_TRANSACTION, Placed
from loader.decisions import (
    Arrival,
    arrival_by_current,
    classify_arrival,
    latest_per_url,
    ordered,
)
from loader.errors import RetryableError
from loader.models import FileRecord, RegistrationOutcome, S3Object

if TYPE_CHECKING:
    from loader.adapters.batch_store import BatchStore
    from loader.adapters.file_ledger import FileLedger, Refused
    from loader.sources import Current

CurrentOf = Callable[[str], "Current | None"]
"""What S3 holds now for a url (asked when sequencers cannot order two uploads of a key)."""

MAX_ROUNDS = 100
"""Rounds a registration may lose to concurrent writers (plus one per file) before it gives up."""
REUPLOAD_TRIES = 20
"""Open batches a re-upload may try in turn while the prefix keeps sealing them."""


class Registration:
    def __init__(self, batches: BatchStore, ledger: FileLedger) -> None:
        self._batches = batches
        self._ledger = ledger

    def register(
        self,
        prefix: str,
        objects: Sequence[S3Object],
        now: float,
        policy: ReuploadPolicy = ReuploadPolicy.IGNORE,
        current_of: CurrentOf | None = None,
    ) -> RegistrationOutcome:
        """Record each object once in the ledger and in the prefix's open batch, atomically.

        `current_of(url)`: what S3 holds now, asked when a re-upload's order cannot be told
        from sequencers (decisions.arrival_by_current)."""
        pending = latest_per_url(objects)
        outcome = RegistrationOutcome(prefix=prefix, batch=None)
        batch_id = self._batches.open_batch_id(prefix, now)
        rounds_left = MAX_ROUNDS + len(pending)
        while pending:
            rounds_left -= 1
            if rounds_left < 0:
                raise RetryableError("registration kept conflicting", prefix=prefix)
            chunk, rest = pending[:FILES_PER_TRANSACTION], pending[FILES_PER_TRANSACTION:]
            refused = self._ledger.add_files(batch_id, prefix, chunk, now)
            if refused is None:
                outcome.registered.extend(o.url for o in chunk)
                pending = rest
                continue
            if refused.batch_sealed:  # follow the prefix to its new open batch
                batch_id = self._batches.open_batch_id(prefix, now, refresh=True)
            settled = self._settle_known(prefix, chunk, refused, now, policy, outcome, current_of)
            pending = [o for o in chunk if o.url not in settled] + rest
        header = self._batches.get_batch(batch_id)
        return outcome.model_copy(update={"batch": header})

    def requeue_file(self, prefix: str, obj: S3Object, now: float) -> str:
        """Put a registered file into the prefix's open batch again (`file reprocess`), as a
        re-upload would be; a file the ledger lacks is registered. Returns the batch the ledger
        now assigns the file to."""
        existing = self._batches.get_file(obj.url)
        if existing is None:
            outcome = self.register(prefix, [obj], now)
            assert outcome.batch is not None  # register always ends on the open batch
            return outcome.batch.batch_id
        self._register_reupload(prefix, obj, existing, now)
        record = self._batches.get_file(obj.url)
        assert record is not None  # ledger records are only deleted by their TTL
        return record.batch_id

    def _settle_known(
        self,
        prefix: str,
        chunk: Sequence[S3Object],
        refused: Refused,
        now: float,
        policy: ReuploadPolicy,
        outcome: RegistrationOutcome,
        current_of: CurrentOf | None = None,
    ) -> set[str]:
        """Files the ledger already knew: decide each one; return the urls now settled."""
        settled: set[str] = set()
        for obj in chunk:
            if obj.url not in refused.known:
                continue
            existing = refused.known[obj.url] or self._batches.get_file(obj.url)
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
                self._ledger.record_receipt(obj.url, now, ignored=obj)
                outcome.reuploads_ignored.append(obj.url)
            else:
                self._ledger.record_receipt(obj.url, now)
                outcome.duplicates.append(obj.url)
        return settled

    def _register_reupload(
        self, prefix: str, obj: S3Object, existing: FileRecord, now: float
    ) -> None:
        """New content under a registered key: it joins the prefix's open batch again."""
        for _ in range(REUPLOAD_TRIES):
            batch_id = self._batches.open_batch_id(prefix, now)
            if existing.batch_id == batch_id:
                # Its batch has not been sealed: the member and the ledger now record the new
                # upload, so a redelivery of its notice is a duplicate, not one more re-upload.
                placed = self._ledger.refresh_in_batch(obj, existing, batch_id, now)
            else:
                placed = self._ledger.move_to_batch(obj, existing, batch_id, now)
            if placed is not Placed.BATCH_SEALED:
                return  # done, or someone else recorded this re-upload
            self._batches.open_batch_id(prefix, now, refresh=True)  # sealed meanwhile: next one
        raise RetryableError(
            "could not register re-upload: the open batch kept changing", url=obj.url
        )
