"""Count AWS API calls with botocore's event hooks, by service and operation.

Hooks are copied into each client when it is created, so `attach` the session before the loader
builds its clients (Deps builds them lazily, on first use).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

DYNAMODB_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
)
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "TransactGetItems", "BatchGetItem"})


@dataclass
class Counts:
    """API calls ("service.Operation" -> n), HTTP attempts (retries included) and the DynamoDB
    items written (a transaction writes several items in one call)."""

    calls: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    items_written: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            calls=self.calls - other.calls,
            attempts=self.attempts - other.attempts,
            items_written=self.items_written - other.items_written,
        )

    def copy(self) -> Counts:
        return Counts(Counter(self.calls), self.attempts, self.items_written)

    def total(self, service: str | None = None, operations: frozenset[str] | None = None) -> int:
        return sum(
            n
            for key, n in self.calls.items()
            if (service is None or key.split(".", 1)[0] == service)
            and (operations is None or key.split(".", 1)[1] in operations)
        )

    @property
    def dynamodb_writes(self) -> int:
        return self.total("dynamodb", DYNAMODB_WRITES)

    @property
    def dynamodb_reads(self) -> int:
        return self.total("dynamodb", DYNAMODB_READS)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "http_attempts": self.attempts,
            "dynamodb_items_written": self.items_written,
        }


class CallCounter:
    def __init__(self) -> None:
        self.counts = Counts()

    def attach(self, session: boto3.Session) -> CallCounter:
        session.events.register("before-call.*.*", self._on_call)
        # before-call sees the serialized request; the API parameters come one step earlier.
        session.events.register("before-parameter-build.dynamodb.*", self._on_params)
        session.events.register("before-send.*.*", self._on_send)
        return self

    def _on_call(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.counts.calls[f"{service}.{operation}"] += 1

    def _on_params(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation == "TransactWriteItems":
            self.counts.items_written += len(params.get("TransactItems", []))
        elif operation == "BatchWriteItem":
            self.counts.items_written += sum(
                len(v) for v in params.get("RequestItems", {}).values()
            )
        elif operation in DYNAMODB_WRITES:
            self.counts.items_written += 1

    def _on_send(self, **_: Any) -> None:
        self.counts.attempts += 1

    @contextmanager
    def measure(self) -> Iterator[Counts]:
        """`with counter.measure() as delta:` -> delta holds what the block called."""
        before = self.counts.copy()
        delta = Counts()
        yield delta
        after = self.counts - before
        delta.calls, delta.attempts, delta.items_written = (
            after.calls,
            after.attempts,
            after.items_written,
        )
