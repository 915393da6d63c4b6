"""`loader-admin local`: the whole loader on this machine, nothing in AWS.

    loader-admin local up [--demo] [--data-dir DIR] [--port N]
    loader-admin local put FILE...

`up` starts moto (server mode, 127.0.0.1), an embedded PostgreSQL behind the Redshift stand-in,
provisions tables, a landing bucket with S3 -> SQS notifications, the flush queue, outcome topics
and sample prefix configurations, then runs the production worker (`setup_cli.worker`, the same
`loader.handler`) in this process. Ctrl-C stops everything. `--demo` drops sample files, waits
until they are loaded, prints the row counts and exits.

Also runnable as `python -m setup_cli.local up --demo`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from setup_cli.local.env import DEFAULT_DATA_DIR
from setup_cli.local.samples import (
    FEEDS,
    ID_COLUMNS,
    SampleFile,
    demo_files,
    expected_rows,
    feed_for,
)
from setup_cli.local.stack import LOG_FILE, REGION, LocalStack, Resources, read_state
from setup_cli.output import examples

if TYPE_CHECKING:
    from loader.deps import Deps
    from setup_cli.local.display import Watcher
    from setup_cli.worker.loop import Worker

app = typer.Typer(
    name="local",
    help="Run the loader locally (moto + embedded PostgreSQL behind a Redshift stand-in).",
    no_args_is_help=True,
    add_completion=False,
)

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", help="state file, logs and sample files (env LOADER_LOCAL_DIR)"),
]


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)  # log files and pipes: do not wrap at 80
    return console


# --- up -------------------------------------------------------------------------------------


@app.command(
    epilog=examples(
        "loader-admin local up --demo   (sample files in, rows shown, then keeps running)",
        "loader-admin local up --data-dir /tmp/loader-local",
    )
)
def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="drop sample files, wait, report, exit")
    ] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Annotated[
        int, typer.Option("--port", help="AWS endpoint port on 127.0.0.1 (0: any free port)")
    ] = 0,
    age_seconds: Annotated[
        int, typer.Option("--age-seconds", help="seal a batch this long after its first file")
    ] = 2,
    timeout: Annotated[
        float, typer.Option("--timeout", help="--demo: give up after this many seconds")
    ] = 45.0,
) -> None:
    """Start the local stack and the worker; with --demo, load sample files and exit."""
    console = _console()
    stop = _stop_on_signals()
    started = time.monotonic()
    console.print("Starting moto, PostgreSQL and the Redshift stand-in on 127.0.0.1 ...")
    stack = LocalStack(data_dir, port=port, age_seconds=age_seconds)
    code = 0
    try:
        resources = stack.start()
    except OSError as exc:  # most often: --port is taken
        console.print(f"[red]Could not start the local stack:[/] {exc}")
        raise typer.Exit(1) from None
    with contextlib.closing(stack):
        _log_to_file(data_dir / LOG_FILE)
        worker, thread = _start_worker()
        try:
            stack.publish()
            _banner(console, resources, data_dir, time.monotonic() - started)
            if demo:
                code = _demo(console, resources, data_dir, stop, timeout, started)
            else:
                _watch(console, resources, stop)
        finally:
            console.print("Stopping ...")
            worker.stop("local stack stopping")
            thread.join(30)
    console.print("Stopped.")
    raise typer.Exit(code)


def _stop_on_signals() -> threading.Event:
    """First Ctrl-C / SIGTERM: stop cleanly. A second one: the default action."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _log_to_file(path: Path) -> None:
    """The loader's JSON logs go to a file, at INFO (whatever `loader-admin` set for the
    terminal), so the terminal shows the batches."""
    from loader.log import logger

    handler = logger.registered_handler
    if hasattr(handler, "setStream"):
        handler.setStream(path.open("a", encoding="utf-8"))
    logger.setLevel(logging.INFO)


