"""The Redshift Data API (cluster or Serverless workgroup): no VPC networking, no driver.

Per attempt: make sure the ledger exists, look the batch up in it, then submit the whole script
with `batch_execute_statement` (one transaction) and poll `describe_statement` with a growing
interval until FINISHED / FAILED / ABORTED; at the attempt's deadline the statement is cancelled
and the attempt fails as retryable. Rows come from the script's COUNT sub-statement.

The load check (load_check.py) cannot run between the statements of one batch: its VERIFY
sub-statement is a guard (load_history.guard_sql) that fails the transaction on a mismatch with
the numbers in its error text, which become the same `LoadCheckError` as over psycopg2.

The table is prepared as over psycopg2 (table_prep.py), through `DataApiCatalog`: catalog reads
are statements of their own, so is each CREATE (schema, table: committed before the load, a
CREATE that lost a race to an identical one is not an error); the ALTER TABLE ADD COLUMN
statements of `schema_evolution: add_columns` are sub-statements of the load's batch, so they
commit or roll back with it. A terminal failure's notice names the drift behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from loader import metrics
from loader.errors import LeaseLostError, LoaderError, RetryableError, TerminalError
from loader.loading import load_check
from loader.loading.job import Loaded, TargetJob, with_error_rows, with_schema_drift
from loader.loading.load_check import Expected, LoadCheckError
from loader.loading.sql import ledger, load_errors, load_history
from loader.loading.sql.ledger import Dialect
from loader.loading.sql.redshift_script import redshift_script
from loader.loading.sql.script import Script, StepKind
from loader.loading.targets.db_errors import describe, is_transient
from loader.loading.targets.table_prep import Evolution, TablePrep, no_s3
from loader.log import logger

if TYPE_CHECKING:
    from config.targets import DataApiTarget
    from loader.adapters.data_api import DataApi
    from loader.adapters.s3_store import S3Store
    from loader.copy_sql import CopySecrets
    from loader.loading.credentials import Credentials
    from loader.ports import LoadErrorRow, SchemaDrift

DONE = frozenset({"FINISHED", "FAILED", "ABORTED"})
MAX_POLL_SECONDS = 10.0
HEARTBEAT_SECONDS = 60.0
# No SQLSTATE over the Data API: the texts Redshift and PostgreSQL (the stand-in) share. A CREATE
# ... IF NOT EXISTS racing an identical one may still fail on the catalog's unique index.
_LOST_CREATE_RACE = ("already exists", "duplicate key value violates unique constraint")
_DUPLICATE_COLUMN = ("column", "of relation", "already exists")


def request_target(target: DataApiTarget) -> dict[str, str]:
    """Where statements run and as whom (the keyword arguments every Data API call shares)."""
    where = {"Database": target.database}
    if target.cluster_identifier:
        where["ClusterIdentifier"] = target.cluster_identifier
    if target.workgroup_name:
        where["WorkgroupName"] = target.workgroup_name
    if target.secret_arn:
        where["SecretArn"] = target.secret_arn
    elif target.db_user and target.cluster_identifier:
        where["DbUser"] = target.db_user
    return where


def next_poll(interval: float) -> float:
    return min(interval * 1.5, MAX_POLL_SECONDS)


class DataApiAdapter:
    def __init__(
        self,
        api: DataApi,
        credentials: Credentials,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        s3: Callable[[], S3Store] = no_s3,
    ) -> None:
        self._api = api
        self._credentials = credentials
        self._s3 = s3
        self._monotonic = monotonic
        self._sleep = sleep
        self._ledgers: set[tuple[str, ...]] = set()

    def load(self, job: TargetJob) -> Loaded:
        target: DataApiTarget = job.target  # type: ignore[assignment]
        secrets = self._credentials.copy_secrets(target.copy_authorization, job.config.copy_options)
        expected = _expected(job, target)
        run = _Run(
            self._api,
            job,
            target,
            secrets,
            self._monotonic,
            self._sleep,
            expected=expected,
        )
        self._ensure_ledger(run)
        lookup = ledger.lookup_sql(
            target.ledger_schema, job.batch.batch_id, target.name, Dialect.REDSHIFT
        )
        found = run.query(lookup)
        if found:
            return Loaded(rows=_long(found[0][0]), already_loaded=True)
        tables = self._tables(run)
        tables.ensure_table()
        added = tables.evolution()
        script = self._script(job, target, secrets, expected, added)
        run.submit([step.sql for step in script.setup])
        try:
            statement_id = run.submit_load(
                [step.sql for step in script.steps], tables.diagnose, adds_columns=added.columns
            )
        except _AlreadyLoadedError:  # another holder committed it meanwhile: ours rolled back
            again = run.query(lookup)
            return Loaded(rows=_long(again[0][0]) if again else 0, already_loaded=True)
        rows = self._api.records(f"{statement_id}:{script.position(StepKind.COUNT)}")
        return Loaded(rows=_long(rows[0][0]) if rows else 0, warning=_changed_during(job))

    def _tables(self, run: _Run) -> TablePrep:
        entries = run.job.manifest_entries

        def urls() -> tuple[str, ...]:
            return entries() if entries is not None else ()

        options = run.job.config.copy_options
        return TablePrep(DataApiCatalog(run), run.target, options, urls, self._s3)

    def _script(
        self,
        job: TargetJob,
        target: DataApiTarget,
        secrets: CopySecrets,
        expected: Expected | None,
        added: Evolution,
    ) -> Script:
        serverless = target.workgroup_name is not None
        verify_sql = None
        if expected is not None:
            verify_sql = load_history.guard_sql(expected, serverless=serverless)
        return redshift_script(
            job,
            target,
            secrets,
            verify_sql=verify_sql,
            add_columns=added.statements,
            guards=True,
        )

    def _ensure_ledger(self, run: _Run) -> None:
        key = (*sorted(run.where.values()), run.target.ledger_schema)
        if key in self._ledgers:
            return
        if not run.query(ledger.exists_sql(run.target.ledger_schema, Dialect.REDSHIFT)):
            DataApiCatalog(run).create(ledger.ddl(run.target.ledger_schema, Dialect.REDSHIFT))
            logger.info("ledger_created", target=run.target.name, schema=run.target.ledger_schema)
        self._ledgers.add(key)


class DataApiCatalog:
    """`table_prep.Catalog` over the Data API: every read and every DDL statement is a request of
    its own, committed on its own, outside the load's batch."""

    errors: tuple[type[Exception], ...] = (LoaderError,)

    def __init__(self, run: _Run) -> None:
        self._run = run

    def read(self, sql: str) -> Sequence[Sequence[Any]]:
        return self._run.query(sql)

    def create(self, statements: Sequence[str]) -> None:
        for statement in statements:
            try:
                self._run.submit([statement])
            except TerminalError as exc:
                if not any(text in str(exc) for text in _LOST_CREATE_RACE):
                    raise
                # Another loader's identical CREATE ... IF NOT EXISTS committed first.
                logger.info("create_raced", target=self._run.target.name, error=str(exc)[:300])


