"""The target table before a load: created when missing, checked against the files, extended.

A thin adapter over one psycopg2 connection and S3 around the pure loader/schema/ modules:

- `ensure_table` (`create_table: if_missing`): outside the load transaction, in autocommit, as
  the ledger is created: `CREATE SCHEMA/TABLE IF NOT EXISTS` with `table_columns` or columns
  inferred from the batch's first file. Two loaders racing: PostgreSQL may still fail the
  second with a unique violation on its catalog (the first one's table appeared meanwhile),
  Redshift with a serializable isolation violation; the first is ignored (the table exists, as
  wanted), the second is transient and retried like any (db_errors.py).
- `evolution` (`schema_evolution: detect | add_columns`): the table's columns, read on the load's
  connection just before the load transaction, against samples of the batch's files. Drift
  fails the target (`SchemaDriftError`, terminal) unless `add_columns` can fix it, in
  which case it returns the ALTER TABLE ADD COLUMN statements for the script. Redshift runs ALTER
  TABLE ADD COLUMN inside a transaction block (r_ALTER_TABLE.md names only external tables and
  ALTER COLUMN ... TYPE as impossible there), so a failed load rolls the new columns back too.
- `diagnose`: after a terminal failure, the same comparison in a short read-only transaction,
  for the failure notice; never raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from config.formats import JsonFormat
from loader.errors import ConfigurationError, LoaderError, TerminalError
from loader.loading.targets import file_samples
from loader.log import logger
from loader.ports import SchemaDrift
from loader.schema import ddl
from loader.schema.drift import (
    Drift,
    appendable,
    columns_from_catalog,
    compare,
    loaded_columns,
)
from loader.schema.infer import Widths
from loader.schema.propose import IncompatibleSamplesError, propose
from loader.schema.samples import UnreadableSampleError

if TYPE_CHECKING:
    from psycopg2.extensions import connection

    from config.copy_options import CopyOptions
    from config.targets import RedshiftTarget
    from loader.adapters.s3_store import S3Store


def comparable(options: CopyOptions) -> bool:
    """Formats whose files can be compared with a table (JSONPaths map paths, not keys)."""
    fmt = options.format
    if isinstance(fmt, JsonFormat):
        return fmt.mode in ("auto", "auto_ignorecase")
    return fmt.type in ("csv", "delimited", "parquet", "orc")


class SchemaDriftError(TerminalError):
    """The batch's files do not fit the table (and `schema_evolution` cannot make them)."""

    def __init__(self, message: str, *, drift: SchemaDrift | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.schema_drift = drift


def drift_report(target: str, drift: Drift) -> SchemaDrift:
    return SchemaDrift(
        target=target,
        table=drift.table,
        extra_columns=tuple(c.name for c in drift.extra),
        missing_columns=drift.missing,
        order_differs=drift.order,
        alter_table=drift.fixes,
        summary=drift.describe(),
    )


class TablePrep:
    def __init__(
        self,
        conn: connection,
        target: RedshiftTarget,
        options: CopyOptions,
        urls: Callable[[], Sequence[str]],
        s3: Callable[[], S3Store],
    ) -> None:
        self._conn = conn
        self._target = target
        self._options = options
        self._urls = urls
        self._s3 = s3

    # --- create_table --------------------------------------------------------------------
    def ensure_table(self) -> bool:
        """Create the table if it is missing and the target asks for it; True if created."""
        target = self._target
        if target.create_table != "if_missing" or self._exists():
            return False
        statements = [s for s in (ddl.create_schema_sql(target.table),) if s]
        statements.append(ddl.create_table_sql(target.table, self._columns()))
        self._autocommit(statements)
        logger.info("table_created", target=target.name, table=target.table)
        return True

    def _exists(self) -> bool:
        with self._conn.cursor() as cur:
            cur.execute(ddl.table_exists_sql(self._target.table))
            found = cur.fetchone() is not None
        self._conn.rollback()
        return found

    def _columns(self) -> list[ddl.ColumnSpec]:
        given = self._target.table_columns
        if given:
            return [ddl.ColumnSpec(c.name, c.type, c.not_null) for c in given]
        urls = self._urls()
        try:
            samples = file_samples.read_samples(self._s3(), urls, self._options, files=1)
            formats = (self._options.date_format, self._options.time_format)
            proposal = propose(samples, Widths.UNATTENDED, formats=formats)
        except (UnreadableSampleError, IncompatibleSamplesError) as exc:
            raise ConfigurationError(
                f"target {self._target.name}: cannot infer the columns of {self._target.table} "
                f"from {urls[0] if urls else 'the batch'}: {exc}; set table_columns",
                target=self._target.name,
            ) from None
        if not proposal.columns:
            raise ConfigurationError(
                f"target {self._target.name}: the first file names no columns to create "
                f"{self._target.table} with; set table_columns",
                target=self._target.name,
            )
        return list(proposal.columns)

    def _autocommit(self, statements: Sequence[str]) -> None:
        import psycopg2

        self._conn.autocommit = True
        try:
            with self._conn.cursor() as cur:
                for statement in statements:
                    # A loader racing us created it first: IF NOT EXISTS races in PostgreSQL.
                    with contextlib.suppress(
                        psycopg2.errors.UniqueViolation,
                        psycopg2.errors.DuplicateSchema,
                        psycopg2.errors.DuplicateTable,
                    ):
                        cur.execute(statement)
        finally:
            self._conn.autocommit = False

    # --- schema_evolution ---------------------------------------------------------------
    def evolution(self) -> tuple[str, ...]:
        """ALTER statements to run in the load transaction (empty: nothing to add). Raises
        SchemaDriftError on drift it may not or cannot fix. A column another load adds between
        this read and the ALTER makes the ALTER fail; that attempt is retried (redshift.py)."""
        mode = self._target.schema_evolution
        if mode == "none":
            return ()
        drift = self._compare()
        if not drift:
            return ()
        if mode == "add_columns" and appendable(drift):
            logger.info(
                "columns_added",
                target=self._target.name,
                table=self._target.table,
                columns=[c.name for c in drift.extra],
            )
            return drift.fixes
        raise SchemaDriftError(
            f"target {self._target.name}: {drift.describe()}",
            target=self._target.name,
            drift=drift_report(self._target.name, drift),
        )

    def diagnose(self) -> SchemaDrift | None:
        """The drift behind a failed load, if any (best effort, for the failure notice)."""
        import psycopg2

        try:
            drift = self._compare()
        except (psycopg2.Error, LoaderError, UnreadableSampleError) as exc:
            logger.info("drift_not_diagnosed", target=self._target.name, error=str(exc)[:300])
            return None
        finally:
            with contextlib.suppress(psycopg2.Error):
                self._conn.rollback()
        return drift_report(self._target.name, drift) if drift else None

    def _compare(self) -> Drift:
        target, options = self._target, self._options
        if not comparable(options):
            return Drift(table=target.table)
        with self._conn.cursor() as cur:
            cur.execute(ddl.columns_sql(target.table))
            table = columns_from_catalog(cur.fetchall())
        if not table:
            return Drift(table=target.table)  # no such table: COPY says so itself
        try:
            samples = file_samples.read_samples(self._s3(), self._urls(), options)
        except UnreadableSampleError as exc:
            raise SchemaDriftError(
                f"target {target.name}: cannot sample the files to check their columns: {exc}",
                target=target.name,
            ) from None
        loaded = loaded_columns(table, target.columns, explicit_ids=options.explicit_ids)
        mode = getattr(options.format, "mode", "auto")
        return compare(
            target.table,
            samples,
            loaded,
            ignorecase=mode == "auto_ignorecase",
            fill_record=options.fill_record,
        )
