"""Clients and adapters, built lazily once per cold start (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from loader.settings import Settings

if TYPE_CHECKING:
    import boto3

    from loader.adapters.batch_store import BatchStore
    from loader.adapters.bucket_notifications import BucketNotifications
    from loader.adapters.config_store import ConfigStore
    from loader.adapters.s3_store import S3Store
    from loader.adapters.timers import FlushTimers


@dataclass
class Deps:
    """Everything the service talks to. Tests build one around a moto session."""

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
                ),
            )
        return self._clients[name]

    @cached_property
    def batches(self) -> BatchStore:
        from loader.adapters.batch_store import BatchStore

        return BatchStore(self.client("dynamodb"), self.settings.tables)

    @cached_property
    def configs(self) -> ConfigStore:
        from loader.adapters.config_store import ConfigStore

        return ConfigStore(
            self.client("dynamodb"), self.settings.tables.config, self.settings.config_ttl_seconds
        )

    @cached_property
    def s3(self) -> S3Store:
        from loader.adapters.s3_store import S3Store

        return S3Store(self.client("s3"))

    @cached_property
    def timers(self) -> FlushTimers | None:
        if not self.settings.flush_queue_url:
            return None
        from loader.adapters.timers import FlushTimers

        return FlushTimers(self.client("sqs"), self.settings.flush_queue_url)

    @cached_property
    def bucket_notifications(self) -> BucketNotifications:
        from loader.adapters.bucket_notifications import BucketNotifications

        return BucketNotifications(self.client("s3"))