class _AlreadyLoadedError(LoaderError):
    """The re-check guard failed the transaction: another holder committed the batch."""


class _Run:
    """The statements of one attempt, sharing its deadline."""

    def __init__(
        self,
        api: DataApi,
        job: TargetJob,
        target: DataApiTarget,
        secrets: CopySecrets,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
        *,
        expected: Expected | None = None,
    ) -> None:
        self.api, self.job, self.target, self.secrets = api, job, target, secrets
        self.expected = expected
        """What the load check's guard compares with (None: no guard in the script)."""
        self._monotonic, self._sleep = monotonic, sleep
        self.where = request_target(target)
        self.deadline = monotonic() + job.budget_seconds
        self._beat_at = monotonic()

    def query(self, sql: str) -> list[list[Any]]:
        """Run one read and return its records."""
        statement_id = self.api.execute(sql, self.where)
        self._wait(statement_id)
        return self.api.records(statement_id)

    def submit(self, sqls: list[str]) -> str:
        """Run statements in one transaction; return the batch id once FINISHED."""
        statement_id = self.api.execute_batch(sqls, self.where)
        self._wait(statement_id)
        return statement_id

    def submit_load(
        self,
        sqls: list[str],
        diagnose: Callable[[], SchemaDrift | None],
        *,
        adds_columns: Sequence[str] = (),
    ) -> str:
        """`submit`, plus the rejected rows and the schema drift when the load fails for good."""
        try:
            return self.submit(sqls)
        except (LoadCheckError, LeaseLostError, _AlreadyLoadedError):
            raise  # nothing was rejected
        except TerminalError as exc:
            text = str(exc)
            if adds_columns and all(part in text for part in _DUPLICATE_COLUMN):
                # A concurrent load added the column first; the next attempt sees it and skips it.
                raise RetryableError(text, target=self.target.name) from None
            error = with_error_rows(exc, self._error_rows())
            drift = diagnose()
            raise (error if drift is None else with_schema_drift(error, drift)) from None

    def _wait(self, statement_id: str) -> None:
        interval = self.target.poll_interval_seconds
        while True:
            status = self.api.describe(statement_id)
            if status.status == "FINISHED":
                return
            if status.status in DONE:
                raise self._failed(status.status, status.error or status.status)
            now = self._monotonic()
            if now >= self.deadline:
                self._cancel(statement_id)
                raise RetryableError(
                    f"target {self.target.name}: Data API statement still {status.status} at "
                    "the attempt's deadline; cancelled",
                    target=self.target.name,
                )
            if now - self._beat_at >= HEARTBEAT_SECONDS:
                self._heartbeat(statement_id)
                self._beat_at = now
            self._sleep(min(interval, max(self.deadline - now, 0.0)))
            interval = next_poll(interval)

    def _heartbeat(self, statement_id: str) -> None:
        try:
            self.job.heartbeat()
        except LeaseLostError:
            self._cancel(statement_id)  # the new lease holder loads the batch, not us
            raise

    def _cancel(self, statement_id: str) -> None:
        refused = self.api.cancel(statement_id)
        if refused is not None:  # it finished meanwhile: nothing to cancel
            logger.info("cancel_refused", target=self.target.name, error=refused)

    def _failed(self, status: str, text: str) -> LoaderError:
        if status == "FAILED" and ledger.FENCE_LOST_MARK in text:
            return LeaseLostError(
                f"target {self.target.name}: a newer lease holder claimed the batch; rolled back",
                target=self.target.name,
            )
        if status == "FAILED" and ledger.ALREADY_LOADED_MARK in text:
            return _AlreadyLoadedError(f"target {self.target.name}: committed by another holder")
        checked = self._check_failure(text) if status == "FAILED" else None
        if checked is not None:
            return checked
        message = describe(
            self.target.name, None, text.removeprefix("ERROR:").strip(), secrets=self.secrets
        )
        if status == "ABORTED" or is_transient(None, text):
            return RetryableError(message, target=self.target.name)
        return TerminalError(message, target=self.target.name)

    def _check_failure(self, text: str) -> LoaderError | None:
        """The load check's guard failed the transaction: say what did not match."""
        if self.expected is None:
            return None
        serverless = self.target.workgroup_name is not None
        reported = load_history.parse_guard(text, self.expected, serverless=serverless)
        if reported is None:
            return None
        mismatch = load_check.find_mismatch(self.expected, reported)
        if mismatch is None:  # the guard and the check disagree: report the guard's numbers
            text = text.split(load_history.GUARD_MARK, 1)[1].strip('"')
            return TerminalError(
                f"target {self.target.name}: load check failed:{text}", target=self.target.name
            )
        return LoadCheckError(self.target.name, mismatch)

    def _error_rows(self) -> tuple[LoadErrorRow, ...]:
        serverless = self.target.workgroup_name is not None
        for view in load_errors.views(serverless=serverless):
            try:
                records = self.query(load_errors.prefix_sql(view, self.job.batch.prefix))
            except LoaderError as exc:
                logger.info(
                    "load_errors_unavailable",
                    target=self.target.name,
                    view=view,
                    error=type(exc).__name__,
                )
                continue
            return load_errors.rows_from_view(self.target.name, records)
        return ()


def _expected(job: TargetJob, target: DataApiTarget) -> Expected | None:
    """What the load check expects (None: the target does not check its loads)."""
    if not target.verify_load or job.manifest_entries is None:
        return None
    return load_check.expected_for(job.manifest_entries(), job.config.copy_options)


def _long(value: Any) -> int:
    return int(value) if value is not None else 0


def _changed_during(job: TargetJob) -> str | None:
    """The Data API commits without a pause after the COPY: a file overwritten during the load
    may have loaded in its new version. Nothing can be undone; it is said (docs/loading.md)."""
    if job.sources is None:
        return None
    changed = job.sources.changed()
    if not changed:
        return None
    metrics.count("SourcesChangedDuringLoad", len(changed))
    logger.error(
        "sources_changed_during_load",
        batch_id=job.batch.batch_id,
        target=job.target.name,
        files=len(changed),
        sample=changed[:10],
    )
    return (
        f"{len(changed)} file(s) changed in S3 while the Data API loaded them (e.g. "
        f"{changed[0]}): the rows may be their newer version; check before reloading"
    )
