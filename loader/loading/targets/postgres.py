"""PostgreSQL targets (Aurora, RDS, local): the loader itself streams the batch's files from S3
into `COPY ... FROM STDIN`, one COPY per file, inside the same one-transaction script as Redshift
(ledger check, pre_sql, truncate, ALTER TABLE ADD COLUMN, merge, post_sql, ledger row).

The table is prepared as for Redshift (table_prep.py over `pg_session.PgCatalog`): created when
missing (`create_table`), checked against the files and extended (`schema_evolution`), and a
terminal failure's notice names the drift behind it.

The load check (load_check.py) compares the files streamed with the manifest, and the lines
(JSON: records) the streamer sent with the rows COPY reports, right after the last file.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loader.errors import ConfigurationError, LoaderError, RetryableError, TerminalError
from loader.loading import load_check
from loader.loading.job import (
    Loaded,
    TargetJob,
    bad_statement,
    with_error_rows,
    with_schema_drift,
)
from loader.loading.load_check import Expected, FileLines, LoadCheckError, RowRule
from loader.loading.sql import load_errors
from loader.loading.sql.ledger import Dialect
from loader.loading.sql.script import Script, Step, build_script, set_rows_sql
from loader.loading.targets import pg_input, pg_session
from loader.loading.targets.db_errors import classify_db_error
from loader.loading.targets.table_prep import Evolution, SchemaDriftError, TablePrep
from loader.manifest import manifest_urls

if TYPE_CHECKING:
    from psycopg2.extensions import connection, cursor

    from config.copy_options import CopyOptions
    from config.targets import PostgresTarget
    from loader.adapters.s3_store import S3Store
    from loader.loading.credentials import Credentials
    from loader.loading.targets.pg_input import PgCopyPlan

_COLUMNS_SQL = (
    "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s::regclass "
    "AND attnum > 0 AND NOT attisdropped AND attidentity = '' AND attgenerated = '' "
    "ORDER BY attnum"
)


def zstd_available() -> bool:
    return importlib.util.find_spec("zstandard") is not None


def connection_params(target: PostgresTarget, secret: dict[str, Any] | None) -> dict[str, Any]:
    """libpq keywords: the target's DSN, completed (and overridden) by a Secrets Manager secret."""
    params: dict[str, Any] = {"dsn": target.dsn or ""}
    if secret:
        for ours, theirs in (
            ("host", "host"),
            ("port", "port"),
            ("dbname", "dbname"),
            ("user", "username"),
            ("password", "password"),
        ):
            if secret.get(theirs) is not None:
                params[ours] = secret[theirs]
    params["sslmode"] = target.sslmode
    if target.sslrootcert:
        params["sslrootcert"] = target.sslrootcert
    params["connect_timeout"] = target.connect_timeout_seconds
    return params


def expected_streams(urls: list[str], options: CopyOptions, plan: PgCopyPlan) -> Expected:
    """The load check's expectation: JSON records are counted exactly (one CSV row each)."""
    if plan.json_ignorecase is not None:
        return Expected(files=tuple(urls), rule=RowRule.ONE_PER_LINE)
    return load_check.expected_for(urls, options)


class _Feeder:
    """Runs the COPY step: each file of the manifest, decompressed/converted, in turn."""

    def __init__(
        self,
        s3: S3Store,
        urls: list[str],
        plan: PgCopyPlan,
        columns: list[str],
        expected: Expected | None,
        target: str,
        etags: Mapping[str, str | None] | None = None,
    ):
        self.s3, self.urls, self.plan, self.columns = s3, urls, plan, columns
        self.expected, self.target = expected, target
        self.etags = etags or {}
        """Registered ETags: each object is read with If-Match, so never another version."""
        self.current: str | None = None
        self.origins: list[int] | None = None
        self.failure: LoaderError | None = None
        self.streamed: list[FileLines] = []
        """Per file streamed: its lines, header included (JSON: its records)."""
        self.copied = 0

    def copy(self, cur: cursor, step: Step) -> int:
        for url in self.urls:
            self._copy_file(cur, step, url)
        self.current = None
        if self.expected is not None:
            reported = load_check.reported_totals(
                self.streamed,
                rows=self.copied,
                header_rows=self.expected.header_rows,
                source="the stream to COPY FROM STDIN",
            )
            load_check.enforce(self.target, self.expected, reported)
        cur.execute(set_rows_sql(self.copied))
        return self.copied

    def _copy_file(self, cur: cursor, step: Step, url: str) -> None:
        self.current = url
        counter = pg_input.LineCounter()
        cur.copy_expert(step.sql, self._reader(url, counter), size=pg_input.CHUNK)
        self.copied += max(cur.rowcount, 0)
        if self.origins is not None:
            lines = len(self.origins)
        else:
            lines = self.plan.skip_lines + counter.lines
        self.streamed.append(FileLines(url, lines))

    def _reader(self, url: str, counter: pg_input.LineCounter) -> pg_input.ChunkReader:
        body = self.s3.open(url, etag=self.etags.get(url))
        stream = pg_input.decompressed(body, self.plan.compression, url)
        if self.plan.json_ignorecase is None:
            self.origins = None
            chunks = counter.count(pg_input.text_input(stream, self.plan.skip_lines))
        else:
            rows = pg_input.JsonRows(
                stream, self.columns, ignorecase=self.plan.json_ignorecase, url=url
            )
            self.origins = rows.origins
            chunks = rows.chunks()
        return pg_input.ChunkReader(chunks, on_error=self._remember)

    def _remember(self, exc: LoaderError) -> None:
        # psycopg2 turns an exception raised by read() into QueryCanceled: keep the real one.
        self.failure = exc


