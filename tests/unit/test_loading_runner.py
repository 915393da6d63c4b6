"""The BatchLoader's decisions: skip, retry, give up, record, keep going, stop on a lost lease."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from config.models import PrefixConfig
from loader.deps import Deps
from loader.errors import LeaseLostError, RetryableError, TerminalError
from loader.loading.job import Loaded, TargetJob, with_error_rows
from loader.loading.runner import TargetsLoader
from loader.models import Batch, BatchStatus, TargetState
from loader.ports import LoadContext, LoadErrorRow
from loader.settings import Settings

NOW = 1_800_000_000.0


@dataclass
class ScriptedTarget:
    """Answers attempts from a script of results/errors; remembers the jobs it got."""

    answers: list[Loaded | Exception]
    jobs: list[TargetJob] = field(default_factory=list)

    def load(self, job: TargetJob) -> Loaded:
        self.jobs.append(job)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Context:
    deadline: float = NOW + 600
    beats: int = 0
    recorded: dict[str, TargetState] = field(default_factory=dict)
    lose_lease: bool = False

    def heartbeat(self) -> None:
        if self.lose_lease:
            raise LeaseLostError("taken over")
        self.beats += 1

    def as_load_context(self) -> LoadContext:
        return LoadContext(
            owner="me",
            deadline=self.deadline,
            heartbeat=self.heartbeat,
            record=self.recorded.__setitem__,
        )


def config(*names: str) -> PrefixConfig:
    return PrefixConfig.model_validate(
        {
            "prefix": "bucket/in",
            "thresholds": {"max_files": 10},
            "manifest": {"bucket": "manifests"},
            "targets": [
                {"type": "postgres", "name": n, "table": f"t_{n}", "dsn": "host=x"} for n in names
            ],
        }
    )


def batch(**fields: Any) -> Batch:
    return Batch(
        batch_id="b1",
        prefix="bucket/in",
        status=BatchStatus.LOADING,
        file_count=2,
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def run(
    target: ScriptedTarget,
    ctx: Context,
    names: tuple[str, ...] = ("w",),
    prior: Batch | None = None,
    sleeps: list[float] | None = None,
) -> Any:
    settings = Settings.from_env({"LOADER_LEASE_SECONDS": "300", "LOADER_TARGET_ATTEMPTS": "3"})
    sleep: Callable[[float], None] = (sleeps if sleeps is not None else []).append
    loader = TargetsLoader(
        Deps(settings), clock=lambda: NOW, sleep=sleep, adapters={"postgres": target}
    )
    return loader.load(
        config(*names), prior or batch(), "s3://manifests/m.json", ctx.as_load_context()
    )


def test_a_transient_failure_is_retried_after_a_wait_and_the_load_recorded() -> None:
    target = ScriptedTarget([RetryableError("deadlock"), Loaded(rows=7)])
    ctx, sleeps = Context(), []

    result = run(target, ctx, sleeps=sleeps)

    assert result.ok
    assert ctx.recorded["w"].status == "loaded" and ctx.recorded["w"].rows == 7
    assert ctx.recorded["w"].attempts == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 20
    assert ctx.beats == 2  # the lease is renewed before every attempt
    assert target.jobs[0].timeout_ms == 265_000  # 300 s lease - 30 s margin - 5 s safety


def test_a_terminal_failure_is_not_retried_and_reports_its_rows() -> None:
    rows = tuple(
        LoadErrorRow(target="w", file="s3://b/in/x.csv", line=n, column="id", reason="bad")
        for n in range(1, 6)
    )
    target = ScriptedTarget([with_error_rows(TerminalError("target w: load failed"), rows)])
    ctx = Context()

    result = run(target, ctx)

    assert not result.ok and not result.retryable
    assert ctx.recorded["w"].attempts == 1
    assert result.error == (
        "target w: load failed | s3://b/in/x.csv line 1 [id]: bad | s3://b/in/x.csv line 2 "
        "[id]: bad | s3://b/in/x.csv line 3 [id]: bad | (+2 more rejected rows)"
    )
    assert result.error_rows == rows


def test_retryable_failures_stop_after_the_configured_attempts_and_stay_retryable() -> None:
    target = ScriptedTarget([RetryableError("too many connections")] * 3)
    ctx = Context()

    result = run(target, ctx)

    assert result.retryable and not result.ok
    assert ctx.recorded["w"].attempts == 3 and len(target.jobs) == 3


def test_no_attempt_starts_without_enough_time() -> None:
    target = ScriptedTarget([Loaded(rows=1)])
    ctx = Context(deadline=NOW + 12)

    result = run(target, ctx)

    assert target.jobs == []
    assert result.retryable
    assert "too little to start a load" in (result.error or "")


def test_a_target_loaded_by_an_earlier_attempt_is_skipped() -> None:
    target = ScriptedTarget([Loaded(rows=3)])
    done = TargetState(status="loaded", rows=5, attempts=1)
    ctx = Context()

    result = run(target, ctx, names=("a", "b"), prior=batch(targets={"a": done}))

    assert result.ok
    assert result.targets["a"] == done
    assert [job.target.name for job in target.jobs] == ["b"]
    assert set(ctx.recorded) == {"b"}


def test_a_failing_target_does_not_stop_the_next_one() -> None:
    target = ScriptedTarget([TerminalError("target a: permission denied"), Loaded(rows=2)])
    ctx = Context()

    result = run(target, ctx, names=("a", "b"))

    assert ctx.recorded["a"].status == "failed" and ctx.recorded["b"].status == "loaded"
    assert result.error == "target a: permission denied"
    assert not result.retryable


def test_a_lost_lease_stops_the_load_at_once() -> None:
    target = ScriptedTarget([Loaded(rows=1)])
    ctx = Context(lose_lease=True)

    with pytest.raises(LeaseLostError):
        run(target, ctx)
    assert target.jobs == [] and ctx.recorded == {}


def test_the_ledger_entry_describes_the_batch() -> None:
    target = ScriptedTarget([Loaded(rows=1, already_loaded=True)])

    run(target, Context())

    entry = target.jobs[0].entry
    assert (entry.batch_id, entry.target, entry.prefix, entry.files) == ("b1", "w", "bucket/in", 2)
    assert entry.manifest_url == "s3://manifests/m.json" and entry.loaded_at == NOW
