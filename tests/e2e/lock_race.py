"""Two loads made to race behind a lock: a transaction holds a DDL lock while both loaders
block on it (seen in pg_stat_activity, not timed), then releases it and both go on."""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

import psycopg2
from e2e.stack import Stack


def deliver_behind_a_lock(
    stack: Stack,
    records: list[dict[str, Any]],
    *,
    holding: str,
    waiting_on: str,
    release: Literal["commit", "rollback"],
) -> list[BaseException]:
    """Run `holding` in an open transaction, deliver each record from its own thread until both
    loaders wait on a lock in a statement starting with `waiting_on`, then `release` it.
    Returns what the deliveries raised."""
    blocker = psycopg2.connect(stack.postgres.dsn)
    blocker.cursor().execute(holding)
    errors: list[BaseException] = []

    def load(record: dict[str, Any]) -> None:
        try:
            stack.deliver(record)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(r,)) for r in records]
    for thread in threads:
        thread.start()
    try:
        waiting = 0
        while waiting < len(threads) and all(t.is_alive() for t in threads):
            time.sleep(0.05)  # polling for a state, not timing anything
            [(waiting,)] = stack.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE %s",
                (waiting_on + "%",),
            )
        assert waiting == len(threads), f"the loaders should all be waiting on {waiting_on!r}"
    finally:
        getattr(blocker, release)()
        blocker.close()
    for thread in threads:
        thread.join()
    return errors
