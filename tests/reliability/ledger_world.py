"""The real loader the model-based ledger test drives: one prefix over moto (the e2e stack's), with
one table per target kind in the real PostgreSQL (redshift through the stand-in, data_api through
the fake Data API, postgres directly). Everything a production day does to it is a method here:
S3 puts and deletes, notifications in every envelope the loader accepts, workers (one whose clock
runs ahead, one that dies, two racing for a lease), the operator's CLI; and `observe()` reads back
what the stores hold: batch headers and members, the ledger, each target's rows and ledger.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg2
import pytest
from e2e.stack import POSTGRES_LEDGER, REDSHIFT_LEDGER, Stack, admin
from reliability.harness import SimulatedCrash, new_session
from reliability.ledger_model import Upload
from typer.testing import CliRunner, Result

from config.models import PrefixConfig
from loader.admin import Operations
from loader.deps import Deps
from loader.events import parse_event
from loader.loading.runner import TargetsLoader
from loader.models import Batch, BatchMember, BatchStatus, FileRecord
from loader.notify import build_notifier
from loader.service import LoaderService
from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import MANIFEST_BUCKET
from support.events import s3_record, sns_envelope, sqs_event

VERSIONED_BUCKET = "data"  # one of the stack's SourceBuckets (tests/support/iam_check.py)
UNVERSIONED_BUCKET = "landing-bucket"
LOCK = 731_200_012  # the race's advisory lock (test_lease_fencing.py uses its own)
HOLD = f"SELECT pg_advisory_xact_lock({LOCK})"
ENVELOPES = ("s3", "sqs", "sns-sqs", "eventbridge-sqs")
START = 1_800_000_000.0


@dataclass(frozen=True)
class Notice:
    """One S3 notification: an upload's, or (removed=True) its deletion's."""

    upload: Upload
    removed: bool = False

    def __repr__(self) -> str:
        return f"{'removed ' if self.removed else ''}{self.upload!r}"


@dataclass
class Observation:
    batches: dict[str, Batch]
    members: dict[str, dict[str, BatchMember]]
    """Members of the batches not complete, by url."""
    ledger: dict[str, FileRecord]
    rows: dict[str, Counter[tuple[str, str]]]
    committed: dict[str, set[str]]
    """Per target: the batches its own ledger table holds."""

    def open_batch(self) -> Batch | None:
        found = [b for b in self.batches.values() if b.status is BatchStatus.OPEN]
        return max(found, key=lambda b: b.created_at) if found else None

    def with_status(self, *statuses: BatchStatus) -> list[Batch]:
        return sorted(
            (b for b in self.batches.values() if b.status in statuses), key=lambda b: b.batch_id
        )


def no_sleep(_: float) -> None:
    """Transient retries wait on the tests' clock, not the wall clock."""


