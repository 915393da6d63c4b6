"""Automatic recovery of failed batches, after-load actions and EMF metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loader.events import parse_event
from loader.models import BatchStatus
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record
from support.fakes import RecordingLoader


def put_files(env: Env, n: int) -> list[dict[str, Any]]:
    s3 = env.session.client("s3")
    records = []
    for i in range(n):
        key = f"events/f{i}.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"1,a\n")
        records.append(s3_record(BUCKET, key, size=4))
    return records


def sweep(env: Env, loader: RecordingLoader) -> None:
    env.service(loader=loader).handle(parse_event({"loader": "sweep"}))


def test_a_transient_failure_is_retried_with_backoff_until_it_succeeds(env: Env) -> None:
    flaky = RecordingLoader(env.session, fail_with="retryable")
    env.put_config(make_config(thresholds={"max_files": 2}))
    env.service(loader=flaky).handle(parse_event(s3_event(*put_files(env, 2))))
    [batch] = env.batches(BatchStatus.LOADING)
    # The lease was shortened to the first backoff (30 s), not left at the full lease.
    assert batch.lease.expires_at == pytest.approx(env.clock.now + 30)

    env.clock.advance(10)
    sweep(env, flaky)  # too early: still within the backoff
    assert env.deps.batches.get_batch(batch.batch_id).attempts == 0

    flaky.fail_with = None
    env.clock.advance(21)
    sweep(env, flaky)

    done = env.deps.batches.get_batch(batch.batch_id)
    assert done.status is BatchStatus.COMPLETE and done.attempts == 1


def test_a_transient_failure_that_persists_is_reported_after_the_last_attempt(env: Env) -> None:
    flaky = RecordingLoader(env.session, fail_with="retryable")
    env.put_config(make_config(thresholds={"max_files": 1}))
    env.service(loader=flaky).handle(parse_event(s3_event(*put_files(env, 1))))
    [batch] = env.batches(BatchStatus.LOADING)

    for _ in range(env.settings.max_load_attempts):
        env.clock.advance(901)
        sweep(env, flaky)

    failed = env.deps.batches.get_batch(batch.batch_id)
    assert failed.status is BatchStatus.ERROR
    assert failed.error_kind == "retryable"
    assert failed.attempts == env.settings.max_load_attempts - 1


def test_a_permanent_failure_is_reported_at_once(env: Env) -> None:
    broken = RecordingLoader(env.session, fail_with="terminal")
    env.put_config(make_config(thresholds={"max_files": 1}))

    env.service(loader=broken).handle(parse_event(s3_event(*put_files(env, 1))))

    [batch] = env.batches(BatchStatus.ERROR)
    assert batch.error_kind == "terminal" and batch.attempts == 0


@pytest.mark.parametrize("action", ["tag", "archive", "delete"])
def test_after_load_actions_apply_only_once_the_batch_is_complete(env: Env, action: str) -> None:
    after_load: dict[str, Any] = {"action": action}
    if action == "archive":
        after_load["archive_prefix"] = f"{BUCKET}/archive"
    env.put_config(make_config(thresholds={"max_files": 2}, after_load=after_load))
    s3 = env.session.client("s3")

    # A failed batch leaves its files alone.
    broken = RecordingLoader(env.session, fail_with="terminal")
    env.service(loader=broken).handle(parse_event(s3_event(*put_files(env, 2))))
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {"events/f0.csv", "events/f1.csv"}
    assert s3.get_object_tagging(Bucket=BUCKET, Key="events/f0.csv")["TagSet"] == []

    # A complete batch gets the action.
    records = [s3_record(BUCKET, f"events/g{i}.csv", size=4) for i in range(2)]
    for r in records:
        s3.put_object(
            Bucket=BUCKET, Key=r["s3"]["object"]["key"], Body=b"1,a\n", Tagging="team=data"
        )
    env.service(loader=RecordingLoader(env.session)).handle(parse_event(s3_event(*records)))

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    if action == "tag":
        tags = s3.get_object_tagging(Bucket=BUCKET, Key="events/g0.csv")["TagSet"]
        assert {(t["Key"], t["Value"]) for t in tags} == {
            ("team", "data"),
            ("s3-redshift-loader", "loaded"),
        }
    elif action == "archive":
        assert "events/g0.csv" not in keys and "archive/events/g0.csv" in keys
    else:
        assert "events/g0.csv" not in keys and "events/g1.csv" not in keys
    assert "events/f0.csv" in keys


def test_an_archive_prefix_inside_the_watched_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="inside the watched prefix"):
        make_config(after_load={"action": "archive", "archive_prefix": f"{BUCKET}/events/done"})


def test_batch_outcomes_are_emitted_as_embedded_metric_format_lines(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    from loader import metrics

    metrics.flush()  # drop what earlier tests counted in this process
    capsys.readouterr()
    env.put_config(make_config(thresholds={"max_files": 2}))
    env.service(loader=RecordingLoader(env.session)).handle(
        parse_event(s3_event(*put_files(env, 2)))
    )
    metrics.flush()

    lines = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]
    emitted = {
        m["Name"]: line for line in lines for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert emitted["BatchesLoaded"]["BatchesLoaded"] == [1.0]
    assert emitted["FilesLoaded"]["FilesLoaded"] == [2.0]
    assert (
        emitted["LoadDuration"]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "S3RedshiftLoader"
    )
    assert emitted["BatchesLoaded"]["service"] == "s3-redshift-loader"


def failure_notification(batch_id: str) -> dict[str, Any]:
    """What SNS delivers to an SQS subscriber of the failure topic (raw delivery off)."""
    from support.events import sns_envelope

    return sns_envelope(
        {
            "schema": "s3-redshift-loader/batch-outcome/1",
            "status": "error",
            "batch_id": batch_id,
            "prefix": f"{BUCKET}/events",
        }
    )


def test_a_failure_notification_routed_back_reprocesses_the_batch_once_fixed(env: Env) -> None:
    from support.events import sqs_event

    loader = RecordingLoader(env.session, fail_with="terminal")
    env.put_config(make_config(thresholds={"max_files": 2}))
    env.service(loader=loader).handle(parse_event(s3_event(*put_files(env, 2))))
    [failed] = env.batches(BatchStatus.ERROR)

    loader.fail_with = None  # the operator fixed the cause
    response = (
        env.service(loader=loader)
        .handle(parse_event(sqs_event(failure_notification(failed.batch_id))))
        .as_response(True)
    )

    assert response == {"batchItemFailures": []}
    done = env.deps.batches.get_batch(failed.batch_id)
    assert done.status is BatchStatus.COMPLETE and done.auto_reprocessed == 1
    assert sorted(loader.loaded[failed.batch_id]) == [
        f"s3://{BUCKET}/events/f0.csv",
        f"s3://{BUCKET}/events/f1.csv",
    ]


def test_automatic_reprocessing_stops_after_its_limit(env: Env) -> None:
    from support.events import sqs_event

    loader = RecordingLoader(env.session, fail_with="terminal")
    env.put_config(make_config(thresholds={"max_files": 1}))
    env.service(loader=loader).handle(parse_event(s3_event(*put_files(env, 1))))
    [failed] = env.batches(BatchStatus.ERROR)

    for _ in range(env.settings.max_auto_reprocess + 2):  # each failure notifies again
        env.service(loader=loader).handle(
            parse_event(sqs_event(failure_notification(failed.batch_id)))
        )

    batch = env.deps.batches.get_batch(failed.batch_id)
    assert batch.status is BatchStatus.ERROR
    assert batch.auto_reprocessed == env.settings.max_auto_reprocess


@pytest.mark.parametrize("suppress", [False, True])
def test_a_direct_invocation_fails_when_its_batch_failed_unless_suppressed(
    env: Env, monkeypatch: pytest.MonkeyPatch, suppress: bool
) -> None:
    import dataclasses

    from loader import runtime

    topic = env.session.client("sns").create_topic(Name="failures")["TopicArn"]
    settings = dataclasses.replace(
        env.settings, suppress_failure_status=suppress, default_failure_topic_arn=topic
    )
    env.deps.settings = settings
    env.put_config(make_config(thresholds={"max_files": 1}))
    monkeypatch.setattr(runtime, "_deps", env.deps)
    monkeypatch.setattr(
        runtime,
        "build_service",
        lambda d, request_id=None: env.service(
            loader=RecordingLoader(env.session, fail_with="terminal")
        ),
    )
    event = s3_event(*put_files(env, 1))

    if suppress:
        assert runtime.handle(event, None)["failed_batches"]
    else:
        with pytest.raises(runtime.BatchLoadError):
            runtime.handle(event, None)
    assert len(env.batches(BatchStatus.ERROR)) == 1


def test_with_metrics_disabled_nothing_is_collected_or_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """loader-admin disables metrics and never flushes: Powertools would still collect them and
    print a metric by itself once it holds 100 values, into the command's JSON output."""
    from loader import metrics

    metrics.flush()
    capsys.readouterr()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(250):
        metrics.count("FilesRegistered")
        metrics.milliseconds("LoadDuration", 5)
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.flush()
    assert capsys.readouterr().out == ""  # nothing was held back either
