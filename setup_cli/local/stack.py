"""The local stack: moto (server mode, loopback) + an embedded PostgreSQL behind the Redshift
stand-in, provisioned as the SAM template would provision AWS, plus the state file that tells
other commands (`local put`, tests) where everything listens.

Used by `loader-admin local up` and by the end-to-end tests (which provision their own moto and
stand-in with `provision`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from setup_cli.local.samples import FEEDS, TABLE_DDL, prefix_config

if TYPE_CHECKING:
    import boto3

    from local_aws.moto_server import MotoServer
    from redshift_standin.postgres import EmbeddedPostgres
    from redshift_standin.proxy import StandIn

REGION = "us-east-1"
STATE_FILE = "state.json"
LOG_FILE = "loader.log"
NAME = "local-loader"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class Resources:
    """Everything provisioned in the local AWS and database; also the state file's content."""

    endpoint: str
    region: str
    bucket: str
    manifest_bucket: str
    prefixes: dict[str, str]  # feed name -> "bucket/folder"
    tables: dict[str, str]  # config / batches / files -> DynamoDB table name
    notification_queue_url: str
    flush_queue_url: str
    outcomes_queue_url: str
    success_topic_arn: str
    failure_topic_arn: str
    secret_arn: str
    redshift_dsn: str  # through the stand-in (what the loader uses)
    postgres_dsn: str  # the PostgreSQL behind it
    target_tables: list[str]
    lease_seconds: int = 120
    pid: int = field(default_factory=os.getpid)
    postgres_pid: int | None = None
    started_at: float = field(default_factory=time.time)


def aws_environment(endpoint: str, region: str = REGION) -> dict[str, str]:
    """Environment for boto3 to reach the local stack, and nothing else."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **FAKE_CREDENTIALS,
    }


def loader_environment(r: Resources) -> dict[str, str]:
    """The loader's own settings, as the SAM template sets them for the function."""
    return {
        "LOADER_CONFIG_TABLE": r.tables["config"],
        "LOADER_BATCHES_TABLE": r.tables["batches"],
        "LOADER_FILES_TABLE": r.tables["files"],
        "LOADER_FLUSH_QUEUE_URL": r.flush_queue_url,
        "LOADER_NOTIFICATION_QUEUE_URL": r.notification_queue_url,
        "LOADER_LEASE_SECONDS": str(r.lease_seconds),
        "LOADER_CONFIG_TTL_SECONDS": "1",
        "LOADER_SUCCESS_TOPIC_ARN": r.success_topic_arn,
        "LOADER_FAILURE_TOPIC_ARN": r.failure_topic_arn,
        # Metric lines are for CloudWatch; locally they would drown the batch display.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def apply_environment(values: dict[str, str]) -> None:
    """Set variables in this process so every boto3 client built later honours them."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(values)


def postgres_pid(postgres_dsn: str) -> int | None:
    """The postmaster's pid (from `postmaster.pid` in its data directory)."""
    import psycopg2

    conn = psycopg2.connect(postgres_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW data_directory")
            row = cur.fetchone()
    finally:
        conn.close()
    try:
        return int((Path(row[0]) / "postmaster.pid").read_text().split()[0]) if row else None
    except (OSError, ValueError, IndexError):
        return None


# --- provisioning ---------------------------------------------------------------------------


def _queue(sqs: Any, name: str, visibility: int = 60) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility)})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def _create_target_tables(postgres_dsn: str) -> list[str]:
    import psycopg2

    conn = psycopg2.connect(postgres_dsn)
    try:
        with conn, conn.cursor() as cur:
            for ddl in TABLE_DDL.values():
                cur.execute(ddl)
    finally:
        conn.close()
    return list(TABLE_DDL)


