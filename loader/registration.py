"""Registration: each notified object recorded once in the file ledger and once in its prefix's
open batch, atomically (loader/adapters/file_ledger.py writes; this module decides).

    objects of every prefix --latest upload per url--> rounds: each prefix's next chunk of
      FILES_PER_TRANSACTION, the prefixes' chunks packed into few transactions (add_parts)
      chunk --written with headroom--> registered, no seal can be due: nothing to read
            --written plainly--------> registered; its header is read to decide a seal
            \\-refused--> this prefix goes on alone, the others are written without it:
                         batch sealed meanwhile? follow the prefix to its new open batch;
                         open without headroom? write plainly;
                         files already in the ledger? classify each arrival
                         (decisions.classify_arrival): a duplicate or an ignored re-upload
                         counts a receipt, a re-upload to load (`reupload: reload`) moves the
                         file to the open batch; the rest go round again
    then one consistent read of every header that needs a decision (BatchGetItem)

Headroom (decisions.headroom, conditions.has_headroom): a write that finds its batch open, below
every size threshold by more than it adds, not yet due by age and with its age timer sent, leaves
nothing to decide. Every other write, the one that reaches a threshold and every one after it
until the seal included, is plain and is followed by the read and the decision, as before. So a
threshold is decided exactly where it was (docs/reliability.md, "Registration without a read").

A round that loses only to a concurrent seal makes progress on the next one; `MAX_ROUNDS`
bounds a registration that keeps losing (retryable: the notification comes back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.models import ReuploadPolicy
from loader.adapters.file_ledger import FILES_PER_TRANSACTION, Part, Placed
from loader.decisions import (
    Arrival,
    SealWatch,
    arrival_by_current,
    classify_arrival,
    headroom,
    latest_per_url,
    ordered,
)
from loader.errors import LoaderError, RetryableError
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


@dataclass(frozen=True)
class Arrivals:
    """One prefix's notified objects."""

    prefix: str
    objects: Sequence[S3Object]
    policy: ReuploadPolicy = ReuploadPolicy.IGNORE
    watch: SealWatch | None = None
    """The prefix's thresholds: with them, writes ask for headroom and may skip the read."""


