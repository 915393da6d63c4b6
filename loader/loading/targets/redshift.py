"""Redshift over the PostgreSQL protocol (psycopg2): provisioned clusters and Serverless.

Per attempt: decrypt/fetch secrets, connect with TLS verified by default, make sure the ledger
(and with `create_table`, the table) exists, check the files against the table
(`schema_evolution`, table_prep.py), run the script (script.py) in one transaction — the COPY's
load history checked against the manifest before COMMIT (load_check.py) — commit. On failure:
ROLLBACK, classify, and for a terminal failure read the COPY's rejected rows (`pg_last_copy_id()`)
and name any schema drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loader.errors import ConfigurationError, LoaderError, RetryableError
from loader.loading import load_check
from loader.loading.job import Loaded, TargetJob, with_error_rows, with_schema_drift
from loader.loading.load_check import LoadCheckError
from loader.loading.sql import load_errors, load_history
from loader.loading.sql.ledger import Dialect
from loader.loading.sql.redshift_script import redshift_script
from loader.loading.sql.script import Script
from loader.loading.targets import pg_session
from loader.loading.targets.db_errors import classify_db_error
from loader.loading.targets.table_prep import SchemaDriftError, TablePrep, no_s3
from loader.log import logger

if TYPE_CHECKING:
    from psycopg2.extensions import connection

    from config.targets import RedshiftTarget
    from loader.adapters.s3_store import S3Store
    from loader.copy_sql import CopySecrets
    from loader.loading.credentials import Credentials
    from loader.models import DbLogin
    from loader.ports import LoadErrorRow

_SYSTEM_CA = "system"  # libpq >= 16: the operating system's trust store
_VERIFYING = ("verify-ca", "verify-full")


def connection_params(
    target: RedshiftTarget, login: DbLogin, *, ca_bundle: str | None, libpq_version: int
) -> dict[str, Any]:
    """libpq keywords for the target. Pure (the password is in the result: never log it)."""
    params: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "dbname": target.database,
        "user": login.user,
        "password": login.password,
        "sslmode": target.sslmode,
        "connect_timeout": target.connect_timeout_seconds,
    }
    rootcert = target.sslrootcert or ca_bundle
    if rootcert is None and target.sslmode in _VERIFYING and libpq_version >= 160000:
        rootcert = _SYSTEM_CA
    if rootcert is not None:
        params["sslrootcert"] = rootcert
    return params


class RedshiftAdapter:
    def __init__(
        self,
        credentials: Credentials,
        *,
        ca_bundle: str | None = None,
        s3: Callable[[], S3Store] | None = None,
    ) -> None:
        self._credentials = credentials
        self._ca_bundle = ca_bundle
        self._s3 = s3
        self._ledgers = pg_session.Ledgers()

    def load(self, job: TargetJob) -> Loaded:
        target: RedshiftTarget = job.target  # type: ignore[assignment]
        deadline = job.transaction_deadline()
        secrets = self._credentials.copy_secrets(target.copy_authorization, job.config.copy_options)
        verify = _verifier(job, target)
        conn = self._connect(target)
        tables = self._tables(conn, job, target)
        added: tuple[str, ...] = ()

        def failure(exc: Exception) -> LoaderError:
            return self._failure(conn, target, exc, secrets, tables, added)

        kept = (LoadCheckError, SchemaDriftError, ConfigurationError, RetryableError)
        with pg_session.attempt(conn, failure, keep=kept):
            key = (target.host, target.port, target.database, target.ledger_schema)
            self._ledgers.ensure(conn, key, target.ledger_schema, Dialect.REDSHIFT)
            tables.ensure_table()
            added = tables.evolution().statements
            script = self._script(job, target, secrets, checked=verify is not None, added=added)
            committed = pg_session.run_script(
                conn,
                script,
                target=target.name,
                deadline=deadline,
                timeout_ms=job.timeout_ms,
                verify=verify,
                # COPY read the objects' latest content: still the registered versions?
                before_claim=_source_check(job),
            )
        return Loaded(committed.rows, committed.already_loaded)

    def _script(
        self,
        job: TargetJob,
        target: RedshiftTarget,
        secrets: CopySecrets,
        *,
        checked: bool,
        added: tuple[str, ...],
    ) -> Script:
        serverless = target.workgroup_name is not None
        verify_sql = load_history.history_sql(serverless=serverless) if checked else None
        return redshift_script(job, target, secrets, verify_sql=verify_sql, add_columns=added)

    def _tables(self, conn: connection, job: TargetJob, target: RedshiftTarget) -> TablePrep:
        entries = job.manifest_entries

        def urls() -> tuple[str, ...]:
            return entries() if entries is not None else ()

        catalog = pg_session.PgCatalog(conn)
        return TablePrep(catalog, target, job.config.copy_options, urls, self._s3 or no_s3)

    def _connect(self, target: RedshiftTarget) -> connection:
        import psycopg2

        login = self._credentials.redshift_login(target)
        params = connection_params(
            target, login, ca_bundle=self._ca_bundle, libpq_version=psycopg2.__libpq_version__
        )
        return pg_session.open_connection(target.name, **params)

    def _failure(
        self,
        conn: connection,
        target: RedshiftTarget,
        exc: Exception,
        secrets: CopySecrets,
        tables: TablePrep,
        added: tuple[str, ...],
    ) -> LoaderError:
        error = classify_db_error(exc, target=target.name, secrets=secrets)
        pg_session.rollback_quietly(conn)
        if added and getattr(exc, "pgcode", None) == pg_session.DUPLICATE_COLUMN:
            # A concurrent load added the column first; the next attempt sees it and skips it.
            return RetryableError(
                str(error), target=target.name, sqlstate=pg_session.DUPLICATE_COLUMN
            )
        if not error.retryable and not conn.closed:
            with_error_rows(error, self._error_rows(conn, target))
            drift = tables.diagnose()
            if drift is not None:
                error = with_schema_drift(error, drift)
        return error

    def _error_rows(self, conn: connection, target: RedshiftTarget) -> tuple[LoadErrorRow, ...]:
        import psycopg2

        for view in load_errors.views(serverless=target.workgroup_name is not None):
            try:
                records = pg_session.fetch_rows(conn, load_errors.session_sql(view))
            except psycopg2.Error as exc:  # no such view here (Serverless has no STL tables)
                logger.info(
                    "load_errors_unavailable", target=target.name, view=view, sqlstate=exc.pgcode
                )
                continue
            return load_errors.rows_from_view(target.name, records)
        return ()


def _verifier(job: TargetJob, target: RedshiftTarget) -> pg_session.Verifier | None:
    """The load check of this attempt (None: the target does not check its loads)."""
    if not target.verify_load or job.manifest_entries is None:
        return None
    expected = load_check.expected_for(job.manifest_entries(), job.config.copy_options)

    def verify(records: list[tuple[Any, ...]], rows: int) -> None:
        reported = load_history.reported_from_rows(
            records, rows=rows, header_rows=expected.header_rows
        )
        load_check.enforce(target.name, expected, reported)

    return verify


def _source_check(job: TargetJob) -> Callable[[], None] | None:
    sources = job.sources
    if sources is None:
        return None
    return lambda: sources.verify(job.target.name)
