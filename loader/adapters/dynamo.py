"""The DynamoDB calls the batch adapters share: one client, every error classified once, one
retry policy (loader/retry.py), and the one translation of a lost condition into a domain error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from loader.adapters.items import batch_from_item
from loader.errors import BatchConflictError, RetryableError, classify_aws_error
from loader.retry import retrying

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from loader.adapters.conditions import Condition

TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the items of one transaction."""
_TRANSIENT_REASONS = ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")


@dataclass(frozen=True)
class Cancelled:
    """A transaction whose condition(s) did not hold: per item, the reason code ("None" where
    the item's condition held) and the item as it was (ALL_OLD), when it exists."""

    codes: list[str]
    items: list[dict[str, Any] | None]

    def lost(self, index: int) -> bool:
        return len(self.codes) > index and self.codes[index] == "ConditionalCheckFailed"

    def refused(self, start: int, stop: int) -> bool:
        """Whether any item in [start, stop) is a reason for the cancellation."""
        return any(code != "None" for code in self.codes[start:stop])

    def item(self, index: int) -> dict[str, Any] | None:
        return self.items[index] if len(self.items) > index else None


@dataclass(frozen=True)
class ConditionLost:
    """A single write whose condition did not hold, and the item as it was, if it exists."""

    item: dict[str, Any] | None


def lost_condition(
    kind: type[BatchConflictError],
    batch_id: str,
    what: str,
    old_header: dict[str, Any] | None,
    **fields: Any,
) -> BatchConflictError:
    """The one place a lost condition on a batch becomes a domain error: BatchConflictError (or
    LeaseLostError) carrying the header as DynamoDB returned it."""
    current = batch_from_item(old_header) if old_header else None
    return kind(f"batch {batch_id}: {what}", current=current, batch_id=batch_id, **fields)


class Dynamo:
    def __init__(self, client: DynamoDBClient) -> None:
        self._db = client

    def transact(self, items: list[dict[str, Any]]) -> Cancelled | None:
        """Run a transaction; a lost condition comes back as reasons, conflicts and throttling
        as RetryableError, anything else classified."""
        try:
            self._db.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise classify_aws_error(exc) from exc
            reasons: list[Any] = list(exc.response.get("CancellationReasons") or [])
            codes = [r.get("Code", "None") for r in reasons]
            if any(c in _TRANSIENT_REASONS for c in codes):
                raise RetryableError("transaction conflict", codes=codes) from exc
            return Cancelled(codes, [r.get("Item") for r in reasons])
        return None

    @retrying()
    def transact_retrying(self, items: list[dict[str, Any]]) -> Cancelled | None:
        return self.transact(items)

    @retrying()
    def update(
        self,
        table: str,
        key: dict[str, Any],
        expression: str,
        condition: Condition,
        attr_names: dict[str, str],
        attr_values: dict[str, Any],
    ) -> dict[str, Any] | ConditionLost:
        """UpdateItem; the new item, or ConditionLost with the old one."""
        from loader.adapters.conditions import merged

        try:
            response = self._db.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=expression,
                ConditionExpression=condition.expression,
                ExpressionAttributeNames=merged(attr_names, condition.attr_names),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **_values(merged(attr_values, condition.attr_values)),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return ConditionLost(exc.response.get("Item"))  # type: ignore[arg-type]
            raise classify_aws_error(exc) from exc
        return dict(response["Attributes"])

    def delete(self, table: str, key: dict[str, Any], condition: Condition) -> ConditionLost | None:
        try:
            self._db.delete_item(
                TableName=table,
                Key=key,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition.params(),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return ConditionLost(exc.response.get("Item"))  # type: ignore[arg-type]
            raise classify_aws_error(exc) from exc
        return None

    @retrying()
    def get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        """A strongly consistent read."""
        try:
            response = self._db.get_item(TableName=table, Key=key, ConsistentRead=True)
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        return response.get("Item")

    def query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, page by page."""
        while True:
            page = self._query_page(kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @retrying()
    def _query_page(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._db.query(**kwargs)  # type: ignore[return-value]
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    def batch_get(self, table: str, keys: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of these keys that exist (at most 100 keys), read consistently."""
        found: list[dict[str, Any]] = []
        pending = [{table: {"Keys": list(keys), "ConsistentRead": True}}]
        self._get_rounds(table, pending, found)
        return found

    @retrying(attempts=10)
    def _get_rounds(
        self, table: str, pending: list[dict[str, Any]], found: list[dict[str, Any]]
    ) -> None:
        # `pending` holds what is left: a retry asks only for the keys still unprocessed.
        while pending[0]:
            try:
                response = self._db.batch_get_item(RequestItems=pending[0])
            except ClientError as exc:
                raise classify_aws_error(exc) from exc
            found.extend(response.get("Responses", {}).get(table, []))
            pending[0] = dict(response.get("UnprocessedKeys") or {})
            if pending[0]:
                raise RetryableError("ledger reads kept coming back unprocessed")

    def batch_delete(self, table: str, keys: Sequence[dict[str, Any]]) -> None:
        """Delete items (at most 25 keys), unconditionally."""
        pending = [{table: [{"DeleteRequest": {"Key": k}} for k in keys]}]
        self._write_rounds(pending)

    @retrying(attempts=10)
    def _write_rounds(self, pending: list[dict[str, Any]]) -> None:
        # `pending` holds what is left: a retry writes only the items still unprocessed.
        while pending[0]:
            try:
                response = self._db.batch_write_item(RequestItems=pending[0])
            except ClientError as exc:
                raise classify_aws_error(exc) from exc
            pending[0] = dict(response.get("UnprocessedItems") or {})
            if pending[0]:
                raise RetryableError("batch write kept leaving items unprocessed")


def _values(attr_values: dict[str, Any]) -> dict[str, Any]:
    return {"ExpressionAttributeValues": attr_values} if attr_values else {}
