"""The reference model of the model-based ledger test (test_ledger_model.py): what the loader
promises, with no I/O. The machine (ledger_machine.py) drives the real loader and asks this
model what each target must hold.

Words:
- an *upload* is one PUT of a key (one S3 version): its rows carry (key, tag), so a target's rows
  say exactly which uploads it loaded and how often; `seq` orders the uploads of all keys, as S3's
  per-key sequencer does for one key;
- a *record* is what the ledger must say about a key: the upload registered last;
- a *unit* is one registration the loader owes a load: an upload in a batch. A re-upload into the
  still-open batch *replaces* the unit's upload; a re-upload registered into a later batch *moves*
  the key (the old unit is left out when its failed batch is reprocessed); `--omit` *omits* it.

The promises (docs/reliability.md, "The model-based ledger test"):
- a notice of the registered upload is a duplicate, of an older upload stale: nothing happens;
- `reupload: ignore`: a key registers once; later uploads never register again;
- `reupload: reload`: each newer upload registers once, replacing the member of a still-open
  batch, else joining the open batch;
- one delivery (an invocation, an SQS batch) counts only the latest upload of each key;
- a listing (reconcile, backfill) sees each key's current upload only, and registers it as a
  notice of that upload would;
- when a target commits a batch, it holds each live unit's rows exactly once from then on; what
  it loads for a unit is (COPY reads the object as it is now):
  * `etag_check` off (a loader without source checks): the key's current upload; the machine's
    rules then never overwrite a key under `reload` while one of its units waits;
  * `etag_check` on (the loader: loader/source_check.py): the unit's upload if still current;
    otherwise `reload` leaves the unit out (superseded: its newer upload loads with its own
    registration) and `ignore` adopts the current upload (the ledger then records it).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

ROWS = 2
"""Rows per file; a bad file's second row has a non-integer in the int column."""


@dataclass(frozen=True)
class Upload:
    key: str
    tag: str
    seq: int
    bad: bool = False
    version_id: str | None = None

    @property
    def body(self) -> bytes:
        rows = [f"{self.key},{self.tag},{n}" for n in range(1, ROWS + 1)]
        if self.bad:
            rows[-1] = f"{self.key},{self.tag},x"
        return ("\n".join(rows) + "\n").encode()

    @property
    def etag(self) -> str:
        return hashlib.md5(self.body, usedforsecurity=False).hexdigest()  # S3's single-part ETag

    @property
    def sequencer(self) -> str:
        return f"{self.seq:016X}"

    def __repr__(self) -> str:
        return f"{self.key}@{self.tag}{'(bad)' if self.bad else ''}"


