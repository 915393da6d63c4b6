"""The parsed form of a Redshift `COPY ... FROM 's3://...'` statement."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from redshift_standin.sql_tokens import quote_identifier


class DataFormat(StrEnum):
    TEXT = "TEXT"  # plain delimited text: Redshift's default when no format is named
    CSV = "CSV"
    JSON = "JSON"
    AVRO = "AVRO"
    PARQUET = "PARQUET"
    ORC = "ORC"
    FIXEDWIDTH = "FIXEDWIDTH"


class Compression(StrEnum):
    GZIP = "GZIP"
    BZIP2 = "BZIP2"
    LZOP = "LZOP"
    ZSTD = "ZSTD"


class AuthKind(StrEnum):
    NONE = "none"
    IAM_ROLE = "iam_role"
    CREDENTIALS = "credentials"
    ACCESS_KEYS = "access_keys"


@dataclass(frozen=True)
class TableRef:
    """A table name as PostgreSQL resolves it: unquoted parts folded to lower case."""

    name: str
    schema: str | None = None

    def sql(self) -> str:
        name = quote_identifier(self.name)
        return f"{quote_identifier(self.schema)}.{name}" if self.schema else name

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class CopySpec:
    """Everything the stand-in needs from a COPY. Secrets are parsed but never stored."""

    table: TableRef
    columns: tuple[str, ...] | None
    source: str
    manifest: bool = False
    authorization: AuthKind = AuthKind.NONE
    iam_role: str | None = None
    data_format: DataFormat = DataFormat.TEXT
    format_argument: str | None = None
    """JSON/AVRO: 'auto', 'auto ignorecase' or a jsonpaths s3:// URL; FIXEDWIDTH: the spec."""
    delimiter: str | None = None
    quote: str = '"'
    ignore_header: int = 0
    null_as: str | None = None
    compression: Compression | None = None
    date_format: str | None = None
    time_format: str | None = None
    empty_as_null: bool = False
    blanks_as_null: bool = False
    accept_inv_chars: str | None = None
    """Replacement character when ACCEPTINVCHARS is given, else None."""
    truncate_columns: bool = False
    max_error: int = 0
    comp_update: bool | None = None
    stat_update: bool | None = None
    region: str | None = None
    encrypted: bool = False
    remove_quotes: bool = False
    escape: bool = False
    fill_record: bool = False
    trim_blanks: bool = False
    ignore_blank_lines: bool = False
    encoding: str = "UTF8"
    round_decimals: bool = False
    explicit_ids: bool = False
    serialize_to_json: bool = False
    """Parquet/ORC: nested columns load as JSON text (SERIALIZETOJSON)."""

    @property
    def field_delimiter(self) -> str:
        if self.delimiter is not None:
            return self.delimiter
        return "," if self.data_format is DataFormat.CSV else "|"

    @property
    def null_string(self) -> str:
        return "\\N" if self.null_as is None else self.null_as
