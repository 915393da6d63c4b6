"""`loader-admin config test`: a configuration's own load, on sample files, against the local
Redshift stand-in. No AWS account, no running stack.

    sample files ──► S3 (moto, in this process) under the configuration's prefix, + a manifest
                         │
    the production loader: TargetsLoader ──► RedshiftAdapter / DataApiAdapter / PostgresAdapter
      (build_copy, merge, pre/post SQL, ledger, load check,     │ psycopg2 / fake Data API
       create_table, schema_evolution: nothing re-implemented)  ▼
                                       stand-in proxy ──► embedded PostgreSQL (one database per
                                                           target, thrown away afterwards)

Each target keeps everything that shapes its load script (table, columns, merge, truncate,
pre/post SQL, ledger schema, load check, COPY options, create_table, schema_evolution); only
where it connects changes: `redshift` targets reach the stand-in with a local login, `data_api`
targets the fake Data API, `postgres` targets the embedded PostgreSQL. COPY authorizations that
need KMS (encrypted access keys) become `IAM_ROLE default`, which the stand-in ignores anyway.
The target table is created from `--ddl`, by the target itself (`create_table: if_missing`), or
from the samples (`config infer`'s proposal).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from config.identifiers import split_table_name
from config.models import PrefixConfig
from loader.copy_sql import quote_ident, quote_name
from loader.errors import ConfigurationError
from loader.models import TargetStatus
from loader.ports import LoadErrorRow, SchemaDrift
from setup_cli.documents import to_document
from setup_cli.inference import SampleFile, infer
from setup_cli.sample_files import base_name

if TYPE_CHECKING:
    import boto3

    from loader.ports import LoadResult
    from redshift_standin.postgres import EmbeddedPostgres
    from redshift_standin.proxy import StandIn

REGION = "us-east-1"
MAX_ERROR_ROWS = 1000
MAX_ERROR = 100_000
"""Redshift's largest MAXERROR (copy-parameters-data-load.md)."""
Progress = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class TargetTrial:
    name: str
    type: str
    table: str
    status: TargetStatus
    rows: int | None
    error: str | None
    error_rows: tuple[LoadErrorRow, ...]
    schema_drift: tuple[SchemaDrift, ...]
    columns: tuple[str, ...] = ()
    preview: tuple[tuple[Any, ...], ...] = ()
    row_count: int | None = None
    table_from: str = ""
    """How the table came to be: `--ddl`, `create_table`, or `inferred from the samples`."""

    @property
    def clean(self) -> bool:
        return self.status is TargetStatus.LOADED and not self.error_rows


