"""loader-admin batch: list (every page), show, reprocess (exactly once), unlock, delete, flush."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from loader.adapters.codec import encode
from loader.admin import Operations
from loader.events import parse_event
from loader.models import BatchStatus
from loader.service import LoaderService
from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import BUCKET, MANIFEST_BUCKET, Env, make_config
from support.events import s3_event, s3_record
from support.fakes import RecordingLoader

PREFIX = f"{BUCKET}/events"


@pytest.fixture
def run(env: Env, loader: RecordingLoader):
    """`loader-admin ARGS` against moto, loading through the recording fake destination."""

    def invoke(*args: str, input: str | None = None) -> Result:
        obj = Cli(
            session=env.session,
            settings=env.settings,
            clock=env.clock,
            service_factory=lambda deps: Operations(
                LoaderService(deps, loader=loader, clock=env.clock)
            ),
        )
        return CliRunner().invoke(app, list(args), obj=obj, input=input)

    return invoke


def deliver(env: Env, *keys: str, loader: RecordingLoader | None = None) -> None:
    records = [s3_record(BUCKET, key, size=10) for key in keys]
    env.service(loader=loader).handle(parse_event(s3_event(*records)))


def failed_batch(env: Env, *names: str) -> str:
    """A sealed batch of `names` whose load failed for good."""
    env.put_config(make_config(thresholds={"max_files": len(names)}))
    deliver(env, *(f"events/{n}" for n in names), loader=RecordingLoader(env.session, "terminal"))
    [batch] = env.batches(BatchStatus.ERROR)
    return batch.batch_id


def stuck_batch(env: Env, *names: str) -> str:
    """A batch left `loading` under a live lease by a worker that will not come back."""
    env.put_config(make_config(thresholds={"max_files": len(names)}))
    deliver(env, *(f"events/{n}" for n in names), loader=RecordingLoader(env.session, "retryable"))
    [batch] = env.batches(BatchStatus.LOADING)
    return batch.batch_id


def snapshot(env: Env) -> dict[str, Any]:
    """Every item of the three tables and every object of both buckets."""
    ddb, s3 = env.session.client("dynamodb"), env.session.client("s3")
    tables = env.settings.tables
    state: dict[str, Any] = {}
    for name in (tables.config, tables.batches, tables.files):
        items = [i for p in ddb.get_paginator("scan").paginate(TableName=name) for i in p["Items"]]
        state[name] = sorted(json.dumps(i, sort_keys=True) for i in items)
    for bucket in (BUCKET, MANIFEST_BUCKET):
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        state[bucket] = sorted((o["Key"], o["ETag"]) for o in listed)
    return state


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- list -------------------------------------------------------------------------------------


def put_failed_headers(env: Env, count: int, error_bytes: int = 9_000) -> None:
    """Batch headers as the store writes them, each with a long error: > 1 MB in all."""
    ddb = env.session.client("dynamodb")
    for start in range(0, count, 25):
        requests = [
            {
                "PutRequest": {
                    "Item": encode(
                        {
                            "pk": f"batch#b{i:04d}",
                            "sk": "header",
                            "batch_id": f"b{i:04d}",
                            "prefix": PREFIX,
                            "status": "error",
                            "file_count": 1,
                            "total_bytes": 10,
                            "created_at": env.clock() + i,
                            "updated_at": env.clock() + i,
                            "attempts": 0,
                            "targets": {},
                            "error": "x" * error_bytes,
                        }
                    )
                }
            }
            for i in range(start, min(count, start + 25))
        ]
        ddb.batch_write_item(RequestItems={env.settings.tables.batches: requests})


def test_batch_list_reads_every_page_of_the_index_newest_first(env: Env, run) -> None:
    put_failed_headers(env, 120)
    first_page = env.session.client("dynamodb").query(
        TableName=env.settings.tables.batches,
        IndexName="by-status",
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "error"}},
    )
    assert "LastEvaluatedKey" in first_page and first_page["Count"] < 120  # really > 1 page

    listed = as_json(run("batch", "list", "--status", "error", "-o", "json"))

    assert [b["batch_id"] for b in listed] == [f"b{i:04d}" for i in reversed(range(120))]
    assert len(as_json(run("batch", "list", "-o", "json"))) == 120
    newest = as_json(run("batch", "list", "--prefix", PREFIX, "--limit", "3", "-o", "json"))
    assert [b["batch_id"] for b in newest] == ["b0119", "b0118", "b0117"]


def test_batch_list_filters_by_status_and_time(env: Env, run) -> None:
    failed_batch(env, "a.csv")
    env.clock.advance(3600)
    env.put_config(make_config())
    deliver(env, "events/b.csv")

    open_ones = as_json(run("batch", "list", "--status", "open", "-o", "json"))
    recent = as_json(run("batch", "list", "--since", "30m", "-o", "json"))
    older = as_json(run("batch", "list", "--until", "30m", "-o", "json"))

    assert [b["file_count"] for b in open_ones] == [1]
    assert {b["status"] for b in recent} == {"open"}
    assert {b["status"] for b in older} == {"error"}
    assert run("batch", "list").exit_code == 0


def test_batch_show_gives_files_error_and_manifests(env: Env, run) -> None:
    batch_id = failed_batch(env, "a.csv", "b.csv")

    shown = as_json(run("batch", "show", batch_id, "-o", "json"))

    assert shown["status"] == "error" and "permission denied" in shown["error"]
    assert [f["url"] for f in shown["files"]] == [
        f"s3://{BUCKET}/events/a.csv",
        f"s3://{BUCKET}/events/b.csv",
    ]
    assert shown["failed_manifest_url"].startswith(f"s3://{MANIFEST_BUCKET}/failed-manifests/")
    human = run("batch", "show", batch_id)
    assert human.exit_code == 0 and "permission denied" in human.stdout
    assert run("batch", "show", "no-such-batch").exit_code == 1


# --- reprocess --------------------------------------------------------------------------------


def test_reprocessing_a_failed_batch_loads_each_file_exactly_once(
    env: Env, run, loader: RecordingLoader
) -> None:
    batch_id = failed_batch(env, "a.csv", "b.csv", "c.csv")

    result = run("batch", "reprocess", batch_id)
    again = run("batch", "reprocess", batch_id)

    assert result.exit_code == 0, result.output
    [batch] = [b for b in env.batches() if b.batch_id == batch_id]
    assert batch.status is BatchStatus.COMPLETE and batch.error is None
    assert set(loader.loaded_count().values()) == {1} and len(loader.loaded_count()) == 3
    assert again.exit_code == 1 and "complete" in again.stderr
    assert set(loader.loaded_count().values()) == {1}


def test_reprocess_omit_removes_the_file_from_batch_and_manifest(
    env: Env, run, loader: RecordingLoader
) -> None:
    batch_id = failed_batch(env, "a.csv", "bad.csv", "c.csv")
    bad = f"s3://{BUCKET}/events/bad.csv"

    result = run("batch", "reprocess", batch_id, "--omit", bad)

    assert result.exit_code == 0, result.output
    [batch] = [b for b in env.batches() if b.batch_id == batch_id]
    members = [m.url for m in env.deps.batches.members(batch_id)]
    assert batch.status is BatchStatus.COMPLETE
    assert batch.file_count == len(members) == 2 and batch.total_bytes == 20
    assert bad not in env.manifest_urls(batch) and bad not in loader.loaded_count()
    shown = as_json(run("file", "show", bad, "-o", "json"))
    assert shown["omitted_from"] == batch_id and shown["loaded_at"] is None


def test_reprocess_refuses_to_omit_every_file_or_a_stranger(env: Env, run) -> None:
    batch_id = failed_batch(env, "a.csv")
    before = snapshot(env)

    everything = run("batch", "reprocess", batch_id, "--omit", f"s3://{BUCKET}/events/a.csv")
    stranger = run("batch", "reprocess", batch_id, "--omit", f"s3://{BUCKET}/events/zzz.csv")

    assert everything.exit_code == 1 and "empty" in everything.stderr
    assert stranger.exit_code == 1 and "not in batch" in stranger.stderr
    assert snapshot(env) == before


def test_reprocess_dry_run_changes_nothing(env: Env, run, loader: RecordingLoader) -> None:
    batch_id = failed_batch(env, "a.csv", "b.csv")
    before = snapshot(env)

    plan = as_json(
        run(
            "batch",
            "reprocess",
            batch_id,
            "--omit",
            f"{BUCKET}/events/a.csv",
            "--dry-run",
            "-o",
            "json",
        )
    )

    assert plan["load"] == [f"s3://{BUCKET}/events/b.csv"] and plan["result"] is None
    assert snapshot(env) == before and not loader.loaded


def test_a_stuck_batch_is_unlocked_only_by_force_then_reprocessed_once(
    env: Env, run, loader: RecordingLoader
) -> None:
    batch_id = stuck_batch(env, "a.csv", "b.csv")

    while_leased = run("batch", "reprocess", batch_id)
    polite = run("batch", "unlock", batch_id)
    forced = run("batch", "unlock", batch_id, "--force")
    resumed = run("batch", "reprocess", batch_id)

    assert while_leased.exit_code == 1 and "unlock" in while_leased.stderr
    assert polite.exit_code == 1 and "leased by" in polite.stderr
    assert forced.exit_code == 0, forced.output
    assert resumed.exit_code == 0, resumed.output
    [batch] = [b for b in env.batches() if b.batch_id == batch_id]
    assert batch.status is BatchStatus.COMPLETE and batch.attempts == 1
    assert loader.loaded_count() == {
        f"s3://{BUCKET}/events/a.csv": 1,
        f"s3://{BUCKET}/events/b.csv": 1,
    }


def test_an_expired_lease_needs_no_force(env: Env, run) -> None:
    batch_id = stuck_batch(env, "a.csv")
    env.clock.advance(env.settings.lease_seconds + 1)

    assert run("batch", "unlock", batch_id).exit_code == 0
    assert run("batch", "reprocess", batch_id).exit_code == 0


# --- delete and flush -------------------------------------------------------------------------


def test_batch_delete_is_a_dry_run_until_execute_and_keeps_the_ledger(
    env: Env, run, loader: RecordingLoader
) -> None:
    env.put_config(make_config(thresholds={"max_files": 2}))
    deliver(env, "events/a.csv", "events/b.csv", loader=loader)
    deliver(env, "events/c.csv")  # stays in the open batch
    [done] = env.batches(BatchStatus.COMPLETE)
    env.clock.advance(31 * 86400)
    before = snapshot(env)

    dry = as_json(run("batch", "delete", "--older-than", "30d", "-o", "json"))
    assert snapshot(env) == before
    assert [b["batch_id"] for b in dry["matched"]] == [done.batch_id] and dry["deleted"] == []

    result = run("batch", "delete", "--older-than", "30d", "--execute", "--yes")

    assert result.exit_code == 0, result.output
    assert env.deps.batches.get_batch(done.batch_id) is None
    assert list(env.deps.batches.members(done.batch_id)) == []
    assert len(env.ledger()) == 3 and len(env.batches(BatchStatus.OPEN)) == 1


def test_batch_delete_refuses_unfinished_statuses(env: Env, run) -> None:
    env.put_config(make_config())
    deliver(env, "events/a.csv")
    before = snapshot(env)

    for status in ("open", "sealed", "loading"):
        result = run("batch", "delete", "--status", status, "--execute", "--yes")
        assert result.exit_code == 1 and "only complete or error" in result.stderr
    assert snapshot(env) == before


def test_a_batch_reprocessed_after_it_was_listed_is_not_deleted(env: Env, run) -> None:
    batch_id = failed_batch(env, "a.csv")
    ops = Operations(LoaderService(env.deps, loader=RecordingLoader(env.session), clock=env.clock))
    listed = ops.plan_delete([BatchStatus.ERROR])
    ops.reprocess(ops.plan_reprocess(batch_id))

    deleted, skipped = ops.delete(listed)

    assert deleted == [] and "no longer error" in skipped[batch_id]
    assert env.deps.batches.get_batch(batch_id).status is BatchStatus.COMPLETE
    assert len(list(env.deps.batches.members(batch_id))) == 1


def test_batch_flush_seals_and_loads_the_open_batch_now(
    env: Env, run, loader: RecordingLoader
) -> None:
    env.put_config(make_config())  # 100 files: far from its threshold
    deliver(env, "events/a.csv", "events/b.csv")

    flushed = as_json(run("batch", "flush", PREFIX, "-o", "json"))
    empty = run("batch", "flush", PREFIX)

    assert flushed["status"] == "complete" and flushed["seal_reason"] == "flush"
    assert sorted(loader.loaded_count()) == [
        f"s3://{BUCKET}/events/a.csv",
        f"s3://{BUCKET}/events/b.csv",
    ]
    assert empty.exit_code == 0 and "nothing sealed" in empty.stderr
