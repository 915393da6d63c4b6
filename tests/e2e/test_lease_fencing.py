"""Exactly once when a lease is taken over while its holder's load transaction is still open
(issue 12, path 6): worker clocks disagree by more than the lease margin, so a second worker
takes the batch over and loads it while the first is between its COPY and its COMMIT.

The first worker is held inside its transaction by the target itself: the prefix's `post_sql`
waits for an advisory lock the test holds (PostgreSQL queues waiters in arrival order). Two
schedules, each through the three target kinds:

- `new_holder_first`: the second worker loads and commits while the first waits; then the
  first goes on. It must not commit (its lease generation is older than the fence's).
- `stale_holder_first`: both wait; the first (stale) holder commits first; the second must then
  find the batch committed and report it loaded, not load it again, not fail it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg2
import pytest
from e2e.stack import Stack

from loader.events import parse_event
from loader.loading import build_loader
from loader.models import BatchStatus
from loader.notify import build_notifier
from loader.service import LoaderService

LOCK = 731_200_001
HOLD = f"SELECT pg_advisory_xact_lock({LOCK})"
ROWS = [(1, "a"), (2, "b")]


class Gate:
    """An advisory lock the test holds; `post_sql` makes each load transaction wait for it."""

    def __init__(self, dsn: str) -> None:
        self._conn = psycopg2.connect(dsn)
        self._conn.autocommit = True
        self._sql(f"SELECT pg_advisory_lock({LOCK})")

    def _sql(self, statement: str) -> list[tuple[object, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(statement)
            return list(cur.fetchall()) if cur.description else []

    def wait_for_waiters(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            [(waiting,)] = self._sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                f"AND objid = {LOCK % 2**32}"
            )
            if waiting >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"fewer than {count} load transactions reached the gate")

    def open(self) -> None:
        self._sql(f"SELECT pg_advisory_unlock({LOCK})")
        self._conn.close()


def skewed_service(stack: Stack, ahead: float) -> LoaderService:
    """A second worker whose clock runs `ahead` seconds in front of the first one's."""
    deps, clock = stack.env.deps, stack.env.clock

    def later() -> float:
        return clock() + ahead

    return LoaderService(
        deps,
        loader=build_loader(deps, clock=later),
        notifier=build_notifier(deps, clock=later),
        clock=later,
    )


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


@pytest.mark.parametrize("kind", ["redshift", "data_api", "postgres"])
@pytest.mark.parametrize("schedule", ["new_holder_first", "stale_holder_first"])
def test_a_taken_over_batch_is_committed_once_whatever_the_clocks_say(
    stack: Stack, kind: str, schedule: str
) -> None:
    # GIVEN a prefix whose load transactions wait at the gate after their COPY
    table = stack.table("id int, name varchar(10)")
    target = stack.target(kind, table)
    stack.config(target | {"post_sql": HOLD})
    gate = Gate(stack.postgres.dsn)
    records = [stack.put("in/a.csv", "1,a\n"), stack.put("in/b.csv", "2,b\n")]

    # WHEN the first worker seals and loads the batch, and waits inside its transaction
    first, first_errors = in_thread(lambda: stack.deliver(*records))
    gate.wait_for_waiters(1)
    # ... and a second worker, whose clock is past the first one's lease, takes it over
    ahead = stack.env.deps.settings.lease_seconds + 60
    second_worker = skewed_service(stack, ahead)
    sweep = parse_event({"loader": "sweep"})
    if schedule == "new_holder_first":
        stack.config(target)  # the second worker's transaction does not wait
        second_worker.handle(sweep)
        gate.open()
    else:
        second, second_errors = in_thread(lambda: second_worker.handle(sweep))
        gate.wait_for_waiters(2)
        gate.open()  # the first (stale) holder goes first
        second.join(60)
        assert not second.is_alive() and not second_errors, second_errors
    first.join(60)
    assert not first.is_alive() and not first_errors, first_errors

    # THEN the rows and the target's ledger row are there once, the batch is complete and
    # nobody was told it failed
    assert stack.rows(table) == ROWS
    batch = stack.only_batch()
    assert [row[0] for row in stack.ledger(batch.batch_id)] == ["warehouse"]
    assert batch.status is BatchStatus.COMPLETE, batch.error
    assert stack.failure_messages() == []
