"""API calls per file, by service and operation, for each way notifications arrive.

Counted with botocore event hooks on the session the loader's clients are built from. Each
scenario runs on a fresh moto state and a fresh "container" (Deps); the first invocation pays the
container's one-off costs (configuration scan, the prefix's open-batch lookup, arming the batch's
age timer) and is reported apart from the steady state.
"""

from __future__ import annotations

import math
from typing import Any

from bench import common
from bench.calls import CallCounter, Counts
from loader.events import FLUSH_TIMER

# The original loader, per file (original-loader.md §1.5, §3.3-3.4): one invocation per object;
# config GetItem (>= 1, longest-prefix match), dedupe upsert, append (list_append on the batch
# item), link the file to its batch, sweep GetItem. Per batch (§3.4-3.8): lock, rotate the
# config, link the manifest, write the load state, close; PutObject; one or two SNS publishes.
ORIGINAL_PER_FILE = {"dynamodb_writes": 3, "dynamodb_reads": 2}
ORIGINAL_PER_BATCH = {"dynamodb_writes": 5, "s3": 1, "sns": "1-2"}

THRESHOLDS = {"max_files": 1_000_000, "max_age_seconds": 300}
"""Registration scenarios never reach a size threshold; the age timer is armed once per batch."""


def _per_file(counts: Counts, files: int) -> dict[str, float]:
    return {
        "dynamodb_writes": counts.dynamodb_writes / files,
        "dynamodb_reads": counts.dynamodb_reads / files,
        "dynamodb_items_written": counts.items_written / files,
        "aws_calls": counts.total() / files,
    }


def registration(
    settings: Any, *, files: int, per_invocation: int, prefix_count: int, sqs: bool
) -> dict[str, Any]:
    """Register `files` files, `per_invocation` notifications per Lambda event."""
    counter = CallCounter()
    deps = common.container(settings, counter)
    names = common.prefixes(prefix_count)
    common.put_configs(settings, names, thresholds=THRESHOLDS)
    invocations = math.ceil(files / per_invocation)
    first: Counts | None = None
    steady = Counts()
    steady_files = 0
    for n in range(invocations):
        size = min(per_invocation, files - n * per_invocation)
        # Spread the invocation's files round-robin over the prefixes, as a mixed queue would.
        batch = [
            common.keys_for(names[i % prefix_count], n * per_invocation + i, 1)[0]
            for i in range(size)
        ]
        notifications = common.s3_notifications(batch)
        event = common.sqs_batch(notifications) if sqs else notifications[0]
        with counter.measure() as delta:
            common.invoke(deps, event)
        if first is None:
            first = delta
        else:
            steady.calls.update(delta.calls)
            steady.attempts += delta.attempts
            steady.items_written += delta.items_written
            steady_files += size
    assert first is not None
    return {
        "files": files,
        "notifications_per_invocation": per_invocation,
        "prefixes": prefix_count,
        "invocations": invocations,
        "first_invocation": first.as_dict(),
        "steady_files": steady_files,
        "steady": steady.as_dict(),
        "steady_per_file": _per_file(steady, steady_files) if steady_files else None,
    }


def per_batch(settings: Any, *, batch_files: int) -> dict[str, Any]:
    """The cost of one batch in a warm container: arming its age timer at its first file, then
    the flush-timer invocation that seals it, writes its manifest, loads it into the fake
    destination and records the outcome."""
    from loader.notify import build_notifier
    from tests.support.aws import Clock
    from tests.support.fakes import RecordingLoader

    counter = CallCounter()
    deps = common.container(settings, counter)
    [prefix] = common.prefixes(1)
    sns = common.session().client("sns")
    topics = {
        f"{kind}_topic_arn": sns.create_topic(Name=f"loader-{kind}")["TopicArn"]
        for kind in ("success", "failure")
    }
    common.put_configs(settings, [prefix], thresholds=THRESHOLDS, notifications=topics)
    clock = Clock(start=1_800_000_000.0)
    destination = RecordingLoader(deps.session)  # type: ignore[arg-type]
    notifier = build_notifier(deps)
    files = iter(common.keys_for(prefix, 0, 2 * batch_files + 2))

    def deliver(count: int) -> None:
        notifications = common.s3_notifications([next(files) for _ in range(count)])
        for start in range(0, count, 1000):  # an SQS event source delivers up to 10,000
            common.invoke(deps, common.sqs_batch(notifications[start : start + 1000]), clock=clock)

    def flush_timer() -> dict[str, Any]:
        """The message the flush timer sends (adapters/timers.py), once it is due."""
        batch = deps.batches.open_batch(prefix)
        assert batch is not None and batch.first_file_at is not None
        clock.advance(THRESHOLDS["max_age_seconds"] + 1)
        return {
            "loader": FLUSH_TIMER,
            "prefix": prefix,
            "batch_id": batch.batch_id,
            "due_at": batch.first_file_at + THRESHOLDS["max_age_seconds"],
        }

    def flush(timer: dict[str, Any]) -> None:
        common.invoke(
            deps, common.sqs_batch([timer]), clock=clock, loader=destination, notifier=notifier
        )

    deliver(1)  # warm the container (configuration, the prefix's open batch), then a full cycle
    flush(flush_timer())
    with counter.measure() as first_file:
        common.invoke(deps, common.s3_notifications([next(files)])[0], clock=clock)
    with counter.measure() as later_file:
        common.invoke(deps, common.s3_notifications([next(files)])[0], clock=clock)
    deliver(batch_files - 2)
    timer = flush_timer()
    batch_id = timer["batch_id"]
    with counter.measure() as flushed:
        flush(timer)
    sealed = deps.batches.get_batch(batch_id)
    assert sealed is not None and sealed.status.value == "complete", sealed
    assert len(destination.loaded[batch_id]) == batch_files
    return {
        "batch_files": sealed.file_count,
        "first_file_invocation": first_file.as_dict(),
        "later_file_invocation": later_file.as_dict(),
        "arm_timer": (first_file - later_file).as_dict(),
        "flush_invocation": flushed.as_dict(),
        "notifier": type(notifier).__name__ if notifier is not None else None,
    }


