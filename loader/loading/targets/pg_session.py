"""One psycopg2 connection per load attempt (Redshift clusters, Serverless, PostgreSQL): connect,
make sure the ledger exists, run the load script in one transaction, roll back, close.

psycopg2 opens a transaction at the first statement (autocommit off), so the whole script is one
transaction, committed at the end. On any error the attempt rolls back before anything else is
sent on the connection: retrying inside an aborted transaction is what gave the original loader
its 25P02 errors. Both psycopg2 targets share this skeleton (`open_connection`, `Ledgers`,
`attempt`); each says only what it runs and how it words a failure.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loader.errors import LeaseLostError, LoaderError, RetryableError
from loader.loading.sql import ledger
from loader.loading.sql.script import Script, Step, StepKind
from loader.loading.targets.db_errors import classify_db_error
from loader.log import logger

if TYPE_CHECKING:
    from psycopg2.extensions import connection, cursor

    from loader.loading.sql.ledger import Dialect

MIN_STEP_MS = 1000
DUPLICATE_COLUMN = "42701"
"""ALTER TABLE ADD COLUMN of a column a concurrent load added first (then retried)."""
CopyRunner = Callable[["cursor", Step], int]
"""Runs the COPY step itself and returns the rows it loaded (PostgreSQL's COPY FROM STDIN)."""
Verifier = Callable[[list[tuple[Any, ...]], int], None]
"""Judges the VERIFY step's rows and the COPY's row count; raises to stop before COMMIT."""


@dataclass(frozen=True)
class Committed:
    rows: int
    already_loaded: bool = False


def connect(**params: Any) -> connection:
    """A new connection, autocommit off. `params` are libpq keywords (password included)."""
    import psycopg2

    conn = psycopg2.connect(application_name="s3-redshift-loader", **params)
    conn.autocommit = False
    return conn


def open_connection(target: str, **params: Any) -> connection:
    """`connect`, a refused connection classified (retryable or terminal)."""
    import psycopg2

    try:
        return connect(**params)
    except psycopg2.Error as exc:
        raise classify_db_error(exc, target=target) from None


@contextlib.contextmanager
def attempt(
    conn: connection,
    failure: Callable[[Exception], LoaderError],
    *,
    keep: tuple[type[Exception], ...] = (),
) -> Iterator[None]:
    """The attempt's work on `conn`: a database error becomes `failure(exc)`, raised `from None`
    (psycopg2's text may quote the statement, secrets and all); the errors in `keep` roll back
    and propagate as they are; the connection is closed at the end, whatever happened (closing
    also ends a transaction an unexpected error left open)."""
    import psycopg2

    try:
        yield
    except psycopg2.Error as exc:
        raise failure(exc) from None
    except keep:
        rollback_quietly(conn)
        raise
    finally:
        conn.close()


class Ledgers:
    """The databases whose ledger tables this warm container has seen (checked once each)."""

    def __init__(self) -> None:
        self._known: set[Hashable] = set()

    def ensure(self, conn: connection, key: Hashable, schema: str, dialect: Dialect) -> None:
        if key not in self._known:
            ensure_ledger(conn, schema, dialect)
            self._known.add(key)


def ensure_ledger(conn: connection, schema: str, dialect: Dialect) -> None:
    """Create the ledger schema/table when absent, outside the load transaction."""
    catalog = PgCatalog(conn)
    if catalog.read(ledger.exists_sql(schema, dialect)):
        return
    catalog.create(ledger.ddl(schema, dialect))
    logger.info("ledger_created", schema=schema)


class PgCatalog:
    """`table_prep.Catalog` over the attempt's connection: reads in short transactions, DDL in
    autocommit (the ledger's and the target table's)."""

    def __init__(self, conn: connection) -> None:
        import psycopg2

        self._conn = conn
        self.errors: tuple[type[Exception], ...] = (psycopg2.Error,)

    def read(self, sql: str) -> list[tuple[Any, ...]]:
        return fetch_rows(self._conn, sql)

    def create(self, statements: Sequence[str]) -> None:
        import psycopg2

        conn = self._conn
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    # A concurrent loader may create it first: IF NOT EXISTS races in PostgreSQL.
                    with contextlib.suppress(
                        psycopg2.errors.UniqueViolation,
                        psycopg2.errors.DuplicateSchema,
                        psycopg2.errors.DuplicateTable,
                    ):
                        cur.execute(statement)
        finally:
            conn.autocommit = False


def _run_setup(conn: connection, script: Script) -> None:
    """The script's setup statements (the fence row), each committed on its own first."""
    import psycopg2

    for step in script.setup:
        try:
            with conn.cursor() as cur:
                cur.execute(step.sql)
            conn.commit()
        except psycopg2.errors.UniqueViolation:  # PostgreSQL: a concurrent holder inserted it
            conn.rollback()


def run_script(
    conn: connection,
    script: Script,
    *,
    target: str,
    deadline: float,
    timeout_ms: int,
    copy: CopyRunner | None = None,
    verify: Verifier | None = None,
    before_claim: Callable[[], None] | None = None,
) -> Committed:
    """Execute every step in one transaction and commit; stop early if the ledger has the batch.

    `deadline` (time.monotonic) bounds the whole transaction, not just each statement: when less
    time is left than the statement timeout, the timeout is lowered before the next step.
    Errors propagate unchanged (the caller classifies them and rolls back), as do those of
    `verify`, called with the rows of the VERIFY step (the load check) and the rows copied.
    A fence not claimed (a newer lease holder has it) rolls back and raises LeaseLostError.
    `before_claim` runs after the batch's rows and before the claim (the source check: its
    error propagates, and the caller's rollback undoes the rows).
    """
    rows = 0
    _run_setup(conn, script)
    with conn.cursor() as cur:
        for step in script.steps:
            started = time.monotonic()
            if step.kind is StepKind.FENCE and before_claim is not None:
                before_claim()
            timeout_ms = _tighten(cur, step, deadline - started, timeout_ms, target)
            if step.kind is StepKind.COPY and copy is not None:
                rows = copy(cur, step)
            else:
                cur.execute(step.sql)
            if step.kind in (StepKind.CHECK, StepKind.RECHECK):
                found = cur.fetchone()
                if found is not None:
                    conn.rollback()
                    return Committed(rows=int(found[0] or 0), already_loaded=True)
            elif step.kind is StepKind.FENCE and cur.rowcount == 0:
                conn.rollback()
                raise LeaseLostError(
                    f"target {target}: a newer lease holder claimed the batch; rolled back",
                    target=target,
                )
            elif step.kind is StepKind.COUNT:
                counted = cur.fetchone()
                rows = int(counted[0]) if counted and counted[0] is not None else rows
            elif step.kind is StepKind.VERIFY and verify is not None:
                verify(list(cur.fetchall()), rows)
            logger.debug(
                "load_step",
                target=target,
                step=step.kind.value,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
    conn.commit()
    return Committed(rows=rows)


def _tighten(cur: cursor, step: Step, left_seconds: float, timeout_ms: int, target: str) -> int:
    """The statement timeout for the next step: never past the transaction's deadline."""
    left_ms = int(left_seconds * 1000)
    if left_ms < MIN_STEP_MS:
        raise RetryableError(
            f"target {target}: the attempt ran out of time before {step.kind.value}",
            target=target,
        )
    if step.kind is StepKind.TIMEOUT or left_ms >= timeout_ms:
        return timeout_ms
    cur.execute(f"SET statement_timeout TO {left_ms}")
    return left_ms


def rollback_quietly(conn: connection) -> None:
    """ROLLBACK after a failure; a connection that is already gone needs none."""
    import psycopg2

    if conn.closed:
        return
    try:
        conn.rollback()
    except psycopg2.Error as exc:  # the connection broke with the error: closing is enough
        logger.warning("rollback_failed", error=type(exc).__name__)


def fetch_rows(conn: connection, sql: str) -> list[tuple[Any, ...]]:
    """A read in its own short transaction (used after a rollback, for load error rows)."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        rollback_quietly(conn)
