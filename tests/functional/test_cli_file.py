"""loader-admin file: a file's story, loading one file again, and backfilling from S3."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import Result

from loader.events import parse_event
from loader.log import logger
from loader.models import BatchStatus
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record
from support.fakes import RecordingLoader

PREFIX = f"{BUCKET}/events"


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def upload(env: Env, *keys: str) -> list[dict[str, Any]]:
    """Objects in S3, and the notification records S3 would send for them."""
    s3 = env.session.client("s3")
    records = []
    for key in keys:
        etag = s3.put_object(Bucket=BUCKET, Key=key, Body=b"1,2,3\n")["ETag"].strip('"')
        records.append(s3_record(BUCKET, key, size=6, etag=etag))
    return records


def deliver(env: Env, records: list[dict[str, Any]], loader: RecordingLoader | None = None) -> None:
    env.service(loader=loader).handle(parse_event(s3_event(*records)))


# --- show -------------------------------------------------------------------------------------


def test_a_reupload_left_alone_by_the_ignore_policy_is_said(env: Env, run, loader, caplog) -> None:
    # GIVEN a loaded file, fixed and uploaded again under `reupload: ignore` (the default)
    env.put_config(make_config(thresholds={"max_files": 1}))
    [first] = upload(env, "events/a.csv")
    first["s3"]["object"]["sequencer"] = "0001"
    deliver(env, [first], loader)
    s3 = env.session.client("s3")
    fixed = s3.put_object(Bucket=BUCKET, Key="events/a.csv", Body=b"1,2,3,4\n")["ETag"].strip('"')
    again = s3_record(BUCKET, "events/a.csv", size=8, etag=fixed, sequencer="0002")
    caplog.clear()
    caplog.set_level("INFO", logger="s3-redshift-loader")

    # WHEN its notification arrives
    deliver(env, [again], loader)

    # THEN the loader says so in its log, and `file show` names the upload it left alone
    logged = [json.loads(logger.registered_formatter.format(r)) for r in caplog.records]
    [note] = [line for line in logged if line.get("message") == "reuploads_ignored"]
    assert note["sample"] == [f"s3://{BUCKET}/events/a.csv"]
    shown = as_json(run("file", "show", f"s3://{BUCKET}/events/a.csv", "-o", "json"))
    assert shown["etag"] == first["s3"]["object"]["eTag"]  # the ledger keeps the loaded one
    assert shown["newer_upload_ignored"]["etag"] == fixed
    assert shown["newer_upload_ignored"]["size"] == 8
    text = run("file", "show", f"s3://{BUCKET}/events/a.csv").output
    assert "ignored by policy" in text and "file reprocess" in text


def test_file_show_tells_batch_status_and_receipts(env: Env, run, loader) -> None:
    env.put_config(make_config(thresholds={"max_files": 1}))
    records = upload(env, "events/a.csv")
    deliver(env, records, loader)
    deliver(env, records, loader)  # a redelivery

    shown = as_json(run("file", "show", f"s3://{BUCKET}/events/a.csv", "-o", "json"))
    never = run("file", "show", f"{BUCKET}/events/never.csv", "-o", "json")

    assert shown["registered"] and shown["batch_status"] == "complete"
    assert shown["times_received"] == 2 and shown["loaded_at"] == iso(env.clock())
    assert run("file", "show", f"s3://{BUCKET}/events/a.csv").exit_code == 0
    # An unknown file fails, as `aws s3api head-object` does, still describing it in JSON
    unknown = json.loads(never.stdout)
    assert never.exit_code == 1
    assert unknown == {**unknown, "registered": False, "batch_id": None, "times_received": 0}
    shown_as_table = run("file", "show", f"{BUCKET}/events/never.csv")
    assert shown_as_table.exit_code == 1 and "is not registered" in shown_as_table.output


def iso(epoch: float) -> str:
    """How the JSON output writes a time (ISO 8601, UTC), as the AWS CLI does."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


# --- reprocess --------------------------------------------------------------------------------


def test_file_reprocess_loads_a_loaded_file_once_more_in_a_new_batch(env: Env, run, loader) -> None:
    env.put_config(make_config(thresholds={"max_files": 2}))
    deliver(env, upload(env, "events/a.csv", "events/b.csv"), loader)
    [first] = env.batches(BatchStatus.COMPLETE)
    url = f"s3://{BUCKET}/events/a.csv"

    result = as_json(run("file", "reprocess", url, "--flush", "-o", "json"))

    assert result["batch_id"] != first.batch_id and result["batch_status"] == "complete"
    assert result["previous_batches"] == [first.batch_id]
    assert loader.loaded_count() == {url: 2, f"s3://{BUCKET}/events/b.csv": 1}
    [second] = [b for b in env.batches(BatchStatus.COMPLETE) if b.batch_id != first.batch_id]
    assert second.file_count == 1 and env.manifest_urls(second) == [url]


