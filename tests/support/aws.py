"""A loader wired to moto: tables, bucket, flush queue, configs; a controllable clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from config.models import PrefixConfig
from loader.deps import Deps
from loader.models import Batch, BatchStatus
from loader.service import LoaderService
from loader.settings import Settings
from loader.tables import TableNames, create_tables

BUCKET = "landing-bucket"
MANIFEST_BUCKET = "loader-manifests"


class Clock:
    """Time the tests move by hand: thresholds and leases without sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_config(prefix: str = f"{BUCKET}/events", **overrides: Any) -> PrefixConfig:
    raw: dict[str, Any] = {
        "prefix": prefix,
        "thresholds": {"max_files": 100},
        "manifest": {"bucket": MANIFEST_BUCKET, "prefix": "manifests"},
        "targets": [
            {
                "type": "postgres",
                "name": "local",
                "table": "public.events",
                "dsn": "host=/tmp dbname=postgres",
                "sslmode": "disable",
            }
        ],
    }
    raw.update(overrides)
    return PrefixConfig.model_validate(raw)


@dataclass
class Env:
    """One loader over one AWS (moto) account."""

    session: boto3.Session
    settings: Settings
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.deps = Deps(self.settings, self.session)

    def service(self, **kwargs: Any) -> LoaderService:
        return LoaderService(self.deps, clock=self.clock, **kwargs)

    def put_config(self, config: PrefixConfig) -> PrefixConfig:
        self.deps.configs.put(config, self.clock())
        return config

    def ledger(self) -> list[dict[str, Any]]:
        from loader.adapters.codec import decode

        ddb = self.session.client("dynamodb")
        items = []
        for page in ddb.get_paginator("scan").paginate(TableName=self.settings.tables.files):
            items.extend(decode(i) for i in page["Items"])
        return items

    def batches(self, status: BatchStatus | None = None) -> list[Batch]:
        from loader.adapters.items import batch_from_item as _batch_from_item

        ddb = self.session.client("dynamodb")
        found = []
        for page in ddb.get_paginator("scan").paginate(TableName=self.settings.tables.batches):
            for item in page["Items"]:
                if item["sk"]["S"] == "header":
                    batch = _batch_from_item(item)
                    if status is None or batch.status is status:
                        found.append(batch)
        return found

    def manifest_urls(self, batch: Batch) -> list[str]:
        assert batch.manifest_url, f"batch {batch.batch_id} has no manifest"
        bucket, _, key = batch.manifest_url.removeprefix("s3://").partition("/")
        body = self.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return [entry["url"] for entry in json.loads(body)["entries"]]

    def flush_timers(self) -> list[dict[str, Any]]:
        """Drain the flush queue, delayed messages included (moto's delays run on real time,
        the tests' clock does not). Each item: {"body": dict, "delay": seconds}."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue("loader-flush")
        drained = [
            {
                "body": json.loads(m.body),
                "delay": round(max(0, m.delayed_until - m.sent_timestamp) / 1000),
            }
            for m in queue._messages
        ]
        queue._messages.clear()
        return drained


def provision(session: boto3.Session, *, flush_queue: bool = True) -> Settings:
    """Tables, buckets and the flush queue, as the SAM template would create them."""
    names = TableNames.from_env({})
    create_tables(session.client("dynamodb"), names)
    s3 = session.client("s3")
    for bucket in (BUCKET, MANIFEST_BUCKET):
        s3.create_bucket(Bucket=bucket)
    queue_url = None
    if flush_queue:
        queue_url = session.client("sqs").create_queue(QueueName="loader-flush")["QueueUrl"]
    return Settings.from_env(
        {
            "LOADER_LEASE_SECONDS": "300",
            "LOADER_CONFIG_TTL_SECONDS": "0",
            **({"LOADER_FLUSH_QUEUE_URL": queue_url} if queue_url else {}),
        }
    )
