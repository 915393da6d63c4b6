"""Database faults with the real loader: a backend killed in the middle of a load is rolled back
and retried; a bad row fails the batch visibly, and once the file is fixed the batch reprocesses
to exactly once. (Serialization failures, permission errors and statement cancellation are in
tests/e2e/test_loading_recovery.py.)"""

from __future__ import annotations

import uuid

import pytest
from e2e.stack import Stack
from reliability.invariants import audit_rows
from reliability.report import Report, scale

from loader.admin import Operations
from loader.loading import build_loader
from loader.models import BatchStatus
from loader.notify import build_notifier
from loader.service import LoaderService

KINDS = ["redshift", "data_api", "postgres"]
EXPECTED = [(1, "a"), (2, "b"), (3, "c")]


def _files(stack: Stack, second: str = "3,c\n") -> list[dict]:
    return [stack.put("in/a.csv", "1,a\n2,b\n"), stack.put("in/b.csv", second)]


@pytest.mark.parametrize("kind", ["redshift", "data_api", "postgres"])
def test_a_backend_terminated_mid_load_is_rolled_back_and_loaded_once(
    stack: Stack, kind: str, report: Report
) -> None:
    # GIVEN a target whose first attempt loses its database session after the COPY ran, before
    # the ledger row and the commit
    table = stack.table("id int, name varchar(10)")
    sequence = f"s_{uuid.uuid4().hex[:8]}"
    stack.sql(f"CREATE SEQUENCE {sequence}")
    kill_once = (
        f"DO $$ BEGIN IF nextval('{sequence}') = 1 THEN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); END IF; END $$"
    )
    stack.config(stack.target(kind, table, post_sql=kill_once))

    # WHEN the batch is loaded, and the sweep runs after the lease, if the batch waits for it
    stack.deliver(*_files(stack))
    stack.env.clock.advance(stack.env.settings.lease_seconds + 1)
    stack.sweep()

    # THEN the rows are in the table once, after a second attempt
    batch = stack.only_batch()
    outcome = audit_rows(  # a batch in error holds all the rows: reprocessable, not lost
        [batch],
        stack.rows(table),
        EXPECTED,
        now=stack.env.clock(),
        in_error=lambda failed: set(EXPECTED) if failed else set(),
    )
    report.add("database faults (real targets)", faults=1, **outcome.counts())
    assert stack.rows(table) == EXPECTED
    assert batch.status is BatchStatus.COMPLETE, batch.error
    assert batch.targets["warehouse"].attempts == 2
    assert stack.ledger(batch.batch_id) == [("warehouse", 2, 3)]
    stack.sql(f"DROP SEQUENCE {sequence}")


# The failure itself is tested for every kind in tests/e2e/test_loading_flow.py.
@pytest.mark.parametrize("kind", KINDS if scale() >= 2 else ["redshift"])
def test_a_bad_row_fails_visibly_and_the_fixed_file_reprocesses_to_exactly_once(
    stack: Stack, kind: str, report: Report
) -> None:
    # GIVEN a batch with a file whose row the table rejects
    table = stack.table("id int, name varchar(10)")
    config = stack.config(stack.target(kind, table))

    # WHEN it is loaded
    stack.deliver(*_files(stack, second="three,c\n"))

    # THEN nothing is loaded, the batch is in error and the failure topic was told
    failed = stack.batch(BatchStatus.ERROR)
    assert stack.rows(table) == []
    assert [m for m in stack.failure_messages() if failed.batch_id in m["Message"]]

    # WHEN the file is corrected in S3 and an operator reprocesses the batch
    stack.put("in/b.csv", "3,c\n")
    deps, clock = stack.env.deps, stack.env.clock
    operations = Operations(
        LoaderService(
            deps,
            loader=build_loader(deps, clock=clock),
            notifier=build_notifier(deps, clock=clock),
            clock=clock,
        )
    )
    done = operations.reprocess(operations.plan_reprocess(failed.batch_id))

    # THEN the rows are in the table once
    outcome = audit_rows([done], stack.rows(table), EXPECTED, now=clock())
    report.add("database faults (real targets)", faults=1, **outcome.counts())
    assert done.status is BatchStatus.COMPLETE
    assert stack.rows(table) == EXPECTED
    assert stack.ledger(done.batch_id) == [("warehouse", 2, 3)]
    assert config.prefix == done.prefix
