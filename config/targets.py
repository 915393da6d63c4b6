"""Load targets: where a sealed batch is copied to. One batch may load into several targets."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from config.identifiers import check_identifier, duplicates, folded, split_table_name
from config.redshift_types import normalize_type, postgres_problem
from config.suggest import SuggestingModel

# Matched whole (fullmatch) and ASCII only: `\d` and `\w` would take any Unicode digit or letter.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")
# IAM role ARN: partition, 12-digit account, role path and name of `\w+=,.@-` (IAM API, Role).
_IAM_ROLE = re.compile(r"arn:aws[a-z\-]*:iam::[0-9]{12}:role/[\w+=,.@\-/]{1,512}", re.ASCII)
# IAM API, AccessKeyMetadata.AccessKeyId: 16 to 128 characters of `[\w]+`.
_ACCESS_KEY_ID = re.compile(r"\w{16,128}", re.ASCII)
_SCHEMA = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,126}")

# Identifiers keep their blanks: `" a"` is a column Redshift can hold (r_names.html).
Identifier = Annotated[str, StringConstraints(strip_whitespace=False)]


class _Model(SuggestingModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, use_attribute_docstrings=True
    )


def _check_names(names: list[str], what: str) -> list[str]:
    for name in names:
        check_identifier(name)
    repeated = duplicates(names)
    if repeated:
        raise ValueError(
            f"{what} {repeated} repeat a name: Redshift folds ASCII letters to lowercase, so they "
            "are the same identifier"
        )
    return names


class MergeOptions(_Model):
    """Upsert: stage the batch, delete target rows whose key matches, insert the staged rows."""

    key_columns: Annotated[list[Identifier], Field(min_length=1)]
    """Columns that identify a row: target rows whose key matches a staged row are replaced."""

    @field_validator("key_columns")
    @classmethod
    def _keys(cls, value: list[str]) -> list[str]:
        return _check_names(value, "key_columns")


class _TargetBase(_Model):
    name: str
    """Stable identifier of the target within the configuration (per-target status, ledger)."""
    table: str
    """Target table, `table` or `schema.table`; a part in double quotes may hold a dot
    (`"my.table"`); quoted when the SQL is built."""
    columns: list[Identifier] | None = None
    """Optional COPY column list, in file order; names are kept as written (blanks included)."""
    truncate_before_load: bool = False
    """Empty the table (DELETE, in the load's transaction) before each batch is copied."""
    pre_sql: str | None = None
    """Run in the load's transaction before COPY (trusted operator SQL)."""
    post_sql: str | None = None
    """Run in the load's transaction after COPY (trusted operator SQL)."""
    merge: MergeOptions | None = None
    """Upsert instead of append: rows whose key columns match are replaced."""
    statement_timeout_seconds: Annotated[int, Field(ge=1, le=86_400)] = 840
    """Upper bound of each statement of the load; the Lambda's remaining time also caps it."""
    ledger_schema: str = "loader_meta"
    """Schema of the loader's ledger table (`<schema>.loaded_batches`) inside the target; created
    if absent. The ledger is what makes a retried batch load exactly once into this target."""
    verify_load: bool = True
    """Before COMMIT, compare what the target reports loaded (files, rows) with the manifest and
    fail the batch on a mismatch (docs/loading.md, "Loaded-vs-staged check")."""

    @field_validator("ledger_schema")
    @classmethod
    def _ledger_schema(cls, value: str) -> str:
        if not _SCHEMA.fullmatch(value):
            raise ValueError("use letters, digits, '_' or '$', starting with a letter or '_'")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("use letters, digits, '_', '-' or '.', at most 63 characters")
        return value

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        split_table_name(value)
        return value

    @field_validator("columns")
    @classmethod
    def _columns(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_names(value, "columns")

    @model_validator(mode="after")
    def _merge_vs_truncate(self) -> Self:
        if self.merge is not None and self.truncate_before_load:
            raise ValueError("merge and truncate_before_load contradict each other; pick one")
        if self.merge is not None and self.columns:
            listed = {folded(c) for c in self.columns}
            missing = [k for k in self.merge.key_columns if folded(k) not in listed]
            if missing:
                raise ValueError(f"merge.key_columns {missing} are not in columns")
        return self


class ColumnDefinition(_Model):
    """One column of the table `create_table` creates."""

    name: Identifier
    """Column name, kept as written (Redshift folds ASCII letters to lowercase)."""
    type: str
    """Redshift type, e.g. `BIGINT`, `VARCHAR(64)`, `DECIMAL(12,2)`, `TIMESTAMPTZ`; aliases
    (`int8`, `text`, `numeric`) are stored in their canonical spelling."""
    not_null: bool = False
    """Declare the column NOT NULL (COPY then refuses rows without a value for it)."""

    @field_validator("name")
    @classmethod
    def _column(cls, value: str) -> str:
        return check_identifier(value)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return normalize_type(value)


class TableSchemaOptions(_Model):
    """The target table's shape: created when missing, extended when the files grow. Shared by
    every target kind (Redshift, the Data API, PostgreSQL): loader/loading/targets/table_prep.py."""

    create_table: Literal["never", "if_missing"] = "never"
    """`if_missing`: before a load, create `table` (and its schema) when it does not exist, with
    `table_columns` or else columns inferred from the batch's first file. `CREATE TABLE IF NOT
    EXISTS` in its own transaction (its own statement over the Data API), so two loaders racing
    end with one table and both loads."""
    table_columns: Annotated[list[ColumnDefinition], Field(min_length=1)] | None = None
    """The columns `create_table` creates, in file order (`loader-admin config infer` proposes
    them). Unset: inferred from the first file (CSV header and values, JSON keys, Parquet / ORC
    footers), with the widest type of each family (VARCHAR(65535), BIGINT, DECIMAL(38,s)).
    A `postgres` target refuses SUPER and VARBYTE, which PostgreSQL does not have."""
    schema_evolution: Literal["none", "detect", "add_columns"] = "none"
    """Files whose columns differ from the table's. `none`: the COPY decides (a failed load's
    notice still names the drift and the ALTER TABLE that would fix it); `detect`: compare sampled
    files with the table before COPY and fail on any drift (JSON keys COPY would silently drop,
    CSV headers in another order); `add_columns`: as `detect`, but columns the files add (at the
    end, for positional formats) are added as nullable columns inside the load's transaction
    first. Not with a `columns` list."""

    @field_validator("table_columns")
    @classmethod
    def _table_columns(cls, value: list[ColumnDefinition] | None) -> list[ColumnDefinition] | None:
        if value is not None:
            _check_names([c.name for c in value], "table_columns")
        return value

    @model_validator(mode="after")
    def _columns_need_creation(self) -> Self:
        if self.table_columns is not None and self.create_table == "never":
            raise ValueError("table_columns is only used with create_table: if_missing")
        return self


class CopyAuthorization(_Model):
    """How Redshift itself reads S3 during COPY."""

    iam_roles: list[str] = Field(default_factory=list)
    """IAM_ROLE for COPY; several ARNs are chained in order. Empty means `IAM_ROLE default`."""
    access_key_id: str | None = None
    """Compatibility with the original loader: static keys (prefer IAM roles)."""
    encrypted_secret_access_key: str | None = None
    """KMS ciphertext (base64) of the secret key matching `access_key_id`."""
    lambda_credentials: bool = False
    """Compatibility with the original loader's default: COPY with the Lambda role's own temporary
    credentials (ACCESS_KEY_ID / SECRET_ACCESS_KEY / SESSION_TOKEN). Prefer IAM roles."""

    @field_validator("iam_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not _IAM_ROLE.fullmatch(arn):
                raise ValueError(f"{arn!r} is not an IAM role ARN")
        return value

    @field_validator("access_key_id")
    @classmethod
    def _key_id(cls, value: str | None) -> str | None:
        if value is not None and not _ACCESS_KEY_ID.fullmatch(value):
            raise ValueError("not an access key id (16 to 128 letters and digits, as AKIA...)")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        keys = self.access_key_id is not None or self.encrypted_secret_access_key is not None
        if self.lambda_credentials and (keys or self.iam_roles):
            raise ValueError("lambda_credentials excludes iam_roles and access keys")
        if keys and self.iam_roles:
            raise ValueError("use either iam_roles or access keys for COPY, not both")
        if keys and not (self.access_key_id and self.encrypted_secret_access_key):
            raise ValueError("access_key_id and encrypted_secret_access_key go together")
        return self


class RedshiftTarget(TableSchemaOptions, _TargetBase):
    """A provisioned cluster or a Serverless workgroup over the PostgreSQL protocol (psycopg2)."""

    type: Literal["redshift"] = "redshift"
    host: str
    """Endpoint host name of the cluster or workgroup (reachable from the Lambda's VPC)."""
    port: Annotated[int, Field(ge=1, le=65535)] = 5439
    """Endpoint port."""
    database: str = "dev"
    """Database the table is in."""
    user: str | None = None
    """Database user. With auth 'iam' on a cluster: set, GetClusterCredentials for this user;
    unset, GetClusterCredentialsWithIAM (the user is the Lambda role's IAM identity)."""
    cluster_identifier: str | None = None
    """Provisioned cluster: IAM credentials come from redshift:GetClusterCredentials."""
    workgroup_name: str | None = None
    """Serverless: IAM credentials come from redshift-serverless:GetCredentials."""
    auth: Literal["iam", "secret", "kms_password"] = "iam"
    """How the loader logs in: `iam` temporary credentials (cluster_identifier or
    workgroup_name), a Secrets Manager `secret` (secret_arn), or the original loader's
    `kms_password` (user and encrypted_password)."""
    secret_arn: str | None = None
    """Secrets Manager secret (JSON with `username` and `password`) for auth `secret`."""
    encrypted_password: str | None = None
    """KMS ciphertext (base64) of the password, as the original loader stored it."""
    sslmode: Literal["verify-full", "verify-ca", "require", "disable"] = "verify-full"
    """libpq TLS mode: `verify-full` checks the certificate and the host name, `verify-ca` the
    certificate only, `require` encrypts without checking, `disable` sends in clear text."""
    sslrootcert: str | None = None
    """CA bundle for verify-ca / verify-full; default: `LOADER_REDSHIFT_CA_BUNDLE`, else the
    system trust store."""
    connect_timeout_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    """Seconds to wait for the connection (libpq `connect_timeout`)."""
    copy_authorization: CopyAuthorization = CopyAuthorization()
    """How Redshift itself reads S3 during COPY (default: `IAM_ROLE default`)."""

    @model_validator(mode="after")
    def _auth_fields(self) -> Self:
        ambiguous = (self.cluster_identifier is None) == (self.workgroup_name is None)
        if self.auth == "iam" and ambiguous:
            raise ValueError("auth 'iam' needs exactly one of cluster_identifier or workgroup_name")
        if self.auth == "secret" and not self.secret_arn:
            raise ValueError("auth 'secret' needs secret_arn")
        if self.auth == "kms_password" and not (self.encrypted_password and self.user):
            raise ValueError("auth 'kms_password' needs user and encrypted_password")
        return self


class DataApiTarget(TableSchemaOptions, _TargetBase):
    """The Redshift Data API: no VPC networking; statements are submitted and polled."""

    type: Literal["data_api"] = "data_api"
    database: str = "dev"
    """Database the table is in."""
    cluster_identifier: str | None = None
    """Provisioned cluster to run the statements on (exactly one of this or workgroup_name)."""
    workgroup_name: str | None = None
    """Serverless workgroup to run the statements on."""
    db_user: str | None = None
    """Cluster only, without secret_arn: the database user of the Data API's temporary
    credentials (`DbUser`)."""
    secret_arn: str | None = None
    """Secrets Manager secret the Data API logs in with (`SecretArn`); wins over db_user."""
    poll_interval_seconds: Annotated[float, Field(gt=0, le=30)] = 1.0
    """First wait between status polls of a submitted statement; later waits grow."""
    copy_authorization: CopyAuthorization = CopyAuthorization()
    """How Redshift itself reads S3 during COPY (default: `IAM_ROLE default`)."""

    @model_validator(mode="after")
    def _where(self) -> Self:
        if (self.cluster_identifier is None) == (self.workgroup_name is None):
            raise ValueError("set exactly one of cluster_identifier or workgroup_name")
        return self


class PostgresTarget(TableSchemaOptions, _TargetBase):
    """PostgreSQL (Aurora, RDS or local): files are streamed from S3 into COPY ... FROM STDIN."""

    type: Literal["postgres"] = "postgres"
    dsn: str | None = None
    """libpq connection string without a password; or use secret_arn."""
    secret_arn: str | None = None
    """Secrets Manager secret (JSON: `host`, `port`, `dbname`, `username`, `password`); its
    values complete and override the dsn."""
    sslmode: Literal["verify-full", "verify-ca", "require", "prefer", "disable"] = "verify-full"
    """libpq TLS mode: `verify-full` checks the certificate and the host name, `verify-ca` the
    certificate only, `require` encrypts without checking, `prefer` tries TLS first, `disable`
    sends in clear text."""
    sslrootcert: str | None = None
    """CA bundle for verify-ca / verify-full; default: libpq's own (`~/.postgresql/root.crt`)."""
    connect_timeout_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    """Seconds to wait for the connection (libpq `connect_timeout`)."""

    @model_validator(mode="after")
    def _where(self) -> Self:
        if not self.dsn and not self.secret_arn:
            raise ValueError("set dsn or secret_arn")
        return self

    @model_validator(mode="after")
    def _postgres_types(self) -> Self:
        for column in self.table_columns or ():
            problem = postgres_problem(column.type)
            if problem:
                raise ValueError(f"table_columns {column.name!r}: {problem}")
        return self


Target = Annotated[RedshiftTarget | DataApiTarget | PostgresTarget, Field(discriminator="type")]
