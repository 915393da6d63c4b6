"""Schema drift through the whole flow: a batch whose files carry columns the table lacks (or lack
columns it requires) fails with a notice that names them and gives the ALTER TABLE; with
`schema_evolution: add_columns` the columns are added inside the load's transaction.

Every target kind: `redshift` (psycopg2 through the stand-in, COPY errors as Redshift words
them), `data_api` (the fake Data API over the stand-in) and `postgres` (straight to PostgreSQL,
which takes no Parquet or ORC). The loader reads the Parquet / ORC schema from the file's footer
itself (no pyarrow in the Lambda).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from e2e.lock_race import deliver_behind_a_lock
from e2e.stack import Stack
from pyarrow import orc

from loader.models import BatchStatus
from support.aws import BUCKET

CSV = {"format": {"type": "csv", "ignore_header_rows": 1}}


def columnar(kind: str, columns: dict[str, Any]) -> bytes:
    sink = io.BytesIO()
    table = pa.table(columns)
    if kind == "parquet":
        pq.write_table(table, sink)
    else:
        orc.write_table(table, sink)
    return sink.getvalue()


def drift_notice(stack: Stack) -> dict[str, Any]:
    [envelope] = stack.failure_messages()
    document = json.loads(envelope["Message"])
    [drift] = document["schema_drift"]
    assert drift["summary"] in document["targets"][0]["error"]
    return drift


FILES = {
    "csv": (CSV, "in/a.csv", b"id,name,amount\n1,a,2.50\n"),
    "parquet": (
        {"format": {"type": "parquet"}},
        "in/a.parquet",
        columnar("parquet", {"id": [1], "name": ["a"], "amount": [2.5]}),
    ),
    "orc": (
        {"format": {"type": "orc"}},
        "in/a.orc",
        columnar("orc", {"id": [1], "name": ["a"], "amount": [2.5]}),
    ),
    "json": ({"format": {"type": "json"}}, "in/a.json", b'{"id": 1, "name": "a", "amount": 2.5}\n'),
}
KINDS = ["redshift", "data_api", "postgres"]


def cases(*formats: str) -> list[tuple[str, str]]:
    """(kind, format) pairs; PostgreSQL targets load text and JSON only."""
    return [
        (kind, fmt)
        for kind in KINDS
        for fmt in formats
        if kind != "postgres" or fmt not in ("parquet", "orc")
    ]


@pytest.mark.parametrize(("kind", "fmt"), cases("csv", "parquet", "orc"))
def test_a_new_column_fails_the_load_and_the_notice_names_it_with_the_alter_table(
    stack: Stack, kind: str, fmt: str
) -> None:
    # GIVEN a table (id, name) and a file that also carries `amount`
    table = stack.table("id bigint, name varchar(10)")
    options, key, body = FILES[fmt]
    stack.config(stack.target(kind, table), files=1, copy_options=options)

    # WHEN the batch is loaded (schema_evolution is off: Redshift's COPY decides)
    stack.deliver(stack.put(key, body))

    # THEN it fails, and the failure notice names the column and the statement adding it
    assert stack.batch(BatchStatus.ERROR)
    drift = drift_notice(stack)
    assert drift["extra_columns"] == ["amount"]
    assert drift["missing_columns"] == []
    [alter] = drift["alter_table"]
    assert alter.startswith(f'ALTER TABLE "{table}" ADD COLUMN "amount" ')
    assert "the files carry columns the table lacks: amount" in drift["summary"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_json_file_lacking_a_required_column_is_named_in_the_notice(
    stack: Stack, kind: str
) -> None:
    # GIVEN a table whose `id` is NOT NULL and records without `id` but with a new key
    table = stack.table("id int not null, name varchar(10)")
    stack.config(stack.target(kind, table), files=1, copy_options={"format": {"type": "json"}})

    stack.deliver(stack.put("in/a.json", b'{"name": "a", "colour": "red"}\n'))

    # THEN COPY fails (missing data for a not-null field) and the notice says why
    drift = drift_notice(stack)
    assert drift["missing_columns"] == ["id"]
    assert drift["extra_columns"] == ["colour"]


@pytest.mark.parametrize("kind", KINDS)
def test_detect_fails_json_keys_redshift_would_silently_drop(stack: Stack, kind: str) -> None:
    # GIVEN JSON records with a key the table lacks (COPY 'auto' would just ignore it)
    table = stack.table("id int, name varchar(10)")
    target = stack.target(kind, table, schema_evolution="detect")
    stack.config(target, files=1, copy_options={"format": {"type": "json"}})

    stack.deliver(stack.put("in/a.json", b'{"id": 1, "name": "a", "colour": "red"}\n'))

    # THEN nothing is loaded and the notice names the key
    assert stack.rows(table) == []
    assert stack.batch(BatchStatus.ERROR)
    assert drift_notice(stack)["extra_columns"] == ["colour"]


@pytest.mark.parametrize(("kind", "fmt"), cases("csv", "parquet", "orc", "json"))
def test_add_columns_adds_the_new_column_and_loads_into_it(
    stack: Stack, kind: str, fmt: str
) -> None:
    # GIVEN a table (id, name) with rows, and a file with a new last column
    table = stack.table("id bigint, name varchar(10)")
    stack.sql(f"INSERT INTO {table} VALUES (0, 'old')")
    options, key, body = FILES[fmt]
    target = stack.target(kind, table, schema_evolution="add_columns")
    stack.config(target, files=1, copy_options=options)

    stack.deliver(stack.put(key, body))

    # THEN the column exists (nullable) and the new row fills it, the old row has NULL there
    assert stack.batch(BatchStatus.COMPLETE)
    assert [(r[0], r[1], None if r[2] is None else float(r[2])) for r in stack.rows(table)] == [
        (0, "old", None),
        (1, "a", 2.5),
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_columns_added_by_a_failed_load_are_rolled_back_with_it(stack: Stack, kind: str) -> None:
    # GIVEN two files with a new column, one of them with a bad id
    table = stack.table("id bigint, name varchar(10)")
    target = stack.target(kind, table, schema_evolution="add_columns")
    stack.config(target, files=2, copy_options=CSV)
    good = stack.put("in/a.csv", b"id,name,amount\n1,a,2.5\n")
    bad = stack.put("in/b.csv", b"id,name,amount\nseven,b,1\n")

    stack.deliver(good, bad)

    # THEN the batch fails and the table is as it was: the ALTER ran in the load's transaction
    assert stack.batch(BatchStatus.ERROR)
    columns = stack.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position",
        (table,),
    )
    assert columns == [("id",), ("name",)]


@pytest.mark.parametrize("kind", KINDS)
def test_add_columns_refuses_a_new_column_in_the_middle_of_a_positional_file(
    stack: Stack, kind: str
) -> None:
    table = stack.table("id bigint, name varchar(10)")
    target = stack.target(kind, table, schema_evolution="add_columns")
    stack.config(target, files=1, copy_options=CSV)

    stack.deliver(stack.put("in/a.csv", b"id,amount,name\n1,2.5,a\n"))

    drift = drift_notice(stack)
    assert drift["order_differs"] is True
    assert drift["extra_columns"] == ["amount"]
    assert stack.rows(table) == []


@pytest.mark.parametrize("kind", KINDS)
def test_two_loads_adding_the_same_column_at_once_both_load(stack: Stack, kind: str) -> None:
    # GIVEN two prefixes into one table, each with a file bringing the same new column
    table = stack.table("id bigint, name varchar(10)")
    for folder in ("a", "b"):
        target = stack.target(kind, table, schema_evolution="add_columns")
        stack.config(target, files=1, copy_options=CSV, prefix=f"{BUCKET}/{folder}")
    records = {
        folder: stack.put(f"{folder}/x.csv", f"id,name,amount\n{n},{folder},{n}.5\n".encode())
        for n, folder in ((1, "a"), (2, "b"))
    }
    # AND a transaction adding that column right now, so both loaders' ALTERs wait on its lock
    # WHEN that transaction commits: both loaders' ALTERs now find the column there
    errors = deliver_behind_a_lock(
        stack,
        [records["a"], records["b"]],
        holding=f"ALTER TABLE {table} ADD COLUMN amount numeric(38,1)",
        waiting_on="ALTER TABLE",
        release="commit",
    )

    # THEN both retried without adding it again, and both batches loaded
    assert errors == []
    assert [b.status for b in stack.env.batches() if b.file_count] == [BatchStatus.COMPLETE] * 2
    assert sorted((r[0], r[1], float(r[2])) for r in stack.rows(table)) == [
        (1, "a", 1.5),
        (2, "b", 2.5),
    ]
