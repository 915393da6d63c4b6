"""Load-time problems, found when a configuration is saved (for the CLI). Pure.

The loader meets the same problems at load time, as a ConfigurationError that fails the batch;
checking when the configuration is written turns that into a refused `config put`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loader.copy_sql import CopySecrets, build_copy
from loader.errors import ConfigurationError
from loader.loading.sql.ledger import Dialect, LedgerEntry
from loader.loading.sql.script import build_script
from loader.loading.targets.pg_input import pg_copy_plan, pg_copy_sql
from loader.loading.targets.postgres import zstd_available

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from config.targets import DataApiTarget, RedshiftTarget, Target

_SAMPLE = LedgerEntry("check", "check", "bucket/prefix", "s3://bucket/manifest.json", 1, 0.0)
_PLACEHOLDER = "placeholder-secret"


def load_problems(config: PrefixConfig) -> list[str]:
    """One message per target that could not be loaded as configured (empty: all fine)."""
    return [f"target {t.name}: {p}" for t in config.targets if (p := _problem(config, t))]


def _problem(config: PrefixConfig, target: Target) -> str | None:
    try:
        if target.type == "postgres":
            plan = pg_copy_plan(config.copy_options, zstd_available=zstd_available())
            build_script(
                target,
                _SAMPLE,
                dialect=Dialect.POSTGRES,
                timeout_ms=1000,
                copy_into=lambda table: pg_copy_sql(table, target.columns, plan),
            )
        else:
            secrets = _placeholders(config, target)
            build_script(
                target,
                _SAMPLE,
                dialect=Dialect.REDSHIFT,
                timeout_ms=1000,
                copy_into=lambda table: build_copy(
                    table,
                    target.columns,
                    _SAMPLE.manifest_url,
                    config.copy_options,
                    target.copy_authorization,
                    secrets=secrets,
                ),
            )
    except (ValueError, ConfigurationError) as exc:
        return str(exc)
    return None


def _placeholders(config: PrefixConfig, target: RedshiftTarget | DataApiTarget) -> CopySecrets:
    """Stand-ins for the values decrypted at load time, so the COPY text can be built."""
    auth = target.copy_authorization
    master = _PLACEHOLDER if config.copy_options.encrypted else None
    if auth.access_key_id:
        return CopySecrets(secret_access_key=_PLACEHOLDER, master_symmetric_key=master)
    if auth.lambda_credentials:
        return CopySecrets(
            access_key_id="AKIAPLACEHOLDER",
            secret_access_key=_PLACEHOLDER,
            session_token=_PLACEHOLDER,
            master_symmetric_key=master,
        )
    return CopySecrets(master_symmetric_key=master)
