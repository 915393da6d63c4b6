"""The loader's ledger inside each target: which batches the target has committed. Pure SQL text.

One row per (batch, target), inserted in the same transaction as the batch's rows. A retried
batch looks its row up first: if it is there, the earlier attempt committed (perhaps just before
the loader crashed) and the target is reported loaded with the recorded row count.

    CREATE TABLE IF NOT EXISTS loader_meta.loaded_batches (
        batch_id     VARCHAR(64)   NOT NULL,
        target_name  VARCHAR(64)   NOT NULL,
        prefix       VARCHAR(1100) NOT NULL,
        manifest_url VARCHAR(2200) NOT NULL,
        files        INTEGER       NOT NULL,
        rows_loaded  BIGINT,
        loaded_at    TIMESTAMP     NOT NULL
        [, PRIMARY KEY (batch_id, target_name)])   -- PostgreSQL only

The primary key is declared on PostgreSQL, which enforces it (a second guard against two
concurrent loads of one batch). Redshift does not enforce keys and its planner trusts declared
ones, so there the table has none; the loader's checks never rely on it.

The fence: a lease holder whose lease expired on another worker's clock may still be inside its
load transaction while the new holder loads. Each (batch, target) has one row in

    CREATE TABLE IF NOT EXISTS loader_meta.load_fences (
        batch_id VARCHAR(64) NOT NULL, target_name VARCHAR(64) NOT NULL,
        generation BIGINT NOT NULL, holder VARCHAR(128) NOT NULL, claimed_at TIMESTAMP NOT NULL
        [, PRIMARY KEY (batch_id, target_name)])               -- PostgreSQL only

created (generation 0) before the load transaction opens. At the end of the transaction, after
the batch's rows and just before the ledger row, the holder claims it:

    UPDATE load_fences SET generation = G ... WHERE batch = B AND target = T AND generation <= G
    -- not claimed: a newer lease holder got there first -> roll back (LeaseLostError)
    SELECT ... FROM loaded_batches ...   -- claimed, but someone committed meanwhile -> roll back
    INSERT INTO loaded_batches ...; COMMIT

Two holders of one batch therefore write the same row before either can commit, and that is
what serialises them in every database, clocks aside (docs/loading.md, "Fencing"):
- PostgreSQL (READ COMMITTED): the second UPDATE waits for the first transaction; once it
  commits, the second re-reads the row: a newer generation is not claimed (LeaseLostError), an older
  one is, and the re-check then sees the committed ledger row (already loaded).
- Redshift (SERIALIZABLE or SNAPSHOT isolation): concurrent writes to one row cannot both
  commit; the later one fails with a serializable isolation violation (retryable), and the
  retry finds the ledger row or a newer generation.
- The Data API runs the script as one transaction with guards (below) in place of the checks.
The claim comes last so that its lock is held for the end of the transaction only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from loader.copy_sql import quote_ident, quote_literal, quote_name

LEDGER_TABLE = "loaded_batches"
FENCE_TABLE = "load_fences"
FENCE_LOST_MARK = "s3rl-fence-lost"
ALREADY_LOADED_MARK = "s3rl-already-loaded"


class Dialect(StrEnum):
    """How string literals are written: Redshift reads backslash escapes, PostgreSQL does not."""

    REDSHIFT = "redshift"
    POSTGRES = "postgres"


@dataclass(frozen=True)
class LedgerEntry:
    batch_id: str
    target: str
    prefix: str
    manifest_url: str
    files: int
    loaded_at: float
    """Epoch seconds (the loader's clock), stored as a UTC timestamp."""
    generation: int = 0
    """The lease generation of the holder loading it (the fence's claim)."""
    holder: str = ""


def literal(value: str, dialect: Dialect) -> str:
    """A string literal for the dialect (standard_conforming_strings on PostgreSQL)."""
    if dialect is Dialect.REDSHIFT:
        return quote_literal(value)
    if "\x00" in value:
        raise ValueError("a SQL literal cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def ledger_table(schema: str) -> str:
    return quote_ident(f"{schema}.{LEDGER_TABLE}")


def fence_table(schema: str) -> str:
    return quote_ident(f"{schema}.{FENCE_TABLE}")


def ddl(schema: str, dialect: Dialect) -> list[str]:
    """Create the schema and the tables if absent (safe to run on every cold start)."""
    key = ", PRIMARY KEY (batch_id, target_name)" if dialect is Dialect.POSTGRES else ""
    return [
        f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}",
        f"CREATE TABLE IF NOT EXISTS {ledger_table(schema)} ("
        "batch_id VARCHAR(64) NOT NULL, "
        "target_name VARCHAR(64) NOT NULL, "
        "prefix VARCHAR(1100) NOT NULL, "
        "manifest_url VARCHAR(2200) NOT NULL, "
        "files INTEGER NOT NULL, "
        "rows_loaded BIGINT, "
        f"loaded_at TIMESTAMP NOT NULL{key})",
        f"CREATE TABLE IF NOT EXISTS {fence_table(schema)} ("
        "batch_id VARCHAR(64) NOT NULL, "
        "target_name VARCHAR(64) NOT NULL, "
        "generation BIGINT NOT NULL, "
        "holder VARCHAR(128) NOT NULL, "
        f"claimed_at TIMESTAMP NOT NULL{key})",
    ]


def _where(entry: LedgerEntry, dialect: Dialect) -> str:
    return (
        f"WHERE batch_id = {literal(entry.batch_id, dialect)} "
        f"AND target_name = {literal(entry.target, dialect)}"
    )


def _stamp(entry: LedgerEntry) -> str:
    return "TIMESTAMP '" + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.loaded_at)) + "'"


