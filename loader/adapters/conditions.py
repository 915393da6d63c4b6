"""The conditions of the loader's DynamoDB writes, named, each with the timeline it protects.

A condition that does not hold is how DynamoDB tells a worker it lost a race; the write asks for
the item as it was (`ReturnValuesOnConditionCheckFailure=ALL_OLD`) and the adapter turns the
loss into a domain error carrying it (loader/adapters/dynamo.py `lost_condition`).

Statuses come from the one transition table (loader/transitions.py): "leased" is its `LEASED`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loader.adapters.codec import names, values
from loader.models import BatchStatus, Headroom
from loader.transitions import LEASED


@dataclass(frozen=True)
class Condition:
    """A ConditionExpression with the attribute names and values it uses."""

    expression: str
    attr_names: dict[str, str] = field(default_factory=dict)
    attr_values: dict[str, Any] = field(default_factory=dict)

    def __and__(self, other: Condition) -> Condition:
        return Condition(
            f"{self.expression} AND {other.expression}",
            merged(self.attr_names, other.attr_names),
            merged(self.attr_values, other.attr_values),
        )

    def params(self) -> dict[str, Any]:
        """The keyword arguments of a write (or a transaction item) for this condition."""
        found: dict[str, Any] = {"ConditionExpression": self.expression}
        if self.attr_names:
            found["ExpressionAttributeNames"] = dict(self.attr_names)
        if self.attr_values:
            found["ExpressionAttributeValues"] = dict(self.attr_values)
        return found


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Expression names or values of several parts; one name never stands for two values."""
    found: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if found.setdefault(key, value) != value:
                raise ValueError(f"{key} stands for two different values in one expression")
    return found


def _in_status(statuses: frozenset[BatchStatus], name: str = "status") -> Condition:
    ordered = sorted(statuses, key=list(BatchStatus).index)
    keys = {s: s.value for s in ordered}
    listed = ", ".join(f":{key}" for key in keys)
    return Condition(f"#{name} IN ({listed})", names(name), values(**keys))


# --- the batch header ------------------------------------------------------------------------

# open --register (+files)--> open --seal--> sealed. Files join only while the header is open,
# and open -> sealed is one-way: once sealed, no file can join and the manifest built from the
# members is final. Every membership change of registration carries this condition.
BATCH_STILL_OPEN = Condition("#status = :open", names("status"), values(open=BatchStatus.OPEN))

# open (n > 0 files) --seal--> sealed. Exactly one sealer wins; the files the batch holds now
# are all it will ever hold. An empty batch is never sealed.
OPEN_AND_NOT_EMPTY = BATCH_STILL_OPEN & Condition(
    "#file_count > :zero", names("file_count"), values(zero=0)
)


def has_headroom(room: Headroom) -> Condition:
    """open (c files, b bytes, first file at f, timer sent) --register n files, s bytes--> open,
    no threshold met after it: c < max_files - n, b < max_bytes - s, f > now - max_age, and the
    age timer armed (loader/decisions.py `headroom`). A write under it needs no read to decide a
    seal, since none can be due. It is lost near a threshold, by a batch's first file (no timer
    yet), on an overdue batch and on a sealed one; the writer then takes the plain path
    (BATCH_STILL_OPEN, then a consistent read and the decision), so the write that reaches a
    threshold, and every write after it until the seal, is followed by a decision."""
    condition = BATCH_STILL_OPEN
    if room.files_below is not None:
        condition &= Condition(
            "#file_count < :files_below", names("file_count"), values(files_below=room.files_below)
        )
    if room.bytes_below is not None:
        condition &= Condition(
            "#total_bytes < :bytes_below",
            names("total_bytes"),
            values(bytes_below=room.bytes_below),
        )
    if room.first_file_after is not None:
        condition &= Condition(
            "#first_file_at > :first_after",
            names("first_file_at"),
            values(first_after=room.first_file_after),
        )
    if room.timer_armed:
        condition &= Condition("#timer_armed = :armed", names("timer_armed"), values(armed=True))
    return condition


def lease_held_by(owner: str) -> Condition:
    """sealed|loading, leased by `owner` --renew / retry later / supersede / adopt--> same.
    A holder whose lease was taken over (it expired) loses here and stops."""
    return Condition("#lease_owner = :owner", names("lease_owner"), values(owner=owner)) & (
        _in_status(LEASED)
    )


def held_by(owner: str | None) -> Condition:
    """The header names `owner` as its lease holder (a target's state is recorded only by it)."""
    return Condition("#lease_owner = :owner", names("lease_owner"), values(owner=owner))


def lease_expired(now: float) -> Condition:
    """sealed|loading, leased by A until T <= now --take over--> leased by B. A live holder keeps
    its batch. The expiry is read on this worker's clock, so a holder whose clock disagrees may
    still be loading: the new lease generation is what fences it out of each target
    (loader/loading/sql/ledger.py)."""
    return _in_status(LEASED) & Condition(
        "(attribute_not_exists(#lease_expires_at) OR #lease_expires_at <= :now)",
        names("lease_expires_at"),
        values(now=now),
    )


def in_status(status: BatchStatus) -> Condition:
    """The header is still in `status`: a transition from it (the table in transitions.py), an
    operator's change to a failed batch (error --omit--> error), or the deletion of a finished
    one (complete|error --delete--> gone; a batch reprocessed since keeps everything)."""
    return Condition(
        "#status = :current_status", names("status"), values(current_status=status.value)
    )


def transition_from(current: BatchStatus, owner: str | None) -> Condition:
    """current --transition--> wanted: still `current`, and from a leased status only by the
    lease holder."""
    condition = in_status(current)
    if current in LEASED:
        condition = condition & held_by(owner)
    return condition


# --- items that exist once -------------------------------------------------------------------

# (none) --put--> item. Racing first files of a prefix agree on one open batch; a batch id is
# never reused; a url is a member of a batch at most once.
NEW_ITEM = Condition("attribute_not_exists(#pk)", names("pk"))

# member --omit / adopt / refresh--> member. A concurrent omit cannot count a file twice, and a
# member that left meanwhile is not brought back.
STILL_AN_ITEM = Condition("attribute_exists(#pk)", names("pk"))


def prefix_still_points_to(batch_id: str) -> Condition:
    """prefix -> B --seal B--> prefix -> B'. Rotation never orphans a batch: only the sealer of
    the batch the prefix points to moves it on."""
    return Condition("#open_batch_id = :current", names("open_batch_id"), values(current=batch_id))


# --- the file ledger -------------------------------------------------------------------------

# (none) --register--> file in batch B. A redelivered or concurrent duplicate notice loses here
# and gets the existing record back, to decide what it is (loader/decisions.py classify_arrival).
NEVER_REGISTERED = Condition("attribute_not_exists(#url)", names("url"))

# file --another receipt--> file (count + 1). Only a registered file counts receipts.
STILL_REGISTERED = Condition("attribute_exists(#url)", names("url"))


def still_revision(revision: int) -> Condition:
    """file (revision r, in B) --re-upload--> file (revision r + 1, in B'). A concurrent
    re-upload of the same key decided on the same revision registers once: the other loses."""
    return Condition("#revision = :revision", names("revision"), values(revision=revision))


def ledger_still_in(batch_id: str) -> Condition:
    """The ledger still assigns the file to `batch_id`: a file a re-upload moved to another
    batch keeps its record untouched when this batch's members change."""
    return Condition("#batch_id = :batch", names("batch_id"), values(batch=batch_id))
