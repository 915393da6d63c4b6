"""Table and column names Redshift accepts arrive in the right table, through every target kind.

r_names.html: a delimited identifier "can contain any standard UTF-8 printable characters other
than the double quote itself", so `"Dot.Table"` is one table and `" b"` a column with a blank.
"""

from __future__ import annotations

import json
import uuid

import pytest
from e2e.stack import Stack, admin

KINDS = ["redshift", "data_api", "postgres"]


def quoted_table(stack: Stack, columns: str) -> str:
    """A table whose name holds a dot and capitals: only its quoted form names it."""
    name = f'"Dot.T{uuid.uuid4().hex[:8]}"'
    admin(stack.postgres.dsn, f"CREATE TABLE {name} ({columns})")
    stack.tables.append(name)
    return name


@pytest.mark.parametrize("kind", KINDS)
def test_a_quoted_table_with_a_dot_and_a_blank_column_loads(stack: Stack, kind: str) -> None:
    # GIVEN a table "Dot.T..." with a column " b", and a column list naming it as written
    table = quoted_table(stack, 'id int, " b" varchar(10)')
    stack.config(stack.target(kind, table, columns=["id", " b"]))

    # WHEN two CSV files arrive
    stack.deliver(stack.put("in/a.csv", "1,alpha\n"), stack.put("in/b.csv", "2,beta\n"))

    # THEN their rows are in that table, the column kept its blank
    assert stack.rows(table) == [(1, "alpha"), (2, "beta")]


def test_json_into_postgres_finds_the_columns_of_a_quoted_mixed_case_table(stack: Stack) -> None:
    # GIVEN a PostgreSQL target whose table name only its quoted form names
    table = quoted_table(stack, "id int, name varchar(10)")
    stack.config(stack.target("postgres", table), copy_options={"format": {"type": "json"}})

    # WHEN JSON records arrive (the loader reads the table's columns to pick the fields)
    rows = [json.dumps({"id": 1, "name": "alpha"}), json.dumps({"name": "beta", "id": 2})]
    stack.deliver(stack.put("in/a.json", rows[0]), stack.put("in/b.json", rows[1]))

    # THEN the rows are in the table
    assert stack.rows(table) == [(1, "alpha"), (2, "beta")]
