"""A file overwritten in S3 *while* its batch loads (issue 12, path 7): COPY reads the latest
content, which is no longer the version the ledger registered.

Each load waits at a gate in its `pre_sql` (an advisory lock the test holds, as in
test_lease_fencing.py); meanwhile the test overwrites a file, then opens the gate:

- Redshift over psycopg2: after the COPY and before the commit the loader compares the files
  with S3, rolls back, compares again and loads again without the overwritten file
  (`reupload: reload`: the new version loads with its own notification). No version twice.
- PostgreSQL: the loader streams each object with If-Match on its registered ETag, so it reads
  that version or fails (then the same retry).
- The Data API commits without a pause: the loader says so on the target's state.
"""

from __future__ import annotations

import pytest
from e2e.stack import Stack
from e2e.test_lease_fencing import HOLD, Gate, in_thread

from loader.models import BatchStatus


def overwrite_during_the_load(stack: Stack, kind: str) -> tuple[str, dict]:
    table = stack.table("id int, name varchar(10)")
    target = stack.target(kind, table) | {"pre_sql": HOLD}
    stack.config(target, reupload="reload")
    gate = Gate(stack.postgres.dsn)
    records = [stack.put("in/a.csv", "1,v1\n"), stack.put("in/b.csv", "2,v1\n")]
    loading, errors = in_thread(lambda: stack.deliver(*records))
    gate.wait_for_waiters(1)
    second = stack.put("in/a.csv", "1,v2\n")
    second["s3"]["object"]["sequencer"] = "F" * 18  # S3 orders a key's uploads by sequencer
    gate.open()
    loading.join(60)
    assert not loading.is_alive() and not errors, errors
    return table, second


@pytest.mark.parametrize("kind", ["redshift", "postgres"])
def test_a_file_overwritten_during_the_load_is_rolled_back_and_loads_once(
    stack: Stack, kind: str
) -> None:
    # GIVEN a batch whose file a.csv is overwritten while the batch's transaction is open
    table, second = overwrite_during_the_load(stack, kind)

    # THEN that attempt rolled back, the files were compared with S3 again and the batch loaded
    # without a.csv (its first version is gone; reupload: reload loads the second on its own)
    [batch] = [b for b in stack.env.batches() if b.file_count]
    assert batch.status is BatchStatus.COMPLETE and batch.file_count == 1
    assert stack.rows(table) == [(2, "v1")]

    # WHEN the overwrite's notification arrives
    stack.config(stack.target(kind, table), files=1, reupload="reload")
    stack.deliver(second)

    # THEN b loaded with the first batch, a's second version with its own: each once, and
    # a's first version (gone from S3) never
    assert stack.rows(table) == [(1, "v2"), (2, "v1")]
    assert all(b.status is BatchStatus.COMPLETE for b in stack.env.batches() if b.file_count)


def test_over_the_data_api_a_file_overwritten_during_the_load_is_reported(stack: Stack) -> None:
    overwrite_during_the_load(stack, "data_api")

    [batch] = [b for b in stack.env.batches() if b.file_count]
    assert batch.status is BatchStatus.COMPLETE
    warning = batch.targets["warehouse"].error or ""
    assert "changed in S3 while the Data API loaded them" in warning
    assert "in/a.csv" in warning
