"""Environment settings, read once per cold start (or per test)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from loader.tables import TableNames


@dataclass(frozen=True)
class Settings:
    tables: TableNames
    flush_queue_url: str | None
    lease_seconds: float
    config_ttl_seconds: float
    default_success_topic_arn: str | None
    default_failure_topic_arn: str | None
    event_bus_name: str | None
    max_load_attempts: int
    suppress_failure_status: bool
    redshift_ca_bundle: str | None = None
    """CA bundle for Redshift TLS when a target sets no `sslrootcert` (else the system store)."""
    target_attempts: int = 4
    """Attempts per target within one invocation, for transient database errors."""
    reconcile_lookback_seconds: float = 3600.0
    """Reconciliation considers objects modified this recently (LastModified >= now - this)."""
    max_auto_reprocess: int = 3
    """How often a failed batch is reprocessed from its own failure notification, at most."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            tables=TableNames.from_env(env),
            flush_queue_url=env.get("LOADER_FLUSH_QUEUE_URL") or None,
            lease_seconds=float(env.get("LOADER_LEASE_SECONDS", "900")),
            config_ttl_seconds=float(env.get("LOADER_CONFIG_TTL_SECONDS", "60")),
            default_success_topic_arn=env.get("LOADER_SUCCESS_TOPIC_ARN") or None,
            default_failure_topic_arn=env.get("LOADER_FAILURE_TOPIC_ARN") or None,
            event_bus_name=env.get("LOADER_EVENT_BUS_NAME") or None,
            max_load_attempts=int(env.get("LOADER_MAX_LOAD_ATTEMPTS", "3")),
            suppress_failure_status=env.get(
                "SuppressFailureStatusOnSuccessfulNotification", ""
            ).lower()
            == "true",
            redshift_ca_bundle=env.get("LOADER_REDSHIFT_CA_BUNDLE") or None,
            target_attempts=int(env.get("LOADER_TARGET_ATTEMPTS", "4")),
            reconcile_lookback_seconds=float(env.get("LOADER_RECONCILE_LOOKBACK_SECONDS", "3600")),
            max_auto_reprocess=int(env.get("LOADER_MAX_AUTO_REPROCESS", "3")),
        )