def test_file_reprocess_registers_a_file_the_ledger_never_saw(env: Env, run) -> None:
    env.put_config(make_config())
    upload(env, "events/missed.csv")

    result = as_json(run("file", "reprocess", f"s3://{BUCKET}/events/missed.csv", "-o", "json"))

    assert result["registered"] and result["batch_status"] == "open"


def test_file_reprocess_refuses_files_of_pending_or_failed_batches(env: Env, run) -> None:
    env.put_config(make_config(thresholds={"max_files": 1}))
    deliver(env, upload(env, "events/bad.csv"), RecordingLoader(env.session, "terminal"))
    env.put_config(make_config())
    deliver(env, upload(env, "events/waiting.csv"))

    failed = run("file", "reprocess", f"s3://{BUCKET}/events/bad.csv")
    waiting = run("file", "reprocess", f"s3://{BUCKET}/events/waiting.csv")
    missing = run("file", "reprocess", f"s3://{BUCKET}/events/not-in-s3.csv")

    assert failed.exit_code == 1 and "batch reprocess" in failed.stderr
    assert waiting.exit_code == 1 and "already waiting" in waiting.stderr
    assert missing.exit_code == 1 and "no object" in missing.stderr


# --- backfill ---------------------------------------------------------------------------------


def test_backfill_registers_only_what_the_ledger_lacks(env: Env, run) -> None:
    env.put_config(make_config(filename_filter=r".*\.csv"))
    env.put_config(make_config(prefix=f"{BUCKET}/events/special"))
    known = upload(env, "events/a.csv", "events/b.csv")
    deliver(env, known)
    upload(env, "events/c.csv", "events/d.csv", "events/2026/e.csv")
    upload(env, "events/readme.txt", "events/special/f.csv", "other/g.csv")
    ledger_before = {i["url"]: i["times_received"] for i in env.ledger()}

    dry = as_json(run("file", "backfill", PREFIX, "--dry-run", "-o", "json"))
    assert {i["url"] for i in env.ledger()} == set(ledger_before)
    result = as_json(run("file", "backfill", PREFIX, "-o", "json"))
    again = as_json(run("file", "backfill", PREFIX, "-o", "json"))

    new = {f"s3://{BUCKET}/events/{k}" for k in ("c.csv", "d.csv", "2026/e.csv")}
    assert set(dry["files"]) == new and dry["known"] == 2
    assert (dry["filtered"], dry["other_configuration"]) == (1, 1)
    assert result["registered"] == 3 and again["registered"] == 0 and again["new"] == 0
    ledger = {i["url"]: i["times_received"] for i in env.ledger()}
    assert set(ledger) == set(ledger_before) | new
    assert all(ledger[url] == 1 for url in ledger_before)  # known files were not re-received


def test_backfill_seals_through_the_loaders_own_thresholds(env: Env, run, loader) -> None:
    env.put_config(make_config(thresholds={"max_files": 2}))
    upload(env, *(f"events/f{i}.csv" for i in range(5)))

    result = as_json(run("file", "backfill", PREFIX, "--regex", r"f[0-3]\.csv$", "-o", "json"))

    assert result["registered"] == 4 and len(result["sealed"]) == 2
    assert sorted(b.file_count for b in env.batches(BatchStatus.COMPLETE)) == [2, 2]
    assert set(loader.loaded_count().values()) == {1} and len(loader.loaded_count()) == 4


def test_backfill_lists_a_hive_prefix_from_its_fixed_part(env: Env, run) -> None:
    env.put_config(make_config(prefix=f"{BUCKET}/logs/dt=*"))
    upload(env, "logs/dt=2026-11-01/a.csv", "logs/dt=2026-11-02/b.csv", "logs/c.csv")

    result = as_json(run("file", "backfill", f"s3://{BUCKET}/logs/dt=*", "-o", "json"))

    assert result["registered"] == 2
    assert {i["url"] for i in env.ledger()} == {
        f"s3://{BUCKET}/logs/dt=2026-11-01/a.csv",
        f"s3://{BUCKET}/logs/dt=2026-11-02/b.csv",
    }


def test_backfill_time_window_uses_last_modified(env: Env, run) -> None:
    env.put_config(make_config())
    upload(env, "events/a.csv")

    future = as_json(
        run("file", "backfill", PREFIX, "--since", "2999-01-01", "--dry-run", "-o", "json")
    )
    past = as_json(
        run("file", "backfill", PREFIX, "--until", "2000-01-01", "--dry-run", "-o", "json")
    )

    assert future["new"] == past["new"] == 0 and future["filtered"] == 1
