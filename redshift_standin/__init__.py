"""A local Redshift stand-in: PostgreSQL behind a wire-protocol proxy that runs S3 COPY.

Public API:
    start_postgres / EmbeddedPostgres      an embedded (or external) PostgreSQL
    StandIn                                the proxy; `.start() -> (host, port)`, `.dsn()`
    FakeRedshiftData                       a redshift-data client that runs SQL through it
    parse_copy / CopySpec                  Redshift COPY parsing
"""

from redshift_standin.copy_parser import mask_secrets, parse_copy
from redshift_standin.copy_spec import CopySpec, DataFormat, TableRef
from redshift_standin.data_api import FakeRedshiftData
from redshift_standin.errors import (
    CopySyntaxError,
    LoadFailedError,
    NotEmulatedError,
    StandInError,
    UnsupportedCopyOptionError,
)
from redshift_standin.postgres import EmbeddedPostgres, start_postgres
from redshift_standin.proxy import StandIn

__all__ = [
    "CopySpec",
    "CopySyntaxError",
    "DataFormat",
    "EmbeddedPostgres",
    "FakeRedshiftData",
    "LoadFailedError",
    "NotEmulatedError",
    "StandIn",
    "StandInError",
    "TableRef",
    "UnsupportedCopyOptionError",
    "mask_secrets",
    "parse_copy",
    "start_postgres",
]
