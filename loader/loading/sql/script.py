"""What one target's load transaction runs, in order. Pure: no database, no clock, no boto3.

    SET statement_timeout TO <ms>          from the time left (timing.py)
    SELECT rows_loaded FROM <ledger> ...   already committed? then ROLLBACK and report it
    <pre_sql>                              optional, operator SQL
    DELETE FROM <table>                    optional truncate (Redshift's TRUNCATE would commit)
    ALTER TABLE <table> ADD COLUMN ...     schema_evolution add_columns: one per new column
    CREATE TEMP TABLE <stage> (LIKE ...)   merge only
    COPY <table | stage> ...               the batch's files
    SELECT <copied rows>                   pg_last_copy_count() on Redshift
    <load check>                           optional: the COPY's load history (load_history.py)
    DELETE ... USING <stage> / INSERT ...  merge only, then DROP TABLE <stage>
    <post_sql>                             optional, operator SQL
    UPDATE <fence> ... generation <= G     claim the batch for this lease (ledger.py: fencing)
    SELECT rows_loaded FROM <ledger> ...   committed meanwhile by another holder? ROLLBACK
    INSERT INTO <ledger> ...               same transaction: committed with the rows or not at all

The executor (psycopg2 or the Data API) wraps this in one transaction and commits at the end.
The Data API cannot look at a statement's result before the next one runs: there the claim is
followed by guards that fail the transaction (`guards=True`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from loader.copy_sql import build_merge, build_truncate
from loader.loading.sql import ledger
from loader.loading.sql.ledger import Dialect, LedgerEntry

if TYPE_CHECKING:
    from config.targets import Target

# PostgreSQL has no pg_last_copy_count(): its executor stores the count it streamed in a
# transaction-local setting right after the COPY, and the script reads it back from there.
PG_ROWS_SETTING = "s3_redshift_loader.copied_rows"
ROWS_SQL = {
    Dialect.REDSHIFT: "pg_last_copy_count()",
    Dialect.POSTGRES: f"current_setting('{PG_ROWS_SETTING}')::bigint",
}


class StepKind(StrEnum):
    TIMEOUT = "timeout"
    CHECK = "ledger_check"
    PRE_SQL = "pre_sql"
    TRUNCATE = "truncate"
    ADD_COLUMN = "add_column"
    STAGE = "create_stage"
    COPY = "copy"
    COUNT = "copy_count"
    VERIFY = "load_check"
    MERGE_DELETE = "merge_delete"
    MERGE_INSERT = "merge_insert"
    DROP_STAGE = "drop_stage"
    POST_SQL = "post_sql"
    FENCE_ROW = "fence_row"
    FENCE = "fence"
    FENCE_GUARD = "fence_guard"
    RECHECK = "ledger_recheck"
    RECORD = "ledger_record"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    sql: str


@dataclass(frozen=True)
class Script:
    steps: tuple[Step, ...]
    setup: tuple[Step, ...] = ()
    """Statements committed on their own before the transaction (the fence row)."""

    @property
    def kinds(self) -> list[StepKind]:
        return [step.kind for step in self.steps]

    def position(self, kind: StepKind) -> int:
        """1-based position of the first step of that kind (Data API sub-statement number)."""
        return self.kinds.index(kind) + 1


def staging_table(batch_id: str) -> str:
    """A temp table name unique to the batch (temp tables are per session anyway)."""
    return "s3rl_stage_" + re.sub(r"[^a-z0-9]+", "_", batch_id.lower()).strip("_")


def set_rows_sql(rows: int) -> str:
    """PostgreSQL executor: remember the streamed row count for the COUNT and RECORD steps."""
    return f"SELECT set_config('{PG_ROWS_SETTING}', '{int(rows)}', true)"


def build_script(
    target: Target,
    entry: LedgerEntry,
    *,
    dialect: Dialect,
    timeout_ms: int,
    copy_into: Callable[[str], str],
    verify_sql: str | None = None,
    add_columns: Sequence[str] = (),
    guards: bool = False,
) -> Script:
    """The whole transaction for one target; `copy_into(table)` gives the COPY statement.

    `verify_sql`, when given, runs right after the COPY's count: the loaded-vs-staged check.
    `add_columns` (ALTER TABLE ... ADD COLUMN statements) run before the COPY (and before the
    merge's staging table is made LIKE the target), after the ledger check.
    `guards`: the fence and the re-check fail the transaction themselves (the Data API).
    """
    steps = [
        Step(StepKind.TIMEOUT, f"SET statement_timeout TO {int(timeout_ms)}"),
        Step(
            StepKind.CHECK,
            ledger.lookup_sql(target.ledger_schema, entry.batch_id, entry.target, dialect),
        ),
    ]
    if target.pre_sql:
        steps.append(Step(StepKind.PRE_SQL, target.pre_sql))
    if target.truncate_before_load:
        steps.append(Step(StepKind.TRUNCATE, build_truncate(target.table, in_transaction=True)))
    steps += [Step(StepKind.ADD_COLUMN, sql) for sql in add_columns]
    count = [Step(StepKind.COUNT, f"SELECT {ROWS_SQL[dialect]}")]
    if verify_sql is not None:
        count.append(Step(StepKind.VERIFY, verify_sql))
    if target.merge is None:
        steps += [Step(StepKind.COPY, copy_into(target.table)), *count]
    else:
        stage = staging_table(entry.batch_id)
        create, delete, insert, drop = build_merge(
            target.table, stage, target.merge.key_columns, target.columns
        )
        steps += [
            Step(StepKind.STAGE, create),
            Step(StepKind.COPY, copy_into(stage)),
            *count,
            Step(StepKind.MERGE_DELETE, delete),
            Step(StepKind.MERGE_INSERT, insert),
            Step(StepKind.DROP_STAGE, drop),
        ]
    if target.post_sql:
        steps.append(Step(StepKind.POST_SQL, target.post_sql))
    schema = target.ledger_schema
    steps.append(Step(StepKind.FENCE, ledger.fence_sql(schema, entry, dialect)))
    if guards:
        steps.append(Step(StepKind.FENCE_GUARD, ledger.fence_guard_sql(schema, entry)))
        steps.append(Step(StepKind.RECHECK, ledger.recheck_guard_sql(schema, entry)))
    else:
        recheck = ledger.lookup_sql(schema, entry.batch_id, entry.target, dialect)
        steps.append(Step(StepKind.RECHECK, recheck))
    steps.append(
        Step(
            StepKind.RECORD,
            ledger.insert_sql(target.ledger_schema, entry, dialect, ROWS_SQL[dialect]),
        )
    )
    setup = Step(StepKind.FENCE_ROW, ledger.fence_row_sql(schema, entry, dialect))
    return Script(tuple(steps), setup=(setup,))
