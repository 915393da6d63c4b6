"""A fake destination with fault knobs (as dlt's dummy client): it really reads the manifest from
(moto) S3 and records which files each batch delivered, so tests assert on what was loaded."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loader.errors import RetryableError, TerminalError
from loader.models import Batch, TargetState
from loader.ports import LoadContext, LoadResult

if TYPE_CHECKING:
    import boto3

    from config.models import PrefixConfig


@dataclass
class RecordingLoader:
    session: boto3.Session
    fail_with: str | None = None  # "retryable" | "terminal" | "result"
    loaded: dict[str, list[str]] = field(default_factory=dict)  # batch id -> urls

    def load(
        self, config: PrefixConfig, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult:
        if self.fail_with == "retryable":
            raise RetryableError("target unreachable")
        if self.fail_with == "terminal":
            raise TerminalError("permission denied for table events")
        if self.fail_with == "result":
            return LoadResult(
                targets={"local": TargetState(status="failed", error="bad row")},
                error="bad row at line 2",
            )
        bucket, _, key = manifest_url.removeprefix("s3://").partition("/")
        body = self.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        urls = [entry["url"] for entry in json.loads(body)["entries"]]
        context.heartbeat()
        if batch.batch_id not in self.loaded:  # the real targets are idempotent per batch too
            self.loaded[batch.batch_id] = urls
        context.record("local", TargetState(status="loaded", rows=len(urls)))
        return LoadResult(targets={"local": TargetState(status="loaded", rows=len(urls))})

    def loaded_count(self) -> Counter[str]:
        return Counter(url for urls in self.loaded.values() for url in urls)
