"""Flush latency: from a batch's age deadline to its seal, when no other file arrives.

Per trial one file is registered through the real handler (loader.handler.handler, configured
from the environment like a Lambda); that arms the batch's flush timer, a delayed message on the
moto SQS flush queue. A worker-like loop polls the queue as the SQS event source would, hands
each message to the handler as an SQS event, and deletes it on success. Measured: the batch's
`sealed_at` minus its deadline (`first_file_at + max_age_seconds`), both stamped by the loader.
What happens after the seal is not part of the figure: the configuration's target is unreachable
and gets one attempt (LOADER_TARGET_ATTEMPTS=1), so each trial ends soon after its seal.
"""

from __future__ import annotations

import time
from typing import Any

from bench import common


def _sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:loader-flush",
        "awsRegion": common.REGION,
    }


def _poll_once(sqs: Any, queue_url: str, handler: Any) -> float | None:
    """One receive; hand what came to the handler; returns when it was received, if anything."""
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", [])
    if not messages:
        return None
    received = time.time()
    response = handler({"Records": [_sqs_record(m) for m in messages]}, None)
    failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received


def trial(
    index: int, prefix: str, *, max_age: int, poll_interval: float, queue_url: str
) -> dict[str, Any]:
    from loader.handler import handler
    from loader.runtime import deps

    handler(common.s3_notifications(common.keys_for(prefix, index, 1))[0], None)
    batches = deps().batches
    batch = batches.open_batch(prefix)
    assert batch is not None and batch.first_file_at is not None and batch.timer_armed
    deadline = batch.first_file_at + max_age
    sqs = common.session().client("sqs")
    received: float | None = None
    give_up = time.time() + max_age + 60
    while time.time() < give_up:
        received = _poll_once(sqs, queue_url, handler) or received
        current = batches.get_batch(batch.batch_id)
        if current is not None and current.sealed_at is not None:
            return {
                "batch_id": batch.batch_id,
                "deadline": deadline,
                "sealed_at": current.sealed_at,
                "seal_reason": current.seal_reason,
                "latency_s": current.sealed_at - deadline,
                "received_after_deadline_s": received - deadline if received else None,
            }
        time.sleep(poll_interval)
    raise RuntimeError(f"batch {batch.batch_id} was not sealed within {max_age + 60} s")


def run(*, trials: int, max_age: int, poll_interval: float) -> dict[str, Any]:
    import os

    with common.moto_server():
        common.quiet_loader_logs()
        settings = common.provision()
        os.environ.update(common.settings_env(settings), LOADER_TARGET_ATTEMPTS="1")
        [prefix] = common.prefixes(1)
        common.put_configs(
            settings, [prefix], thresholds={"max_files": 1_000_000, "max_age_seconds": max_age}
        )
        assert settings.flush_queue_url
        rows = [
            trial(
                i,
                prefix,
                max_age=max_age,
                poll_interval=poll_interval,
                queue_url=settings.flush_queue_url,
            )
            for i in range(trials)
        ]
    latencies = [r["latency_s"] for r in rows]
    return {
        "median_latency_s": common.median(latencies),
        "max_latency_s": max(latencies),
        "min_latency_s": min(latencies),
        "trials": rows,
    }


def report(results: dict[str, Any], ns: Any) -> None:
    common.print_table(
        f"Flush latency: deadline -> sealed_at (max_age_seconds={ns.max_age}, "
        f"queue polled every {ns.poll_interval} s)",
        ["trial", "received after deadline, s", "sealed after deadline, s", "reason"],
        [
            [i, r["received_after_deadline_s"], r["latency_s"], r["seal_reason"]]
            for i, r in enumerate(results["trials"])
        ],
    )
    common.say(
        f"median {results['median_latency_s']:.3f} s, max {results['max_latency_s']:.3f} s "
        "(target < 5 s)"
    )


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--trials", type=int, default=5)
    args.add_argument("--max-age", type=int, default=3, help="the batch's max_age_seconds")
    args.add_argument("--poll-interval", type=float, default=0.1)
    ns = args.parse_args(argv)
    results = run(trials=ns.trials, max_age=ns.max_age, poll_interval=ns.poll_interval)
    report(results, ns)
    common.write_result("flush_latency", vars(ns), results)


if __name__ == "__main__":
    main()
