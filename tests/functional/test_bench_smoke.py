"""The benchmarks run: each script, at a tiny size, exits cleanly and writes well-formed JSON.

Specification of *that they run* and of the shape of what they write, never of speed: the
figures belong in docs/performance.md. Plus one property the figures rely on: moto as the benches
run it (server mode, with local_aws.moto_patches' cheap transaction backups) still keeps a
transaction all-or-nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from numbers import Number
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from bench.suite import SCRIPTS, SMOKE

ROOT = Path(__file__).resolve().parents[2]

# What each bench's "results" must hold (lists: the keys of every row).
EXPECTED: dict[str, set[str]] = {
    "api_calls": {"registration", "per_batch"},
    "throughput": {"files", "processes", "prefixes", "files_per_s", "worker_cpu_ms_per_file"},
    "end_to_end": {"files", "rows", "seconds", "files_per_s", "duplicate_rows"},
    "cold_start": {"medians", "ratios_to_import_boto3", "import_self_ms_by_package"},
    "memory": {"files", "rss_before_mb", "peak_rss_mb", "peak_growth_mb", "tracemalloc_peak_mb"},
    "million": {"sizes", "lambda_memory_mb", "runs"},
    "scaling": {"files", "registration", "seal_and_manifest"},
    "flush_latency": {"median_latency_s", "max_latency_s", "trials"},
    "cost": {"per_million_files_usd", "prices"},
}
NUMBERS: dict[str, tuple[str, ...]] = {
    "throughput": ("files_per_s",),
    "end_to_end": ("files_per_s", "rows_per_s"),
    "memory": ("peak_growth_mb",),
    "flush_latency": ("median_latency_s",),
}


def _rows(results: Any) -> list[dict[str, Any]]:
    return results if isinstance(results, list) else [results]


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_bench_runs_at_a_tiny_size_and_writes_its_json(name: str, tmp_path: Path) -> None:
    # given a results directory of its own (bench/results/ keeps the real figures)
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path)}

    # when the script runs on its own at its smoke size
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *SMOKE[name]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )

    # then it succeeds, prints a table and writes JSON with the common envelope and its keys
    assert done.returncode == 0, done.stderr[-4000:]
    assert "---" in done.stdout
    payload = json.loads((tmp_path / f"{name}.json").read_text())
    assert payload["bench"] == name
    assert {"nproc", "cpu_model", "python", "moto"} <= payload["machine"].keys()
    assert isinstance(payload["params"], dict) and payload["params"]
    rows = _rows(payload["results"])
    assert rows
    for row in rows:
        assert EXPECTED[name] <= row.keys(), sorted(row)
        for key in NUMBERS.get(name, ()):
            assert isinstance(row[key], Number)


def test_the_bench_runner_knows_a_smoke_size_for_every_script() -> None:
    assert set(SMOKE) == set(SCRIPTS)


# --- the moto patch the figures rely on ------------------------------------------------------


@pytest.fixture
def ddb() -> Iterator[Any]:
    from bench import common

    # The bench server points this process's environment at itself: undo that afterwards.
    with patch.dict(os.environ), common.moto_server() as server:
        server.reset()  # a fresh account: moto's backends outlive one server in this process
        client = common.session().client("dynamodb")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _key(sk: str) -> dict[str, Any]:
    return {"pk": {"S": "p"}, "sk": {"S": sk}}


def _put_new(sk: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": "t",
            "Item": _key(sk),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _add_one(sk: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "t",
            "Key": _key(sk),
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def test_a_cancelled_transaction_leaves_no_trace_in_the_benches_moto(ddb: Any) -> None:
    # given an existing item with a counter
    ddb.transact_write_items(TransactItems=[_put_new("a"), _add_one("counter")])

    # when a transaction updates the counter, adds a new item, then fails a condition
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(TransactItems=[_add_one("counter"), _put_new("b"), _put_new("a")])

    # then nothing of it remains: the counter is unchanged and the new item is absent
    items = ddb.query(
        TableName="t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )["Items"]
    assert sorted(i["sk"]["S"] for i in items) == ["a", "counter"]
    counter = next(i for i in items if i["sk"]["S"] == "counter")
    assert counter["n"] == {"N": "1"}

    # and a transaction that holds commits every item
    ddb.transact_write_items(TransactItems=[_add_one("counter"), _put_new("b")])
    counter = ddb.get_item(TableName="t", Key=_key("counter"), ConsistentRead=True)["Item"]
    assert counter["n"] == {"N": "2"}
    assert "Item" in ddb.get_item(TableName="t", Key=_key("b"), ConsistentRead=True)


# --- the moto query window bench/million.py relies on ------------------------------------------


def _pages(client: Any) -> list[tuple[list[str], Any]]:
    pages, start = [], None
    while True:
        kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        page = client.query(
            TableName="t",
            KeyConditionExpression="pk = :p AND begins_with(sk, :f)",
            ExpressionAttributeValues={":p": {"S": "p"}, ":f": {"S": "file#"}},
            Limit=7,
            **kwargs,
        )
        pages.append(([i["sk"]["S"] for i in page["Items"]], page.get("LastEvaluatedKey")))
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize("window", [50, 3])  # 3: shorter than a page, moto's own path answers
def test_the_windowed_moto_query_pages_as_moto_does(
    ddb: Any, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.table import Table

    from bench import moto_query

    for sk in ["header", *(f"file#{i:03d}" for i in (5, 1, 30, 12, *range(40, 60)))]:
        ddb.put_item(TableName="t", Item=_key(sk))
    expected = _pages(ddb)

    monkeypatch.setattr(Table, "query", Table.query)  # restored after the test
    monkeypatch.setattr(moto_query, "WINDOW", window)
    moto_query.apply()

    assert _pages(ddb) == expected
    assert sum(len(keys) for keys, _ in expected) == 24
