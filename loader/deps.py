"""Everything the loader talks to: one adapter per AWS service, built lazily once per cold start
(never at import time) around a boto3 client made here and nowhere else.

Tests build one around a moto session, or put a fake client in `_clients` (the Data API
stand-in, a stubbed client) before the adapter that uses it is first asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from loader.settings import Settings

if TYPE_CHECKING:
    import boto3
    from botocore.credentials import ReadOnlyCredentials

    from loader.adapters.batch_members import BatchMembers
    from loader.adapters.batch_operator import BatchOperator
    from loader.adapters.batch_store import BatchStore
    from loader.adapters.bucket_notifications import BucketNotifications
    from loader.adapters.config_store import ConfigStore
    from loader.adapters.data_api import DataApi
    from loader.adapters.eventbridge import EventBus
    from loader.adapters.file_ledger import FileLedger
    from loader.adapters.kms import Kms
    from loader.adapters.redshift import RedshiftClusters
    from loader.adapters.redshift_serverless import ServerlessWorkgroups
    from loader.adapters.s3_store import S3Store
    from loader.adapters.secrets import SecretsManager
    from loader.adapters.sns import SnsTopics
    from loader.adapters.timers import FlushTimers


UNVALIDATED_CLIENTS = frozenset({"dynamodb"})
"""Clients that skip botocore's client-side parameter validation. Every DynamoDB request is built
by our adapters from the codec (loader/adapters/codec.py), never from user input, and DynamoDB
validates it again anyway (a bad one is a ValidationException, a terminal ClientError); walking a
99-item transaction against the service model was ~45 % of the loader's CPU in SQS batches of
100 (docs/performance.md §2). Other clients keep it: their calls are per batch, not per file,
and some carry values an operator typed."""


@dataclass
class Deps:
    """The adapters the service, the lifecycle and the targets use."""

    settings: Settings
    session: boto3.Session | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, name: str) -> Any:
        """A boto3 client; AWS_ENDPOINT_URL / AWS_REGION are honoured by boto3 itself."""
        if name not in self._clients:
            import boto3
            from botocore.config import Config

            session = self.session or boto3.Session()
            self._clients[name] = session.client(
                name,  # type: ignore[call-overload]
                config=Config(
                    retries={"mode": "standard", "max_attempts": 4},
                    connect_timeout=5,
                    read_timeout=60,
                    parameter_validation=name not in UNVALIDATED_CLIENTS,
                ),
            )
        return self._clients[name]

    def role_credentials(self) -> ReadOnlyCredentials | None:
        """The credentials this process runs with (COPY's `lambda_credentials`), frozen now."""
        import boto3

        credentials = (self.session or boto3.Session()).get_credentials()
        return credentials.get_frozen_credentials() if credentials is not None else None

    # --- DynamoDB ------------------------------------------------------------------------------

    @cached_property
    def batches(self) -> BatchStore:
        from loader.adapters.batch_store import BatchStore

        return BatchStore(self.client("dynamodb"), self.settings.tables)

    @cached_property
    def ledger(self) -> FileLedger:
        from loader.adapters.dynamo import Dynamo
        from loader.adapters.file_ledger import FileLedger

        return FileLedger(Dynamo(self.client("dynamodb")), self.settings.tables)

    @cached_property
    def members(self) -> BatchMembers:
        from loader.adapters.batch_members import BatchMembers
        from loader.adapters.dynamo import Dynamo

        return BatchMembers(Dynamo(self.client("dynamodb")), self.settings.tables)

    @cached_property
    def operator(self) -> BatchOperator:
        """Writes only loader-admin makes (expire a lease, delete finished batches)."""
        from loader.adapters.batch_operator import BatchOperator
        from loader.adapters.dynamo import Dynamo

        return BatchOperator(Dynamo(self.client("dynamodb")), self.settings.tables)

    @cached_property
    def configs(self) -> ConfigStore:
        from loader.adapters.config_store import ConfigStore

        return ConfigStore(
            self.client("dynamodb"), self.settings.tables.config, self.settings.config_ttl_seconds
        )

    # --- S3, SQS -------------------------------------------------------------------------------

    @cached_property
    def s3(self) -> S3Store:
        from loader.adapters.s3_store import S3Store

        return S3Store(self.client("s3"))

    @cached_property
    def bucket_notifications(self) -> BucketNotifications:
        from loader.adapters.bucket_notifications import BucketNotifications

        return BucketNotifications(self.client("s3"))

    @cached_property
    def timers(self) -> FlushTimers | None:
        if not self.settings.flush_queue_url:
            return None
        from loader.adapters.timers import FlushTimers

        return FlushTimers(self.client("sqs"), self.settings.flush_queue_url)

    # --- outcome channels ----------------------------------------------------------------------

    @cached_property
    def topics(self) -> SnsTopics:
        from loader.adapters.sns import SnsTopics

        return SnsTopics(self.client("sns"))

    @cached_property
    def event_bus(self) -> EventBus | None:
        if self.settings.event_bus_name is None:
            return None
        from loader.adapters.eventbridge import EventBus

        return EventBus(self.client("events"), self.settings.event_bus_name)

    # --- secrets and database logins ----------------------------------------------------------

    @cached_property
    def secrets(self) -> SecretsManager:
        from loader.adapters.secrets import SecretsManager

        return SecretsManager(self.client("secretsmanager"))

    @cached_property
    def kms(self) -> Kms:
        from loader.adapters.kms import Kms

        return Kms(self.client("kms"))

    @cached_property
    def redshift(self) -> RedshiftClusters:
        from loader.adapters.redshift import RedshiftClusters

        return RedshiftClusters(self.client("redshift"))

    @cached_property
    def redshift_serverless(self) -> ServerlessWorkgroups:
        from loader.adapters.redshift_serverless import ServerlessWorkgroups

        return ServerlessWorkgroups(self.client("redshift-serverless"))

    @cached_property
    def data_api(self) -> DataApi:
        from loader.adapters.data_api import DataApi

        return DataApi(self.client("redshift-data"))