class Arrival(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "reupload-ignored"
    REUPLOAD = "reupload"


class UnitState(StrEnum):
    PENDING = "pending"  # registered, its batch not complete yet
    LOADED = "loaded"  # its batch completed
    MOVED = "moved"  # a newer upload registered into a later batch (reload)
    OMITTED = "omitted"  # `batch reprocess --omit`, or its failed batch was deleted
    SUPERSEDED = "superseded"  # reload: overwritten before its batch loaded, left out of it


@dataclass(eq=False)
class Unit:
    key: str
    upload: Upload
    batch_id: str
    state: UnitState = UnitState.PENDING
    loaded: dict[str, str | None] = field(default_factory=dict)
    """Per target that committed the batch: the tag it loaded for this unit (None: left out)."""
    replaced: list[Upload] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.state is UnitState.PENDING

    def __repr__(self) -> str:
        return f"{self.upload!r} in {self.batch_id} ({self.state})"


@dataclass
class Record:
    upload: Upload
    listed: bool
    """Written from a listing (reconcile/backfill), which carries no sequencer nor version id."""
    sequencer: int | None = None
    """The sequencer the ledger keeps (None when a listing wrote the record)."""


@dataclass(frozen=True)
class Expected:
    """What one registration must do (checked against the ledger after the step)."""

    key: str
    upload: Upload
    arrival: Arrival
    listed: bool


@dataclass
class LedgerModel:
    reload: bool
    etag_check: bool = False
    s3: dict[str, Upload | None] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    records: dict[str, Record] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    _seq: int = 0

    # --- S3 -----------------------------------------------------------------------------------

    def new_upload(self, key: str, *, bad: bool = False) -> Upload:
        self._seq += 1
        return Upload(key, f"v{self._seq}", self._seq, bad)

    def put(self, upload: Upload) -> None:
        """The upload is in S3 now (with the version id S3 gave it, in a versioned bucket)."""
        self.uploads.append(upload)
        self.s3[upload.key] = upload

    def delete(self, key: str) -> None:
        self.s3[key] = None

    def current(self, key: str) -> Upload | None:
        return self.s3.get(key)

    # --- registration: the policy ---------------------------------------------------------

    def classify(self, upload: Upload) -> Arrival:
        record = self.records.get(upload.key)
        if record is None:
            return Arrival.NEW
        if upload == record.upload:
            return Arrival.DUPLICATE
        if upload.seq < record.upload.seq:
            return Arrival.STALE
        if self.reload and record.sequencer is None and self.current(upload.key) != upload:
            # The ledger's upload came from a listing (no sequencer): the loader cannot tell
            # which upload is newer, so one that is not what S3 holds now counts as stale (its
            # content is gone: COPY could only read the current one, which registers itself).
            return Arrival.STALE
        return Arrival.REUPLOAD if self.reload else Arrival.IGNORED

    def deliver(self, uploads: list[Upload]) -> list[Expected]:
        """One invocation: the latest upload of each key counts."""
        latest: dict[str, Upload] = {}
        for upload in uploads:
            if upload.key not in latest or upload.seq >= latest[upload.key].seq:
                latest[upload.key] = upload
        return [self._register(u, listed=False) for u in latest.values()]

    def listing(self) -> list[Expected]:
        """Reconcile / backfill: every key's current upload, as if announced (no sequencer)."""
        return [self._register(u, listed=True) for u in self.s3.values() if u is not None]

    def _register(self, upload: Upload, *, listed: bool) -> Expected:
        arrival = self.classify(upload)
        if arrival in (Arrival.NEW, Arrival.REUPLOAD):
            # A listing carries no sequencer, and the loader drops the older upload's.
            self.records[upload.key] = Record(upload, listed, None if listed else upload.seq)
        return Expected(upload.key, upload, arrival, listed)

    def settle(self, expected: Expected, batch_id: str) -> str:
        """A registration landed in `batch_id` (read from the ledger): update the units.
        Returns "new", "replaced" or "moved"."""
        previous = self.unit_of(expected.key)
        if expected.arrival is Arrival.NEW or previous is None:
            self.units.append(Unit(expected.key, expected.upload, batch_id))
            return "new"
        if previous.live and previous.batch_id == batch_id:
            previous.replaced.append(previous.upload)
            previous.upload = expected.upload
            return "replaced"
        if previous.live:
            previous.state = UnitState.MOVED
        self.units.append(Unit(expected.key, expected.upload, batch_id))
        return "moved"

    def unit_of(self, key: str) -> Unit | None:
        """The key's latest unit (the one the ledger points at)."""
        return next((u for u in reversed(self.units) if u.key == key), None)

    def live_units(self, batch_id: str | None = None) -> list[Unit]:
        return [u for u in self.units if u.live and batch_id in (None, u.batch_id)]

    # --- loading: what a target loads for a unit when it commits its batch -------------------

    def loads(self, unit: Unit) -> str | None:
        """The tag a target loads for a live unit of a batch it commits now (None: left out)."""
        now = self.current(unit.key)
        if self.superseded(unit):
            return None  # the newer upload loads with its own registration
        if now is None or now.bad:
            raise Violation(
                f"a target committed the batch of {unit.upload!r} while the key is "
                f"{'deleted' if now is None else repr(now)}"
            )
        if now == unit.upload:
            return now.tag
        if self.reload:
            raise ModelError(f"the rules overwrote {unit.key} under reload while {unit} waited")
        if self.etag_check:
            self.adopt(unit, now)
        return now.tag  # COPY reads the object as it is now

    def superseded(self, unit: Unit) -> bool:
        """`reload` with source checks: the unit's object was overwritten since it registered, so
        its batch leaves it out (the newer upload loads with its own registration)."""
        now = self.current(unit.key)
        return self.etag_check and self.reload and now is not None and now != unit.upload

    def adopt(self, unit: Unit, now: Upload) -> None:
        """`ignore` with source checks: before a load (whatever its outcome), a member whose
        object changed takes the object as it is now; its ledger record does too, keeping the
        sequencer of the notice it was registered by."""
        unit.replaced.append(unit.upload)
        unit.upload = now
        record = self.records[unit.key]
        self.records[unit.key] = Record(now, record.listed, record.sequencer)

    def can_fail(self, batch_id: str) -> bool:
        """Some live unit of the batch is deleted or bad now: its load may fail."""
        return any(
            (self.current(u.key) is None or self.current(u.key).bad)  # type: ignore[union-attr]
            for u in self.live_units(batch_id)
        )

    def unfixable(self, batch_id: str) -> list[Unit]:
        """Live units whose key is deleted or bad now: the operator omits them."""
        return [
            u
            for u in self.live_units(batch_id)
            if self.current(u.key) is None or self.current(u.key).bad  # type: ignore[union-attr]
        ]

    def expected_rows(self, target: str) -> Counter[tuple[str, str]]:
        rows: Counter[tuple[str, str]] = Counter()
        for unit in self.units:
            tag = unit.loaded.get(target)
            if tag is not None:
                rows[(unit.key, tag)] += ROWS
        return rows

    # --- what the rules may do while the loader has no ETag check (see module docstring) ----

    def reload_safe(self, key: str, pending: list[Upload]) -> bool:
        """Under `reload` (without the ETag check), no unit of the key would load an upload other
        than its own, and no undelivered notice would register an upload no longer current."""
        record = self.records.get(key)
        current = self.current(key)
        waiting = [u for u in self.live_units() if u.key == key]
        if current is not None and any(u.upload != current for u in waiting):
            return False
        newer = [u for u in pending if u.key == key and (not record or u.seq > record.upload.seq)]
        return all(u == current for u in newer)

    def quiet_overwrite_safe(self, key: str, pending: list[Upload]) -> bool:
        """Under `reload`, may the key get a new upload whose notice comes later? Only when no
        unit of it waits and no notice newer than its record is undelivered."""
        record = self.records.get(key)
        newer = [u for u in pending if u.key == key and (not record or u.seq > record.upload.seq)]
        return not newer and not any(u.key == key for u in self.live_units())


class Violation(AssertionError):
    """The loader broke a promise."""


class ModelError(AssertionError):
    """The model's own rules were broken (a bug in the test, not in the loader)."""
