"""The Lambda's flows, each run by the loader under a role and checked on real outcomes (rows in
PostgreSQL, items in DynamoDB, objects in S3, messages in the inboxes). A flow raises (an
AssertionError, or the loader's own error) when the role lacks something it needs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from e2e.stack import admin
from iam.conftest import Account
from iam.world import ARCHIVE_PREFIX, MANIFEST_BUCKET, SOURCE_BUCKET, Role, ServerlessStub
from psycopg2.extensions import make_dsn, parse_dsn

from config.models import PrefixConfig
from loader.deps import Deps
from loader.events import FLUSH_TIMER, parse_event
from loader.loading import build_loader
from loader.models import BatchStatus
from loader.notify import build_notifier
from loader.service import LoaderService
from support.aws import Clock
from support.events import (
    eventbridge_event,
    s3_event,
    s3_record,
    sns_envelope,
    sns_event,
    sqs_event,
)

Flow = Callable[[Account, Role], None]
ROWS = [(1, "a"), (2, "b"), (3, "c")]


class Run:
    """One flow's prefix, table and loader (under `role`), and the administrator's view."""

    def __init__(self, account: Account, role: Role, **clients: Any) -> None:
        self.account, self.role = account, role
        self.id = uuid.uuid4().hex[:10]
        self.prefix = f"{SOURCE_BUCKET}/in/{self.id}"
        self.clock = Clock(time.time())  # reconcile compares with S3's LastModified
        self.deps: Deps = account.world.deps(role, **clients)
        self.admin_deps = Deps(self.deps.settings, account.admin)

    def service(self) -> LoaderService:
        d, clock = self.deps, self.clock
        return LoaderService(
            d,
            loader=build_loader(d, clock=clock),
            notifier=build_notifier(d, clock=clock),
            clock=clock,
        )

    def handle(self, event: dict[str, Any]) -> Any:
        return self.service().handle(parse_event(event), deadline=self.clock() + 600)

    def table(self) -> str:
        name = f"t_{self.id}"
        admin(self.account.postgres_dsn, f"CREATE TABLE {name} (id int, name varchar(10))")
        return name

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        return admin(self.account.postgres_dsn, f"SELECT * FROM {table} ORDER BY 1")

    def config(self, target: dict[str, Any], files: int = 2, **extra: Any) -> PrefixConfig:
        raw = {
            "prefix": self.prefix,
            "thresholds": {"max_files": files, "max_age_seconds": 300},
            "manifest": {"bucket": MANIFEST_BUCKET},
            "targets": [target],
            **extra,
        }
        config = PrefixConfig.model_validate(raw)
        self.admin_deps.configs.put(config, self.clock())  # loader-admin's job, not the role's
        return config

    def put(self, name: str, body: str) -> dict[str, Any]:
        key = f"in/{self.id}/{name}"
        put = self.account.admin.client("s3").put_object(Bucket=SOURCE_BUCKET, Key=key, Body=body)
        return s3_record(SOURCE_BUCKET, key, size=len(body), etag=put["ETag"].strip('"'))

    def two_files(self) -> list[dict[str, Any]]:
        return [self.put("a.csv", "1,a\n2,b\n"), self.put("b.csv", "3,c\n")]

    def batches(self) -> list[Any]:
        return [b for b in self.admin_deps.batches.batches_of_prefix(self.prefix, limit=10)]

    def batch(self) -> Any:
        [batch] = [b for b in self.batches() if b.file_count]
        return batch

    def keys(self, bucket: str, prefix: str) -> list[str]:
        listed = self.account.admin.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for o in listed.get("Contents", [])]


# --- targets -------------------------------------------------------------------------------------
def redshift(account: Account, table: str, **auth: Any) -> dict[str, Any]:
    host, port = account.proxy.address or ("", 0)
    base = {"type": "redshift", "name": "warehouse", "table": table, "host": host, "port": port}
    return base | {"database": "postgres", "sslmode": "disable"} | auth


def target(kind: str, account: Account, table: str) -> dict[str, Any]:
    if kind == "secret":
        return redshift(account, table, auth="secret", secret_arn=account.secret_arn)
    if kind == "kms":
        return redshift(
            account,
            table,
            auth="kms_password",
            user="postgres",
            encrypted_password=account.encrypted_password,
        )
    if kind == "cluster-credentials":
        return redshift(account, table, auth="iam", cluster_identifier="dw", user="loader")
    if kind == "serverless-credentials":
        return redshift(account, table, auth="iam", workgroup_name="analytics")
    if kind == "data-api":
        return {
            "type": "data_api",
            "name": "warehouse",
            "table": table,
            "cluster_identifier": "dw",
            "database": "postgres",
            "db_user": "loader",
            "poll_interval_seconds": 0.02,
        }
    dsn = {k: v for k, v in parse_dsn(account.postgres_dsn).items() if k != "password"}
    return {
        "type": "postgres",
        "name": "warehouse",
        "table": table,
        "dsn": make_dsn(**dsn),
        "sslmode": "disable",
        "ledger_schema": "loader_meta_pg",
    }


def clients_for(kind: str, account: Account) -> dict[str, Any]:
    if kind == "data-api":
        return {"redshift_data": account.data_api}
    if kind == "serverless-credentials":
        from iam.conftest import SERVERLESS_USER

        return {"redshift_serverless": ServerlessStub(SERVERLESS_USER)}
    return {}


# --- the flows -----------------------------------------------------------------------------------
INTAKES = {
    "s3-in-sqs": lambda r: sqs_event(s3_event(r)),
    "eventbridge-in-sqs": lambda r: sqs_event(
        eventbridge_event(SOURCE_BUCKET, _key(r), r["s3"]["object"]["size"])
    ),
    "sns": lambda r: sns_event(s3_event(r)),
    "direct": s3_event,
}


def _key(record: dict[str, Any]) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(record["s3"]["object"]["key"])


def registration(intake: str) -> Flow:
    """A file announced by `intake` is in the ledger, and its batch's flush timer is armed."""

    def flow(account: Account, role: Role) -> None:
        run = Run(account, role)
        run.config(target("postgres", account, "unused"), files=10)
        run.handle(INTAKES[intake](run.put("a.csv", "1,a\n")))
        assert run.batch().file_count == 1
        sqs = account.admin.client("sqs")
        flush = run.deps.settings.flush_queue_url
        attributes = sqs.get_queue_attributes(QueueUrl=flush, AttributeNames=["All"])
        assert int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"]) >= 1

    return flow