@dataclass
class _Progress:
    arrivals: Arrivals
    pending: list[S3Object]
    """Not registered yet; the chunk being written is at its head."""
    outcome: RegistrationOutcome
    batch_id: str
    quiet: bool = True
    """Every write so far found headroom: no seal can be due, nothing to read."""


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
        watch: SealWatch | None = None,
    ) -> RegistrationOutcome:
        """Record each object once in the ledger and in the prefix's open batch, atomically.

        `current_of(url)`: what S3 holds now, asked when a re-upload's order cannot be told
        from sequencers (decisions.arrival_by_current)."""
        [done] = self.register_all([Arrivals(prefix, objects, policy, watch)], now, current_of)
        if isinstance(done, LoaderError):
            raise done
        return done

    def register_all(
        self, arrivals: Sequence[Arrivals], now: float, current_of: CurrentOf | None = None
    ) -> list[RegistrationOutcome | LoaderError]:
        """`register` for several prefixes at once, in as few transactions as their files fit;
        per prefix (in order) its outcome, or the error it failed with on its own."""
        failed: dict[int, LoaderError] = {}
        everyone: list[_Progress] = []
        for i, a in enumerate(arrivals):
            try:
                batch_id = self._batches.open_batch_id(a.prefix, now)
            except LoaderError as exc:
                failed[i] = exc
                batch_id = ""
            outcome = RegistrationOutcome(prefix=a.prefix, batch=None)
            everyone.append(_Progress(a, latest_per_url(a.objects), outcome, batch_id))
        together = [i for i, p in enumerate(everyone) if i not in failed and p.pending]
        alone: list[tuple[int, Refused]] = []
        while together:  # rounds: every prefix's next chunk, packed
            parts = [self._next_part(everyone[i], now) for i in together]
            results = self._ledger.add_parts(parts, now)
            going_on = []
            for i, part, result in zip(together, parts, results, strict=True):
                if isinstance(result, LoaderError):
                    failed[i] = result
                elif result is None:
                    self._written(everyone[i], part)
                    if everyone[i].pending:
                        going_on.append(i)
                else:  # this prefix goes on alone: the others are not held up by it
                    alone.append((i, result))
            together = going_on
        for i, refused in alone:
            try:
                self._alone(everyone[i], refused, now, current_of)
            except LoaderError as exc:
                failed[i] = exc
        return self._decided(everyone, failed)

    def _next_part(self, progress: _Progress, now: float) -> Part:
        chunk = progress.pending[:FILES_PER_TRANSACTION]
        room = None
        watch = progress.arrivals.watch
        fresh = self._batches.take_fresh(progress.arrivals.prefix, progress.batch_id)
        if watch is not None and progress.quiet and not fresh:
            size = sum(o.size for o in chunk)
            room = headroom(watch, files=len(chunk), size=size, now=now)
        return Part(progress.batch_id, progress.arrivals.prefix, chunk, room)

    @staticmethod
    def _written(progress: _Progress, part: Part) -> None:
        progress.outcome.registered.extend(o.url for o in part.chunk)
        progress.pending = progress.pending[len(part.chunk) :]
        if part.headroom is None:
            progress.quiet = False

    def _alone(
        self,
        progress: _Progress,
        refused: Refused | None,
        now: float,
        current_of: CurrentOf | None,
    ) -> None:
        """One prefix alone on the plain path: plain writes (then a read and a decision),
        following a sealed batch to the next one and settling the files the ledger knew."""
        progress.quiet = False
        prefix, policy = progress.arrivals.prefix, progress.arrivals.policy
        rounds_left = MAX_ROUNDS + len(progress.pending)
        while True:
            if refused is not None:
                if refused.batch_sealed:  # follow the prefix to its new open batch
                    progress.batch_id = self._batches.open_batch_id(prefix, now, refresh=True)
                chunk = progress.pending[:FILES_PER_TRANSACTION]
                settled = self._settle_known(
                    prefix, chunk, refused, now, policy, progress.outcome, current_of
                )
                progress.pending = [o for o in progress.pending if o.url not in settled]
            if not progress.pending:
                return
            rounds_left -= 1
            if rounds_left < 0:
                raise RetryableError("registration kept conflicting", prefix=prefix)
            chunk = progress.pending[:FILES_PER_TRANSACTION]
            refused = self._ledger.add_files(progress.batch_id, prefix, chunk, now)
            if refused is None:
                self._written(progress, Part(progress.batch_id, prefix, chunk))

    def _decided(
        self, everyone: list[_Progress], failed: dict[int, LoaderError]
    ) -> list[RegistrationOutcome | LoaderError]:
        """Outcomes, with the header of each batch that needs a decision: one read for all."""
        unsure = [p.batch_id for i, p in enumerate(everyone) if i not in failed and not p.quiet]
        headers = {}
        if unsure:
            try:
                headers = self._batches.get_batches(unsure)
            except LoaderError as exc:  # registered, undecided: their notices come back
                failed |= {
                    i: exc for i, p in enumerate(everyone) if not p.quiet and i not in failed
                }
        return [
            failed.get(i)
            or p.outcome.model_copy(
                update={"batch": headers.get(p.batch_id), "batch_id": p.batch_id}
            )
            for i, p in enumerate(everyone)
        ]

    def requeue_file(self, prefix: str, obj: S3Object, now: float) -> str:
        """Put a registered file into the prefix's open batch again (`file reprocess`), as a
        re-upload would be; a file the ledger lacks is registered. Returns the batch the ledger
        now assigns the file to."""
        existing = self._batches.get_file(obj.url)
        if existing is None:
            outcome = self.register(prefix, [obj], now)
            assert outcome.batch_id is not None  # register always ends on the open batch
            return outcome.batch_id
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
