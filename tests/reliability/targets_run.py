"""A full run into real targets (the e2e stack: Redshift through the stand-in, the Data API
stand-in and PostgreSQL), that can be killed at any call.

One prefix, three targets of the three kinds, each its own table; batches of 3 files:

  1. an SQS batch of two messages: f0, f1
  2. a direct S3 event: f1 again, f2         -> sealed, manifest, loaded into each target in
                                                turn (each load recorded), notified, complete

Rows carry their file's id, so a file loaded twice shows as duplicate rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from e2e.stack import IAM_USER, Stack, admin, build_stack
from reliability.crash_run import topic_with_inbox
from reliability.harness import Protocol, SimulatedCrash, new_session
from reliability.invariants import Outcome, audit_rows, headers

from loader.deps import Deps
from loader.events import parse_event
from loader.loading import build_loader
from loader.notify import build_notifier
from loader.service import LoaderService
from support.aws import Env, provision
from support.events import s3_event, sqs_event

FILES = {"f0": "1,a\n2,b\n", "f1": "3,c\n", "f2": "4,d\n"}
EXPECTED_ROWS = [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
KINDS = {"rs": "redshift", "api": "data_api", "pg": "postgres"}


@dataclass
class TargetsRun:
    stack: Stack
    protocol: Protocol = field(default_factory=Protocol)
    crashes: int = 0
    tables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.session = new_session()  # the loader's, watched
        self.protocol.attach(self.session)
        self.inbox_topic, self.inbox = topic_with_inbox(self.stack.env.session, "outcomes")
        for name in KINDS:
            self.tables[name] = self.stack.table("id int, name varchar(10)")
        self.config = self.stack.config(
            *(
                self.stack.target(kind, self.tables[name], name=name)
                for name, kind in KINDS.items()
            ),
            files=3,
            notifications={
                "success_topic_arn": self.inbox_topic,
                "failure_topic_arn": self.stack.failure_topic_arn,
            },
        )
        self.records = {key: self.stack.put(f"in/{key}.csv", body) for key, body in FILES.items()}

    @property
    def clock(self) -> Any:
        return self.stack.env.clock

    def deps(self) -> Deps:
        deps = Deps(self.stack.env.settings, self.session)
        deps._clients["redshift-data"] = self.stack.data_api  # the stand-in's Data API
        return deps

    def service(self, deps: Deps) -> LoaderService:
        return LoaderService(
            deps,
            loader=build_loader(deps, clock=self.clock),
            notifier=build_notifier(deps, clock=self.clock),
            clock=self.clock,
        )

    def deliveries(self) -> list[dict[str, Any]]:
        r = self.records
        return [sqs_event(s3_event(r["f0"]), s3_event(r["f1"])), s3_event(r["f1"], r["f2"])]

    def run(self) -> None:
        deps = self.deps()
        service = self.service(deps)
        for event in self.deliveries():
            while True:
                try:
                    result = service.handle(parse_event(event))
                except SimulatedCrash:
                    self.crashes += 1
                    service = self.service(deps)  # the same warm container
                    continue
                assert result.failed_message_ids == []
                break

    def recover(self) -> None:
        self.protocol.disarm()
        self.clock.advance(self.stack.env.settings.lease_seconds + 1)
        self.service(self.deps()).handle(parse_event({"loader": "sweep"}))

    def audit(self) -> Outcome:
        """Each target's rows (tagged with the target) against the expected rows."""
        rows = [
            (name, *row) for name, table in self.tables.items() for row in self.stack.rows(table)
        ]
        expected = [(name, *row) for name in self.tables for row in EXPECTED_ROWS]
        batches = headers(self.deps(), [self.config.prefix])
        return audit_rows(batches, rows, expected, now=self.clock())


@contextmanager
def standalone_stack() -> Iterator[Stack]:
    """A stack outside pytest's fixtures (to record a run at collection time)."""
    from moto import mock_aws

    from redshift_standin.testing import embedded_postgres, fake_data_api, standin

    with embedded_postgres() as postgres, mock_aws():
        if not admin(postgres.dsn, "SELECT 1 FROM pg_roles WHERE rolname = %s", (IAM_USER,)):
            admin(postgres.dsn, f'CREATE ROLE "{IAM_USER}" LOGIN SUPERUSER')
        session = boto3.Session(region_name="us-east-1")
        env = Env(session, provision(session))
        with (
            standin(postgres, lambda: boto3.client("s3", region_name="us-east-1")) as proxy,
            fake_data_api(proxy) as data_api,
        ):
            stack = build_stack(env, postgres, proxy, data_api)
            try:
                yield stack
            finally:
                for name in stack.tables:
                    admin(postgres.dsn, f"DROP TABLE IF EXISTS {name}")
