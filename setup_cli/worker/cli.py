"""`loader-worker`: the loader as a long-running process (ECS, Kubernetes, local mode).

It does what the Lambda service does for the function: long-polls the notification queue and the
flush queue, hands each received batch to the same `loader.handler.handler` as an SQS event,
deletes only the messages that succeeded (`batchItemFailures`), keeps in-flight messages invisible
while a load runs (a ChangeMessageVisibility heartbeat), and runs the sweep on its own timer.
SIGTERM / SIGINT: finish the current batch, stop polling, release what was received but not
started, exit 0. A second signal exits at once. See docs/worker.md.

The loop is `setup_cli.worker.loop.Worker`; this module is its command line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence

from setup_cli.worker.decisions import WorkerOptions, WorkerSettingsError, worker_options
from setup_cli.worker.loop import Invoke, Worker
from setup_cli.worker.sqs import SqsQueues

__all__ = ["Worker", "build_worker", "main"]


# --- command line ---------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="loader-worker",
        description="Run the S3 -> Redshift loader as a long-running SQS consumer.",
    )
    add = parser.add_argument
    add(
        "--queue-url",
        dest="queue_urls",
        action="append",
        help="queue of S3 notifications (repeatable; default $LOADER_NOTIFICATION_QUEUE_URL)",
    )
    add(
        "--flush-queue-url", help="the loader's flush-timer queue (default $LOADER_FLUSH_QUEUE_URL)"
    )
    add(
        "--no-flush-queue",
        action="store_true",
        help="do not consume the flush queue (another consumer, e.g. the Lambda, does)",
    )
    add("--batch-size", type=int, help="messages per receive and per handler call, 1-10 (10)")
    add("--wait-seconds", type=int, help="long-poll wait, 0-20 (20)")
    add("--idle-sleep", type=float, help="pause after an empty short poll (1.0)")
    add(
        "--visibility-timeout",
        type=int,
        help="visibility of received messages, extended while they are processed (60)",
    )
    add("--sweep-interval", type=float, help="seconds between sweeps, 0 = never (5)")
    add("--batch-timeout", type=float, help="time budget of one handler call (900)")
    return parser.parse_args(argv)


def build_worker(options: WorkerOptions, invoke: Invoke | None = None) -> Worker:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "sqs",
        config=Config(
            retries={"mode": "standard", "max_attempts": 4},
            connect_timeout=5,
            read_timeout=options.wait_seconds + 30,
        ),
    )
    if invoke is None:
        from loader.handler import handler

        invoke = handler
    return Worker(options, SqsQueues(client, time.monotonic), invoke)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _arguments(argv)
    try:
        options = worker_options(
            os.environ if environ is None else environ,
            vars(args),
            flush_queue=not args.no_flush_queue,
        )
    except WorkerSettingsError as exc:
        print(f"loader-worker: {exc}", file=sys.stderr)
        return 2
    worker = build_worker(options)
    worker.install_signal_handlers()
    return worker.run()


if __name__ == "__main__":
    raise SystemExit(main())
