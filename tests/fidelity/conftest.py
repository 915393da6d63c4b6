"""Fidelity fixtures: the integration layer's PostgreSQL, moto server and stand-in.

Re-exported (not copied) so both suites start their services the same way; nothing is ever
skipped: a service that cannot start fails every test that needs it.
"""

from integration.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    _test_tables,
    aws_env,
    moto_endpoint,
    postgres,
    redshift_conn,
    redshift_standin,
    s3_bucket,
    s3_client,
    s3_client_factory,
)
