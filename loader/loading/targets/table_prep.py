"""The target table before a load: created when missing, checked against the files, extended.

Every target kind (Redshift and PostgreSQL over psycopg2, the Data API) around the pure
loader/schema/ modules; the database is reached through a `Catalog`, a small interface of two
verbs (read the catalog, run DDL on its own) implemented over psycopg2 (`pg_session.PgCatalog`)
and over the Data API (`data_api.DataApiCatalog`):

- `ensure_table` (`create_table: if_missing`): outside the load transaction, as the ledger is
  created: `CREATE SCHEMA/TABLE IF NOT EXISTS` with `table_columns` or columns inferred from the
  batch's first file. Two loaders racing: PostgreSQL (and the stand-in) may still fail the second
  with a unique violation on its catalog (the first one's table appeared meanwhile), Redshift
  with a serializable isolation violation; the catalog ignores the first (the table exists, as
  wanted), the second is transient and retried like any (db_errors.py).
- `evolution` (`schema_evolution: detect | add_columns`): the table's columns, read just before
  the load transaction, against samples of the batch's files. Drift fails the target
  (`SchemaDriftError`, terminal) unless `add_columns` can fix it, in which case it returns the
  ALTER TABLE ADD COLUMN statements for the script. Redshift runs ALTER TABLE ADD COLUMN inside a
  transaction block (r_ALTER_TABLE.md names only external tables and ALTER COLUMN ... TYPE as
  impossible there), and so does PostgreSQL, so a failed load rolls the new columns back too.
- `diagnose`: after a terminal failure, the same comparison, for the failure notice; never
  raises.

Types are Redshift's; a PostgreSQL table gets the same spellings, all valid there but SUPER and
VARBYTE (config/redshift_types.py), which only Parquet / ORC footers propose and PostgreSQL
targets do not load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from config.formats import JsonFormat
from config.redshift_types import postgres_problem
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
    from config.copy_options import CopyOptions
    from config.targets import Target
    from loader.adapters.s3_store import S3Store


class Catalog(Protocol):
    """The database side of table preparation, on the load's session."""

    errors: tuple[type[Exception], ...]
    """What `read` raises when the database refuses (`diagnose` swallows these)."""

    def read(self, sql: str) -> Sequence[Sequence[Any]]:
        """Rows of one catalog query, in a short transaction of its own."""
        ...

    def create(self, statements: Sequence[str]) -> None:
        """DDL outside the load transaction, each statement committed on its own; a statement
        that lost a race to an identical one (the object exists now) is not an error."""
        ...


@dataclass(frozen=True)
class Evolution:
    """What `schema_evolution: add_columns` adds in the load transaction (empty: nothing)."""

    statements: tuple[str, ...] = ()
    """ALTER TABLE ... ADD COLUMN, one per column."""
    columns: tuple[str, ...] = ()
    """The new columns' names, in order (appended to the table's)."""


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


def no_s3() -> S3Store:
    raise ConfigurationError("this target adapter was built without S3 access")


class TablePrep:
    def __init__(
        self,
        catalog: Catalog,
        target: Target,
        options: CopyOptions,
        urls: Callable[[], Sequence[str]],
        s3: Callable[[], S3Store] = no_s3,
    ) -> None:
        self._catalog = catalog
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
        self._catalog.create(statements)
        logger.info("table_created", target=target.name, table=target.table)
        return True

    def _exists(self) -> bool:
        return bool(self._catalog.read(ddl.table_exists_sql(self._target.table)))

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
        self._check_types(c.type for c in proposal.columns)
        return list(proposal.columns)

    def _check_types(self, types: Iterable[str]) -> None:
        """A PostgreSQL table cannot take every Redshift type (Parquet / ORC binary: VARBYTE)."""
        if self._target.type != "postgres":
            return
        for problem in filter(None, map(postgres_problem, types)):
            raise ConfigurationError(
                f"target {self._target.name}: {problem}", target=self._target.name
            )

    # --- schema_evolution ---------------------------------------------------------------
    def evolution(self) -> Evolution:
        """What to add in the load transaction (empty: nothing). Raises SchemaDriftError on
        drift it may not or cannot fix. A column another load adds between this read and the
        ALTER makes the ALTER fail ("already exists"); each adapter retries that attempt."""
        mode = self._target.schema_evolution
        if mode == "none":
            return Evolution()
        drift = self._compare()
        if not drift:
            return Evolution()
        if mode == "add_columns" and appendable(drift):
            names = tuple(c.name for c in drift.extra)
            self._check_types(c.type for c in drift.extra)
            logger.info(
                "columns_added", target=self._target.name, table=self._target.table, columns=names
            )
            return Evolution(drift.fixes, names)
        raise SchemaDriftError(
            f"target {self._target.name}: {drift.describe()}",
            target=self._target.name,
            drift=drift_report(self._target.name, drift),
        )

    def diagnose(self) -> SchemaDrift | None:
        """The drift behind a failed load, if any (best effort, for the failure notice)."""
        expected: tuple[type[Exception], ...] = (
            LoaderError,
            UnreadableSampleError,
            *self._catalog.errors,
        )
        try:
            drift = self._compare()
        except expected as exc:
            logger.info("drift_not_diagnosed", target=self._target.name, error=str(exc)[:300])
            return None
        return drift_report(self._target.name, drift) if drift else None

    def _compare(self) -> Drift:
        target, options = self._target, self._options
        if not comparable(options):
            return Drift(table=target.table)
        table = columns_from_catalog(self._catalog.read(ddl.columns_sql(target.table)))
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
