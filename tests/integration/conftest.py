"""Integration fixtures: a real PostgreSQL, a moto S3 server and the Redshift stand-in.

Session-scoped services start once (about 1.5 s in all). Nothing is ever skipped: if PostgreSQL
or moto cannot start, the fixtures raise and every test using them fails loudly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import psycopg2
import pytest
from moto.server import ThreadedMotoServer

from redshift_standin.testing import embedded_postgres, fake_data_api, standin

if TYPE_CHECKING:
    from psycopg2.extensions import connection

    from redshift_standin.data_api import FakeRedshiftData
    from redshift_standin.postgres import EmbeddedPostgres
    from redshift_standin.proxy import StandIn

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def moto_endpoint(aws_env: None) -> Iterator[str]:
    """URL of a moto server shared by the whole run (reset state per test via unique names)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client_factory(moto_endpoint: str) -> Callable[[], Any]:
    def build() -> Any:
        return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")

    return build


@pytest.fixture(scope="session")
def s3_client(s3_client_factory: Callable[[], Any]) -> Any:
    return s3_client_factory()


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    """Embedded PostgreSQL 16 (pgserver), or $LOADER_TEST_POSTGRES_DSN when set."""
    with embedded_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def redshift_standin(
    postgres: EmbeddedPostgres, s3_client_factory: Callable[[], Any]
) -> Iterator[StandIn]:
    with standin(postgres, s3_client_factory) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def redshift_data(redshift_standin: StandIn) -> Iterator[FakeRedshiftData]:
    with fake_data_api(redshift_standin) as client:
        yield client


@pytest.fixture
def redshift_conn(redshift_standin: StandIn) -> Iterator[connection]:
    """A psycopg2 connection to the stand-in, as the loader opens one (non-autocommit)."""
    conn = psycopg2.connect(redshift_standin.dsn())
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    name = f"standin-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def put_s3_object(s3_client: Any, s3_bucket: str) -> Callable[[str, bytes | str], str]:
    """put(key, body) -> 's3://bucket/key'."""

    def put(key: str, body: bytes | str) -> str:
        data = body.encode() if isinstance(body, str) else body
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=data)
        return f"s3://{s3_bucket}/{key}"

    return put


@pytest.fixture(scope="session")
def _test_tables(redshift_standin: StandIn) -> Iterator[list[str]]:
    """Tables made by `make_table`, dropped at the end of the run, once every test's
    connection (and its locks) is gone."""
    names: list[str] = []
    yield names
    with psycopg2.connect(redshift_standin.postgres_dsn) as admin, admin.cursor() as cur:
        for name in names:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
    admin.close()


@pytest.fixture
def make_table(redshift_standin: StandIn, _test_tables: list[str]) -> Callable[[str], str]:
    """make_table("id int, name varchar(10)") -> the name of a fresh, committed table."""

    def make(columns: str) -> str:
        name = f"t_{uuid.uuid4().hex[:10]}"
        with psycopg2.connect(redshift_standin.postgres_dsn) as admin, admin.cursor() as cur:
            cur.execute(f"CREATE TABLE {name} ({columns})")
        admin.close()
        _test_tables.append(name)
        return name

    return make
