"""Failures the model-based ledger test (test_ledger_model.py) found, shrunk to plain tests.

Each replays the step sequence hypothesis shrank, through the real loader into a PostgreSQL
target, and asserts what the reference model (ledger_model.py) says the target must hold: rows
are (key, tag) and a file's rows carry its upload's tag, so "loaded twice" is a row count.

Both were fixed by deciding re-uploads that sequencers cannot order (a key registered from a
listing) by what S3 holds now (loader/decisions.py `ordered`, `arrival_by_current`), and by a
listing's re-upload dropping the older upload's sequencer from the ledger.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import pytest
from e2e.stack import Stack

from loader.events import parse_event
from loader.loading.runner import TargetsLoader
from loader.notify import build_notifier
from loader.service import LoaderService
from support.aws import BUCKET
from support.events import s3_event, s3_record

RECONCILE = {"loader": "reconcile", "lookback_seconds": 10**8}


class Producer:
    """Writes versions of one key (`tag` in every row) and keeps their notices."""

    def __init__(self, stack: Stack, key: str) -> None:
        self.stack, self.key, self.seq = stack, key, 0

    def put(self, tag: str) -> dict[str, Any]:
        body = f"{self.key},{tag},1\n{self.key},{tag},2\n".encode()
        self.stack.env.session.client("s3").put_object(Bucket=BUCKET, Key=self.key, Body=body)
        self.seq += 1
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
        return s3_record(BUCKET, self.key, size=len(body), etag=etag, sequencer=f"{self.seq:016X}")


def loader(stack: Stack) -> LoaderService:
    deps, clock = stack.env.deps, stack.env.clock
    return LoaderService(
        deps,
        loader=TargetsLoader(deps, clock=clock, sleep=lambda _: None),
        notifier=build_notifier(deps, clock=clock),
        clock=clock,
    )


def invoke(stack: Stack, event: dict[str, Any]) -> None:
    loader(stack).handle(parse_event(event))


def loaded(stack: Stack, table: str) -> Counter[str]:
    """Rows per tag: each version's file has two rows."""
    return Counter(
        {tag: n for tag, n in stack.sql(f"SELECT tag, count(*) FROM {table} GROUP BY 1")}
    )


@pytest.fixture
def reload_prefix(stack: Stack) -> str:
    """`reupload: reload`, one file per batch, a PostgreSQL target."""
    table = stack.table("k varchar(64), tag varchar(16), n int")
    stack.config(stack.target("postgres", table), files=1, reupload="reload")
    return table


def test_a_reupload_registered_by_reconcile_is_a_duplicate_when_its_own_notice_arrives(
    stack: Stack, reload_prefix: str
) -> None:
    # Shrunk from the model: upload, deliver, upload (notice delayed), reconcile, deliver.
    producer = Producer(stack, "in/a.csv")
    invoke(stack, s3_event(producer.put("v1")))  # registered and loaded
    second = producer.put("v2")  # its notice is late: reconciliation finds it first
    invoke(stack, RECONCILE)
    assert loaded(stack, reload_prefix) == {"v1": 2, "v2": 2}

    invoke(stack, s3_event(second))  # the notice of the upload reconcile registered

    assert loaded(stack, reload_prefix) == {"v1": 2, "v2": 2}


def test_a_late_notice_of_an_older_upload_after_reconcile_is_stale(
    stack: Stack, reload_prefix: str
) -> None:
    # Shrunk from the model: upload, upload (both notices delayed), reconcile, deliver the first.
    producer = Producer(stack, "in/a.csv")
    first = producer.put("v1")
    producer.put("v2")
    invoke(stack, RECONCILE)  # registers the key as it is now: v2, loaded
    assert loaded(stack, reload_prefix) == {"v2": 2}

    invoke(stack, s3_event(first))  # v1's notice, late

    assert loaded(stack, reload_prefix) == {"v2": 2}
