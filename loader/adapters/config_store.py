"""Prefix configurations in DynamoDB, cached per warm container for a short time."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import ValidationError

from config.models import PrefixConfig, normalise_prefix
from loader.adapters.codec import decode, encode
from loader.errors import classify_aws_error, validation_problems
from loader.models import ConfigSet
from loader.retry import retrying

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class ConfigStore:
    def __init__(self, client: DynamoDBClient, table: str, ttl_seconds: float = 60.0) -> None:
        self._db = client
        self._table = table
        self._ttl = ttl_seconds
        self._cached: ConfigSet | None = None
        self._loaded_at = 0.0

    def current(self, now: float) -> ConfigSet:
        """All configurations, re-read at most every `ttl_seconds`."""
        if self._cached is None or now - self._loaded_at >= self._ttl:
            self._cached = self._scan()
            self._loaded_at = now
        return self._cached

    def invalidate(self) -> None:
        self._cached = None

    @retrying()
    def _scan(self) -> ConfigSet:
        result = ConfigSet()
        kwargs: dict[str, object] = {"TableName": self._table, "ConsistentRead": True}
        try:
            while True:
                page = self._db.scan(**kwargs)  # type: ignore[arg-type]
                for item in page.get("Items", []):
                    raw = decode(item)
                    try:
                        result.valid.append(_parse(raw))
                    except ValidationError as exc:
                        result.invalid[str(raw.get("prefix"))] = "; ".join(validation_problems(exc))
                    except ValueError as exc:
                        result.invalid[str(raw.get("prefix"))] = str(exc)
                if "LastEvaluatedKey" not in page:
                    return result
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except ClientError as exc:
            raise classify_aws_error(exc) from exc

    @retrying()
    def get(self, prefix: str) -> PrefixConfig | None:
        try:
            response = self._db.get_item(
                TableName=self._table,
                Key=encode({"prefix": normalise_prefix(prefix)}),
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        item = response.get("Item")
        return _parse(decode(item)) if item else None

    @retrying()
    def put(self, config: PrefixConfig, now: float) -> None:
        item = {"prefix": config.prefix, "config": config.model_dump_json(), "updated_at": now}
        try:
            self._db.put_item(TableName=self._table, Item=encode(item))
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        self.invalidate()

    @retrying()
    def delete(self, prefix: str) -> bool:
        try:
            response = self._db.delete_item(
                TableName=self._table,
                Key=encode({"prefix": normalise_prefix(prefix)}),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        self.invalidate()
        return "Attributes" in response


def _parse(raw: dict[str, object]) -> PrefixConfig:
    body = raw.get("config")
    if not isinstance(body, str):
        raise ValueError("item has no 'config' JSON attribute")
    return PrefixConfig.model_validate(json.loads(body))
