"""Local mode end to end: `python -m setup_cli.local up` in a subprocess, files dropped through
the AWS endpoint it prints, rows read back from PostgreSQL, Ctrl-C, nothing left running."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from setup_cli.local.cli import app as local_cli
from setup_cli.local.samples import CLICKS_TABLE, FEEDS, ORDERS_TABLE, sample_file
from setup_cli.local.stack import LOG_FILE, STATE_FILE, Resources, read_state
from support.local_stack import (
    child_env,
    fail_if_no_loader,
    ids_in,
    interrupt,
    process_tree,
    spawned,
    still_running,
    wait_until,
)

pytestmark = pytest.mark.timeout(150)

CSV, GZIP, JSON = FEEDS[:3]


def wait_for_state(
    data_dir: Path, process_alive: Callable[[], bool], timeout: float = 60
) -> Resources:
    def ready() -> Resources | None:
        assert process_alive(), "the local stack exited before it was ready"
        return read_state(data_dir)

    return wait_until(ready, timeout, "the local stack's state file")


def test_dropped_files_are_loaded_exactly_once_and_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    # Given a local stack started the way a developer starts it
    data_dir = tmp_path / "local"
    with spawned(["-m", "setup_cli.local", "up", "--data-dir", str(data_dir)], child_env()) as up:
        state = wait_for_state(data_dir, lambda: up.process.poll() is None)
        assert state.pid == up.pid
        assert re.match(r"^http://127\.0\.0\.1:\d+$", state.endpoint)
        tree = process_tree(up.pid, state.postgres_pid)
        up.companions = [p for p in tree if p.name() == "postgres"]
        assert up.companions, "expected the embedded PostgreSQL"

        # When CSV (plain and gzipped) and JSON files are dropped at the printed endpoint,
        # one of them twice, and one more through `local put`
        files = [
            sample_file(CSV, "orders-a.csv", 1, 12),
            sample_file(GZIP, "orders-b.csv.gz", 13, 20),
            sample_file(JSON, "clicks-a.json", 500, 15),
        ]
        s3 = boto3.client("s3", endpoint_url=state.endpoint, region_name=state.region)
        for f in files:
            s3.put_object(Bucket=state.bucket, Key=f"{f.feed.folder}/{f.name}", Body=f.body)
        again = files[0]
        s3.put_object(Bucket=state.bucket, Key=f"{again.feed.folder}/{again.name}", Body=again.body)
        extra = sample_file(JSON, "clicks-b.json", 515, 7)
        (tmp_path / extra.name).write_bytes(extra.body)
        put = CliRunner().invoke(
            local_cli, ["put", str(tmp_path / extra.name), "--data-dir", str(data_dir)]
        )
        assert put.exit_code == 0, put.output
        assert f"s3://{state.bucket}/clicks/json/clicks-b.json" in put.output

        # Then every row arrives, once
        expected_orders = list(range(1, 33))
        expected_clicks = list(range(500, 522))

        def all_loaded() -> bool:
            fail_if_no_loader(data_dir / LOG_FILE)
            return len(ids_in(state.redshift_dsn, ORDERS_TABLE, "order_id")) >= len(
                expected_orders
            ) and len(ids_in(state.redshift_dsn, CLICKS_TABLE, "click_id")) >= len(expected_clicks)

        wait_until(all_loaded, 45, "the dropped files' rows in PostgreSQL")
        time.sleep(3)  # more than an age threshold: a duplicate load would have happened by now
        assert ids_in(state.postgres_dsn, ORDERS_TABLE, "order_id") == expected_orders
        assert ids_in(state.postgres_dsn, CLICKS_TABLE, "click_id") == expected_clicks
        assert "complete" in up.output

        # When Ctrl-C is pressed
        tree = process_tree(up.pid, state.postgres_pid)
        code = interrupt(up)

    # Then it exits cleanly, leaving no process and no state file behind
    assert code == 0, up.output
    assert "Stopped." in up.output
    assert still_running(tree) == []
    assert not (data_dir / STATE_FILE).exists()


def test_the_demo_loads_its_sample_files_and_exits_zero(tmp_path: Path) -> None:
    # Given nothing running; when the README's first command runs
    data_dir = tmp_path / "demo"
    with spawned(
        ["-m", "setup_cli.local", "up", "--demo", "--data-dir", str(data_dir)], child_env()
    ) as demo:
        state = wait_for_state(data_dir, lambda: demo.process.poll() is None)
        tree = process_tree(demo.pid, state.postgres_pid)
        demo.companions = [p for p in tree if p.name() == "postgres"]
        code = demo.wait(90)

    # Then it reports the row counts it loaded, exits 0 and leaves nothing running
    fail_if_no_loader(data_dir / LOG_FILE)
    assert code == 0, demo.output
    assert re.search(r"public\.orders: 130 rows \(130 distinct ids, expected 130\) ok", demo.output)
    assert re.search(r"public\.clicks: 105 rows \(105 distinct ids, expected 105\) ok", demo.output)
    assert "Demo complete" in demo.output
    assert still_running(tree) == []
