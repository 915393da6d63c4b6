"""Batches in DynamoDB: the prefix's open batch, the seal, leases, transitions, target states.

The seal is a transaction that flips the header to `sealed` under a lease and moves the prefix
to a new open batch, so the members of a sealed batch can never change again: the manifest
lists exactly them. Every later write names its condition (loader/adapters/conditions.py), and a
lost one raises a domain error carrying the header as it was. The items and keys are in
loader/adapters/items.py; registration's writes in file_ledger.py; membership changes of a
leased or failed batch in batch_members.py; operator-only writes in batch_operator.py.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from loader.adapters import conditions as when
from loader.adapters.batch_reads import BatchReads
from loader.adapters.codec import decode, encode, names, values
from loader.adapters.dynamo import ConditionLost, Dynamo, lost_condition
from loader.adapters.items import (
    batch_from_item,
    header_key,
    new_header_item,
    state_key,
)
from loader.errors import BatchConflictError, LeaseLostError, RetryableError
from loader.models import Batch, BatchStatus, TargetState
from loader.transitions import LEASED, check_transition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from loader.adapters.conditions import Condition
    from loader.tables import TableNames

MAX_ERROR_CHARS = 2000
"""A retry's recorded error is cut here: the header item stays far below DynamoDB's 400 KB."""


def new_batch_id(now: float) -> str:
    """Sortable by creation time, unique by its random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(4)


