"""The SQL text of table creation, column addition and the catalog reads behind them. Pure.

- `CREATE TABLE IF NOT EXISTS`: "if the specified table already exists, the command should make
  no changes and return a message that the table exists, rather than terminating with an error"
  (r_CREATE_TABLE_NEW.md).
- `ALTER TABLE ... ADD COLUMN`: "You can add only one column in each ALTER TABLE statement"
  (r_ALTER_TABLE.md); a new column is nullable (NULL is the default) so existing rows stay valid.
- Catalog reads go through `information_schema`, which Redshift and PostgreSQL both have; an
  unqualified table is looked up in `current_schema()`, the first schema of the search path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.identifiers import split_table_name
from loader.copy_sql import quote_ident, quote_literal, quote_name


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    not_null: bool = False


def create_schema_sql(table: str) -> str | None:
    """`CREATE SCHEMA IF NOT EXISTS` for a qualified table, None for an unqualified one."""
    schema, _ = split_table_name(table)
    return None if schema is None else f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}"


def create_table_sql(table: str, columns: Sequence[ColumnSpec]) -> str:
    if not columns:
        raise ValueError("a table needs at least one column")
    body = ", ".join(
        f"{quote_name(c.name)} {c.type}" + (" NOT NULL" if c.not_null else "") for c in columns
    )
    return f"CREATE TABLE IF NOT EXISTS {quote_ident(table)} ({body})"


def add_column_sql(table: str, name: str, type_sql: str) -> str:
    return f"ALTER TABLE {quote_ident(table)} ADD COLUMN {quote_name(name)} {type_sql}"


def _where(table: str) -> str:
    schema, name = split_table_name(table)
    owner = "current_schema()" if schema is None else quote_literal(schema)
    return f"table_schema = {owner} AND table_name = {quote_literal(name)}"


def table_exists_sql(table: str) -> str:
    """One row if the table exists."""
    return f"SELECT 1 FROM information_schema.tables WHERE {_where(table)}"


def columns_sql(table: str) -> str:
    """(name, type, is_nullable 'YES'/'NO', column_default) per column, in table order."""
    return (
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, "
        "numeric_scale, is_nullable, column_default FROM information_schema.columns "
        f"WHERE {_where(table)} ORDER BY ordinal_position"
    )
