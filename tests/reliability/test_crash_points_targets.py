"""A worker killed at any call of the load phase, with real targets: rows exactly once.

The run (targets_run.py) loads one batch into three targets, one of each kind (Redshift through
the stand-in, the Data API stand-in, PostgreSQL), all backed by the embedded PostgreSQL. It is
recorded once at collection; every call from the first target's load to the end (each target's
load, its recorded outcome, the lease renewals and credential reads around it, the notification,
the final outcome write) is a crash point, before and after. The registration and seal calls
before it are the same as with the fake target (test_crash_points.py).
"""

from __future__ import annotations

from collections import Counter

import pytest
from e2e.stack import Stack
from reliability.crash_run import notified
from reliability.harness import CrashPoint, Protocol
from reliability.invariants import headers
from reliability.report import Report
from reliability.targets_run import KINDS, TargetsRun, standalone_stack

from loader.models import BatchStatus

SCENARIO = "crash at every load-phase call (real targets)"


def record_calls() -> list[str]:
    """The calls of one uninterrupted run (collection time: the cases are its calls)."""
    with standalone_stack() as built, pytest.MonkeyPatch.context() as patch:
        protocol = Protocol()
        protocol.wrap_adapters(patch)
        run = TargetsRun(built, protocol)
        run.run()
        return run.protocol.calls


def select_points(points: list[CrashPoint]) -> list[CrashPoint]:
    """From just before the first target load on (indices stay those of the whole run)."""
    first = min(p.index for p in points if p.call.startswith("target."))
    return [p for p in points if p.index >= first - 1]


def _run(stack: Stack, crash: CrashPoint | None, monkeypatch: pytest.MonkeyPatch) -> TargetsRun:
    protocol = Protocol(crash)
    protocol.wrap_adapters(monkeypatch)
    return TargetsRun(stack, protocol)


def _batch_and_ledger(run: TargetsRun, stack: Stack) -> tuple[object, list[tuple]]:
    [batch] = [b for b in headers(run.deps(), [run.config.prefix]) if b.file_count]
    return batch, sorted(stack.ledger(batch.batch_id))


def test_the_recorded_run_loads_every_row_once_into_every_target(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(stack, None, monkeypatch)

    run.run()

    run.audit().assert_exactly_once()
    batch, ledger = _batch_and_ledger(run, stack)
    assert batch.status is BatchStatus.COMPLETE
    assert ledger == [(name, 3, 4) for name in sorted(KINDS)]


def test_a_worker_killed_at_any_load_phase_call_leaves_each_row_once_in_each_target(
    stack: Stack, crash_point: CrashPoint, monkeypatch: pytest.MonkeyPatch, report: Report
) -> None:
    # GIVEN a worker that dies at this call of the load phase
    run = _run(stack, crash_point, monkeypatch)

    # WHEN the delivery comes again, then the lease expires and the sweep runs
    run.run()
    run.recover()

    # THEN every target holds every row once, its ledger the batch once, and the batch was
    # notified at least once
    outcome = run.audit()
    report.add(SCENARIO, faults=run.crashes, **outcome.counts())
    assert run.crashes == 1
    outcome.assert_exactly_once()
    batch, ledger = _batch_and_ledger(run, stack)
    assert batch.status is BatchStatus.COMPLETE
    assert ledger == [(name, 3, 4) for name in sorted(KINDS)]
    notes = Counter(
        n["batch_id"] for n in notified(stack.env.session, run.inbox) if n["status"] == "complete"
    )
    assert notes[batch.batch_id] >= 1
