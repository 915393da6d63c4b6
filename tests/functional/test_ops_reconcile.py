"""Reconciliation: files whose S3 notification never arrived are found by listing, registered
exactly once through the loader's intake, and loaded exactly once; the look-back window holds.
Both ways in: `loader-admin reconcile` and the Lambda's `{"loader": "reconcile"}` event."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from typer.testing import Result

from loader.errors import MalformedEventError
from loader.events import ReconcileRequest, parse_event
from loader.models import BatchStatus
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record
from support.fakes import RecordingLoader

PREFIX = f"{BUCKET}/events"


@pytest.fixture(autouse=True)
def _real_time(env: Env) -> None:
    """S3 stamps LastModified with the real time; the window is measured from the clock."""
    env.clock.now = time.time()


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def put(env: Env, *keys: str) -> list[dict[str, Any]]:
    """Objects land in S3; the returned records are the notifications S3 would send."""
    s3 = env.session.client("s3")
    records = []
    for key in keys:
        etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"1,2\n")["ETag"].strip('"')
        records.append(s3_record(BUCKET, key, size=4, etag=etag))
    return records


def deliver(env: Env, records: list[dict[str, Any]], loader: RecordingLoader) -> None:
    env.service(loader=loader).handle(parse_event(s3_event(*records)))


def url(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def log_events(stderr: str, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == name]


# --- on demand --------------------------------------------------------------------------------


def test_a_file_whose_notification_was_lost_is_registered_once_and_loaded_once(
    env: Env, run, loader
) -> None:
    env.put_config(make_config(thresholds={"max_files": 3}))
    deliver(env, put(env, "events/a.csv", "events/b.csv"), loader)
    lost = put(env, "events/c.csv")  # S3 wrote it; the notification never came

    dry = as_json(run("reconcile", "--dry-run", "-o", "json"))
    first = run("-v", "reconcile", "-o", "json")
    second = as_json(run("reconcile", PREFIX, "-o", "json"))
    deliver(env, lost, loader)  # ... and then it turns up late after all

    assert dry["missing"] == 1 and dry["prefixes"][0]["files"] == [url("events/c.csv")]
    assert as_json(first)["registered"] == 1
    [done] = log_events(first.stderr, "reconcile_done")
    assert (done["listed"], done["known"], done["registered"]) == (3, 2, 1)
    assert (second["registered"], second["known"], second["missing"]) == (0, 3, 0)
    assert {i["url"]: i["times_received"] for i in env.ledger()} == {
        url("events/a.csv"): 1,
        url("events/b.csv"): 1,
        url("events/c.csv"): 2,  # listed once, then the late notification: a duplicate
    }
    [batch] = env.batches(BatchStatus.COMPLETE)
    assert batch.file_count == 3
    assert [b.file_count for b in env.batches(BatchStatus.OPEN)] in ([], [0])
    assert loader.loaded_count() == {url(f"events/{n}.csv"): 1 for n in "abc"}


def test_the_look_back_window_leaves_older_objects_alone(env: Env, run) -> None:
    env.put_config(make_config())
    put(env, "events/a.csv")
    modified = env.session.client("s3").head_object(Bucket=BUCKET, Key="events/a.csv")
    env.clock.now = modified["LastModified"].timestamp() + 1800  # the object is 30 minutes old

    narrow = as_json(run("reconcile", "--lookback", "20m", "-o", "json"))
    default = as_json(run("reconcile", "-o", "json"))  # 1 h: LOADER_RECONCILE_LOOKBACK_SECONDS

    assert (narrow["registered"], narrow["prefixes"][0]["outside_window"]) == (0, 1)
    assert narrow["since"] == env.clock() - 1200
    assert (default["registered"], default["prefixes"][0]["outside_window"]) == (1, 0)
    assert {i["url"] for i in env.ledger()} == {url("events/a.csv")}


def test_reconcile_respects_filters_and_more_specific_configurations(env: Env, run) -> None:
    env.put_config(make_config(filename_filter=r".*\.csv"))
    env.put_config(make_config(f"{BUCKET}/events/special"))
    env.put_config(make_config(f"{BUCKET}/clicks/dt=*"))
    put(env, "events/a.csv", "events/readme.txt", "events/special/s.csv")
    put(env, "clicks/dt=2026-11-23/c.csv", "clicks/stray.csv", "elsewhere/x.csv")

    result = as_json(run("reconcile", "-o", "json"))

    by_prefix = {p["prefix"]: p for p in result["prefixes"]}
    assert by_prefix[PREFIX]["registered"] == 1 and by_prefix[PREFIX]["filtered"] == 1
    assert by_prefix[PREFIX]["other_configuration"] == 1  # events/special/s.csv
    assert {i["url"] for i in env.ledger()} == {
        url("events/a.csv"),
        url("events/special/s.csv"),
        url("clicks/dt=2026-11-23/c.csv"),
    }


def test_a_failing_prefix_is_reported_and_the_others_still_reconcile(env: Env, run) -> None:
    env.put_config(make_config())
    env.put_config(make_config("missing-bucket/data"))  # listing fails: NoSuchBucket
    put(env, "events/a.csv")

    result = run("reconcile", "-o", "json")

    assert result.exit_code == 1
    by_prefix = {p["prefix"]: p for p in json.loads(result.stdout)["prefixes"]}
    assert "NoSuchBucket" in by_prefix["missing-bucket/data"]["error"]
    assert by_prefix[PREFIX]["registered"] == 1
    assert run("reconcile", f"{BUCKET}/unknown").exit_code == 1


# --- on the Lambda's schedule -----------------------------------------------------------------


def test_the_scheduled_event_reconciles_through_the_service(env: Env, loader) -> None:
    env.put_config(make_config(thresholds={"max_files": 2}))
    put(env, "events/a.csv", "events/b.csv")

    assert parse_event({"loader": "reconcile"}).messages[0].notices == [ReconcileRequest()]
    response = env.service(loader=loader).handle(parse_event({"loader": "reconcile"}))
    again = env.service(loader=loader).handle(parse_event({"loader": "reconcile"}))

    assert response.registered == 2 and len(response.sealed) == 1
    assert again.registered == 0
    assert loader.loaded_count() == {url("events/a.csv"): 1, url("events/b.csv"): 1}


def test_the_event_may_name_a_prefix_and_a_look_back(env: Env, loader) -> None:
    env.put_config(make_config())
    env.put_config(make_config(f"{BUCKET}/other"))
    put(env, "events/a.csv", "other/b.csv")
    env.clock.advance(2 * 3600)
    service = env.service(loader=loader)

    too_old = service.handle(parse_event({"loader": "reconcile"}))
    one = service.handle(
        parse_event({"loader": "reconcile", "prefix": PREFIX, "lookback_seconds": 10800})
    )

    assert (too_old.registered, one.registered) == (0, 1)
    assert {i["url"] for i in env.ledger()} == {url("events/a.csv")}
    with pytest.raises(MalformedEventError, match="malformed reconcile request"):
        parse_event({"loader": "reconcile", "lookback_seconds": -1})