class PostgresAdapter:
    def __init__(self, credentials: Credentials, s3: S3Store) -> None:
        self._credentials = credentials
        self._s3 = s3
        self._ledgers = pg_session.Ledgers()

    def load(self, job: TargetJob) -> Loaded:
        target: PostgresTarget = job.target  # type: ignore[assignment]
        deadline = job.transaction_deadline()
        options = job.config.copy_options
        plan = pg_input.pg_copy_plan(options, zstd_available=zstd_available())
        urls = manifest_urls(self._s3.read(job.manifest_url))
        conn = self._connect(target)
        catalog = pg_session.PgCatalog(conn)
        tables = TablePrep(catalog, target, options, lambda: urls, lambda: self._s3)
        feeder: _Feeder | None = None
        added = Evolution()

        def failure(exc: Exception) -> LoaderError:
            return self._failure(conn, target, exc, feeder, tables, added)

        kept = (LoadCheckError, SchemaDriftError, ConfigurationError)
        with pg_session.attempt(conn, failure, keep=kept):
            key = (conn.dsn, target.ledger_schema)
            self._ledgers.ensure(conn, key, target.ledger_schema, Dialect.POSTGRES)
            tables.ensure_table()
            added = tables.evolution()
            columns = self._columns(conn, target, plan, added.columns)
            expected = None
            if target.verify_load:
                expected = expected_streams(urls, options, plan)
            etags = job.sources.etags if job.sources is not None else None
            feeder = _Feeder(self._s3, urls, plan, columns, expected, target.name, etags)
            script = self._script(job, target, plan, columns, added.statements)
            committed = pg_session.run_script(
                conn,
                script,
                target=target.name,
                deadline=deadline,
                timeout_ms=job.timeout_ms,
                copy=feeder.copy,
            )
        return Loaded(committed.rows, committed.already_loaded)

    def _connect(self, target: PostgresTarget) -> connection:
        secret = self._credentials.secret(target.secret_arn).fields if target.secret_arn else None
        return pg_session.open_connection(target.name, **connection_params(target, secret))

    def _columns(
        self, conn: connection, target: PostgresTarget, plan: PgCopyPlan, added: tuple[str, ...]
    ) -> list[str]:
        """JSON needs the column names to pick fields by; text formats take the table's order.
        Columns `schema_evolution` adds in the load transaction follow the table's."""
        if target.columns or plan.json_ignorecase is None:
            return list(target.columns or [])
        with conn.cursor() as cur:
            cur.execute(_COLUMNS_SQL, (target.table,))
            names = [str(row[0]) for row in cur.fetchall()]
        conn.rollback()
        return names + list(added)

    def _script(
        self,
        job: TargetJob,
        target: PostgresTarget,
        plan: PgCopyPlan,
        columns: list[str],
        added: tuple[str, ...],
    ) -> Script:
        copy_columns = columns or None
        try:
            return build_script(
                target,
                job.entry,
                dialect=Dialect.POSTGRES,
                timeout_ms=job.timeout_ms,
                copy_into=lambda table: pg_input.pg_copy_sql(table, copy_columns, plan),
                add_columns=added,
            )
        except ValueError as exc:
            raise bad_statement(target.name, exc) from None

    def _failure(
        self,
        conn: connection,
        target: PostgresTarget,
        exc: Exception,
        feeder: _Feeder | None,
        tables: TablePrep,
        added: Evolution,
    ) -> LoaderError:
        pg_session.rollback_quietly(conn)
        if added.statements and getattr(exc, "pgcode", None) == pg_session.DUPLICATE_COLUMN:
            # A concurrent load added the column first; the next attempt sees it and skips it.
            error = classify_db_error(exc, target=target.name)
            return RetryableError(
                str(error), target=target.name, sqlstate=pg_session.DUPLICATE_COLUMN
            )
        error = self._error(target, exc, feeder)
        if not error.retryable and not conn.closed:
            drift = tables.diagnose()
            if drift is not None:
                error = with_schema_drift(error, drift)
        return error

    def _error(self, target: PostgresTarget, exc: Exception, feeder: _Feeder | None) -> LoaderError:
        if feeder is not None and feeder.failure is not None:
            return _bad_input(target.name, feeder.failure)
        error = classify_db_error(exc, target=target.name)
        if feeder is not None and feeder.current is not None and not error.retryable:
            diag = getattr(exc, "diag", None)
            row = load_errors.row_from_pg_error(
                target.name,
                feeder.current,
                getattr(exc, "pgcode", None),
                getattr(diag, "message_primary", None) or str(exc),
                getattr(diag, "context", None),
                line_offset=feeder.plan.skip_lines,
                origins=feeder.origins,
            )
            with_error_rows(error, (row,))
        return error


def _bad_input(target: str, failure: LoaderError) -> LoaderError:
    if not isinstance(failure, pg_input.BadInputError):
        return failure  # e.g. an S3 read that failed mid-file: already classified
    from loader.ports import LoadErrorRow

    error = TerminalError(f"target {target}: {failure}", target=target)
    row = LoadErrorRow(target=target, file=failure.file, line=failure.line, reason=str(failure))
    return with_error_rows(error, (row,))