def _topics(sns: Any, name: str, subscriber_arn: str) -> dict[str, str]:
    """Success and failure topics, both subscribed by one queue (what the terminal shows)."""
    topics = {}
    for kind in ("success", "failure"):
        arn = sns.create_topic(Name=f"{name}-{kind}")["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=subscriber_arn)
        topics[f"{kind}_topic_arn"] = arn
    return topics


def _redshift_target(secrets: Any, name: str, standin: StandIn) -> dict[str, Any]:
    """A `redshift` target at the stand-in, its login in a Secrets Manager secret (the
    stand-in passes authentication through to PostgreSQL, which trusts local users)."""
    from psycopg2.extensions import parse_dsn

    upstream = parse_dsn(standin.postgres_dsn)
    host, port = standin.address or ("127.0.0.1", 5439)
    database = upstream.get("dbname") or "postgres"
    login = {
        "username": upstream.get("user") or "postgres",
        "password": upstream.get("password") or "",
        "engine": "redshift",
        "host": host,
        "port": port,
        "dbname": database,
    }
    secret = secrets.create_secret(Name=f"{name}/redshift", SecretString=json.dumps(login))
    return {
        "type": "redshift",
        "name": "local-redshift",
        "host": host,
        "port": port,
        "database": database,
        "auth": "secret",
        "secret_arn": secret["ARN"],
        "sslmode": "disable",
    }


def provision(
    session: boto3.Session,
    *,
    endpoint: str,
    standin: StandIn,
    age_seconds: int = 2,
    lease_seconds: int = 120,
    max_files: int = 1000,
    name: str = NAME,
) -> Resources:
    """Tables, bucket with S3 -> SQS notifications, flush and outcome queues, topics, the
    target's secret, target tables and one prefix configuration per sample feed."""
    from config.models import PrefixConfig
    from loader.deps import Deps
    from loader.settings import Settings
    from loader.tables import TableNames, create_tables

    tables = TableNames(f"{name}-config", f"{name}-batches", f"{name}-files")
    create_tables(session.client("dynamodb"), tables)
    s3, sqs = session.client("s3"), session.client("sqs")
    bucket, manifest_bucket = f"{name}-landing", f"{name}-manifests"
    for b in (bucket, manifest_bucket):
        s3.create_bucket(Bucket=b)
    notifications_url, notifications_arn = _queue(sqs, f"{name}-notifications")
    flush_url, _ = _queue(sqs, f"{name}-flush")
    outcomes_url, outcomes_arn = _queue(sqs, f"{name}-outcomes")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": notifications_arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    topics = _topics(session.client("sns"), name, outcomes_arn)
    target = _redshift_target(session.client("secretsmanager"), name, standin)
    target_tables = _create_target_tables(standin.postgres_dsn)
    configs = Deps(Settings.from_env({"LOADER_CONFIG_TABLE": tables.config}), session).configs
    prefixes = {}
    for feed in FEEDS:
        raw = prefix_config(
            feed,
            bucket=bucket,
            manifest_bucket=manifest_bucket,
            target=target,
            age_seconds=age_seconds,
            topics=topics,
            max_files=max_files,
        )
        config = PrefixConfig.model_validate(raw)
        configs.put(config, time.time())
        prefixes[feed.name] = config.prefix
    return Resources(
        endpoint=endpoint,
        region=session.region_name or REGION,
        bucket=bucket,
        manifest_bucket=manifest_bucket,
        prefixes=prefixes,
        tables=asdict(tables),
        notification_queue_url=notifications_url,
        flush_queue_url=flush_url,
        outcomes_queue_url=outcomes_url,
        success_topic_arn=topics["success_topic_arn"],
        failure_topic_arn=topics["failure_topic_arn"],
        secret_arn=target["secret_arn"],
        redshift_dsn=standin.dsn(),
        postgres_dsn=standin.postgres_dsn,
        target_tables=target_tables,
        lease_seconds=lease_seconds,
    )


# --- the state file -------------------------------------------------------------------------


def write_state(data_dir: Path, resources: Resources) -> Path:
    """Atomically (readers never see half a file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(resources), indent=2))
    temporary.replace(path)
    return path


def read_state(data_dir: Path) -> Resources | None:
    """The running stack's resources, or None if no stack is running there."""
    path = data_dir / STATE_FILE
    try:
        resources = Resources(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    try:
        os.kill(resources.pid, 0)
    except ProcessLookupError:
        return None  # left behind by a stack that was killed
    except PermissionError:
        pass  # alive, another user's
    return resources


def clear_state(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STATE_FILE).unlink()


# --- the whole stack ------------------------------------------------------------------------


class LocalStack:
    """`with LocalStack(data_dir) as resources: ...` starts everything and stops it in reverse."""

    def __init__(
        self, data_dir: Path, *, port: int = 0, age_seconds: int = 2, lease_seconds: int = 120
    ) -> None:
        self.data_dir = data_dir
        self._port = port
        self._age = age_seconds
        self._lease = lease_seconds
        self._stack = contextlib.ExitStack()
        self.resources: Resources | None = None

    def start(self) -> Resources:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Resources:
        import boto3

        from local_aws.moto_server import MotoServer
        from redshift_standin.postgres import start_postgres
        from redshift_standin.proxy import StandIn

        self.data_dir.mkdir(parents=True, exist_ok=True)
        moto: MotoServer = self._stack.enter_context(MotoServer(port=self._port))
        apply_environment(aws_environment(moto.endpoint))
        postgres: EmbeddedPostgres = self._stack.enter_context(start_postgres())

        def s3_client() -> Any:
            return boto3.client("s3", endpoint_url=moto.endpoint, region_name=REGION)

        standin: StandIn = self._stack.enter_context(StandIn(postgres.dsn, s3_client))
        session = boto3.Session(region_name=REGION)
        resources = provision(
            session,
            endpoint=moto.endpoint,
            standin=standin,
            age_seconds=self._age,
            lease_seconds=self._lease,
        )
        pid = postgres_pid(postgres.dsn) if postgres.owned else None
        resources = Resources(**{**asdict(resources), "postgres_pid": pid})
        apply_environment(loader_environment(resources))
        self.resources = resources
        return resources

    def publish(self) -> Path:
        """Write the state file: the stack is ready (call once the worker consumes)."""
        assert self.resources is not None, "start() first"
        self._stack.callback(clear_state, self.data_dir)
        return write_state(self.data_dir, self.resources)

    def stop(self) -> None:
        self._stack.close()

    close = stop  # contextlib.closing

    def __enter__(self) -> Resources:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
