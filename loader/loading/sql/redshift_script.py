"""The load transaction of a Redshift-protocol target (psycopg2 or the Data API). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loader.copy_sql import build_copy
from loader.loading.job import bad_statement
from loader.loading.sql.ledger import Dialect
from loader.loading.sql.script import Script, build_script

if TYPE_CHECKING:
    from config.targets import DataApiTarget, RedshiftTarget
    from loader.copy_sql import CopySecrets
    from loader.loading.job import TargetJob


def redshift_script(
    job: TargetJob,
    target: RedshiftTarget | DataApiTarget,
    secrets: CopySecrets,
    *,
    verify_sql: str | None,
    add_columns: Sequence[str] = (),
    guards: bool = False,
) -> Script:
    """COPY ... MANIFEST with the prefix's options, inside the target's transaction script."""
    options, auth = job.config.copy_options, target.copy_authorization

    def copy_into(table: str) -> str:
        return build_copy(table, target.columns, job.manifest_url, options, auth, secrets=secrets)

    try:
        return build_script(
            target,
            job.entry,
            dialect=Dialect.REDSHIFT,
            timeout_ms=job.timeout_ms,
            copy_into=copy_into,
            verify_sql=verify_sql,
            add_columns=add_columns,
            guards=guards,
        )
    except ValueError as exc:
        raise bad_statement(target.name, exc) from None
