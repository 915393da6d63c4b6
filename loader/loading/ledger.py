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
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from loader.copy_sql import quote_ident, quote_literal, quote_name

LEDGER_TABLE = "loaded_batches"


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


def literal(value: str, dialect: Dialect) -> str:
    """A string literal for the dialect (standard_conforming_strings on PostgreSQL)."""
    if dialect is Dialect.REDSHIFT:
        return quote_literal(value)
    if "\x00" in value:
        raise ValueError("a SQL literal cannot hold a NUL character")
    return "'" + value.replace("'", "''") + "'"


def ledger_table(schema: str) -> str:
    return quote_ident(f"{schema}.{LEDGER_TABLE}")


def ddl(schema: str, dialect: Dialect) -> list[str]:
    """Create the schema and the table if absent (safe to run on every cold start)."""
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
    ]


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
    """One row if the ledger table exists (works on Redshift and PostgreSQL)."""
    return (
        "SELECT 1 FROM information_schema.tables "
        f"WHERE table_schema = {literal(schema, dialect)} "
        f"AND table_name = {literal(LEDGER_TABLE, dialect)}"
    )
