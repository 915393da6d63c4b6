"""Exactly once through crashes, retries and reprocessing; every way to log in; deadlines."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest
from e2e.stack import Stack

from loader.errors import LeaseLostError, RetryableError
from loader.loading.credentials import Credentials
from loader.loading.job import TargetJob
from loader.loading.targets.data_api import DataApiAdapter
from loader.log import logger
from loader.models import BatchStatus

KINDS = ["redshift", "data_api", "postgres"]
EXPECTED = [(1, "a"), (2, "b"), (3, "c")]


class Crash(BaseException):
    """The Lambda dying: nothing in the loader catches it."""


def two_files(stack: Stack) -> list[dict[str, Any]]:
    return [stack.put("in/a.csv", "1,a\n2,b\n"), stack.put("in/b.csv", "3,c\n")]


@pytest.mark.parametrize("kind", KINDS)
def test_a_crash_after_the_commit_is_recovered_by_the_sweep_without_duplicates(
    stack: Stack, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a worker that dies right after the target committed, before DynamoDB hears of it
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target(kind, table))
    store = stack.env.deps.batches

    def die(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(store, "set_target_state", die)
    with pytest.raises(Crash):
        stack.deliver(*two_files(stack))
    assert stack.rows(table) == EXPECTED  # committed
    assert stack.only_batch().status is BatchStatus.LOADING
    assert stack.only_batch().targets == {}  # ... but not recorded

    # WHEN the lease expires and the sweep takes the batch over
    monkeypatch.undo()
    stack.env.clock.advance(stack.env.settings.lease_seconds + 1)
    stack.sweep()

    # THEN the target's ledger recognises the batch: complete, rows loaded once
    batch = stack.batch(BatchStatus.COMPLETE)
    assert batch.attempts == 1
    assert batch.targets["warehouse"].rows == 3
    assert stack.rows(table) == EXPECTED
    assert stack.ledger(batch.batch_id) == [("warehouse", 2, 3)]


def test_a_crash_before_complete_skips_the_recorded_target_on_retry(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target("redshift", table))
    store = stack.env.deps.batches
    real = store.transition

    def die_on_complete(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("wanted") is BatchStatus.COMPLETE:
            raise Crash
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "transition", die_on_complete)
    with pytest.raises(Crash):
        stack.deliver(*two_files(stack))
    monkeypatch.undo()

    stack.env.clock.advance(stack.env.settings.lease_seconds + 1)
    stack.sweep()

    assert stack.batch(BatchStatus.COMPLETE).targets["warehouse"].status == "loaded"
    assert stack.rows(table) == EXPECTED


@pytest.mark.parametrize("kind", KINDS)
def test_a_transient_failure_is_rolled_back_and_retried(stack: Stack, kind: str) -> None:
    # GIVEN pre_sql that fails once like a serialization conflict (a sequence is not rolled back)
    table = stack.table("id int, name varchar(10)")
    sequence = f"s_{uuid.uuid4().hex[:8]}"
    stack.sql(f"CREATE SEQUENCE {sequence}")
    # Over the Data API Redshift reports no SQLSTATE, only its text.
    errcode = "XX000" if kind == "data_api" else "40001"
    pre_sql = (
        f"DO $$ BEGIN IF nextval('{sequence}') = 1 THEN RAISE EXCEPTION "
        f"'Serializable isolation violation on table {table}' USING ERRCODE = '{errcode}'; "
        "END IF; END $$"
    )
    stack.config(stack.target(kind, table, pre_sql=pre_sql))

    stack.deliver(*two_files(stack))

    batch = stack.batch(BatchStatus.COMPLETE)
    assert batch.targets["warehouse"].attempts == 2
    assert stack.rows(table) == EXPECTED
    stack.sql(f"DROP SEQUENCE {sequence}")


@pytest.mark.parametrize("kind", ["redshift", "postgres"])
def test_a_permission_error_is_not_retried(stack: Stack, kind: str) -> None:
    table = stack.table("id int, name varchar(10)")
    pre_sql = "DO $$ BEGIN RAISE EXCEPTION 'permission denied' USING ERRCODE = '42501'; END $$"
    stack.config(stack.target(kind, table, pre_sql=pre_sql))

    stack.deliver(*two_files(stack))

    batch = stack.batch(BatchStatus.ERROR)
    assert batch.error_kind == "terminal"
    assert batch.targets["warehouse"].attempts == 1
    assert "[42501] permission denied" in batch.error


def test_two_targets_one_failing_then_fixed_and_reprocessed_load_each_once(stack: Stack) -> None:
    # GIVEN two targets, the second with a column type that rejects the data
    good = stack.table("id int, name varchar(10)")
    broken = stack.table("id int, name int")
    config = stack.config(
        stack.target("redshift", good, name="primary"),
        stack.target("data_api", broken, name="replica"),
    )
    stack.deliver(*two_files(stack))
    failed = stack.batch(BatchStatus.ERROR)
    assert failed.targets["primary"].status == "loaded"
    assert failed.targets["replica"].status == "failed"
    assert stack.rows(good) == EXPECTED and stack.rows(broken) == []

    # WHEN the operator fixes the table and reprocesses the batch
    stack.sql(f"ALTER TABLE {broken} ALTER COLUMN name TYPE varchar(10)")
    store, clock = stack.env.deps.batches, stack.env.clock
    resealed = store.transition(
        failed.batch_id,
        owner="operator",
        current=BatchStatus.ERROR,
        wanted=BatchStatus.SEALED,
        now=clock(),
        lease_seconds=300,
    )
    done = stack.processor().run(config, resealed, "operator", clock() + 600)

    # THEN both tables hold the rows once
    assert done.status is BatchStatus.COMPLETE
    assert stack.rows(good) == EXPECTED
    assert stack.rows(broken) == EXPECTED
    assert stack.ledger(done.batch_id) == [("primary", 2, 3), ("replica", 2, 3)]


@pytest.mark.parametrize("auth", ["iam", "kms_password"])
def test_the_redshift_target_logs_in_with_temporary_or_encrypted_credentials(
    stack: Stack, auth: str
) -> None:
    session = stack.env.session
    if auth == "iam":
        session.client("redshift").create_cluster(
            ClusterIdentifier="local",
            NodeType="ra3.xlplus",
            MasterUsername="admin",
            MasterUserPassword="Passw0rd!",
        )
        extra: dict[str, Any] = {"auth": "iam", "cluster_identifier": "local", "user": "loader"}
    else:
        kms = session.client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        # Encrypted the way the original loader did it: with its encryption context.
        blob = kms.encrypt(
            KeyId=key,
            Plaintext=b"not-a-real-password",
            EncryptionContext={"module": "AWSLambdaRedshiftLoader", "region": "us-east-1"},
        )["CiphertextBlob"]
        extra = {
            "auth": "kms_password",
            "user": "postgres",
            "encrypted_password": base64.b64encode(blob).decode(),
        }
    table = stack.table("id int, name varchar(10)")
    target = stack.target("redshift", table) | extra
    target.pop("secret_arn")
    stack.config(target)

    stack.deliver(*two_files(stack))

    assert stack.rows(table) == EXPECTED


def slow_data_api_job(stack: Stack, budget: float, heartbeat: Any) -> tuple[TargetJob, str]:
    """A Data API attempt whose transaction sleeps 30 s, and the table it loads."""
    table = stack.table("id int, name varchar(10)")
    config = stack.config(stack.target("data_api", table, pre_sql="SELECT pg_sleep(30)"))
    stack.deliver(two_files(stack)[0])  # one file: below the threshold, the batch stays open
    job = TargetJob(
        config=config,
        target=config.targets[0],
        batch=stack.only_batch(),
        manifest_url=f"s3://{config.manifest.bucket}/manifests/none.json",
        now=time.time(),
        budget_seconds=budget,
        timeout_ms=60_000,
        heartbeat=heartbeat,
    )
    return job, table


def sleeping_statements(stack: Stack) -> set[str]:
    """Statuses of the submitted transactions that sleep, once none is running any more."""
    deadline = time.monotonic() + 5
    while True:
        statuses = {
            s["Status"]
            for s in stack.data_api.list_statements()["Statements"]
            if any("pg_sleep" in q for q in s.get("QueryStrings", []))
        }
        if not statuses & {"SUBMITTED", "PICKED", "STARTED"} or time.monotonic() > deadline:
            return statuses
        time.sleep(0.05)


def test_a_data_api_statement_still_running_at_the_deadline_is_cancelled(stack: Stack) -> None:
    # GIVEN a load whose transaction takes far longer than the attempt may
    job, table = slow_data_api_job(stack, budget=0.5, heartbeat=lambda: None)
    adapter = DataApiAdapter(stack.env.deps.data_api, Credentials(stack.env.deps))

    # WHEN the attempt runs out of time
    started = time.monotonic()
    with pytest.raises(RetryableError, match="cancelled"):
        adapter.load(job)

    # THEN it gave up on time and the statement was cancelled, not left running
    assert time.monotonic() - started < 5
    assert sleeping_statements(stack) == {"ABORTED"}
    assert stack.rows(table) == []


def test_a_data_api_load_that_loses_its_lease_cancels_its_statement(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def taken_over() -> None:
        # Only once the load itself is running (not while the ledger is looked up).
        if any(
            s.get("IsBatchStatement") and "pg_sleep" in str(s.get("QueryStrings"))
            for s in stack.data_api.list_statements()["Statements"]
        ):
            raise LeaseLostError("another worker holds the batch")

    monkeypatch.setattr("loader.loading.targets.data_api.HEARTBEAT_SECONDS", 0.0)
    job, table = slow_data_api_job(stack, budget=60, heartbeat=taken_over)
    adapter = DataApiAdapter(stack.env.deps.data_api, Credentials(stack.env.deps))

    with pytest.raises(LeaseLostError):
        adapter.load(job)

    assert sleeping_statements(stack) == {"ABORTED"}
    assert stack.rows(table) == []


@pytest.mark.parametrize("kind", ["redshift", "data_api"])
def test_copy_credentials_never_reach_logs_batches_or_messages(
    stack: Stack, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN COPY authorized with the function's own credentials, and a load that fails
    secret = stack.env.session.get_credentials().get_frozen_credentials().secret_key
    assert len(secret) >= 8
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target(kind, table, copy_authorization={"lambda_credentials": True}))

    stack.deliver(stack.put("in/a.csv", "1,a\n"), stack.put("in/b.csv", "x,b\n"))

    batch = stack.batch(BatchStatus.ERROR)
    [message] = stack.failure_messages()
    # The log lines as the Lambda writes them (JSON, every field), not just their messages.
    logs = "\n".join(logger.registered_formatter.format(r) for r in caplog.records)
    assert '"message":"target_failed"' in logs
    for text in (logs, str(message), batch.model_dump_json()):
        assert secret not in text