def _start_worker() -> tuple[Worker, threading.Thread]:
    from loader.handler import handler
    from loader.runtime import reset
    from setup_cli.worker.cli import build_worker
    from setup_cli.worker.decisions import worker_options

    reset()  # the runtime reads the environment LocalStack just set
    # moto serves one request at a time: a long poll would hold every other call, so poll short.
    options = worker_options(
        os.environ,
        # An idle stack should stay idle: poll every half second, sweep every five.
        {"wait_seconds": 0, "idle_sleep": 0.5, "sweep_interval": 5.0, "visibility_timeout": 30},
    )
    worker = build_worker(options, handler)
    thread = threading.Thread(target=worker.run, name="worker", daemon=True)
    thread.start()
    return worker, thread


def _banner(console: Console, r: Resources, data_dir: Path, took: float) -> None:
    console.print(f"[bold green]Local loader ready[/] in {took:.1f} s (pid {os.getpid()})")
    console.print(f"  AWS endpoint   {r.endpoint}   (region {r.region}, any credentials)")
    console.print(f"  landing bucket s3://{r.bucket}")
    for feed in FEEDS:
        console.print(
            f"    {r.prefixes[feed.name]:<42} {'/'.join(feed.suffixes):<22} -> {feed.table}"
        )
    console.print(f"  Redshift       {r.redshift_dsn}")
    console.print(f"  state file     {data_dir / 'state.json'}   logs {data_dir / LOG_FILE}")
    console.print("Drop files in with either of:")
    console.print(f"  aws s3 cp orders.csv s3://{r.bucket}/orders/csv/ --endpoint-url {r.endpoint}")
    console.print(f"  loader-admin local put orders.csv clicks.json --data-dir {data_dir}")


def _watcher(console: Console, r: Resources) -> tuple[Watcher, Deps]:
    import boto3

    from loader.deps import Deps
    from loader.settings import Settings
    from setup_cli.local.display import Watcher
    from setup_cli.worker.sqs import SqsQueues

    deps = Deps(Settings.from_env())
    queues = SqsQueues(boto3.client("sqs", region_name=r.region), time.time)
    return Watcher(deps, queues, r.outcomes_queue_url, console), deps


def _watch(console: Console, r: Resources, stop: threading.Event) -> None:
    from setup_cli.local.display import batch_table

    watcher, _ = _watcher(console, r)
    console.print("Watching batches (Ctrl-C to stop) ...")
    if not console.is_terminal:
        while not stop.wait(0.5):
            watcher.refresh()
        return
    with Live(batch_table([], time.time()), console=console, refresh_per_second=4) as live:
        while not stop.wait(0.5):
            live.update(batch_table(watcher.refresh(), time.time()))


# --- the demo -------------------------------------------------------------------------------


def _demo(
    console: Console,
    r: Resources,
    data_dir: Path,
    stop: threading.Event,
    timeout: float,
    started: float,
) -> int:
    from setup_cli.local.display import batch_table

    files = demo_files()
    urls = _drop(r, files, data_dir / "samples")
    console.print(f"Dropped {len(files)} sample files into s3://{r.bucket}:")
    for f in files:
        console.print(f"  {f.feed.folder}/{f.name:<28} {len(f.body):>6} bytes  {f.rows} rows")
    watcher, deps = _watcher(console, r)
    waited = _wait_for(urls, deps, watcher, stop, timeout)
    console.print(batch_table(watcher.refresh(), time.time()))
    counts = _row_counts(r)
    wanted = expected_rows(files)
    for table, expected in wanted.items():
        rows, distinct = counts.get(table, (0, 0))
        mark = "[green]ok[/]" if rows == distinct == expected else "[red]MISMATCH[/]"
        console.print(
            f"  {table}: {rows} rows ({distinct} distinct ids, expected {expected}) {mark}"
        )
    ok = waited is None and all(counts.get(t, (0, 0)) == (n, n) for t, n in wanted.items())
    took = time.monotonic() - started
    if ok:
        console.print(
            f"[bold green]Demo complete[/]: {len(files)} files loaded exactly once in {took:.1f} s."
        )
        return 0
    console.print(f"[bold red]Demo failed[/] after {took:.1f} s: {waited or 'row counts differ'}")
    return 1


