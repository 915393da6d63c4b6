"""What a million files cost on AWS: the loader, and the original loader's protocol.

Computed, not measured against a bill: the counted calls per file and per batch come from
`bench.api_calls` (its results file, or a run of it at the sizes given here), the Lambda duration
from the loader's CPU per file (`--cpu-ms-*`, measured by bench.throughput) plus a round trip per
AWS call (`--call-ms`, an assumption: same-region DynamoDB/SQS calls take a few milliseconds),
billed at the template's memory size on arm64. Prices are public list prices, us-east-1 (the
constants below, with their page and the date they were read).

Modelled per million files, batches of `--batch-files`:
- DynamoDB on-demand: a transactional write costs two write request units per item (up to
  1 KB), a strongly consistent read one read unit per 4 KB, a transactional read two;
- Lambda: requests and GB-seconds (one invocation per S3 event, or per SQS batch);
- SQS: the flush timer per batch and the SQS intake's receive/delete (per 10 messages);
- S3: per batch the manifest PUT, its GET by the load, the listing that checks the files;
- SNS: one outcome notification per batch.
The original loader (awslabs/aws-lambda-redshift-loader, documented protocol): one invocation
per file; per file 3 DynamoDB writes (dedupe upsert, append to the batch item, link the file)
and 2 reads; the append rewrites the whole batch item, which grows by ~100 bytes per file (an
item of n files is about 0.1 n KB, so appending the i-th file costs ceil(0.1 i) write units).
"""

from __future__ import annotations

import json
import math
from typing import Any

from bench import common

