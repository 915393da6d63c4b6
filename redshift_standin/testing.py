"""Context managers shared by the test suite and local mode (nothing pytest-specific)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from redshift_standin.data_api import FakeRedshiftData
from redshift_standin.postgres import EmbeddedPostgres, start_postgres
from redshift_standin.proxy import StandIn

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_s3 import S3Client


@contextmanager
def embedded_postgres(data_dir: Path | None = None) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL for the duration of the block (`$LOADER_TEST_POSTGRES_DSN` if set)."""
    postgres = start_postgres(data_dir)
    try:
        yield postgres
    finally:
        postgres.stop()


@contextmanager
def standin(
    postgres: EmbeddedPostgres | str, s3_client_factory: Callable[[], S3Client], *, port: int = 0
) -> Iterator[StandIn]:
    """A started stand-in in front of `postgres` (an EmbeddedPostgres or a DSN)."""
    dsn = postgres if isinstance(postgres, str) else postgres.dsn
    proxy = StandIn(dsn, s3_client_factory, port=port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@contextmanager
def fake_data_api(proxy: StandIn, *, region_name: str = "us-east-1") -> Iterator[FakeRedshiftData]:
    """A redshift-data client whose statements run through `proxy`."""
    client = FakeRedshiftData(lambda database: proxy.dsn(dbname=database), region_name=region_name)
    try:
        yield client
    finally:
        client.close()
