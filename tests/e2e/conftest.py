"""End-to-end fixtures: the whole loader over in-process moto, with real databases behind it.

Setup chosen for this layer: **in-process `mock_aws`** (the `env` fixture of tests/conftest.py,
one fresh AWS per test) shared with the Redshift stand-in, whose S3 reads run in a thread of this
same process through `s3_client_factory` (moto's patch is process-wide). PostgreSQL, the stand-in
and the fake Data API are session-scoped; every test works in tables of its own.

    S3 event -> LoaderService.handle -> BatchLifecycle -> build_loader(...) -> target
      redshift: psycopg2 -> stand-in proxy -> PostgreSQL   (COPY FROM 's3://' emulated)
      data_api: FakeRedshiftData -> stand-in -> PostgreSQL
      postgres: psycopg2 -> PostgreSQL directly             (loader streams S3 into COPY)

Nothing is skipped: if PostgreSQL cannot start, every test here fails loudly.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from e2e.stack import IAM_USER, Stack, admin, build_stack

from redshift_standin.data_api import FakeRedshiftData
from redshift_standin.postgres import EmbeddedPostgres
from redshift_standin.proxy import StandIn
from redshift_standin.testing import embedded_postgres, fake_data_api, standin
from support.aws import Env


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    with embedded_postgres() as server:
        admin(server.dsn, f'CREATE ROLE "{IAM_USER}" LOGIN SUPERUSER')
        yield server


@pytest.fixture(scope="session")
def proxy(postgres: EmbeddedPostgres) -> Iterator[StandIn]:
    # Built on first COPY, inside a test, so it talks to that test's mock_aws.
    with standin(postgres, lambda: boto3.client("s3", region_name="us-east-1")) as running:
        yield running


@pytest.fixture(scope="session")
def data_api(proxy: StandIn) -> Iterator[FakeRedshiftData]:
    with fake_data_api(proxy) as client:
        yield client


@pytest.fixture
def stack(
    env: Env, postgres: EmbeddedPostgres, proxy: StandIn, data_api: FakeRedshiftData
) -> Iterator[Stack]:
    built = build_stack(env, postgres, proxy, data_api)
    yield built
    for name in built.tables:
        admin(postgres.dsn, f"DROP TABLE IF EXISTS {name}")
