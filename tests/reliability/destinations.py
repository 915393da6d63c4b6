"""A fake destination whose state survives the worker: it commits to S3.

Like a real target it keeps a ledger: a batch it has committed is reported loaded again, never
copied twice. Every load call also leaves a trace (`loads/`), so a batch processed twice without
any crash is visible. Usable in-process (mock_aws) and from worker processes (moto server).

    s3://<bucket>/commits/<batch_id>/<uuid>.json   {"urls": [...], "owner": ...}   one per COPY
    s3://<bucket>/loads/<batch_id>/<uuid>          one per load call
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loader.errors import RetryableError, TerminalError
from loader.models import Batch, TargetState
from loader.ports import LoadContext, LoadResult

if TYPE_CHECKING:
    from config.models import PrefixConfig

TARGET_BUCKET = "fake-target"
TARGET_NAME = "fake"
LEDGER_CHECK = True
"""The destination's ledger lookup (a deliberately broken build turns it off)."""


@dataclass
class FakeTarget:
    s3: Any
    """An S3 client of the destination (not the loader's session: its calls are not the
    loader's protocol, except that the loader's crash points include the whole load)."""
    fail_with: str | None = None  # "retryable" | "terminal" | "result"

    @classmethod
    def create(cls, s3: Any) -> FakeTarget:
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=TARGET_BUCKET)
        return cls(s3)

    def load(
        self, config: PrefixConfig, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult:
        context.heartbeat()
        self.s3.put_object(
            Bucket=TARGET_BUCKET, Key=f"loads/{batch.batch_id}/{uuid.uuid4().hex}", Body=b""
        )
        if self.fail_with == "retryable":
            raise RetryableError("target unreachable")
        if self.fail_with == "terminal":
            raise TerminalError("permission denied for table events")
        if self.fail_with == "result":
            state = TargetState(status="failed", error="bad row")
            return LoadResult(targets={TARGET_NAME: state}, error="bad row at line 2")
        committed = self.committed(batch.batch_id) if LEDGER_CHECK else []
        if committed:
            rows = len(committed[0])
        else:
            bucket, _, key = manifest_url.removeprefix("s3://").partition("/")
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            urls = [entry["url"] for entry in json.loads(body)["entries"]]
            self.s3.put_object(
                Bucket=TARGET_BUCKET,
                Key=f"commits/{batch.batch_id}/{uuid.uuid4().hex}.json",
                Body=json.dumps({"urls": urls, "owner": context.owner, "at": time.time()}).encode(),
            )
            rows = len(urls)
        state = TargetState(status="loaded", rows=rows)
        context.record(TARGET_NAME, state)
        return LoadResult(targets={TARGET_NAME: state})

    # --- what the destination holds ---------------------------------------------------------

    def committed(self, batch_id: str | None = None) -> list[list[str]]:
        """The url lists committed (for one batch, or all), one list per COPY."""
        found = []
        for key in self._keys(f"commits/{batch_id}/" if batch_id else "commits/"):
            body = self.s3.get_object(Bucket=TARGET_BUCKET, Key=key)["Body"].read()
            found.append(json.loads(body)["urls"])
        return found

    def commit_times(self) -> dict[str, float]:
        """When each batch was first committed, by this machine's clock (one clock for all)."""
        times: dict[str, float] = {}
        for key in self._keys("commits/"):
            batch_id = key.split("/")[1]
            body = json.loads(self.s3.get_object(Bucket=TARGET_BUCKET, Key=key)["Body"].read())
            times[batch_id] = min(times.get(batch_id, body["at"]), body["at"])
        return times

    def load_calls(self) -> Counter[str]:
        """How many times each batch was handed to the destination."""
        return Counter(key.split("/")[1] for key in self._keys("loads/"))

    def _keys(self, prefix: str) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=TARGET_BUCKET, Prefix=prefix
        ):
            keys += [obj["Key"] for obj in page.get("Contents", [])]
        return keys
