"""loader-admin config pause/resume: while paused files are registered and nothing is sealed or
loaded, even with thresholds met; resume seals and loads what is due, once."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import Result

from loader.events import parse_event
from loader.models import BatchStatus
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record
from support.fakes import RecordingLoader

PREFIX = f"{BUCKET}/events"


def deliver(env: Env, loader: RecordingLoader, *names: str) -> None:
    records = [s3_record(BUCKET, f"events/{n}", size=10) for n in names]
    env.service(loader=loader).handle(parse_event(s3_event(*records)))


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_paused_prefix_registers_files_but_seals_nothing_until_resumed(
    env: Env, run, loader
) -> None:
    env.put_config(make_config(thresholds={"max_files": 2, "max_age_seconds": 60}))
    assert run("config", "pause", PREFIX).exit_code == 0

    deliver(env, loader, "a.csv", "b.csv", "c.csv")  # max_files met
    env.clock.advance(3600)  # max_age met too
    env.service(loader=loader).sweep(env.clock() + 60)

    assert env.deps.configs.get(PREFIX).paused
    [held] = env.batches(BatchStatus.OPEN)
    assert held.file_count == 3 and len(env.ledger()) == 3
    assert not env.batches(BatchStatus.SEALED) and not env.batches(BatchStatus.COMPLETE)
    assert loader.loaded == {}
    listed = as_json(run("config", "list", "-o", "json"))
    assert listed[0]["config"]["paused"] is True

    resumed = as_json(run("config", "resume", PREFIX, "-o", "json"))

    assert resumed == {
        "prefix": PREFIX,
        "paused": False,
        "sealed": held.batch_id,
        "reason": "max_files",
        "status": "complete",
    }
    assert not env.deps.configs.get(PREFIX).paused
    assert list(loader.loaded) == [held.batch_id]
    assert sorted(loader.loaded[held.batch_id]) == [f"s3://{BUCKET}/events/{n}.csv" for n in "abc"]
    # and the loader carries on as before
    deliver(env, loader, "d.csv", "e.csv")
    assert len(env.batches(BatchStatus.COMPLETE)) == 2
    assert set(loader.loaded_count().values()) == {1} and len(loader.loaded_count()) == 5


def test_resume_of_a_batch_not_yet_due_leaves_it_to_its_thresholds(env: Env, run, loader) -> None:
    env.put_config(make_config(thresholds={"max_files": 5}, paused=True))
    deliver(env, loader, "a.csv")

    resumed = as_json(run("config", "resume", PREFIX, "-o", "json"))
    again = run("config", "pause", PREFIX)
    twice = run("config", "pause", PREFIX)

    assert resumed["sealed"] is None and resumed["reason"] is None
    assert [b.file_count for b in env.batches(BatchStatus.OPEN)] == [1]
    assert again.exit_code == 0 and twice.exit_code == 0 and "already paused" in twice.stderr
    assert run("config", "pause", f"{BUCKET}/unknown").exit_code == 1
