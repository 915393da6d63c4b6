"""The fake redshift-data client: asynchronous statements that really run, through the stand-in."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg2
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from redshift_standin import StandIn
from redshift_standin.data_api import FakeRedshiftData

Put = Callable[[str, bytes | str], str]
TARGET = {"ClusterIdentifier": "local", "Database": "postgres", "DbUser": "loader"}
DONE = ("FINISHED", "FAILED", "ABORTED")


def wait(client: FakeRedshiftData, statement_id: str, timeout: float = 10) -> dict[str, Any]:
    """Poll like the loader does until the statement is done."""
    deadline = time.monotonic() + timeout
    while True:
        description = client.describe_statement(Id=statement_id)
        if description["Status"] in DONE:
            return description
        assert time.monotonic() < deadline, f"statement still {description['Status']}"
        time.sleep(0.02)


def rows_of(standin: StandIn, sql: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(standin.dsn()) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_execute_statement_returns_typed_records(redshift_data: FakeRedshiftData) -> None:
    submitted = redshift_data.execute_statement(
        Sql="SELECT 1::int AS n, 'a'::varchar AS s, NULL::int AS z, true AS b, 1.5::float8 AS f,"
        " 2.50::numeric(5,2) AS d, DATE '2024-01-02' AS day",
        **TARGET,
    )

    description = wait(redshift_data, submitted["Id"])
    result = redshift_data.get_statement_result(Id=submitted["Id"])

    assert submitted["ClusterIdentifier"] == "local"
    assert description["Status"] == "FINISHED"
    assert description["HasResultSet"] is True
    assert description["ResultRows"] == 1
    assert result["TotalNumRows"] == 1
    assert result["Records"] == [
        [
            {"longValue": 1},
            {"stringValue": "a"},
            {"isNull": True},
            {"booleanValue": True},
            {"doubleValue": 1.5},
            {"stringValue": "2.50"},
            {"stringValue": "2024-01-02"},
        ]
    ]
    assert [c["typeName"] for c in result["ColumnMetadata"]] == [
        "int4",
        "varchar",
        "int4",
        "bool",
        "float8",
        "numeric",
        "date",
    ]


def test_parameters_are_bound(redshift_data: FakeRedshiftData) -> None:
    submitted = redshift_data.execute_statement(
        Sql="SELECT :name || '%' AS v, 5::int",
        Parameters=[{"name": "name", "value": "it's"}],
        WorkgroupName="local-wg",
        Database="postgres",
    )

    wait(redshift_data, submitted["Id"])

    records = redshift_data.get_statement_result(Id=submitted["Id"])["Records"]
    assert records == [[{"stringValue": "it's%"}, {"longValue": 5}]]


def test_batch_runs_in_one_transaction(
    redshift_data: FakeRedshiftData,
    redshift_standin: StandIn,
    make_table: Callable,
    put_s3_object: Put,
) -> None:
    # GIVEN a batch that inserts, COPYs from S3 and records a ledger row
    table = make_table("id int")
    url = put_s3_object("b.csv", "10\n11\n")
    batch = redshift_data.batch_execute_statement(
        Sqls=[
            f"INSERT INTO {table} VALUES (1)",
            f"COPY {table} FROM '{url}' IAM_ROLE default CSV",
            f"SELECT count(*) FROM {table}",
        ],
        **TARGET,
    )

    # WHEN it finishes
    description = wait(redshift_data, batch["Id"])

    # THEN every sub-statement finished and the third saw the first two (same transaction)
    assert description["Status"] == "FINISHED"
    assert [s["Status"] for s in description["SubStatements"]] == ["FINISHED"] * 3
    assert description["SubStatements"][1]["ResultRows"] == 2
    third = redshift_data.get_statement_result(Id=f"{batch['Id']}:3")
    assert third["Records"] == [[{"longValue": 3}]]
    assert rows_of(redshift_standin, f"SELECT count(*) FROM {table}") == [(3,)]


def test_failed_batch_rolls_back_and_reports_the_error(
    redshift_data: FakeRedshiftData, redshift_standin: StandIn, make_table: Callable
) -> None:
    table = make_table("id int")
    batch = redshift_data.batch_execute_statement(
        Sqls=[
            f"INSERT INTO {table} VALUES (1)",
            "INSERT INTO no_such_table VALUES (2)",
            f"INSERT INTO {table} VALUES (3)",
        ],
        **TARGET,
    )

    description = wait(redshift_data, batch["Id"])

    assert description["Status"] == "FAILED"
    assert description["Error"] == 'ERROR: relation "no_such_table" does not exist'
    assert [s["Status"] for s in description["SubStatements"]] == ["FINISHED", "FAILED", "ABORTED"]
    assert rows_of(redshift_standin, f"SELECT count(*) FROM {table}") == [(0,)]


def test_failed_copy_reports_redshift_error(
    redshift_data: FakeRedshiftData, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int")
    url = put_s3_object("bad.csv", "1\nnope\n")

    submitted = redshift_data.execute_statement(Sql=f"COPY {table} FROM '{url}' CSV", **TARGET)
    description = wait(redshift_data, submitted["Id"])

    assert description["Status"] == "FAILED"
    assert description["Error"].startswith(f"ERROR: Load into table '{table}' failed.")


def test_statement_is_polled_through_its_states(redshift_data: FakeRedshiftData) -> None:
    submitted = redshift_data.execute_statement(Sql="SELECT pg_sleep(0.3)", **TARGET)

    first = redshift_data.describe_statement(Id=submitted["Id"])["Status"]
    final = wait(redshift_data, submitted["Id"])

    assert first in ("SUBMITTED", "PICKED", "STARTED")
    assert final["Status"] == "FINISHED"
    assert final["Duration"] > 0


def test_cancel_a_running_statement(redshift_data: FakeRedshiftData) -> None:
    submitted = redshift_data.execute_statement(Sql="SELECT pg_sleep(5)", **TARGET)
    deadline = time.monotonic() + 5
    while redshift_data.describe_statement(Id=submitted["Id"])["Status"] != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.1)  # let the query reach the server

    assert redshift_data.cancel_statement(Id=submitted["Id"]) == {"Status": True}
    assert wait(redshift_data, submitted["Id"])["Status"] == "ABORTED"
    with pytest.raises(redshift_data.exceptions.ValidationException):
        redshift_data.cancel_statement(Id=submitted["Id"])


def test_errors_match_the_real_client(redshift_data: FakeRedshiftData) -> None:
    with pytest.raises(ParamValidationError):
        redshift_data.execute_statement(ClusterIdentifier="c", Database="d")  # no Sql
    with pytest.raises(ClientError) as both:
        redshift_data.execute_statement(
            Sql="SELECT 1", ClusterIdentifier="local", WorkgroupName="local-wg", Database="d"
        )
    assert both.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(redshift_data.exceptions.ResourceNotFoundException):
        redshift_data.describe_statement(Id="00000000-0000-0000-0000-000000000000")

    no_result = redshift_data.execute_statement(Sql="CREATE TEMP TABLE x (i int)", **TARGET)
    assert wait(redshift_data, no_result["Id"])["HasResultSet"] is False
    with pytest.raises(redshift_data.exceptions.ResourceNotFoundException):
        redshift_data.get_statement_result(Id=no_result["Id"])
