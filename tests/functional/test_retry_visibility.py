"""A batch that keeps failing with a retryable error is visible: the loader records the last
error and the next retry time on the batch, `batch list/show` print them with the attempts, and
`status` needs attention (exit 3) while it retries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import Result

from loader.events import parse_event
from loader.models import Batch, BatchStatus
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record
from support.fakes import RecordingLoader

PREFIX = f"{BUCKET}/events"
FIRST_BACKOFF = 30.0  # loader.decisions.retry_delay(0)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def retrying(env: Env) -> Batch:
    """One file whose load failed once with a retryable error (the target refused SSL)."""
    env.put_config(make_config(thresholds={"max_files": 1}))
    refusing = RecordingLoader(env.session, fail_with="retryable")
    record = s3_record(BUCKET, "events/a.csv", size=10)
    env.service(loader=refusing).handle(parse_event(s3_event(record)))
    [batch] = env.batches(BatchStatus.LOADING)
    return batch


def test_the_loader_records_the_last_error_and_the_next_retry(env: Env, retrying: Batch) -> None:
    assert retrying.last_error == "target unreachable"
    assert retrying.retry_at == env.clock() + FIRST_BACKOFF
    assert retrying.lease is not None and retrying.lease.expires_at == retrying.retry_at
    assert retrying.error is None  # not failed: it will be tried again


def test_batch_list_and_show_tell_attempts_last_error_and_next_retry(
    env: Env, run, retrying: Batch
) -> None:
    [listed] = as_json(run("batch", "list", "--status", "loading", "-o", "json"))
    table = run("batch", "list").stdout
    shown = run("batch", "show", retrying.batch_id).stdout

    assert listed["last_error"] == "target unreachable" and listed["load_attempts"] == 1
    assert listed["retry_at"] == "2027-01-15T08:00:30+00:00"
    [row] = [line for line in table.splitlines() if retrying.batch_id in line]
    assert "retrying: target unreachable" in row and "(in 30s)" in row
    assert "next retry" in shown and "(in 30s)" in shown
    assert "last error" in shown and "target unreachable" in shown


def test_status_needs_attention_while_a_batch_retries(env: Env, run, loader, retrying) -> None:
    # While it waits for its retry
    waiting = run("status", "-o", "json")
    report = json.loads(waiting.stdout)
    assert waiting.exit_code == 3
    assert report["prefixes"][0]["retrying"] == 1
    assert "1 batch(es) retrying after errors" in report["prefixes"][0]["problems"]
    assert "1 batch(es) retrying after errors" in run("status").stdout

    # When the backoff ends and the target accepts the load
    env.clock.advance(FIRST_BACKOFF + 1)
    env.service(loader=loader).sweep(env.clock() + 60)

    # Then it is complete, status is good again, and its attempts agree with its target's
    [done] = [b for b in env.batches(BatchStatus.COMPLETE) if b.batch_id == retrying.batch_id]
    assert done.last_error == "target unreachable"  # history: it loaded after retrying
    assert run("status").exit_code == 0
    shown = as_json(run("batch", "show", done.batch_id, "-o", "json"))
    assert shown["load_attempts"] == 2 and shown["attempts"] == 1


def test_batch_show_counts_the_first_load_as_an_attempt_as_its_target_does(env: Env, run, loader):
    env.put_config(make_config(thresholds={"max_files": 1}))
    record = s3_record(BUCKET, "events/a.csv", size=10)
    env.service(loader=loader).handle(parse_event(s3_event(record)))
    [batch] = env.batches(BatchStatus.COMPLETE)

    shown = run("batch", "show", batch.batch_id).stdout

    [header] = [line for line in shown.splitlines() if line.startswith("attempts")]
    assert header.split() == ["attempts", "1"]
