"""Execution side of the fake Redshift Data API: statements, their run, and typed results."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg2

from redshift_standin.errors import CopySyntaxError
from redshift_standin.sql_tokens import Kind, tokenize

# The common PostgreSQL type OIDs, named as the Data API's ColumnMetadata.typeName does.
TYPE_NAMES = {
    16: "bool",
    17: "bytea",
    20: "int8",
    21: "int2",
    23: "int4",
    25: "text",
    700: "float4",
    701: "float8",
    1042: "bpchar",
    1043: "varchar",
    1082: "date",
    1083: "time",
    1114: "timestamp",
    1184: "timestamptz",
    1700: "numeric",
    114: "json",
    3802: "jsonb",
    2950: "uuid",
    19: "name",
    26: "oid",
}
_SIGNED = frozenset({"int2", "int4", "int8", "float4", "float8", "numeric"})


class Status(StrEnum):
    SUBMITTED = "SUBMITTED"
    PICKED = "PICKED"
    STARTED = "STARTED"
    FINISHED = "FINISHED"
    ABORTED = "ABORTED"
    FAILED = "FAILED"


ACTIVE = frozenset({Status.SUBMITTED, Status.PICKED, Status.STARTED})


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SubStatement:
    id: str
    sql: str
    status: Status = Status.SUBMITTED
    error: str | None = None
    has_result_set: bool = False
    result_rows: int = -1
    result_size: int = 0
    columns: list[dict[str, Any]] = field(default_factory=list)
    records: list[list[dict[str, Any]]] = field(default_factory=list)
    duration_ns: int = 0
    created_at: dt.datetime = field(default_factory=now)
    updated_at: dt.datetime = field(default_factory=now)
    query_id: int = 0

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.id,
            "Status": self.status.value,
            "QueryString": self.sql,
            "HasResultSet": self.has_result_set,
            "ResultRows": self.result_rows,
            "ResultSize": self.result_size,
            "Duration": self.duration_ns,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "RedshiftQueryId": self.query_id,
        }
        if self.error is not None:
            out["Error"] = self.error
        return out


@dataclass
class Statement:
    id: str
    subs: list[SubStatement]
    is_batch: bool
    request: dict[str, Any]
    parameters: dict[str, str] | None = None
    status: Status = Status.SUBMITTED
    error: str | None = None
    redshift_pid: int = 0
    created_at: dt.datetime = field(default_factory=now)
    updated_at: dt.datetime = field(default_factory=now)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False

    def set_status(self, status: Status, error: str | None = None) -> None:
        self.status, self.updated_at = status, now()
        if error is not None:
            self.error = error


def bind_parameters(sql: str, parameters: dict[str, str]) -> str:
    """':name' placeholders -> psycopg2 '%(name)s' (and '%' -> '%%' everywhere else)."""
    try:
        tokens = tokenize(sql)
    except CopySyntaxError:
        return sql.replace("%", "%%")
    out: list[str] = []
    pos = 0
    skip_next = False
    for index, token in enumerate(tokens):
        if skip_next:
            skip_next = False
            pos = token.end
            continue
        out.append(sql[pos : token.start].replace("%", "%%"))
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if (
            token.kind is Kind.OTHER
            and token.value == ":"
            and following is not None
            and following.kind is Kind.WORD
            and following.start == token.end
            and following.value in parameters
        ):
            out.append(f"%({following.value})s")
            skip_next = True
        else:
            out.append(sql[token.start : token.end].replace("%", "%%"))
        pos = token.end
    out.append(sql[pos:].replace("%", "%%"))
    return "".join(out)


def run_statement(statement: Statement, dsn: str, query_ids: Iterator[int]) -> None:
    """Run every SQL of the statement on one connection (a batch in one transaction)."""
    with statement.lock:
        if statement.status is not Status.SUBMITTED:
            return  # cancelled before it was picked
        statement.set_status(Status.STARTED)
    try:
        conn = psycopg2.connect(dsn, application_name="redshift-data-fake")
    except psycopg2.Error as exc:
        _fail(statement, f"ERROR: {str(exc).strip()}")
        return
    try:
        with statement.lock:
            statement.redshift_pid = conn.get_backend_pid()
            cancelled = statement.cancelled
        if cancelled:  # cancelled while connecting, before it had a pid to cancel
            _fail(statement, "ERROR: canceling statement due to user request")
            return
        conn.autocommit = not statement.is_batch
        for sub in statement.subs:
            _run_sub(conn, sub, statement.parameters, next(query_ids))
        if statement.is_batch:
            conn.commit()
        with statement.lock:
            statement.set_status(Status.ABORTED if statement.cancelled else Status.FINISHED)
    except psycopg2.Error as exc:
        _fail(statement, f"ERROR: {exc.diag.message_primary or str(exc).strip()}")
    finally:
        conn.close()


def cancel_backend(dsn: str, pid: int) -> None:
    """Cancel a running query with SQL, as Redshift's CANCEL does.

    Not psycopg2's `connection.cancel()`: it holds the GIL while it waits for the answer, which
    deadlocks when the stand-in proxy runs in the same process.
    """
    conn = psycopg2.connect(dsn, application_name="redshift-data-fake-cancel")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_cancel_backend(%s)", (pid,))
    finally:
        conn.close()


def _fail(statement: Statement, error: str) -> None:
    with statement.lock:
        final = Status.ABORTED if statement.cancelled else Status.FAILED
        for sub in statement.subs:
            if sub.status is Status.STARTED:
                sub.status, sub.error, sub.updated_at = final, error, now()
            elif sub.status is Status.SUBMITTED:
                sub.status, sub.updated_at = Status.ABORTED, now()
        statement.set_status(final, error)


def _run_sub(
    conn: Any, sub: SubStatement, parameters: dict[str, str] | None, query_id: int
) -> None:
    sub.status, sub.query_id, sub.updated_at = Status.STARTED, query_id, now()
    started = time.perf_counter_ns()
    with conn.cursor() as cur:
        if parameters:
            cur.execute(bind_parameters(sub.sql, parameters), parameters)
        else:
            cur.execute(sub.sql)
        if cur.description is not None:
            sub.has_result_set = True
            sub.columns = [_column(conn, column) for column in cur.description]
            sub.records = [[_field(value) for value in row] for row in cur.fetchall()]
            sub.result_rows = len(sub.records)
            sub.result_size = len(json.dumps(sub.records, default=str))
        else:
            sub.result_rows = cur.rowcount
    sub.duration_ns = time.perf_counter_ns() - started
    sub.status, sub.updated_at = Status.FINISHED, now()


def _column(conn: Any, column: Any) -> dict[str, Any]:
    type_name = TYPE_NAMES.get(column.type_code) or _type_name(conn, column.type_code)
    return {
        "name": column.name,
        "label": column.name,
        "typeName": type_name,
        "nullable": 1,
        "isCaseSensitive": type_name in ("text", "varchar", "bpchar"),
        "isCurrency": False,
        "isSigned": type_name in _SIGNED,
        "length": max(column.internal_size or 0, 0),
        "precision": column.precision or 0,
        "scale": column.scale or 0,
        "schemaName": "",
        "tableName": "",
    }


def _type_name(conn: Any, oid: int) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT typname FROM pg_catalog.pg_type WHERE oid = %s", (oid,))
        row = cur.fetchone()
    return str(row[0]) if row else "unknown"


# Python value type -> the Data API's typed field; checked in order (bool before int).
_FIELD_KINDS: tuple[tuple[type | tuple[type, ...], Callable[[Any], dict[str, Any]]], ...] = (
    (bool, lambda v: {"booleanValue": v}),
    (int, lambda v: {"longValue": v}),
    (float, lambda v: {"doubleValue": v}),
    ((bytes, memoryview), lambda v: {"blobValue": bytes(v)}),
    (dt.datetime, lambda v: {"stringValue": v.isoformat(sep=" ")}),
    ((dict, list), lambda v: {"stringValue": json.dumps(v)}),
)


def _field(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    for kind, convert in _FIELD_KINDS:
        if isinstance(value, kind):
            return convert(value)
    return {"stringValue": str(value)}  # date, time, Decimal, uuid, ... as Redshift prints them
