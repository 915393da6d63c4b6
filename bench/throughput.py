"""Registration throughput: files registered per second by 1 and 4 worker processes.

The moto server runs in this process; workers are separate processes (spawned, so each is a
clean interpreter like a Lambda container) that build their events, warm their clients, wait at a
barrier, then register their share of the files. Registration only: the size threshold is never
reached, so nothing is sealed. Besides files/s, it reports the CPU the workers spent per file (what
Lambda would bill, independent of moto's speed) and the CPU moto spent serving them.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import TYPE_CHECKING, Any

from bench import common

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier

    from loader.settings import Settings

SHAPES = {"sqs100": 100, "s3": 1}
"""Notifications per Lambda invocation: SQS batches of 100, or S3 invoking Lambda per object."""


def _events(shape: str, prefix_count: int, first: int, last: int) -> list[dict[str, Any]]:
    names = common.prefixes(prefix_count)
    # Round-robin over the prefixes: with 100 prefixes an SQS batch of 100 holds one file of each.
    files = [common.keys_for(names[i % prefix_count], i, 1)[0] for i in range(first, last)]
    notifications = common.s3_notifications(files)
    per = SHAPES[shape]
    if per == 1:
        return notifications
    return [common.sqs_batch(notifications[i : i + per]) for i in range(0, len(notifications), per)]


def _worker(
    settings: Settings,
    shape: str,
    prefix_count: int,
    first: int,
    last: int,
    barrier: Barrier,
    out: Any,
) -> None:
    common.quiet_loader_logs()
    events = _events(shape, prefix_count, first, last)
    deps = common.container(settings)
    deps.configs.current(time.time())  # a warm container: clients built, configuration cached
    barrier.wait()
    cpu, started = time.process_time(), time.time()
    registered = 0
    for event in events:
        registered += common.invoke(deps, event).registered
    out.put(
        {
            "registered": registered,
            "started": started,
            "finished": time.time(),
            "cpu_s": time.process_time() - cpu,
        }
    )


def measure(
    settings: Settings, *, files: int, shape: str, prefix_count: int, processes: int
) -> dict[str, Any]:
    common.put_configs(settings, common.prefixes(prefix_count), thresholds={"max_files": 1_000_000})
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    out = ctx.Queue()
    bounds = [files * i // processes for i in range(processes + 1)]
    workers = [
        ctx.Process(
            target=_worker,
            args=(settings, shape, prefix_count, bounds[i], bounds[i + 1], barrier, out),
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=120)
        server_cpu = time.process_time()
        reports = [out.get(timeout=3600) for _ in workers]
        server_cpu = time.process_time() - server_cpu
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    registered = sum(r["registered"] for r in reports)
    if registered != files:
        raise RuntimeError(f"registered {registered} of {files} files")
    wall = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    return {
        "shape": shape,
        "notifications_per_invocation": SHAPES[shape],
        "prefixes": prefix_count,
        "processes": processes,
        "files": files,
        "wall_s": wall,
        "files_per_s": files / wall,
        "worker_cpu_ms_per_file": 1000 * sum(r["cpu_s"] for r in reports) / files,
        "moto_cpu_ms_per_file": 1000 * server_cpu / files,
    }


def run(*, files: int, shapes: list[str], prefix_counts: list[int], processes: list[int]) -> Any:
    results = []
    with common.moto_server() as server:
        for shape in shapes:
            for prefix_count in prefix_counts:
                for count in processes:
                    server.reset()
                    row = measure(
                        common.provision(),
                        files=files,
                        shape=shape,
                        prefix_count=prefix_count,
                        processes=count,
                    )
                    common.say(
                        f"  {shape:7} prefixes={prefix_count:<4} processes={count}: "
                        f"{row['files_per_s']:.0f} files/s"
                    )
                    results.append(row)
    return results


def report(results: list[dict[str, Any]]) -> None:
    common.print_table(
        "Registration throughput (moto server on loopback, requests serialized)",
        [
            "files/invocation",
            "prefixes",
            "processes",
            "files",
            "files/s",
            "worker CPU ms/file",
            "moto CPU ms/file",
        ],
        [
            [
                r["notifications_per_invocation"],
                r["prefixes"],
                r["processes"],
                r["files"],
                r["files_per_s"],
                r["worker_cpu_ms_per_file"],
                r["moto_cpu_ms_per_file"],
            ]
            for r in results
        ],
    )


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--files", type=int, default=2000)
    args.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=["sqs100", "s3"])
    args.add_argument("--prefixes", type=int, nargs="+", default=[1, 100])
    args.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    ns = args.parse_args(argv)
    results = run(
        files=ns.files, shapes=ns.shapes, prefix_counts=ns.prefixes, processes=ns.processes
    )
    report(results)
    common.write_result("throughput", vars(ns), results)


if __name__ == "__main__":
    main()
