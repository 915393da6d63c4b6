"""End to end: files per second from S3 PutObject to rows committed in PostgreSQL.

The whole local stack, as `loader-admin local up` runs it: moto (server mode, loopback) with
S3 -> SQS notifications, an embedded PostgreSQL behind the Redshift stand-in (which runs the
loader's `COPY ... FROM 's3://...'`), provisioned by setup_cli.local_stack.provision; and the
production worker (`python -m setup_cli.worker`, which calls loader.handler.handler) in its own
process, short-polling the notification and flush queues (long polls would hold moto's global
request lock). The clock starts at the first PutObject and stops when the last row is visible
in the target table; the rows are then checked for exactly-once (no duplicate order ids).
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from typing import Any

from bench import common

WORKER_OPTIONS = ["--wait-seconds", "0", "--idle-sleep", "0.05", "--sweep-interval", "1"]


def _count(postgres_dsn: str, table: str) -> tuple[int, int]:
    import psycopg2

    conn = psycopg2.connect(postgres_dsn)
    try:
        with conn.cursor() as cur:
            # Both names are the sample tables' constants, never input.
            cur.execute(f"SELECT count(*), count(DISTINCT {_id_column(table)}) FROM {table}")
            total, distinct = cur.fetchone() or (0, 0)
    finally:
        conn.close()
    return int(total), int(distinct)


def _id_column(table: str) -> str:
    from setup_cli.local.samples import ID_COLUMNS

    return ID_COLUMNS[table]


def _wait_rows(dsn: str, table: str, expected: int, timeout: float) -> float:
    give_up = time.time() + timeout
    while time.time() < give_up:
        if _count(dsn, table)[0] >= expected:
            return time.time()
        time.sleep(0.05)
    raise RuntimeError(f"{table}: {_count(dsn, table)[0]} of {expected} rows after {timeout} s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "setup_cli.worker", *WORKER_OPTIONS],
        cwd=common.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)  # finishes the batch in hand, then exits
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _batch_stats(tables: dict[str, str], prefix: str) -> dict[str, Any]:
    from loader.deps import Deps
    from loader.models import BatchStatus
    from loader.settings import Settings
    from loader.tables import TableNames

    settings = Settings.from_env(
        {
            "LOADER_CONFIG_TABLE": tables["config"],
            "LOADER_BATCHES_TABLE": tables["batches"],
            "LOADER_FILES_TABLE": tables["files"],
        }
    )
    assert settings.tables == TableNames(tables["config"], tables["batches"], tables["files"])
    store = Deps(settings, common.session()).batches
    done = [b for b in store.batches_of_prefix(prefix) if b.status is BatchStatus.COMPLETE]
    loads = [b.load_duration_ms for b in done if b.load_duration_ms is not None]
    return {
        "batches_complete": len(done),
        "files_in_complete_batches": sum(b.file_count for b in done),
        "seal_reasons": sorted({b.seal_reason or "" for b in done}),
        "median_load_ms": common.median([float(v) for v in loads]),
    }


def run(*, files: int, rows: int, max_files: int, timeout: float) -> dict[str, Any]:
    from redshift_standin.testing import embedded_postgres, standin
    from setup_cli.local import samples as local_samples
    from setup_cli.local import stack as local_stack

    orders, _, clicks = local_samples.FEEDS[:3]
    with ExitStack() as stack:
        endpoint = stack.enter_context(common.moto_server()).endpoint
        postgres = stack.enter_context(embedded_postgres())
        proxy = stack.enter_context(standin(postgres, lambda: common.session().client("s3")))
        session = common.session()
        resources = local_stack.provision(
            session,
            endpoint=endpoint,
            standin=proxy,
            age_seconds=2,
            max_files=max_files,
            name="bench",
        )
        env = {
            **os.environ,
            **local_stack.aws_environment(endpoint),
            **local_stack.loader_environment(resources),
        }
        children_before = _children_cpu()  # PostgreSQL's initdb and pg_ctl ran as our children
        worker = _start_worker(env)
        stack.callback(_stop, worker)
        s3 = session.client("s3")
        # Warm-up: the worker imports, connects and loads one file of another feed first.
        warm = local_samples.sample_file(clicks, "warm-up.json", 1, 10)
        s3.put_object(Bucket=resources.bucket, Key=f"{clicks.folder}/{warm.name}", Body=warm.body)
        _wait_rows(resources.postgres_dsn, clicks.table, warm.rows, timeout=120)
        bodies = [
            local_samples.orders_csv(1 + i * rows, rows, random.Random(i)) for i in range(files)
        ]
        started, cpu = time.time(), time.process_time()
        for i, body in enumerate(bodies):
            s3.put_object(
                Bucket=resources.bucket, Key=f"{orders.folder}/part-{i:06d}.csv", Body=body
            )
        uploaded = time.time()
        finished = _wait_rows(resources.postgres_dsn, orders.table, files * rows, timeout)
        cpu = time.process_time() - cpu
        total, distinct = _count(resources.postgres_dsn, orders.table)
        stats = _batch_stats(resources.tables, resources.prefixes[orders.name])
    # The worker has been waited for by now: its whole CPU (start-up and warm-up included).
    worker_cpu = _children_cpu() - children_before
    if total != files * rows or distinct != total:
        raise RuntimeError(f"{total} rows, {distinct} distinct, expected {files * rows}")
    seconds = finished - started
    return {
        "files": files,
        "rows_per_file": rows,
        "max_files_per_batch": max_files,
        "max_age_seconds": 2,
        "worker": {"batch_size": 10, "options": WORKER_OPTIONS},
        "upload_seconds": uploaded - started,
        "seconds": seconds,
        "files_per_s": files / seconds,
        "rows_per_s": total / seconds,
        "rows": total,
        # Where the CPU went: this process runs moto, the stand-in and the uploads.
        "cpu_s_moto_standin_uploads": cpu,
        "cpu_s_worker": worker_cpu,
        "duplicate_rows": total - distinct,
        **stats,
    }


def report(results: dict[str, Any]) -> None:
    common.print_table(
        "End to end: S3 PutObject -> rows in PostgreSQL (via the Redshift stand-in)",
        [
            "files",
            "rows",
            "batches",
            "upload s",
            "seconds",
            "files/s",
            "rows/s",
            "median load ms",
            "CPU s moto+stand-in",
            "CPU s worker",
            "dupes",
        ],
        [
            [
                results["files"],
                results["rows"],
                results["batches_complete"],
                results["upload_seconds"],
                results["seconds"],
                results["files_per_s"],
                results["rows_per_s"],
                results["median_load_ms"],
                results["cpu_s_moto_standin_uploads"],
                results["cpu_s_worker"],
                results["duplicate_rows"],
            ]
        ],
    )


def main(argv: list[str] | None = None) -> None:
    args = common.parser(__doc__)
    args.add_argument("--files", type=int, default=500)
    args.add_argument("--rows", type=int, default=100, help="rows per file")
    args.add_argument("--max-files", type=int, default=100, help="the batches' max_files")
    args.add_argument("--timeout", type=float, default=600)
    ns = args.parse_args(argv)
    results = run(files=ns.files, rows=ns.rows, max_files=ns.max_files, timeout=ns.timeout)
    report(results)
    common.write_result("end_to_end", vars(ns), results)


if __name__ == "__main__":
    main()