@dataclass(frozen=True)
class Trial:
    prefix: str
    files: tuple[tuple[str, str], ...]
    """(sample file as given, the s3:// URL it was loaded from)."""
    targets: tuple[TargetTrial, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        return all(t.clean for t in self.targets)

    def source(self, url: str | None) -> str | None:
        """The sample file an s3:// URL of this trial stands for."""
        return next((name for name, u in self.files if u == url), url)


def run_trial(
    config: PrefixConfig,
    files: Sequence[SampleFile],
    *,
    ddl: str | None = None,
    jsonpaths: bytes | None = None,
    preview: int = 10,
    progress: Progress = lambda message: contextlib.nullcontext(),
) -> Trial:
    """Load `files` as `config` would, into throwaway databases; what each target did."""
    from moto import mock_aws

    notes: list[str] = []
    with ExitStack() as stack:
        stack.enter_context(_aws_environment_cleared())
        with progress("Starting the embedded PostgreSQL and the Redshift stand-in ..."):
            postgres, proxy = _start(stack)
        stack.enter_context(mock_aws())
        session = _session()
        urls = _upload(session, config, files, jsonpaths)
        local, databases = _local_config(config, session, proxy, postgres, notes)
        tables = _tables(local, files, ddl, proxy, postgres, databases)
        with progress(f"Loading {len(files)} file(s) into {len(local.targets)} target(s) ..."):
            result = _load(local, session, proxy, urls)
        trials = [
            _target_trial(t, result, postgres, databases[t.name], tables[t.name], preview)
            for t in local.targets
        ]
        if _stopped_early(local, trials):
            with progress("Loading again with MAXERROR, to list every rejected row ..."):
                trials = _every_rejected_row(local, session, proxy, postgres, urls, trials)
            notes.append(
                f"the configuration's COPY stops at the first bad row; the rejected rows listed "
                f"come from a second load with MAXERROR {MAX_ERROR} (nothing else changed)"
            )
    return Trial(
        prefix=config.prefix,
        files=tuple(zip([f.name for f in files], urls, strict=True)),
        targets=tuple(trials),
        notes=tuple(notes),
    )


def _stopped_early(config: PrefixConfig, trials: Sequence[TargetTrial]) -> bool:
    """A row format whose COPY failed on a bad row without a MAXERROR that lets it go on."""
    options = config.copy_options
    if options.format.type in ("parquet", "orc") or (options.max_error or 0) >= MAX_ERROR:
        return False
    return any(t.status is TargetStatus.FAILED and t.error_rows for t in trials)


def _every_rejected_row(
    config: PrefixConfig,
    session: boto3.Session,
    proxy: StandIn,
    postgres: EmbeddedPostgres,
    urls: Sequence[str],
    trials: list[TargetTrial],
) -> list[TargetTrial]:
    """The same load with MAXERROR at Redshift's maximum, so COPY records every bad row; the
    first load's outcome (status, preview) is kept, its rejected rows replaced."""
    from loader.loading.sql import load_errors

    document = to_document(config)
    document.setdefault("copy_options", {})["max_error"] = MAX_ERROR
    retried = PrefixConfig.model_validate(document)
    databases = {t.name: d for t, d in zip(config.targets, _databases(config), strict=True)}
    before = {t.name: _last_query(postgres.dsn_for(databases[t.name])) for t in config.targets}
    result = _load(retried, session, proxy, urls)
    out = []
    for trial in trials:
        dsn = postgres.dsn_for(databases[trial.name])
        sql = load_errors.all_rows_sql(MAX_ERROR_ROWS).replace(
            "FROM stl_load_errors", f"FROM stl_load_errors WHERE query > {before[trial.name]}"
        )
        records = _query(dsn, sql) or []
        rows = load_errors.rows_from_view(trial.name, records, limit=MAX_ERROR_ROWS)
        if not rows:
            rows = tuple(r for r in result.error_rows if r.target == trial.name)
        out.append(replace(trial, error_rows=rows or trial.error_rows))
    return out


def _databases(config: PrefixConfig) -> list[str]:
    return [f"config_test_{index}" for index in range(len(config.targets))]


def _last_query(dsn: str) -> int:
    found = _query(dsn, "SELECT coalesce(max(query), 0) FROM stl_load_errors")
    return int(found[0][0]) if found else 0


@contextlib.contextmanager
def _aws_environment_cleared() -> Iterator[None]:
    """moto answers only requests for AWS's own endpoints: a profile or AWS_ENDPOINT_URL (e.g.
    `--local`) must not send the trial's calls elsewhere."""
    saved = {k: os.environ.pop(k) for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE") if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _start(stack: ExitStack) -> tuple[EmbeddedPostgres, StandIn]:
    import boto3

    from redshift_standin.testing import embedded_postgres, standin

    postgres = stack.enter_context(embedded_postgres())
    # The client is built at COPY time, inside mock_aws: it reads the trial's moto S3.
    proxy = stack.enter_context(standin(postgres, lambda: boto3.client("s3", region_name=REGION)))
    return postgres, proxy


def _session() -> boto3.Session:
    import boto3

    return boto3.Session(region_name=REGION)


# --- S3 -----------------------------------------------------------------------------------------
def _upload(
    session: boto3.Session,
    config: PrefixConfig,
    files: Sequence[SampleFile],
    jsonpaths: bytes | None,
) -> list[str]:
    """Each sample under the configuration's prefix (a Hive wildcard `dt=*` as `dt=sample`)."""
    s3 = session.client("s3")
    buckets = {config.bucket, config.manifest.bucket}
    paths_url = getattr(config.copy_options.format, "jsonpaths_url", None)
    if paths_url:
        if jsonpaths is None:
            raise ConfigurationError(
                f"the configuration reads JSONPaths from {paths_url}: give the file (--jsonpaths)"
            )
        buckets.add(paths_url.removeprefix("s3://").split("/", 1)[0])
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    if paths_url and jsonpaths is not None:
        bucket, _, key = paths_url.removeprefix("s3://").partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=jsonpaths)
    folder = "/".join(s.replace("=*", "=sample") for s in config.prefix.split("/")[1:])
    urls, seen = [], set()
    for index, file in enumerate(files):
        name = base_name(file.name)
        name = name if name not in seen else f"{index}-{name}"
        seen.add(name)
        key = f"{folder}/{name}" if folder else name
        s3.put_object(Bucket=config.bucket, Key=key, Body=file.data)
        urls.append(f"s3://{config.bucket}/{key}")
    return urls


# --- the configuration, pointed at the local databases -------------------------------------------
def _local_config(
    config: PrefixConfig,
    session: boto3.Session,
    proxy: StandIn,
    postgres: EmbeddedPostgres,
    notes: list[str],
) -> tuple[PrefixConfig, dict[str, str]]:
    from psycopg2.extensions import make_dsn, parse_dsn

    upstream = parse_dsn(postgres.dsn)
    login = {
        "username": upstream.get("user") or "postgres",
        "password": upstream.get("password") or "",
    }
    secret = session.client("secretsmanager").create_secret(
        Name="config-test/login", SecretString=json.dumps(login)
    )["ARN"]
    host, port = proxy.address or ("127.0.0.1", 5439)
    document = to_document(config)
    databases: dict[str, str] = {}
    for target, database in zip(document["targets"], _databases(config), strict=True):
        databases[target["name"]] = database
        _create_database(postgres, database)
        for key in ("host", "port", "database", "user", "cluster_identifier", "workgroup_name",
                    "auth", "secret_arn", "encrypted_password", "sslmode", "sslrootcert",
                    "connect_timeout_seconds", "db_user", "dsn"):  # fmt: skip
            target.pop(key, None)
        if target["type"] == "redshift":
            target |= {"host": host, "port": port, "database": database, "auth": "secret"}
            target |= {"secret_arn": secret, "sslmode": "disable"}
        elif target["type"] == "data_api":
            target |= {"cluster_identifier": "config-test", "database": database}
            target["poll_interval_seconds"] = 0.05
        else:
            dsn = {k: v for k, v in upstream.items() if k != "password"}
            target |= {"dsn": make_dsn(**{**dsn, "dbname": database}), "sslmode": "disable"}
        auth = target.get("copy_authorization") or {}
        if auth.get("access_key_id"):
            target.pop("copy_authorization")
            notes.append(
                f"target {target['name']}: COPY with IAM_ROLE default instead of the "
                "KMS-encrypted access key (the stand-in reads S3 with its own client)"
            )
    return PrefixConfig.model_validate(document), databases


def _create_database(postgres: EmbeddedPostgres, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(postgres.dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {quote_name(name)}")
            cur.execute(f"CREATE DATABASE {quote_name(name)}")
    finally:
        conn.close()


def _tables(
    config: PrefixConfig,
    files: Sequence[SampleFile],
    ddl: str | None,
    proxy: StandIn,
    postgres: EmbeddedPostgres,
    databases: dict[str, str],
) -> dict[str, str]:
    """Create each target's table (unless the target does): how each came to be."""
    made = {}
    for target in config.targets:
        if target.create_table == "if_missing" and ddl is None:
            made[target.name] = "created by the target (create_table: if_missing)"
            continue
        statement = ddl
        how = "--ddl"
        if statement is None:
            statement = infer(files).create_table(target.table)
            how = "inferred from the samples (config infer)"
        # Through the stand-in, so Redshift-only DDL (IDENTITY) is rewritten as it would be there.
        dsn = (
            proxy.dsn(dbname=databases[target.name])
            if target.type != "postgres"
            else postgres.dsn_for(databases[target.name])
        )
        _run(dsn, [s for s in (_schema_sql(target.table),) if s] + [statement])
        made[target.name] = how
    return made


def _schema_sql(table: str) -> str | None:
    schema, _ = split_table_name(table)
    return None if schema is None else f"CREATE SCHEMA IF NOT EXISTS {quote_name(schema)}"


def _run(dsn: str, statements: Sequence[str]) -> None:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                try:
                    cur.execute(statement)
                except psycopg2.Error as exc:
                    message = (exc.diag.message_primary or str(exc)).strip()
                    raise ConfigurationError(f"the table DDL failed: {message}") from None
    finally:
        conn.close()


# --- the load -----------------------------------------------------------------------------------
def _load(
    config: PrefixConfig, session: boto3.Session, proxy: StandIn, urls: Sequence[str]
) -> LoadResult:
    from loader.deps import Deps
    from loader.loading.runner import TargetsLoader
    from loader.manifest import build_manifest, manifest_key
    from loader.models import Batch, BatchMember, BatchStatus
    from loader.ports import LoadContext
    from loader.settings import Settings
    from redshift_standin.data_api import FakeRedshiftData

    deps = Deps(Settings.from_env({"LOADER_TARGET_ATTEMPTS": "1"}), session)
    data_api = FakeRedshiftData(lambda database: proxy.dsn(dbname=database), region_name=REGION)
    deps._clients["redshift-data"] = data_api
    s3 = session.client("s3")
    members = []
    for url in urls:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        members.append(BatchMember(url=url, size=size))
    now = time.time()
    batch_id = time.strftime("%Y%m%dT%H%M%SZ-config-test", time.gmtime(now))
    key = manifest_key(config.manifest, config.prefix, batch_id)
    manifest_url = deps.s3.put_manifest(config.manifest.bucket, key, build_manifest(members))
    batch = Batch(
        batch_id=batch_id,
        prefix=config.prefix,
        status=BatchStatus.LOADING,
        file_count=len(members),
        total_bytes=sum(m.size for m in members),
        created_at=now,
        updated_at=now,
        manifest_url=manifest_url,
    )
    context = LoadContext(
        owner="loader-admin config test",
        deadline=now + 900,
        heartbeat=lambda: None,
        record=lambda target, state: None,
    )
    try:
        return TargetsLoader(deps).load(config, batch, manifest_url, context)
    finally:
        data_api.close()


# --- what each target did -----------------------------------------------------------------------
def _target_trial(
    target: Any,
    result: LoadResult,
    postgres: EmbeddedPostgres,
    database: str,
    table_from: str,
    preview: int,
) -> TargetTrial:
    from loader.loading.sql import load_errors

    state = result.targets.get(target.name)
    dsn = postgres.dsn_for(database)
    records = _query(dsn, load_errors.all_rows_sql(MAX_ERROR_ROWS))
    rows = load_errors.rows_from_view(target.name, records or [], limit=MAX_ERROR_ROWS)
    if not rows:  # PostgreSQL targets: what the loader read from the error's CONTEXT
        rows = tuple(r for r in result.error_rows if r.target == target.name)
    shown = _query(dsn, f"SELECT * FROM {quote_ident(target.table)} LIMIT {int(preview)}", True)
    counted = _query(dsn, f"SELECT count(*) FROM {quote_ident(target.table)}")
    columns, values = shown if isinstance(shown, tuple) else ((), [])
    return TargetTrial(
        name=target.name,
        type=target.type,
        table=target.table,
        status=state.status if state else TargetStatus.FAILED,
        rows=state.rows if state else None,
        error=state.error if state else result.error,
        error_rows=rows,
        schema_drift=tuple(d for d in result.schema_drift if d.target == target.name),
        columns=tuple(columns),
        preview=tuple(tuple(v) for v in values),
        row_count=int(counted[0][0]) if counted else None,
        table_from=table_from,
    )


def _query(dsn: str, sql: str, with_names: bool = False) -> Any:
    """Rows (or (column names, rows)); None when the relation does not exist."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(sql)
            except psycopg2.errors.UndefinedTable:
                return None
            found = list(cur.fetchall())
            if with_names:
                return tuple(d[0] for d in cur.description or ()), found
            return found
    finally:
        conn.close()
