"""The e2e test harness: one test's loader, AWS (moto) and databases (see conftest.py)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg2
from psycopg2.extensions import make_dsn, parse_dsn

from config.models import PrefixConfig
from loader.events import parse_event
from loader.lifecycle import BatchLifecycle
from loader.loading import build_loader
from loader.models import Batch, BatchStatus
from loader.notify import build_notifier
from loader.service import LoaderService
from redshift_standin.data_api import FakeRedshiftData
from redshift_standin.postgres import EmbeddedPostgres
from redshift_standin.proxy import StandIn
from support.aws import BUCKET, MANIFEST_BUCKET, Env
from support.events import s3_event, s3_record

# Redshift-kind targets (through the stand-in) and PostgreSQL targets share one database here;
# their ledgers differ (a primary key only on PostgreSQL), so they live in separate schemas.
REDSHIFT_LEDGER = "loader_meta"
POSTGRES_LEDGER = "loader_meta_pg"
IAM_USER = "IAM:loader"  # what moto's GetClusterCredentials returns for DbUser "loader"


def admin(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement in autocommit, return its rows (if any)."""
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


@dataclass
class Stack:
    """One test's loader, AWS (moto) and databases."""

    env: Env
    postgres: EmbeddedPostgres
    proxy: StandIn
    data_api: FakeRedshiftData
    tables: list[str] = field(default_factory=list)
    failure_queue_url: str = ""
    failure_topic_arn: str = ""
    secret_arn: str = ""

    # --- databases ----------------------------------------------------------------------
    def table(self, columns: str) -> str:
        name = f"t_{uuid.uuid4().hex[:10]}"
        admin(self.postgres.dsn, f"CREATE TABLE {name} ({columns})")
        self.tables.append(name)
        return name

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return admin(self.postgres.dsn, statement, params)

    def rows(self, table: str, order: str = "1") -> list[tuple[Any, ...]]:
        return admin(self.postgres.dsn, f"SELECT * FROM {table} ORDER BY {order}")

    def ledger(self, batch_id: str) -> list[tuple[Any, ...]]:
        """(target, files, rows) ledger rows of the batch, in both ledger schemas."""
        found: list[tuple[Any, ...]] = []
        for schema in (REDSHIFT_LEDGER, POSTGRES_LEDGER):
            if admin(self.postgres.dsn, "SELECT to_regclass(%s)", (f"{schema}.loaded_batches",))[0][
                0
            ]:
                found += admin(
                    self.postgres.dsn,
                    f"SELECT target_name, files, rows_loaded FROM {schema}.loaded_batches "
                    "WHERE batch_id = %s",
                    (batch_id,),
                )
        return sorted(found)

    # --- targets ------------------------------------------------------------------------
    def target(self, kind: str, table: str, name: str = "warehouse", **extra: Any) -> dict:
        host, port = self.proxy.address or ("", 0)
        base: dict[str, Any] = {"type": kind, "name": name, "table": table}
        if kind == "redshift":
            base |= {
                "host": host,
                "port": port,
                "database": "postgres",
                "auth": "secret",
                "secret_arn": self.secret_arn,
                "sslmode": "disable",
            }
        elif kind == "data_api":
            base |= {
                "cluster_identifier": "local",
                "database": "postgres",
                "db_user": "loader",
                "poll_interval_seconds": 0.02,
            }
        else:
            dsn = {k: v for k, v in parse_dsn(self.postgres.dsn).items() if k != "password"}
            base |= {"dsn": make_dsn(**dsn), "sslmode": "disable", "ledger_schema": POSTGRES_LEDGER}
        return base | extra

    def config(self, *targets: dict, files: int = 2, **overrides: Any) -> PrefixConfig:
        raw: dict[str, Any] = {
            "prefix": f"{BUCKET}/in",
            "thresholds": {"max_files": files},
            "manifest": {"bucket": MANIFEST_BUCKET},
            "notifications": {"failure_topic_arn": self.failure_topic_arn},
            "targets": list(targets),
        }
        config = PrefixConfig.model_validate(raw | overrides)
        return self.env.put_config(config)

    # --- the flow -----------------------------------------------------------------------
    def service(self) -> LoaderService:
        deps, clock = self.env.deps, self.env.clock
        return LoaderService(
            deps,
            loader=build_loader(deps, clock=clock),
            notifier=build_notifier(deps, clock=clock),
            clock=clock,
        )

    def processor(self) -> BatchLifecycle:
        deps, clock = self.env.deps, self.env.clock
        return BatchLifecycle(
            deps, build_loader(deps, clock=clock), build_notifier(deps, clock=clock), clock
        )

    def put(self, key: str, body: bytes | str) -> dict[str, Any]:
        data = body.encode() if isinstance(body, str) else body
        put = self.env.session.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)
        return s3_record(BUCKET, key, size=len(data), etag=put["ETag"].strip('"'))

    def deliver(self, *records: dict[str, Any]) -> None:
        """S3 notifications in, as the Lambda receives them."""
        self.service().handle(parse_event(s3_event(*records)))

    def sweep(self) -> None:
        self.service().handle(parse_event({"loader": "sweep"}))

    def only_batch(self) -> Batch:
        [batch] = [b for b in self.env.batches() if b.file_count]
        return batch

    def batch(self, status: BatchStatus) -> Batch:
        [batch] = self.env.batches(status)
        return batch

    def failure_messages(self) -> list[dict[str, Any]]:
        """SNS notifications delivered to the queue subscribed to the failure topic."""
        sqs = self.env.session.client("sqs")
        got = sqs.receive_message(QueueUrl=self.failure_queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def build_stack(env: Any, postgres: Any, proxy: Any, data_api: Any) -> Stack:
    """Targets, a failure topic with an SQS inbox and a database secret, over `env`'s moto."""
    session = env.session
    env.deps._clients["redshift-data"] = data_api
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name="loader-failures")["TopicArn"]
    queue = sqs.create_queue(QueueName="failure-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    secret = session.client("secretsmanager").create_secret(
        Name="warehouse-login", SecretString=json.dumps({"username": "postgres", "password": "x"})
    )["ARN"]
    return Stack(
        env,
        postgres,
        proxy,
        data_api,
        failure_queue_url=queue,
        failure_topic_arn=topic,
        secret_arn=secret,
    )