def load(kind: str) -> Flow:
    """Seal, manifest, load into the target, success notice and event."""

    def flow(account: Account, role: Role) -> None:
        run = Run(account, role, **clients_for(kind, account))
        table = run.table()
        run.config(target(kind, account, table))
        account.drain("success"), account.drain("events")
        run.handle(s3_event(*run.two_files()))
        batch = run.batch()
        assert batch.status is BatchStatus.COMPLETE, batch
        assert run.rows(table) == ROWS
        assert any(m.get("Subject") for m in account.drain("success"))
        assert any(e["detail"]["batch_id"] == batch.batch_id for e in account.drain("events"))

    return flow


def timer_and_sweep(account: Account, role: Role) -> None:
    """An open batch seals on its flush timer; the sweep finds overdue batches by index."""
    run = Run(account, role)
    table = run.table()
    run.config(target("postgres", account, table), files=10)
    run.handle(s3_event(run.put("a.csv", "1,a\n")))
    run.clock.advance(301)
    batch = run.batch()
    timer = {
        "loader": FLUSH_TIMER,
        "batch_id": batch.batch_id,
        "prefix": run.prefix,
        "due_at": run.clock(),
    }
    run.handle(sqs_event(timer))
    run.handle({"loader": "sweep"})
    assert run.batch().status is BatchStatus.COMPLETE
    assert run.rows(table) == [(1, "a")]


def failure_and_reprocess(account: Account, role: Role) -> None:
    """A bad row fails the batch: failure notice, failed-manifest copy; fixed, the failure
    notice routed back reprocesses it."""
    run = Run(account, role)
    table = run.table()
    run.config(target("postgres", account, table), files=1)
    account.drain("failure")
    run.handle(s3_event(run.put("bad.csv", "x,a\n")))
    failed = run.batch()
    assert failed.status is BatchStatus.ERROR
    assert account.drain("failure")
    assert run.keys(MANIFEST_BUCKET, "failed-manifests/")
    admin(account.postgres_dsn, f"ALTER TABLE {table} ALTER COLUMN id TYPE text")
    notice = {"schema": "s3-redshift-loader/batch-outcome/1", "status": "error"}
    run.handle(
        sqs_event(sns_envelope(notice | {"batch_id": failed.batch_id, "prefix": run.prefix}))
    )
    assert run.batch().status is BatchStatus.COMPLETE
    assert run.rows(table) == [("x", "a")]