PRICES = {
    # https://aws.amazon.com/lambda/pricing/ (read 2026-12-07): arm64, us-east-1
    "lambda_gb_second": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (read 2026-12-07; after the
    # November 2024 reduction)
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    # https://aws.amazon.com/sqs/pricing/ (read 2026-12-07): standard queue, per 64 KB chunk
    "sqs_request": 0.40 / 1e6,
    # https://aws.amazon.com/s3/pricing/ (read 2026-12-07): S3 Standard
    "s3_put_list": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    # https://aws.amazon.com/sns/pricing/ (read 2026-12-07): publishes
    "sns_publish": 0.50 / 1e6,
}
MILLION = 1_000_000
ITEM_KB = {"ledger": 0.4, "member": 0.3, "header": 0.9}
"""Item sizes written per file (KB, rounded up to 1 KB each for billing): the ledger record,
the batch member, the batch header's counts (from the items the loader writes)."""


def _dynamodb(calls: dict[str, float], items_written: float) -> tuple[float, float]:
    """(write units, read units) of one file's or one batch's DynamoDB calls."""
    transactional = calls.get("dynamodb.TransactWriteItems", 0)
    plain_writes = sum(
        calls.get(f"dynamodb.{op}", 0) for op in ("PutItem", "UpdateItem", "DeleteItem")
    )
    # Items written by transactions (every item of a transaction is <= 1 KB here): 2 WRU each.
    transactional_items = max(items_written - plain_writes, 0) if transactional else 0
    wru = 2 * transactional_items + plain_writes
    reads = sum(calls.get(f"dynamodb.{op}", 0) for op in ("GetItem", "Query", "BatchGetItem"))
    rru = reads + 2 * calls.get("dynamodb.TransactGetItems", 0)
    return wru, rru


def _lambda(invocations: float, seconds_each: float, memory_mb: int) -> float:
    billed_ms = math.ceil(seconds_each * 1000)
    gb_seconds = invocations * billed_ms / 1000 * memory_mb / 1024
    return invocations * PRICES["lambda_request"] + gb_seconds * PRICES["lambda_gb_second"]


def loader_cost(
    registration: dict[str, Any],
    batch: dict[str, Any],
    *,
    files_per_invocation: int,
    batch_files: int,
    cpu_ms: float,
    call_ms: float,
    memory_mb: int,
) -> dict[str, float]:
    steady = registration["steady"]
    files = max(registration["steady_files"], 1)
    per_file_calls = {k: v / files for k, v in steady["calls"].items()}
    wru, rru = _dynamodb(per_file_calls, steady["dynamodb_items_written"] / files)
    flush = batch["flush_invocation"]
    batch_wru, batch_rru = _dynamodb(flush["calls"], flush["dynamodb_items_written"])
    timer = batch["arm_timer"]["calls"]
    batches = MILLION / batch_files
    invocations = MILLION / files_per_invocation
    calls_per_invocation = sum(per_file_calls.values()) * files_per_invocation
    seconds = (cpu_ms * files_per_invocation + call_ms * calls_per_invocation) / 1000
    flush_seconds = (sum(flush["calls"].values()) * call_ms + batch_files * cpu_ms * 0.1) / 1000
    s3_puts = flush["calls"].get("s3.PutObject", 0) + flush["calls"].get("s3.ListObjectsV2", 0)
    s3_gets = flush["calls"].get("s3.GetObject", 0) + flush["calls"].get("s3.HeadObject", 0)
    sqs = timer.get("sqs.SendMessage", 0) + 1  # the timer sent, then received
    # The SQS intake: one send per file, a receive and a delete per 10 messages.
    sqs_intake = MILLION * (1 + 2 / 10) if files_per_invocation > 1 else 0.0
    costs = {
        "dynamodb": (wru * MILLION + batch_wru * batches) * PRICES["dynamodb_wru"]
        + (rru * MILLION + batch_rru * batches) * PRICES["dynamodb_rru"],
        "lambda": _lambda(invocations, seconds, memory_mb)
        + _lambda(batches, flush_seconds, memory_mb),
        "sqs": (sqs * batches + sqs_intake) * PRICES["sqs_request"],
        "s3": batches * (s3_puts * PRICES["s3_put_list"] + s3_gets * PRICES["s3_get"]),
        "sns": batches * flush["calls"].get("sns.Publish", 0) * PRICES["sns_publish"],
    }
    costs["total"] = sum(costs.values())
    return costs


def original_cost(*, batch_files: int, cpu_ms: float, call_ms: float, memory_mb: int) -> dict:
    """The original loader's documented protocol (module docstring)."""
    append_wru = sum(math.ceil(0.1 * i) for i in range(1, batch_files + 1)) / batch_files
    wru_per_file = 2 + append_wru  # dedupe upsert + link (1 each) + the growing batch item
    rru_per_file = 2
    batches = MILLION / batch_files
    seconds = (cpu_ms + call_ms * 5) / 1000
    costs = {
        "dynamodb": (wru_per_file * MILLION + 5 * batches) * PRICES["dynamodb_wru"]
        + rru_per_file * MILLION * PRICES["dynamodb_rru"],
        "lambda": _lambda(MILLION, seconds, memory_mb),
        "sqs": 0.0,
        "s3": batches * PRICES["s3_put_list"],
        "sns": batches * 1.5 * PRICES["sns_publish"],
    }
    costs["total"] = sum(costs.values())
    return costs


def measured(batch_files: int, sqs_sizes: list[int]) -> dict[str, Any]:
    """bench.api_calls' results: its file when it has what is needed, else a run of it."""
    path = common.results_dir() / "api_calls.json"
    if path.exists():
        results = json.loads(path.read_text())["results"]
        shapes = {
            (r["notifications_per_invocation"], r["prefixes"]) for r in results["registration"]
        }
        batches = {b["batch_files"] for b in results["per_batch"]}
        if {(1, 1), *((s, 1) for s in sqs_sizes)} <= shapes and batch_files in batches:
            return results
    from bench import api_calls

    return api_calls.run(  # type: ignore[no-any-return]
        single_files=20, sqs_sizes=sqs_sizes, rounds=1, batch_sizes=[batch_files]
    )


def run(
    *,
    batch_files: int,
    sqs_sizes: list[int],
    cpu_ms_single: float,
    cpu_ms_sqs: float,
    call_ms: float,
    memory_mb: int,
    original_cpu_ms: float,
) -> dict[str, Any]:
    results = measured(batch_files, sqs_sizes)
    [batch] = [b for b in results["per_batch"] if b["batch_files"] == batch_files]
    rows: dict[str, dict[str, float]] = {}
    for registration in results["registration"]:
        size, prefixes = registration["notifications_per_invocation"], registration["prefixes"]
        if prefixes != 1 or (size != 1 and size not in sqs_sizes):
            continue
        label = "S3 event (1 file)" if size == 1 else f"SQS batches of {size}"
        rows[label] = loader_cost(
            registration,
            batch,
            files_per_invocation=size,
            batch_files=batch_files,
            cpu_ms=cpu_ms_single if size == 1 else cpu_ms_sqs,
            call_ms=call_ms,
            memory_mb=memory_mb,
        )
    rows["original loader (1 file per invocation)"] = original_cost(
        batch_files=batch_files, cpu_ms=original_cpu_ms, call_ms=call_ms, memory_mb=memory_mb
    )
    return {"per_million_files_usd": rows, "prices": PRICES}


def report(results: dict[str, Any]) -> None:
    services = ["dynamodb", "lambda", "sqs", "s3", "sns", "total"]
    rows = [
        [name, *(round(costs[s], 4) for s in services)]
        for name, costs in results["per_million_files_usd"].items()
    ]
    common.print_table(
        "Cost of 1,000,000 files, USD (us-east-1 list prices)", ["how", *services], rows
    )


def main(argv: list[str] | None = None) -> None:
    parser = common.parser(__doc__)
    parser.add_argument("--batch-files", type=int, default=100)
    parser.add_argument("--sqs-sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--cpu-ms-single", type=float, default=5.0, help="loader CPU per file")
    parser.add_argument("--cpu-ms-sqs", type=float, default=0.5, help="... in SQS batches")
    parser.add_argument("--call-ms", type=float, default=6.0, help="round trip per AWS call")
    parser.add_argument("--memory-mb", type=int, default=512, help="the template's MemorySize")
    parser.add_argument("--original-cpu-ms", type=float, default=8.0)
    args = parser.parse_args(argv)
    params = vars(args)
    results = run(**params)
    report(results)
    common.write_result("cost", params, results)


if __name__ == "__main__":
    main()