def fence_row_sql(schema: str, entry: LedgerEntry, dialect: Dialect) -> str:
    """The batch's fence row, unclaimed, unless it exists (run before the load transaction, on
    its own). Redshift enforces no key: a race may leave two rows, which the claim updates
    together, so it still serialises the holders."""
    return (
        f"INSERT INTO {fence_table(schema)} "
        "(batch_id, target_name, generation, holder, claimed_at) "
        f"SELECT {literal(entry.batch_id, dialect)}, {literal(entry.target, dialect)}, 0, '', "
        f"{_stamp(entry)} WHERE NOT EXISTS (SELECT 1 FROM {fence_table(schema)} "
        f"{_where(entry, dialect)})"
    )


def fence_sql(schema: str, entry: LedgerEntry, dialect: Dialect) -> str:
    """Claim the fence for this lease generation; no row updated = a newer holder has it."""
    return (
        f"UPDATE {fence_table(schema)} SET generation = {int(entry.generation)}, "
        f"holder = {literal(entry.holder[:128], dialect)}, claimed_at = {_stamp(entry)} "
        f"{_where(entry, dialect)} AND generation <= {int(entry.generation)}"
    )


def fence_guard_sql(schema: str, entry: LedgerEntry) -> str:
    """Data API (nothing can be decided between its statements): fail the transaction unless the
    claim took. The error text is built from a row value, so no planner folds it early."""
    return (
        "SELECT CASE WHEN count(*) > 0 THEN 0 ELSE CAST("
        f"{quote_literal(FENCE_LOST_MARK + ' claims=')} || CAST(count(*) AS VARCHAR) AS INTEGER) "
        f"END FROM {fence_table(schema)} {_where(entry, Dialect.REDSHIFT)} "
        f"AND generation = {int(entry.generation)}"
    )


def recheck_guard_sql(schema: str, entry: LedgerEntry) -> str:
    """Data API: fail the transaction if another holder committed the batch meanwhile."""
    return (
        "SELECT CASE WHEN count(*) = 0 THEN 0 ELSE CAST("
        f"{quote_literal(ALREADY_LOADED_MARK + ' rows=')} || CAST(count(*) AS VARCHAR) "
        f"AS INTEGER) END FROM {ledger_table(schema)} {_where(entry, Dialect.REDSHIFT)}"
    )


def lookup_sql(schema: str, batch_id: str, target: str, dialect: Dialect) -> str:
    """One row (rows_loaded) if the batch is already committed to the target, else none."""
    return (
        f"SELECT rows_loaded FROM {ledger_table(schema)} "
        f"WHERE batch_id = {literal(batch_id, dialect)} "
        f"AND target_name = {literal(target, dialect)}"
    )


def insert_sql(schema: str, entry: LedgerEntry, dialect: Dialect, rows_sql: str) -> str:
    """The ledger row; `rows_sql` is an SQL expression for the row count (e.g. a COPY count)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.loaded_at))
    values = ", ".join(
        [
            literal(entry.batch_id, dialect),
            literal(entry.target, dialect),
            literal(entry.prefix, dialect),
            literal(entry.manifest_url, dialect),
            str(int(entry.files)),
            rows_sql,
            f"TIMESTAMP '{stamp}'",
        ]
    )
    return (
        f"INSERT INTO {ledger_table(schema)} "
        "(batch_id, target_name, prefix, manifest_url, files, rows_loaded, loaded_at) "
        f"VALUES ({values})"
    )


def exists_sql(schema: str, dialect: Dialect) -> str:
    """One row if the ledger and fence tables both exist (Redshift and PostgreSQL)."""
    return (
        "SELECT 1 FROM information_schema.tables "
        f"WHERE table_schema = {literal(schema, dialect)} "
        f"AND table_name IN ({literal(LEDGER_TABLE, dialect)}, {literal(FENCE_TABLE, dialect)}) "
        "HAVING count(*) = 2"
    )
