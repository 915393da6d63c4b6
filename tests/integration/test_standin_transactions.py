"""COPY runs inside the client's own session and transaction, with Redshift's load history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg2
import pytest
from psycopg2 import errorcodes

from redshift_standin import StandIn

Put = Callable[[str, bytes | str], str]


def count_rows(standin: StandIn, sql: str, *params: Any) -> Any:
    with psycopg2.connect(standin.dsn()) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        return row[0] if row else None


def test_copy_then_commit_keeps_rows_and_load_commits(
    redshift_standin: StandIn, redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int, name varchar(10)")
    url = put_s3_object("c.csv", "1,a\n2,b\n")
    cur = redshift_conn.cursor()
    cur.execute("SELECT pg_last_copy_id()")
    assert cur.fetchone() == (-1,)  # no COPY yet in this session

    cur.execute(f"COPY {table} FROM '{url}' IAM_ROLE default CSV")
    copied = cur.rowcount
    cur.execute("SELECT pg_last_copy_id(), pg_last_copy_count()")
    query_id, last_count = cur.fetchone()
    redshift_conn.commit()

    assert copied == 2
    assert last_count == 2
    assert count_rows(redshift_standin, f"SELECT count(*) FROM {table}") == 2
    assert (
        count_rows(
            redshift_standin,
            "SELECT count(*) FROM stl_load_commits WHERE query = %s"
            " AND filename = %s AND lines_scanned = 2",
            query_id,
            url,
        )
        == 1
    )


def test_copy_then_rollback_leaves_no_rows_but_keeps_the_load_commit(
    redshift_standin: StandIn, redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    # GIVEN a COPY inside an explicit transaction, with a ledger row written next to it
    table = make_table("id int")
    url = put_s3_object("r.csv", "1\n2\n3\n")
    cur = redshift_conn.cursor()
    cur.execute(f"CREATE TEMP TABLE ledger_{table} (batch text)")
    cur.execute(f"INSERT INTO ledger_{table} VALUES ('b1')")

    # WHEN the COPY succeeds inside the transaction and the client rolls back
    cur.execute(f"COPY {table} FROM '{url}' CSV")
    assert cur.rowcount == 3
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone() == (3,)  # visible inside the transaction
    redshift_conn.rollback()

    # THEN no rows are left, but the stl_load_commits row is: Redshift's log records the load
    # whatever the transaction does ("does not mean that the load committed", r_STL_LOAD_COMMITS)
    assert count_rows(redshift_standin, f"SELECT count(*) FROM {table}") == 0
    assert (
        count_rows(
            redshift_standin, "SELECT count(*) FROM stl_load_commits WHERE filename = %s", url
        )
        == 1
    )


def test_copy_into_temp_table_of_the_same_session(redshift_conn: Any, put_s3_object: Put) -> None:
    # The merge path stages into a TEMP table: only the client's own session can see it.
    url = put_s3_object("s.csv", "1,x\n")
    cur = redshift_conn.cursor()
    cur.execute("CREATE TEMP TABLE stage (id int, v varchar(5))")

    cur.execute(f"COPY stage FROM '{url}' CSV")
    cur.execute("SELECT * FROM stage")

    assert cur.fetchall() == [(1, "x")]


def test_autocommit_copy_is_its_own_transaction(
    redshift_standin: StandIn, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int")
    url = put_s3_object("a.csv", "1\n")
    conn = psycopg2.connect(redshift_standin.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"COPY {table} FROM '{url}' CSV")
            assert cur.rowcount == 1
            assert conn.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    finally:
        conn.close()
    assert count_rows(redshift_standin, f"SELECT count(*) FROM {table}") == 1
    assert (
        count_rows(
            redshift_standin, "SELECT count(*) FROM stl_load_commits WHERE filename = %s", url
        )
        == 1
    )


def test_bad_row_fails_like_redshift_and_aborts_the_transaction(
    redshift_standin: StandIn, redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    # GIVEN a file whose third line has a non-integer id
    table = make_table("id int, name varchar(10)")
    url = put_s3_object("bad.csv", "id,name\n1,a\nx,b\n3,c\n")
    cur = redshift_conn.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (0, 'before')")

    # WHEN it is copied inside the transaction
    with pytest.raises(psycopg2.Error) as failure:
        cur.execute(f"COPY {table} FROM '{url}' CSV IGNOREHEADER 1")

    # THEN the client sees Redshift's error ...
    assert failure.value.pgcode == "XX000"
    assert failure.value.diag.message_primary == (
        f"Load into table '{table}' failed.  Check 'stl_load_errors' system table for details."
    )
    # ... the transaction is aborted until ROLLBACK ...
    with pytest.raises(psycopg2.Error) as aborted:
        cur.execute("SELECT 1")
    assert aborted.value.pgcode == errorcodes.IN_FAILED_SQL_TRANSACTION
    redshift_conn.rollback()
    cur.execute("SELECT pg_last_copy_id(), pg_last_copy_count()")
    query_id, last_count = cur.fetchone()
    redshift_conn.rollback()
    assert last_count == 0
    # ... nothing was kept, and stl_load_errors (outside the transaction) names file, line, column
    assert count_rows(redshift_standin, f"SELECT count(*) FROM {table}") == 0
    with psycopg2.connect(redshift_standin.dsn()) as conn, conn.cursor() as check:
        check.execute(
            "SELECT filename, line_number, colname, raw_field_value, err_code, err_reason"
            " FROM stl_load_errors WHERE query = %s",
            (query_id,),
        )
        assert check.fetchall() == [
            (url, 3, "id", "x", 1207, "Invalid digit, Value 'x', Pos 0, Type: Integer")
        ]


def test_maxerror_skips_bad_rows_and_records_them(
    redshift_standin: StandIn, redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int not null, name varchar(3)")
    url = put_s3_object("m.csv", "1,ok\n2,toolong\n,null-id\n4,ok\n")
    cur = redshift_conn.cursor()

    cur.execute(f"COPY {table} FROM '{url}' CSV MAXERROR 2")
    loaded = cur.rowcount
    redshift_conn.commit()

    assert loaded == 2
    assert any("2 record(s) could not be loaded" in notice for notice in redshift_conn.notices)
    assert (
        count_rows(redshift_standin, f"SELECT string_agg(id::text, ',' ORDER BY id) FROM {table}")
        == "1,4"
    )
    with psycopg2.connect(redshift_standin.dsn()) as conn, conn.cursor() as check:
        check.execute(
            "SELECT line_number, colname, err_code FROM stl_load_errors"
            " WHERE filename = %s ORDER BY line_number",
            (url,),
        )
        assert check.fetchall() == [(2, "name", 1204), (3, "id", 1213)]


def test_maxerror_exceeded_fails_the_load(
    redshift_standin: StandIn, redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int")
    url = put_s3_object("m.csv", "1\nx\ny\n4\n")
    cur = redshift_conn.cursor()

    with pytest.raises(psycopg2.Error) as failure:
        cur.execute(f"COPY {table} FROM '{url}' CSV MAXERROR 1")
    redshift_conn.rollback()

    assert failure.value.pgcode == "XX000"
    assert count_rows(redshift_standin, f"SELECT count(*) FROM {table}") == 0
    assert (
        count_rows(
            redshift_standin, "SELECT count(*) FROM stl_load_errors WHERE filename = %s", url
        )
        == 2
    )


def test_error_postgres_finds_while_streaming_is_a_load_error(
    redshift_standin: StandIn, redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    # A CHECK constraint is not validated by the stand-in: PostgreSQL rejects the row mid-COPY.
    table = make_table("id int CHECK (id < 10)")
    url = put_s3_object("c.csv", "1\n2\n30\n")
    cur = redshift_conn.cursor()

    with pytest.raises(psycopg2.Error) as failure:
        cur.execute(f"COPY {table} FROM '{url}' CSV")
    redshift_conn.rollback()

    assert failure.value.pgcode == "XX000"
    with psycopg2.connect(redshift_standin.dsn()) as conn, conn.cursor() as check:
        check.execute(
            "SELECT line_number, err_reason FROM stl_load_errors WHERE filename = %s", (url,)
        )
        ((line, reason),) = check.fetchall()
    assert line == 3
    assert "check constraint" in reason


def test_identity_columns_follow_redshift_rules(
    redshift_standin: StandIn, redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    # Without a column list an IDENTITY column takes no input field, unless EXPLICIT_IDS.
    table = make_table("id int GENERATED BY DEFAULT AS IDENTITY, name varchar(10)")
    generated = put_s3_object("g.csv", "a\nb\n")
    explicit = put_s3_object("e.csv", "100,c\n")
    cur = redshift_conn.cursor()

    cur.execute(f"COPY {table} FROM '{generated}' CSV")
    cur.execute(f"COPY {table} FROM '{explicit}' CSV EXPLICIT_IDS")
    cur.execute(f"SELECT id, name FROM {table} ORDER BY id")

    assert cur.fetchall() == [(1, "a"), (2, "b"), (100, "c")]


def test_missing_table_is_postgres_own_error(redshift_conn: Any, put_s3_object: Put) -> None:
    url = put_s3_object("x.csv", "1\n")

    with pytest.raises(psycopg2.Error) as failure:
        redshift_conn.cursor().execute(f"COPY no_such_table FROM '{url}' CSV")

    assert failure.value.pgcode == errorcodes.UNDEFINED_TABLE


@pytest.mark.parametrize(
    ("options", "sqlstate", "text"),
    [
        ("CSV SHAPEFILE", "42601", "SHAPEFILE"),
        ("CSV LZOP", "0A000", "LZOP"),
        ("CSV ENCRYPTED", "0A000", "ENCRYPTED"),
        ("CSV ESCAPE", "42601", "ESCAPE"),
    ],
)
def test_rejected_options_fail_the_statement(
    redshift_conn: Any,
    make_table: Callable,
    put_s3_object: Put,
    options: str,
    sqlstate: str,
    text: str,
) -> None:
    table = make_table("id int")
    url = put_s3_object("x.csv", "1\n")
    cur = redshift_conn.cursor()

    with pytest.raises(psycopg2.Error) as failure:
        cur.execute(f"COPY {table} FROM '{url}' {options}")

    assert failure.value.pgcode == sqlstate
    assert text in failure.value.diag.message_primary
    with pytest.raises(psycopg2.Error) as aborted:
        cur.execute("SELECT 1")
    assert aborted.value.pgcode == errorcodes.IN_FAILED_SQL_TRANSACTION


def test_secrets_in_credentials_are_accepted_and_ignored(
    redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int")
    url = put_s3_object("x.csv", "5\n")
    cur = redshift_conn.cursor()

    cur.execute(
        f"COPY {table} FROM '{url}' WITH CREDENTIALS AS "
        "'aws_access_key_id=AKIA;aws_secret_access_key=s3cr3t' CSV"
    )

    assert cur.rowcount == 1


def test_non_copy_statements_pass_through(redshift_conn: Any) -> None:
    cur = redshift_conn.cursor()

    cur.execute("SELECT %s::text, 's3://not-a-copy', 1 + 1", ("copy",))
    assert cur.fetchone() == ("copy", "s3://not-a-copy", 2)
    cur.execute("CREATE TEMP TABLE p (v text)")
    cur.copy_expert("COPY p FROM STDIN WITH (FORMAT csv)", _Lines("a\nb\n"))
    cur.execute("SELECT count(*) FROM p")
    assert cur.fetchone() == (2,)
    with pytest.raises(psycopg2.Error) as failure:
        cur.execute("SELECT 1/0")
    assert failure.value.pgcode == errorcodes.DIVISION_BY_ZERO


def test_s3_copy_among_other_statements_is_refused(
    redshift_conn: Any, make_table: Callable, put_s3_object: Put
) -> None:
    table = make_table("id int")
    url = put_s3_object("x.csv", "1\n")

    with pytest.raises(psycopg2.Error) as failure:
        redshift_conn.cursor().execute(f"SELECT 1; COPY {table} FROM '{url}' CSV")

    assert failure.value.pgcode == "0A000"


class _Lines:
    """A minimal file object for copy_expert."""

    def __init__(self, text: str) -> None:
        self._data = text.encode()

    def read(self, size: int = -1) -> bytes:
        chunk, self._data = (
            (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        )
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)