def _drop(r: Resources, files: list[SampleFile], folder: Path) -> list[str]:
    import boto3

    folder.mkdir(parents=True, exist_ok=True)
    s3 = boto3.client("s3", endpoint_url=r.endpoint, region_name=r.region)
    urls = []
    for f in files:
        (folder / f.name).write_bytes(f.body)
        key = f"{f.feed.folder}/{f.name}"
        s3.put_object(Bucket=r.bucket, Key=key, Body=f.body)
        urls.append(f"s3://{r.bucket}/{key}")
    return urls


def _wait_for(
    urls: list[str], deps: Deps, watcher: Watcher, stop: threading.Event, timeout: float
) -> str | None:
    """Wait until every file's batch is complete. None when done, else why not."""
    from loader.models import BatchStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        watcher.refresh()
        statuses = []
        for url in urls:
            record = deps.batches.get_file(url)
            batch = deps.batches.get_batch(record.batch_id) if record else None
            statuses.append(batch.status if batch else None)
        if BatchStatus.ERROR in statuses:
            return "a batch failed (see the table above and the log)"
        if all(s is BatchStatus.COMPLETE for s in statuses):
            return None
        time.sleep(0.3)
    return "interrupted" if stop.is_set() else f"not loaded within {timeout:.0f} s"


def _row_counts(r: Resources) -> dict[str, tuple[int, int]]:
    """table -> (rows, distinct ids), read through the stand-in as a Redshift client would."""
    import psycopg2

    counts = {}
    conn = psycopg2.connect(r.redshift_dsn)
    try:
        with conn.cursor() as cur:
            for table in r.target_tables:
                column = ID_COLUMNS[table]
                cur.execute(f"SELECT count(*), count(DISTINCT {column}) FROM {table}")
                rows, distinct = cur.fetchone() or (0, 0)
                counts[table] = (int(rows), int(distinct))
    finally:
        conn.close()
    return counts


# --- put ------------------------------------------------------------------------------------


@app.command(
    epilog=examples(
        "loader-admin local put orders.csv clicks.json",
        "loader-admin local put export.txt --feed orders-csv",
    )
)
def put(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CSV (.csv, .csv.gz), JSON (.json), Parquet (.parquet) or ORC (.orc) files",
            exists=True,
            dir_okay=False,
        ),
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    feed: Annotated[
        str | None,
        typer.Option(
            "--feed",
            help="orders-csv, orders-gzip, clicks-json, orders-parquet or orders-orc "
            "(default: by suffix)",
        ),
    ] = None,
) -> None:
    """Upload files into the running local stack's landing bucket."""
    import boto3

    console = _console()
    resources = read_state(data_dir)
    if resources is None:
        console.print(
            f"[red]No local stack is running with data dir {data_dir}[/] "
            "(start one: loader-admin local up)"
        )
        raise typer.Exit(1)
    by_name = {f.name: f for f in FEEDS}
    if feed is not None and feed not in by_name:
        console.print(f"[red]Unknown feed {feed!r}[/]; use one of {', '.join(by_name)}")
        raise typer.Exit(2)
    s3 = boto3.client(
        "s3",
        endpoint_url=resources.endpoint,
        region_name=resources.region or REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for path in files:
        chosen = by_name[feed] if feed else feed_for(path.name)
        if chosen is None:
            console.print(f"[red]{path}: no feed for this suffix[/]; pass --feed")
            raise typer.Exit(2)
        key = f"{chosen.folder}/{path.name}"
        s3.upload_file(str(path), resources.bucket, key)
        console.print(f"s3://{resources.bucket}/{key} -> {chosen.table}")


# --- env ------------------------------------------------------------------------------------


@app.command(
    epilog=examples(
        'eval "$(loader-admin local env)"; loader-admin batch list; aws s3 ls',
        "loader-admin --local batch list   (the same, for one command)",
    )
)
def env(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Print the shell exports (endpoint, fake credentials, region, table names) that point
    `aws` and `loader-admin` at the running local stack."""
    from setup_cli.local.env import export_lines, running_stack

    for line in export_lines(running_stack(data_dir)):
        typer.echo(line)


if __name__ == "__main__":
    app()