def fix_and_reprocess(account: Account, role: Role) -> None:
    """The documented recovery under `reupload: reload`: the bad file is fixed in S3 (its new
    version loads in a new batch), then the failure notice routed back reprocesses the failed
    batch, which first leaves the re-uploaded file out (the function deletes its member item)."""
    run = Run(account, role)
    table = run.table()
    run.config(target("postgres", account, table), files=2, reupload="reload")
    account.drain("failure")
    run.handle(s3_event(run.put("bad.csv", "x,a\n"), run.put("good.csv", "2,b\n")))
    [failed] = [b for b in run.batches() if b.status is BatchStatus.ERROR]
    fixed = run.put("bad.csv", "1,a\n")
    fixed["s3"]["object"]["sequencer"] = "F" * 18  # later than the first upload
    run.handle(s3_event(fixed))
    notice = {"schema": "s3-redshift-loader/batch-outcome/1", "status": "error"}
    run.handle(
        sqs_event(sns_envelope(notice | {"batch_id": failed.batch_id, "prefix": run.prefix}))
    )
    assert [m.url for m in run.admin_deps.batches.members(failed.batch_id)] == [
        f"s3://{SOURCE_BUCKET}/in/{run.id}/good.csv"
    ]
    assert run.admin_deps.batches.get_batch(failed.batch_id).status is BatchStatus.COMPLETE
    assert run.rows(table) == [(2, "b")]


def reconcile(account: Account, role: Role) -> None:
    """A file whose notification never came is registered by the scheduled reconcile."""
    run = Run(account, role)
    run.config(target("postgres", account, "unused"), files=10)
    run.put("lost.csv", "1,a\n")
    run.handle({"loader": "reconcile"})
    assert run.batch().file_count == 1


def after_load(action: str) -> Flow:
    def flow(account: Account, role: Role) -> None:
        run = Run(account, role)
        table = run.table()
        extra = {"action": action} | (
            {"archive_prefix": ARCHIVE_PREFIX} if action == "archive" else {}
        )
        run.config(target("postgres", account, table), after_load=extra)
        records = run.two_files()
        run.handle(s3_event(*records))
        assert run.rows(table) == ROWS
        s3 = account.admin.client("s3")
        key = _key(records[0])
        if action == "tag":
            tags = s3.get_object_tagging(Bucket=SOURCE_BUCKET, Key=key)["TagSet"]
            assert tags, "no tag on the loaded object"
        else:
            assert key not in run.keys(SOURCE_BUCKET, f"in/{run.id}/")
        if action == "archive":
            assert run.keys(SOURCE_BUCKET, f"archive/in/{run.id}/")

    return flow


def manifest_upload_fails(account: Account, role: Role) -> None:
    """A manifest larger than one part whose upload fails part-way (the member query broke) is
    aborted: no object and no pending upload left in the manifest bucket. moto's 5 MiB minimum
    part size is lowered so two small parts make a multipart upload."""
    from unittest import mock

    run = Run(account, role)
    key = f"manifests/{run.id}/batch.json"

    def parts() -> Iterator[bytes]:
        yield b"x" * 2048
        yield b"y" * 2048
        raise RuntimeError("the member query failed part-way")

    with mock.patch("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1024):
        try:
            run.deps.s3.put_manifest(MANIFEST_BUCKET, key, parts())
        except RuntimeError:
            pass
        else:
            raise AssertionError("the upload did not fail")
    uploads = account.admin.client("s3").list_multipart_uploads(Bucket=MANIFEST_BUCKET)
    left = [u["Key"] for u in uploads.get("Uploads", []) if u["Key"] == key]
    assert not left, f"multipart upload left behind: {left}"
    assert run.keys(MANIFEST_BUCKET, key) == []


def queue_consumer(account: Account, role: Role) -> None:
    """What consuming the notification queue takes (Lambda's event source mapping does it with
    the role; the worker's SqsQueues does it in-process): receive, extend, delete."""
    from setup_cli.worker.decisions import Extension, InFlight
    from setup_cli.worker.sqs import SqsQueues

    queue = account.world.name("NotificationQueue")
    account.admin.client("sqs").send_message(QueueUrl=queue, MessageBody="{}")
    queues = SqsQueues(role.session.client("sqs"), time.monotonic)
    assert queues.arn(queue).endswith(":s3-redshift-loader-notifications")
    [got] = queues.receive(queue, max_messages=1, wait_seconds=0, visibility_timeout=30)
    flight = InFlight(queue, got.receipt_handle, got.received_at, got.received_at + 30)
    assert queues.extend(queue, [Extension(flight, 60)])
    assert not queues.delete([got])


FLOWS: dict[str, Flow] = {
    **{f"register-{intake}": registration(intake) for intake in INTAKES},
    **{
        f"load-{kind}": load(kind)
        for kind in (
            "secret",
            "kms",
            "cluster-credentials",
            "serverless-credentials",
            "data-api",
            "postgres",
        )
    },
    "timer-and-sweep": timer_and_sweep,
    "failure-and-reprocess": failure_and_reprocess,
    "fix-and-reprocess": fix_and_reprocess,
    "reconcile": reconcile,
    "manifest-upload-fails": manifest_upload_fails,
    **{f"after-load-{action}": after_load(action) for action in ("tag", "archive", "delete")},
    "queue-consumer": queue_consumer,
}
