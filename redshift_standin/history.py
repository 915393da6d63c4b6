"""Redshift's load history, emulated with ordinary tables in each database the stand-in serves.

- `stl_load_commits`, `stl_load_errors` and the per-session "last COPY" bookkeeping behind
  `pg_last_copy_id()` go through a separate autocommit connection, so they survive the client's
  ROLLBACK: "The fact that a record is written to the log file for this system view does not
  mean that the load committed successfully as part of its containing transaction"
  (r_STL_LOAD_COMMITS.md).
- `sys_load_detail` and `sys_load_error_detail` (Serverless, SYS_LOAD_DETAIL.md,
  SYS_LOAD_ERROR_DETAIL.md) are views over those two tables.

All methods here block; the proxy calls them from its thread executor.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import psycopg2
from psycopg2.extensions import make_dsn

from redshift_standin.sql_tokens import quote_literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg2.extensions import connection

    from redshift_standin.translate import BadRow, FileLoad

# Served at most 1024 characters in Redshift too (char(1024) columns).
MAX_RAW = 1024
_SCHEMA_LOCK_KEY = 7_423_917  # advisory lock: concurrent stand-ins creating the same objects

SCHEMA_SQL = """
CREATE SEQUENCE IF NOT EXISTS public.stl_query_id_seq;
CREATE TABLE IF NOT EXISTS public.stl_load_errors (
    userid integer DEFAULT 100,
    slice integer DEFAULT 0,
    tbl integer,
    starttime timestamp DEFAULT (now() AT TIME ZONE 'utc'),
    session integer,
    query integer,
    filename text,
    line_number bigint,
    colname text,
    type text,
    col_length text,
    position integer,
    raw_line text,
    raw_field_value text,
    err_code integer,
    err_reason text
);
CREATE TABLE IF NOT EXISTS public.stl_load_commits (
    userid integer DEFAULT 100,
    query integer,
    slice integer DEFAULT 0,
    name text,
    filename text,
    byte_offset integer DEFAULT 0,
    lines_scanned bigint,
    errors integer DEFAULT 0,
    status integer,
    curtime timestamp DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE TABLE IF NOT EXISTS public.stl_standin_last_copy (
    pid integer PRIMARY KEY,
    query integer NOT NULL,
    copy_count bigint NOT NULL
);
CREATE OR REPLACE VIEW public.sys_load_detail AS
    SELECT userid AS user_id, query AS query_id, filename AS file_name,
           byte_offset::bigint AS bytes_scanned, lines_scanned, curtime AS start_time,
           curtime AS record_time
    FROM public.stl_load_commits;
CREATE OR REPLACE VIEW public.sys_load_error_detail AS
    SELECT userid AS user_id, query AS query_id, tbl AS table_id, session AS session_id,
           starttime AS start_time, filename AS file_name, line_number, colname AS column_name,
           type AS column_type, col_length AS column_length, position, err_code AS error_code,
           err_reason AS error_message
    FROM public.stl_load_errors;
CREATE OR REPLACE FUNCTION public.pg_last_copy_id() RETURNS integer
    LANGUAGE sql STABLE AS $f$
    SELECT coalesce((SELECT query FROM public.stl_standin_last_copy
                     WHERE pid = pg_backend_pid()), -1) $f$;
CREATE OR REPLACE FUNCTION public.pg_last_copy_count() RETURNS bigint
    LANGUAGE sql STABLE AS $f$
    SELECT coalesce((SELECT copy_count FROM public.stl_standin_last_copy
                     WHERE pid = pg_backend_pid()), 0) $f$;
"""


class LoadHistory:
    """One autocommit side connection per database, created on first use."""

    def __init__(self, postgres_dsn: str) -> None:
        self._dsn = postgres_dsn
        self._connections: dict[str, connection] = {}
        self._lock = threading.Lock()

    def _conn(self, dbname: str) -> connection:
        conn = self._connections.get(dbname)
        if conn is None or conn.closed:
            conn = psycopg2.connect(make_dsn(self._dsn, dbname=dbname))
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_KEY,))
                try:
                    cur.execute(SCHEMA_SQL)
                finally:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK_KEY,))
            self._connections[dbname] = conn
        return conn

    def ensure_schema(self, dbname: str) -> None:
        with self._lock:
            self._conn(dbname)

    def next_query_id(self, dbname: str) -> int:
        with self._lock, self._conn(dbname).cursor() as cur:
            cur.execute("SELECT nextval('public.stl_query_id_seq')::integer")
            row = cur.fetchone()
            assert row is not None
            return int(row[0])

    def record_copy(
        self,
        dbname: str,
        *,
        pid: int,
        query: int,
        table_oid: int | None,
        bad_rows: Sequence[BadRow],
        loaded: int,
    ) -> None:
        """Store bad rows and the session's last COPY id/count (both survive a ROLLBACK)."""
        rows = [
            (
                table_oid,
                pid,
                query,
                b.url,
                b.line_number,
                b.column,
                b.column_type,
                b.col_length,
                b.position,
                _storable(b.raw_line[:MAX_RAW]),
                _storable((b.raw_value or "")[:MAX_RAW]),
                b.code,
                _storable(b.reason),
            )
            for b in bad_rows
        ]
        with self._lock, self._conn(dbname).cursor() as cur:
            if rows:
                cur.executemany(
                    "INSERT INTO public.stl_load_errors (tbl, session, query, filename,"
                    " line_number, colname, type, col_length, position, raw_line,"
                    " raw_field_value, err_code, err_reason)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
            cur.execute(
                "INSERT INTO public.stl_standin_last_copy (pid, query, copy_count)"
                " VALUES (%s, %s, %s) ON CONFLICT (pid) DO UPDATE"
                " SET query = excluded.query, copy_count = excluded.copy_count",
                (pid, query, loaded),
            )

    def record_commits(
        self, dbname: str, *, query: int, table: str, files: Sequence[FileLoad]
    ) -> None:
        """One stl_load_commits row per file read (kept whatever the transaction does next)."""
        insert = commits_insert_sql(query, table, files)
        if insert is None:
            return
        with self._lock, self._conn(dbname).cursor() as cur:
            cur.execute(insert)

    def forget_session(self, dbname: str, pid: int) -> None:
        """A closed session's pid may be reused; a new session must see pg_last_copy_id() = -1."""
        with self._lock:
            conn = self._connections.get(dbname)
            if conn is None or conn.closed:
                return
            with conn.cursor() as cur:
                cur.execute("DELETE FROM public.stl_standin_last_copy WHERE pid = %s", (pid,))

    def close(self) -> None:
        with self._lock:
            for conn in self._connections.values():
                conn.close()
            self._connections.clear()


def commits_insert_sql(query: int, table: str, files: Sequence[FileLoad]) -> str | None:
    """The INSERT recording a successful COPY's files (run on the history connection)."""
    if not files:
        return None
    values = ", ".join(
        f"({query}, {quote_literal(table)}, {quote_literal(f.url)}, {f.lines_scanned},"
        f" {f.bad_rows}, 1)"
        for f in files
    )
    return (
        "INSERT INTO public.stl_load_commits (query, name, filename, lines_scanned, errors,"
        f" status) VALUES {values}"
    )


def _storable(text: str) -> str:
    """Text PostgreSQL can store: bytes that were not UTF-8 (kept as surrogate escapes when the
    line was read, e.g. a gzip file read without GZIP) become U+FFFD, NUL becomes nothing."""
    raw = text.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "replace").replace("\x00", "")