class BatchStore(BatchReads):
    """The loader's verbs on batch headers. One instance per warm container."""

    def __init__(self, client: DynamoDBClient, tables: TableNames) -> None:
        super().__init__(Dynamo(client), tables)
        self._open_batch: dict[str, str] = {}  # prefix -> id of its open batch, as last seen
        # Batches this container created and has not registered into yet: their first file
        # needs a decision (the age timer), so it skips the headroom write it would lose.
        self._fresh: dict[str, str] = {}  # prefix -> such a batch (at most one per prefix)

    @property
    def db(self) -> Dynamo:
        return self._db

    # --- the open batch of a prefix -------------------------------------------------------

    def open_batch_id(self, prefix: str, now: float, *, refresh: bool = False) -> str:
        """The id of the prefix's open batch (as last seen here, unless `refresh`); the first
        file of a prefix creates it."""
        if not refresh and prefix in self._open_batch:
            return self._open_batch[prefix]
        for _ in range(10):
            state = self._db.get(self._tables.batches, state_key(prefix))
            if state is not None:
                batch_id = str(decode(state)["open_batch_id"])
                self._open_batch[prefix] = batch_id
                return batch_id
            batch_id = new_batch_id(now)
            first = {
                "Put": {
                    "TableName": self._tables.batches,
                    "Item": {
                        **state_key(prefix),
                        **encode({"open_batch_id": batch_id, "updated_at": now}),
                    },
                    # Racing first files of the prefix agree on one open batch.
                    **when.NEW_ITEM.params(),
                }
            }
            if self._db.transact([first, self.new_header_put(batch_id, prefix, now)]) is None:
                self._open_batch[prefix] = batch_id
                self._fresh[prefix] = batch_id
                return batch_id
        raise RetryableError("could not find or create the open batch", prefix=prefix)

    def take_fresh(self, prefix: str, batch_id: str) -> bool:
        """Whether this container created the prefix's batch and has not asked since (a hint
        only: a wrong answer costs one call, never correctness)."""
        return self._fresh.pop(prefix, None) == batch_id

    def new_header_put(self, batch_id: str, prefix: str, now: float) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._tables.batches,
                "Item": new_header_item(batch_id, prefix, now),
                **when.NEW_ITEM.params(),
            }
        }

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

        Raises BatchConflictError if the batch is no longer open (someone else sealed it) or
        empty.
        """
        check_transition(BatchStatus.OPEN, BatchStatus.SEALED)
        successor = new_batch_id(now)
        seal = self._header_update(
            batch_id,
            "SET #status = :sealed, #sealed_at = :now, #seal_reason = :reason, "
            "#lease_owner = :owner, #lease_expires_at = :expires, #updated_at = :now "
            "ADD #lease_generation :one",
            when.OPEN_AND_NOT_EMPTY,
            names(
                "sealed_at",
                "seal_reason",
                "lease_owner",
                "lease_expires_at",
                "updated_at",
                "lease_generation",
            ),
            values(
                sealed=BatchStatus.SEALED,
                now=now,
                reason=reason,
                owner=owner,
                expires=now + lease_seconds,
                one=1,
            ),
        )
        rotate = {
            "Update": {
                "TableName": self._tables.batches,
                "Key": state_key(prefix),
                "UpdateExpression": "SET #open_batch_id = :next, #updated_at = :now",
                **update_params(
                    when.prefix_still_points_to(batch_id),
                    names("updated_at"),
                    values(next=successor, now=now),
                ),
            }
        }
        cancelled = self._db.transact_retrying(
            [seal, rotate, self.new_header_put(successor, prefix, now)]
        )
        if cancelled is not None:
            raise lost_condition(
                BatchConflictError,
                batch_id,
                "could not be sealed",
                cancelled.items[0],
                codes=cancelled.codes,
            )
        self._open_batch[prefix] = successor
        self._fresh[prefix] = successor
        sealed = self.get_batch(batch_id)
        assert sealed is not None  # just sealed, headers are never deleted while leased
        return sealed

    def take_over(self, batch_id: str, *, owner: str, now: float, lease_seconds: float) -> Batch:
        """Take the lease of a sealed/loading batch whose holder stopped renewing it; the new
        lease generation fences the old holder out of every target."""
        return self._update(
            batch_id,
            "SET #lease_owner = :owner, #lease_expires_at = :expires, #updated_at = :now "
            "ADD #attempts :one, #lease_generation :one",
            when.lease_expired(now),
            names("lease_owner", "lease_expires_at", "updated_at", "attempts", "lease_generation"),
            values(owner=owner, expires=now + lease_seconds, now=now, one=1),
            lost=LeaseLostError,
        )

    def renew_lease(self, batch_id: str, *, owner: str, now: float, lease_seconds: float) -> Batch:
        return self._update(
            batch_id,
            "SET #lease_expires_at = :expires, #updated_at = :now",
            when.lease_held_by(owner),
            names("lease_expires_at", "updated_at"),
            values(expires=now + lease_seconds, now=now),
            lost=LeaseLostError,
        )

    def schedule_retry(
        self, batch_id: str, *, owner: str, now: float, delay: float, error: str
    ) -> Batch:
        """Keep the lease for the backoff `delay` (the sweep takes the batch over when it ends)
        and record why and when, so operators see a batch that keeps retrying."""
        return self._update(
            batch_id,
            "SET #lease_expires_at = :expires, #updated_at = :now, "
            "#last_error = :error, #retry_at = :expires",
            when.lease_held_by(owner),
            names("lease_expires_at", "updated_at", "last_error", "retry_at"),
            values(expires=now + delay, now=now, error=error[:MAX_ERROR_CHARS]),
            lost=LeaseLostError,
        )

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
        check_transition(current, wanted)
        sets = {"status": wanted.value, "updated_at": now, **fields}
        if wanted in LEASED and owner is not None and lease_seconds is not None:
            sets.update(lease_owner=owner, lease_expires_at=now + lease_seconds)
        removes = [] if wanted in LEASED else ["lease_owner", "lease_expires_at"]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        attr_names, attr_values = names(*sets, *removes), values(**sets)
        if wanted in LEASED and current not in LEASED:  # a new lease (reprocess): a new holder
            expression += " ADD #lease_generation :one_more"
            attr_names.update(names("lease_generation"))
            attr_values.update(values(one_more=1))
        return self._update(
            batch_id,
            expression,
            when.transition_from(current, owner),
            attr_names,
            attr_values,
            lost=LeaseLostError if current in LEASED else BatchConflictError,
        )

    def set_target_state(
        self, batch_id: str, *, owner: str, target: str, state: TargetState, now: float
    ) -> Batch:
        """Record where one target stands; only the lease holder may."""
        return self._update(
            batch_id,
            "SET #targets.#target = :state, #updated_at = :now",
            when.held_by(owner),
            names("targets", "updated_at") | {"#target": target},
            values(state=state.model_dump(mode="json"), now=now),
            lost=LeaseLostError,
        )

    def mark_timer_armed(self, batch_id: str) -> None:
        self._update(
            batch_id,
            "SET #timer_armed = :yes",
            when.STILL_AN_ITEM,
            names("timer_armed"),
            values(yes=True),
            lost=BatchConflictError,
        )

    # --- one conditional update of a header -------------------------------------------------

    def _header_update(
        self,
        batch_id: str,
        expression: str,
        condition: Condition,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
    ) -> dict[str, Any]:
        """The header's update as a transaction item, returning the old header if it loses."""
        return update_item(
            self._tables.batches,
            header_key(batch_id),
            expression,
            condition,
            attr_names,
            attr_values,
            old_on_failure=True,
        )

    def _update(
        self,
        batch_id: str,
        expression: str,
        condition: Condition,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
        *,
        lost: type[BatchConflictError],
    ) -> Batch:
        done = self._db.update(
            self._tables.batches,
            header_key(batch_id),
            expression,
            condition,
            attr_names,
            attr_values,
        )
        if isinstance(done, ConditionLost):
            old = done.item
            if old is None:  # the header is gone, or DynamoDB did not return it: read it
                header = self._db.get(self._tables.batches, header_key(batch_id))
                old = header
            raise lost_condition(lost, batch_id, f"condition failed ({condition.expression})", old)
        return batch_from_item(done)


def update_item(
    table: str,
    key: dict[str, Any],
    expression: str,
    condition: Condition,
    attr_names: dict[str, str],
    attr_values: dict[str, Any],
    *,
    old_on_failure: bool = False,
) -> dict[str, Any]:
    """A conditional update as a transaction item; `old_on_failure`: a lost condition returns
    the item as it was (to tell why, without a read)."""
    update = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": expression,
        **update_params(condition, attr_names, attr_values),
    }
    if old_on_failure:
        update["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {"Update": update}


def update_params(
    condition: Condition, attr_names: dict[str, str], attr_values: dict[str, Any]
) -> dict[str, Any]:
    """A transaction item's condition, names and values (the update's and the condition's)."""
    params = condition.params()
    params["ExpressionAttributeNames"] = when.merged(attr_names, condition.attr_names)
    merged_values = when.merged(attr_values, condition.attr_values)
    if merged_values:
        params["ExpressionAttributeValues"] = merged_values
    return params
