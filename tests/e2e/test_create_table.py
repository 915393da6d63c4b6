"""`create_table: if_missing`: the loader creates a missing table before loading, from the
configured columns or from the batch's first file, once, even when two loads race for it.

Every target kind: `redshift` (psycopg2 through the stand-in), `data_api` (the fake Data API over
the stand-in) and `postgres` (psycopg2 straight to PostgreSQL, which takes no Parquet or ORC).
"""

from __future__ import annotations

import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e.lock_race import deliver_behind_a_lock
from e2e.stack import Stack

from loader.models import BatchStatus
from support.aws import BUCKET

CSV = {"format": {"type": "csv", "ignore_header_rows": 1}}
KINDS = ["redshift", "data_api", "postgres"]
REDSHIFT_KINDS = ["redshift", "data_api"]


def fresh_table(stack: Stack) -> str:
    name = f"t_{uuid.uuid4().hex[:10]}"
    stack.tables.append(name)  # dropped after the test
    return name


def columns(stack: Stack, table: str) -> list[tuple[str, str]]:
    return stack.sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position",
        (table,),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_configured_columns_make_the_table(stack: Stack, kind: str) -> None:
    table = fresh_table(stack)
    target = stack.target(
        kind,
        table,
        create_table="if_missing",
        table_columns=[
            {"name": "id", "type": "int8", "not_null": True},
            {"name": "name", "type": "varchar(10)"},
        ],
    )
    stack.config(target, files=1, copy_options=CSV)

    stack.deliver(stack.put("in/a.csv", b"id,name\n1,a\n"))

    assert columns(stack, table) == [("id", "bigint"), ("name", "character varying")]
    assert stack.rows(table) == [(1, "a")]


@pytest.mark.parametrize("kind", KINDS)
def test_without_columns_the_first_files_header_and_values_make_the_table(
    stack: Stack, kind: str
) -> None:
    table = fresh_table(stack)
    stack.config(stack.target(kind, table, create_table="if_missing"), copy_options=CSV)

    stack.deliver(
        stack.put("in/a.csv", b"Order ID,amount,placed\n1,2.50,2026-01-02\n"),
        stack.put("in/b.csv", b"Order ID,amount,placed\n2,3.75,2026-01-03\n"),
    )

    # THEN the unattended widths: the widest type of each family
    assert columns(stack, table) == [
        ("order_id", "bigint"),
        ("amount", "numeric"),
        ("placed", "date"),
    ]
    assert [(r[0], str(r[1])) for r in stack.rows(table)] == [(1, "2.50"), (2, "3.75")]


@pytest.mark.parametrize("kind", KINDS)
def test_a_json_table_comes_from_the_first_files_keys(stack: Stack, kind: str) -> None:
    table = fresh_table(stack)
    stack.config(
        stack.target(kind, table, create_table="if_missing"),
        files=1,
        copy_options={"format": {"type": "json"}},
    )

    stack.deliver(stack.put("in/a.json", b'{"id": 7, "name": "x", "ok": true}\n'))

    assert columns(stack, table) == [
        ("id", "bigint"),
        ("name", "character varying"),
        ("ok", "boolean"),
    ]
    assert stack.rows(table) == [(7, "x", True)]


@pytest.mark.parametrize("kind", REDSHIFT_KINDS)
def test_a_parquet_table_comes_from_the_files_footer(stack: Stack, kind: str) -> None:
    table = fresh_table(stack)
    stack.config(
        stack.target(kind, table, create_table="if_missing"),
        files=1,
        copy_options={"format": {"type": "parquet"}},
    )
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": pa.array([7], pa.int32()), "name": ["x"]}), sink)

    stack.deliver(stack.put("in/a.parquet", sink.getvalue()))

    assert columns(stack, table) == [("id", "integer"), ("name", "character varying")]
    assert stack.rows(table) == [(7, "x")]


@pytest.mark.parametrize("kind", KINDS)
def test_an_existing_table_is_left_as_it_is(stack: Stack, kind: str) -> None:
    table = stack.table("id bigint, name varchar(10), extra int")
    stack.config(stack.target(kind, table, create_table="if_missing"), files=1, copy_options=CSV)

    stack.deliver(stack.put("in/a.csv", b"id,name,extra\n1,a,3\n"))

    assert columns(stack, table)[2] == ("extra", "integer")
    assert stack.rows(table) == [(1, "a", 3)]


@pytest.mark.parametrize("kind", KINDS)
def test_two_loads_racing_to_create_the_table_make_it_once_and_both_load(
    stack: Stack, kind: str
) -> None:
    # GIVEN two prefixes loading into the same missing table
    table = fresh_table(stack)
    for folder in ("a", "b"):
        stack.config(
            stack.target(kind, table, create_table="if_missing"),
            files=1,
            copy_options=CSV,
            prefix=f"{BUCKET}/{folder}",
        )
    records = {
        folder: stack.put(f"{folder}/x.csv", f"id,name\n{n},{folder}\n".encode())
        for n, folder in ((1, "a"), (2, "b"))
    }
    # AND a transaction that is creating the table right now, so both loaders' CREATE TABLE IF
    # NOT EXISTS must wait on it (neither can see its uncommitted table)
    # WHEN that transaction gives up: the loaders race, one creates, the other finds it made
    errors = deliver_behind_a_lock(
        stack,
        [records["a"], records["b"]],
        holding=f"CREATE TABLE {table} (id int)",
        waiting_on="CREATE TABLE IF NOT EXISTS",
        release="rollback",
    )

    # THEN one table, and both batches loaded into it
    assert errors == []
    assert [b.status for b in stack.env.batches() if b.file_count] == [BatchStatus.COMPLETE] * 2
    assert stack.sql("SELECT count(*) FROM pg_class WHERE relname = %s", (table,)) == [(1,)]
    assert sorted(stack.rows(table)) == [(1, "a"), (2, "b")]