def run(*, single_files: int, sqs_sizes: list[int], rounds: int, batch_sizes: list[int]) -> Any:
    results: dict[str, Any] = {"registration": [], "per_batch": []}
    with common.moto_server() as server:
        common.quiet_loader_logs()
        scenarios: list[dict[str, Any]] = [
            {"files": single_files, "per_invocation": 1, "prefix_count": 1, "sqs": False}
        ]
        for size in sqs_sizes:
            for prefix_count in (1, 10):
                if size >= prefix_count * 10:  # at least ten files per prefix and invocation
                    scenarios.append(
                        {
                            "files": size * (rounds + 1),
                            "per_invocation": size,
                            "prefix_count": prefix_count,
                            "sqs": True,
                        }
                    )
        for scenario in scenarios:
            server.reset()
            outcome = registration(common.provision(), **scenario)
            outcome["shape"] = "SQS batch" if scenario["sqs"] else "S3 event"
            results["registration"].append(outcome)
        for size in batch_sizes:
            server.reset()
            results["per_batch"].append(per_batch(common.provision(), batch_files=size))
    return results


def report(results: dict[str, Any]) -> None:
    rows = []
    for r in results["registration"]:
        per = r["steady_per_file"] or {}
        rows.append(
            [
                r["shape"],
                r["notifications_per_invocation"],
                r["prefixes"],
                r["steady_files"],
                per.get("dynamodb_writes"),
                per.get("dynamodb_reads"),
                per.get("dynamodb_items_written"),
                per.get("aws_calls"),
                sum(ORIGINAL_PER_FILE.values()),
            ]
        )
    common.print_table(
        "Registration, steady state (per file; the first invocation of a container is apart)",
        [
            "event",
            "files/invocation",
            "prefixes",
            "files",
            "DDB writes",
            "DDB reads",
            "DDB items written",
            "AWS calls",
            "original DDB calls",
        ],
        rows,
    )
    first = results["registration"][0]["first_invocation"]["calls"]
    common.say(f"first invocation of a container (S3 event, 1 file): {first}")
    for b in results["per_batch"]:
        arm, flush = b["arm_timer"]["calls"], b["flush_invocation"]["calls"]
        common.print_table(
            f"Per batch of {b['batch_files']} files, by operation (notifier: {b['notifier']})",
            ["operation", "arm age timer (at its first file)", "flush-timer invocation"],
            [[op, arm.get(op, 0), flush.get(op, 0)] for op in sorted({*arm, *flush})],
        )
    common.say(f"original loader per batch: {ORIGINAL_PER_BATCH}")


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--single-files", type=int, default=200)
    args.add_argument("--sqs-sizes", type=int, nargs="+", default=[10, 100, 1000])
    args.add_argument("--rounds", type=int, default=3, help="steady invocations per SQS size")
    args.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    ns = args.parse_args(argv)
    params = vars(ns)
    results = run(
        single_files=ns.single_files,
        sqs_sizes=ns.sqs_sizes,
        rounds=ns.rounds,
        batch_sizes=ns.batch_sizes,
    )
    report(results)
    common.write_result("api_calls", params, results)


if __name__ == "__main__":
    main()
