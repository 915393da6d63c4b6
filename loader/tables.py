"""The loader's three DynamoDB tables, defined once.

`template.yaml` declares the same tables; tests/functional/test_template.py checks they agree.
`create_tables` is what the tests, `loader-admin tables create` and local mode use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_CONFIG_TABLE = "s3-redshift-loader-config"
DEFAULT_BATCHES_TABLE = "s3-redshift-loader-batches"
DEFAULT_FILES_TABLE = "s3-redshift-loader-files"

STATUS_INDEX = "by-status"
PREFIX_INDEX = "by-prefix"


@dataclass(frozen=True)
class TableNames:
    config: str
    batches: str
    files: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TableNames:
        env = os.environ if environ is None else environ
        return cls(
            config=env.get("LOADER_CONFIG_TABLE", DEFAULT_CONFIG_TABLE),
            batches=env.get("LOADER_BATCHES_TABLE", DEFAULT_BATCHES_TABLE),
            files=env.get("LOADER_FILES_TABLE", DEFAULT_FILES_TABLE),
        )


def _attrs(**kinds: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in kinds.items()]


# Keyed by logical name; the physical name comes from TableNames. TTL attribute per table, if any.
TABLE_DEFINITIONS: dict[str, dict[str, Any]] = {
    # One item per watched prefix: {prefix, config (JSON), updated_at}.
    "config": {
        "KeySchema": [{"AttributeName": "prefix", "KeyType": "HASH"}],
        "AttributeDefinitions": _attrs(prefix="S"),
    },
    # Batch headers (pk "batch#<id>", sk "header"), batch members (pk "batch#<id>",
    # sk "file#<url>") and one state item per prefix (pk "prefix#<prefix>", sk "state")
    # holding the id of its open batch. Only headers carry status/prefix, so both
    # indexes are sparse.
    "batches": {
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": _attrs(
            pk="S", sk="S", status="S", updated_at="N", prefix="S", created_at="N"
        ),
        "GlobalSecondaryIndexes": [
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": PREFIX_INDEX,
                "KeySchema": [
                    {"AttributeName": "prefix", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "TimeToLiveAttribute": "expires_at",
    },
    # The file ledger: one item per S3 object ("s3://bucket/key").
    "files": {
        "KeySchema": [{"AttributeName": "url", "KeyType": "HASH"}],
        "AttributeDefinitions": _attrs(url="S"),
        "TimeToLiveAttribute": "expires_at",
    },
}


def create_tables(client: DynamoDBClient, names: TableNames) -> list[str]:
    """Create any missing table (on demand, PITR where supported); return the names created."""
    created: list[str] = []
    existing: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    for logical, definition in TABLE_DEFINITIONS.items():
        name = getattr(names, logical)
        if name in existing:
            continue
        spec = {k: v for k, v in definition.items() if k != "TimeToLiveAttribute"}
        try:
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)
        except client.exceptions.ResourceInUseException:
            continue  # created concurrently: fine, creation is idempotent
        client.get_waiter("table_exists").wait(TableName=name)
        if ttl := definition.get("TimeToLiveAttribute"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl},
            )
        created.append(name)
    return created