@dataclass
class World:
    stack: Stack
    name: str
    kinds: list[str]
    versioned: bool
    thresholds: dict[str, Any]
    reload: bool
    paused: bool = False
    tables: dict[str, str] = field(default_factory=dict)
    timers: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    """Failure notices received, by batch id."""
    failure_bodies: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        env = self.stack.env
        env.clock.now = START  # every example starts at the same time (hypothesis replays it)
        self.clock = env.clock
        self.session = env.session
        self.settings = replace(env.settings, target_attempts=2)
        self.deps = self._deps(self.session)
        self.bucket = VERSIONED_BUCKET if self.versioned else UNVERSIONED_BUCKET
        self.prefix = f"{self.bucket}/{self.name}"
        for kind in self.kinds:
            self.tables[kind] = self.stack.table("k varchar(64), tag varchar(16), n int")
        self.configure()
        self.timers = []
        env.flush_timers()  # earlier examples' timers
        self.drain_failures()

    def _deps(self, session: Any) -> Deps:
        deps = Deps(self.settings, session)
        deps._clients["redshift-data"] = self.stack.data_api
        return deps

    # --- configuration ---------------------------------------------------------------------

    def config(self, *, hold: bool = False) -> PrefixConfig:
        targets = []
        for index, kind in enumerate(self.kinds):
            target = self.stack.target(kind, self.tables[kind], name=kind)
            if hold and index == 0:
                target["post_sql"] = HOLD
            targets.append(target)
        return PrefixConfig.model_validate(
            {
                "prefix": self.prefix,
                "thresholds": self.thresholds,
                "manifest": {"bucket": MANIFEST_BUCKET},
                "notifications": {"failure_topic_arn": self.stack.failure_topic_arn},
                "reupload": "reload" if self.reload else "ignore",
                "paused": self.paused,
                "copy_options": {"format": {"type": "csv"}},
                "targets": targets,
            }
        )

    def configure(self, *, hold: bool = False) -> None:
        self.stack.env.put_config(self.config(hold=hold))

    # --- workers ---------------------------------------------------------------------------

    def service(self, *, ahead: float = 0.0, deps: Deps | None = None) -> LoaderService:
        """A warm container of the loader; `ahead`: another container, whose clock runs that
        far in front (its own caches: a container's clock never runs backwards)."""
        deps = deps or (self._deps(self.session) if ahead else self.deps)

        def clock() -> float:
            return self.clock() + ahead

        return LoaderService(
            deps,
            loader=TargetsLoader(deps, clock=clock, sleep=no_sleep),
            notifier=build_notifier(deps, clock=clock),
            clock=clock,
        )

    def invoke(self, event: dict[str, Any], *, ahead: float = 0.0) -> None:
        invocation = parse_event(event)
        result = self.service(ahead=ahead).handle(invocation)
        assert not result.failed_message_ids, f"messages failed: {result.failed_message_ids}"

    def sweep(self, ahead: float = 0.0) -> None:
        self.invoke({"loader": "sweep"}, ahead=ahead)

    def reconcile(self) -> None:
        self.invoke({"loader": "reconcile", "prefix": self.prefix, "lookback_seconds": 10**8})

    def fire_timers(self) -> int:
        """Flush timers that are due on the tests' clock arrive (SQS delays run on real time)."""
        self.timers += [t["body"] for t in self.stack.env.flush_timers()]
        mine = [t for t in self.timers if t["prefix"] == self.prefix]
        due = [t for t in mine if t["due_at"] <= self.clock()]
        self.timers = [t for t in mine if t not in due]
        if due:
            self.invoke(sqs_event(*due))
        return len(due)

    def crash(self, point: str) -> bool:
        """A worker flushes the open batch and dies at `point`: `manifest` (sealed, before the
        manifest is written), `before:<kind>` or `after:<kind>` (that target committed, not yet
        recorded). Returns whether it died there."""
        session = new_session()
        deps = self._deps(session)
        if point == "manifest":

            def die(**_: Any) -> None:
                raise SimulatedCrash(point)

            session.events.register_first("before-call.s3.PutObject", die)
        try:
            with _dying_target(point):
                self.service(deps=deps).flush(self.prefix, self.clock() + 600)
        except SimulatedCrash:
            return True
        return False

    def race(self, new_holder_first: bool) -> bool:
        """The first worker loads the open batch and waits inside its first target's
        transaction (post_sql waits for an advisory lock); a second worker, whose clock is past
        the first one's lease, takes the batch over (docs/loading.md, "Fencing"). Returns False
        if the first worker's load failed before it reached the lock (bad data)."""
        self.configure(hold=True)
        gate = _Gate(self.stack.postgres.dsn)
        first, first_errors = _in_thread(
            lambda: self.service().flush(self.prefix, self.clock() + 600)
        )
        try:
            if not gate.wait_for_waiters(1, unless_done=first):
                return False
            ahead = self.settings.lease_seconds + 60
            if new_holder_first:
                self.configure()
                self.sweep(ahead=ahead)
                gate.open()
            else:
                second, errors = _in_thread(lambda: self.sweep(ahead=ahead))
                gate.wait_for_waiters(2)
                gate.open()
                second.join(60)
                assert not second.is_alive() and not errors, errors
        finally:
            gate.open()
            first.join(60)
            self.configure()
            assert not first.is_alive() and not first_errors, first_errors
        return True

    # --- S3 and notifications ------------------------------------------------------------

    def put(self, upload: Upload) -> Upload:
        s3 = self.session.client("s3")
        answer = s3.put_object(Bucket=self.bucket, Key=upload.key, Body=upload.body)
        assert answer["ETag"].strip('"') == upload.etag
        return replace(upload, version_id=answer.get("VersionId"))

    def delete(self, key: str) -> None:
        self.session.client("s3").delete_object(Bucket=self.bucket, Key=key)

    def record(self, notice: Notice) -> dict[str, Any]:
        upload = notice.upload
        event_name = (
            ("ObjectRemoved:DeleteMarkerCreated" if self.versioned else "ObjectRemoved:Delete")
            if notice.removed
            else "ObjectCreated:Put"
        )
        record = s3_record(
            self.bucket,
            upload.key,
            size=len(upload.body),
            etag=upload.etag,
            sequencer=upload.sequencer,
            event_name=event_name,
        )
        if upload.version_id:
            record["s3"]["object"]["versionId"] = upload.version_id
        return record

    def eventbridge(self, notice: Notice) -> dict[str, Any]:
        upload = notice.upload
        obj: dict[str, Any] = {
            "key": upload.key,
            "size": len(upload.body),
            "etag": upload.etag,
            "sequencer": upload.sequencer,
        }
        if upload.version_id:
            obj["version-id"] = upload.version_id
        return {
            "version": "0",
            "id": f"eb-{upload.tag}",
            "detail-type": "Object Deleted" if notice.removed else "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-11-23T10:00:00Z",
            "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{self.bucket}"],
            "detail": {"version": "0", "bucket": {"name": self.bucket}, "object": obj},
        }

    def deliver(self, notices: list[Notice], envelope: str) -> None:
        """One invocation: a direct S3 event, or one SQS batch (one message per notice)."""
        if envelope == "s3":
            self.invoke({"Records": [self.record(n) for n in notices]})
        elif envelope == "sqs":
            self.invoke(sqs_event(*({"Records": [self.record(n)]} for n in notices)))
        elif envelope == "sns-sqs":
            self.invoke(sqs_event(*(sns_envelope({"Records": [self.record(n)]}) for n in notices)))
        else:
            self.invoke(sqs_event(*(self.eventbridge(n) for n in notices)))

    def drain_failures(self) -> dict[str, int]:
        """Failure notices that reached the queue subscribed to the failure topic."""
        sqs = self.session.client("sqs")
        while True:
            got = sqs.receive_message(
                QueueUrl=self.stack.failure_queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not got:
                return self.failures
            for message in got:
                body = message["Body"]
                outcome = json.loads(json.loads(body)["Message"])
                if outcome.get("status") == "error":
                    batch_id = outcome["batch_id"]
                    self.failures[batch_id] = self.failures.get(batch_id, 0) + 1
                    self.failure_bodies[batch_id] = body
                sqs.delete_message(
                    QueueUrl=self.stack.failure_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def route_failure_notice(self, batch_id: str) -> None:
        """The operator routed the failure topic back to the loader (SNS -> SQS -> Lambda)."""
        self.invoke(sqs_event(self.failure_bodies[batch_id]))

    # --- the operator ----------------------------------------------------------------------

    def cli(self, *args: str) -> Result:
        def operations(deps: Deps) -> Operations:
            deps._clients["redshift-data"] = self.stack.data_api
            return Operations(
                LoaderService(
                    deps,
                    loader=TargetsLoader(deps, clock=self.clock, sleep=no_sleep),
                    notifier=build_notifier(deps, clock=self.clock),
                    clock=self.clock,
                )
            )

        obj = Cli(
            session=self.session,
            settings=self.settings,
            clock=self.clock,
            service_factory=operations,
        )
        return CliRunner().invoke(app, list(args), obj=obj)

    def operations(self) -> Operations:
        return Operations(LoaderService(self.deps, clock=self.clock))

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # --- what the stores hold --------------------------------------------------------------

    def observe(self, keys: list[str]) -> Observation:
        store = self.deps.batches
        batches = {b.batch_id: b for b in store.batches_of_prefix(self.prefix)}
        members = {
            b.batch_id: {m.url: m for m in store.members(b.batch_id)}
            for b in batches.values()
            if b.status is not BatchStatus.COMPLETE
        }
        ledger = store.known_files([self.url(k) for k in keys])
        rows = {
            kind: Counter(
                {
                    (k, tag): n
                    for k, tag, n in admin(
                        self.stack.postgres.dsn,
                        f"SELECT k, tag, count(*) FROM {table} GROUP BY k, tag",
                    )
                }
            )
            for kind, table in self.tables.items()
        }
        committed: dict[str, set[str]] = {kind: set() for kind in self.kinds}
        for schema in (REDSHIFT_LEDGER, POSTGRES_LEDGER):
            table = f"{schema}.loaded_batches"
            if admin(self.stack.postgres.dsn, "SELECT to_regclass(%s)", (table,))[0][0]:
                for target, batch_id in admin(
                    self.stack.postgres.dsn,
                    f"SELECT target_name, batch_id FROM {table} WHERE prefix = %s",
                    (self.prefix,),
                ):
                    committed[target].add(batch_id)
        return Observation(batches, members, ledger, rows, committed)

    def retire(self) -> None:
        """The example is over: later sweeps leave its batches alone (no configuration)."""
        self.deps.configs.delete(self.prefix)
        for table in self.tables.values():
            admin(self.stack.postgres.dsn, f"DROP TABLE IF EXISTS {table}")


# --- a worker that dies at a target --------------------------------------------------------


@contextmanager
def _dying_target(point: str) -> Iterator[None]:
    """Targets built in the block: the one named by `before:<kind>` / `after:<kind>` dies."""
    kind = point.partition(":")[2]
    if not kind:
        yield
        return
    from loader.loading import runner

    build = runner.make_adapter

    def make(target_kind: str, deps: Any, credentials: Any) -> Any:
        adapter = build(target_kind, deps, credentials)
        return _Dying(adapter, point) if target_kind == kind else adapter

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "make_adapter", make)
        yield


class _Dying:
    def __init__(self, inner: Any, point: str) -> None:
        self._inner, self._point = inner, point

    def load(self, job: Any) -> Any:
        if self._point.startswith("before:"):
            raise SimulatedCrash(self._point)
        self._inner.load(job)
        raise SimulatedCrash(self._point)


# --- two workers racing for one batch ------------------------------------------------------


class _Gate:
    """An advisory lock the test holds; `post_sql` makes each load transaction wait for it."""

    def __init__(self, dsn: str) -> None:
        self._conn = psycopg2.connect(dsn)
        self._conn.autocommit = True
        self._sql(f"SELECT pg_advisory_lock({LOCK})")

    def _sql(self, statement: str) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(statement)
            return list(cur.fetchall()) if cur.description else []

    def wait_for_waiters(
        self, count: int, timeout: float = 30, unless_done: threading.Thread | None = None
    ) -> bool:
        """True once `count` transactions wait; False if `unless_done` ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            [(waiting,)] = self._sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                f"AND objid = {LOCK % 2**32}"
            )
            if waiting >= count:
                return True
            if unless_done is not None and not unless_done.is_alive():
                return False
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} load transactions reached the gate")

    def open(self) -> None:
        if not self._conn.closed:
            self._sql(f"SELECT pg_advisory_unlock({LOCK})")
            self._conn.close()


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors
