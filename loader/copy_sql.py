"""Redshift COPY, upsert and truncate statements, built as text. Pure: no boto3, no I/O, no clock.

Quoting. Identifiers are double-quoted with inner quotes doubled. Literals are single-quoted with
quotes *and backslashes* doubled: Redshift reads backslash escapes inside '...' (its own
QUOTE_LITERAL doubles both), so a value ending in a backslash must not be able to end the literal
early. Nothing else from a configuration reaches the text unquoted, except keywords chosen here and
`extra_options`, which `CopyOptions` has already reduced to documented parameters and numbers
(`config/copy_parameters.py`).

COPY option order, fixed so that statements are stable and comparable:

    COPY <table> [(<columns>)] FROM '<url>'
    IAM_ROLE default | IAM_ROLE '<arn>[,<arn>...]'
        | ACCESS_KEY_ID '..' SECRET_ACCESS_KEY '..' [SESSION_TOKEN '..']
    [MASTER_SYMMETRIC_KEY '..'] [MANIFEST] [ENCRYPTED] [REGION AS '..']
    <format>: FORMAT AS CSV QUOTE AS '"' DELIMITER AS ','
            | DELIMITER AS '|' [ESCAPE] [REMOVEQUOTES]
            | FIXEDWIDTH 'label:width,...'
            | FORMAT AS JSON|AVRO 'auto' | 'auto ignorecase' | 'noshred' | 's3://jsonpaths'
            | FORMAT AS PARQUET|ORC [SERIALIZETOJSON]
    [IGNOREHEADER n] [GZIP|BZIP2|LZOP|ZSTD] [ENCODING AS ..]
    [ACCEPTINVCHARS [AS 'c']] [BLANKSASNULL] [DATEFORMAT AS '..'] [EMPTYASNULL] [EXPLICIT_IDS]
    [FILLRECORD] [IGNOREBLANKLINES] [NULL AS '..'] [ROUNDEC] [TIMEFORMAT AS '..'] [TRIMBLANKS]
    [TRUNCATECOLUMNS] [COMPUPDATE ON|OFF|PRESET] [MAXERROR AS n] [STATUPDATE ON|OFF]
    [<extra_options>]

Statements carry no trailing semicolon: each is sent on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, assert_never

from config.formats import (
    AvroFormat,
    CsvFormat,
    DelimitedFormat,
    FixedWidthFormat,
    JsonFormat,
    OrcFormat,
    ParquetFormat,
)
from config.identifiers import check_identifier, duplicates, folded, split_table_name

if TYPE_CHECKING:
    from config.copy_options import CopyOptions
    from config.formats import DataFormat
    from config.targets import CopyAuthorization

MASK = "***"
_S3_SOURCE = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](?:/.*)?$", re.S)


@dataclass(frozen=True)
class CopySecrets:
    """Secret values, already decrypted by the caller, for one COPY. Never printed by repr."""

    access_key_id: str | None = field(default=None, repr=False)
    """Must equal the authorization's `access_key_id` when that is set. Set alone, with the secret
    and a session token, it carries temporary credentials (the original loader's default)."""
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    master_symmetric_key: str | None = field(default=None, repr=False)
    """Root key of client-side encrypted input (`CopyOptions.encrypted`)."""


def quote_name(name: str) -> str:
    """One identifier (a column, a temp table), double-quoted: `a"b` -> `"a""b"`."""
    return '"' + check_identifier(name).replace('"', '""') + '"'


def quote_ident(name: str) -> str:
    """A table name, `table` or `schema.table`, each part quoted: `s.t` -> `"s"."t"`.

    A part already in double quotes is one identifier, dots included: `"my.table"` stays
    `"my.table"` (see `config.identifiers.split_table_name`).
    """
    schema, table = split_table_name(name)
    return quote_name(table) if schema is None else f"{quote_name(schema)}.{quote_name(table)}"


def quote_literal(value: str) -> str:
    """A Redshift string literal: quotes and backslashes doubled (see the module docstring)."""
    if "\x00" in value:
        raise ValueError("a SQL literal cannot hold a NUL character")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def build_copy(
    table: str,
    columns: Sequence[str] | None,
    source_url: str,
    options: CopyOptions,
    authorization: CopyAuthorization,
    *,
    manifest: bool = True,
    secrets: CopySecrets | None = None,
) -> str:
    """The full COPY statement, options in the documented order.

    `source_url` is the manifest's URL (or, with `manifest=False`, an object or prefix URL). Secret
    values come only from `secrets`; log the result through `redact`.
    """
    if not _S3_SOURCE.match(source_url):
        raise ValueError(f"{source_url!r} is not an s3://bucket[/key] URL")
    secrets = secrets or CopySecrets()
    parts = [f"COPY {quote_ident(table)}"]
    if columns:
        parts.append(_column_list(columns))
    parts.append(f"FROM {quote_literal(source_url)}")
    parts += _authorization(authorization, secrets)
    parts += _master_key(options, secrets)
    parts += ["MANIFEST"] if manifest else []
    parts += ["ENCRYPTED"] if options.encrypted else []
    parts += [f"REGION AS {quote_literal(options.region)}"] if options.region else []
    parts += _format_clause(options.format)
    parts += _conversions(options)
    parts += [options.extra_options] if options.extra_options else []
    return " ".join(parts)


def _column_list(columns: Sequence[str]) -> str:
    if duplicates(list(columns)):  # `Id` and `id` are one identifier in Redshift
        raise ValueError(f"duplicate column in {list(columns)}")
    return "(" + ",".join(quote_name(c) for c in columns) + ")"


def _authorization(auth: CopyAuthorization, secrets: CopySecrets) -> list[str]:
    if auth.access_key_id and secrets.access_key_id not in (None, auth.access_key_id):
        raise ValueError("CopySecrets.access_key_id differs from the authorization's access key")
    key_id = auth.access_key_id or secrets.access_key_id
    if not key_id:
        if secrets.secret_access_key or secrets.session_token:
            raise ValueError("a secret access key or session token needs an access key id")
        roles = quote_literal(",".join(auth.iam_roles)) if auth.iam_roles else "default"
        return [f"IAM_ROLE {roles}"]
    if auth.iam_roles:
        raise ValueError("COPY takes IAM roles or access keys, not both")
    if not secrets.secret_access_key:
        raise ValueError("access keys need the decrypted secret in CopySecrets.secret_access_key")
    parts = [
        f"ACCESS_KEY_ID {quote_literal(key_id)}",
        f"SECRET_ACCESS_KEY {quote_literal(secrets.secret_access_key)}",
    ]
    if secrets.session_token:
        parts.append(f"SESSION_TOKEN {quote_literal(secrets.session_token)}")
    return parts


def _master_key(options: CopyOptions, secrets: CopySecrets) -> list[str]:
    key = secrets.master_symmetric_key
    if options.encrypted and not key:
        raise ValueError("encrypted input needs CopySecrets.master_symmetric_key")
    if key and not options.encrypted:
        raise ValueError("a master symmetric key was given but the options are not encrypted")
    return [f"MASTER_SYMMETRIC_KEY {quote_literal(key)}"] if key else []


def _format_clause(fmt: DataFormat) -> list[str]:
    match fmt:
        case CsvFormat():
            quote, delimiter = quote_literal(fmt.quote_char), quote_literal(fmt.delimiter)
            return [f"FORMAT AS CSV QUOTE AS {quote} DELIMITER AS {delimiter}", *_header(fmt)]
        case DelimitedFormat():
            flags = ["ESCAPE"] * fmt.escape + ["REMOVEQUOTES"] * fmt.remove_quotes
            return [f"DELIMITER AS {quote_literal(fmt.delimiter)}", *flags, *_header(fmt)]
        case FixedWidthFormat():
            spec = ",".join(f"{c.name}:{c.width}" for c in fmt.columns)
            return [f"FIXEDWIDTH {quote_literal(spec)}", *_header(fmt)]
        case JsonFormat() | AvroFormat():
            argument = fmt.jsonpaths_url or fmt.mode.replace("_", " ")
            clause = f"FORMAT AS {fmt.type.upper()} {quote_literal(argument)}"
            return [clause, *(_header(fmt) if isinstance(fmt, JsonFormat) else [])]
        case ParquetFormat() | OrcFormat():
            # ingest-super.html: "FORMAT PARQUET SERIALIZETOJSON".
            return [f"FORMAT AS {fmt.type.upper()}", *["SERIALIZETOJSON"] * fmt.serialize_to_json]
        case _:
            assert_never(fmt)


def _header(fmt: CsvFormat | DelimitedFormat | FixedWidthFormat | JsonFormat) -> list[str]:
    return [f"IGNOREHEADER {fmt.ignore_header_rows}"] if fmt.ignore_header_rows else []


def _keyword(keyword: str, on: bool | None) -> str | None:
    return keyword if on else None


def _keyword_literal(keyword: str, value: str | None) -> str | None:
    return None if value is None else f"{keyword} {quote_literal(value)}"


def _conversions(o: CopyOptions) -> list[str]:
    inv = o.accept_inv_chars
    parts = [
        None if o.compression == "none" else o.compression.upper(),
        None if o.encoding is None else f"ENCODING AS {o.encoding.upper()}",
        _keyword_literal("ACCEPTINVCHARS AS", inv) if isinstance(inv, str) else None,
        _keyword("ACCEPTINVCHARS", inv is True),
        _keyword("BLANKSASNULL", o.blanks_as_null),
        _keyword_literal("DATEFORMAT AS", o.date_format),
        _keyword("EMPTYASNULL", o.empty_as_null),
        _keyword("EXPLICIT_IDS", o.explicit_ids),
        _keyword("FILLRECORD", o.fill_record),
        _keyword("IGNOREBLANKLINES", o.ignore_blank_lines),
        _keyword_literal("NULL AS", o.null_as),
        _keyword("ROUNDEC", o.round_dec),
        _keyword_literal("TIMEFORMAT AS", o.time_format),
        _keyword("TRIMBLANKS", o.trim_blanks),
        _keyword("TRUNCATECOLUMNS", o.truncate_columns),
        None if o.comp_update is None else f"COMPUPDATE {o.comp_update.upper()}",
        None if o.max_error is None else f"MAXERROR AS {o.max_error}",
        None if o.stat_update is None else f"STATUPDATE {'ON' if o.stat_update else 'OFF'}",
    ]
    return [p for p in parts if p]


# ---------------------------------------------------------------------------------------------
# Redaction for logs and notifications.

_SECRET_WORDS = frozenset(
    {
        "ACCESS_KEY_ID",
        "SECRET_ACCESS_KEY",
        "SESSION_TOKEN",
        "MASTER_SYMMETRIC_KEY",
        "CREDENTIALS",
        "PASSWORD",
    }
)
_TRANSPARENT_WORDS = frozenset({"AS", "WITH"})
# Redshift's lexing, forgiving: an unterminated literal or identifier runs to the end.
_LEXEME = re.compile(
    r"""(?P<space>\s+)
      | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<literal>'(?:[^'\\]|''|\\.)*(?:'|\\?\Z))
      | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
      | (?P<other>.)""",
    re.S | re.X,
)
_CREDENTIAL_PAIR = re.compile(
    r"(aws_access_key_id|aws_secret_access_key|token|master_symmetric_key|password)\s*="
    r"(?:[^;'\\]|''|\\.)*",
    re.I,
)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def redact(sql: str, *, secrets: CopySecrets | None = None) -> str:
    """`sql` with every secret value masked, for logs and notifications.

    Masks the literal after ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, MASTER_SYMMETRIC_KEY,
    CREDENTIALS and PASSWORD, `key=value` credential pairs inside any literal, and, when `secrets`
    is given, every occurrence of those values anywhere.
    """
    for value in _values(secrets):
        sql = sql.replace(quote_literal(value)[1:-1], MASK).replace(value, MASK)
    out: list[str] = []
    previous = ""
    for match in _LEXEME.finditer(sql):
        kind, text = match.lastgroup, match.group()
        if kind == "literal":
            text = f"'{MASK}'" if previous in _SECRET_WORDS else _CREDENTIAL_PAIR.sub(_mask, text)
        if kind == "word" and text.upper() not in _TRANSPARENT_WORDS:
            previous = text.upper()
        elif kind not in {"space", "word"}:
            previous = ""
        out.append(text)
    return "".join(out)


def _mask(match: re.Match[str]) -> str:
    return f"{match.group(1)}={MASK}"


def _values(secrets: CopySecrets | None) -> list[str]:
    if secrets is None:
        return []
    values = (
        secrets.access_key_id,
        secrets.secret_access_key,
        secrets.session_token,
        secrets.master_symmetric_key,
    )
    # Longest first, so a secret that contains another is masked whole.
    usable = (v for v in values if v and len(v) >= _MIN_SECRET_LENGTH and "\x00" not in v)
    return sorted(usable, key=len, reverse=True)


# ---------------------------------------------------------------------------------------------
# Upsert and truncate.


def build_merge(
    target_table: str,
    staging_table: str,
    key_columns: Sequence[str],
    columns: Sequence[str] | None,
) -> list[str]:
    """Upsert statements, to run in one transaction with the COPY between the first two:

    1. `CREATE TEMP TABLE "stage" (LIKE "s"."target")`
    2. (the caller's COPY into the staging table, built with `build_copy`)
    3. `DELETE FROM target USING stage WHERE target.k = stage.k AND ...`
    4. `INSERT INTO target [(cols)] SELECT cols|* FROM stage`
    5. `DROP TABLE "stage"`

    Rows whose key is NULL never match, so they are inserted, not replaced; duplicate keys within
    one batch are all inserted.
    """
    if not key_columns:
        raise ValueError("an upsert needs at least one key column")
    if duplicates(list(key_columns)):
        raise ValueError(f"duplicate key column in {list(key_columns)}")
    listed = {folded(c) for c in columns or []}
    missing = [k for k in key_columns if columns and folded(k) not in listed]
    if missing:
        raise ValueError(f"key columns {missing} are not in the column list")
    if folded(staging_table) == folded(split_table_name(target_table)[1]):
        raise ValueError("the staging table needs a name other than the target's")
    target, stage = quote_ident(target_table), quote_name(staging_table)
    matches = " AND ".join(
        f"{target}.{quote_name(k)} = {stage}.{quote_name(k)}" for k in key_columns
    )
    if columns:
        names = _column_list(columns)
        insert = f"INSERT INTO {target} {names} SELECT {names[1:-1]} FROM {stage}"
    else:
        insert = f"INSERT INTO {target} SELECT * FROM {stage}"
    return [
        f"CREATE TEMP TABLE {stage} (LIKE {target})",
        f"DELETE FROM {target} USING {stage} WHERE {matches}",
        insert,
        f"DROP TABLE {stage}",
    ]


def build_truncate(table: str, *, in_transaction: bool = True) -> str:
    """Empty a table before a load.

    Inside the load's transaction this is `DELETE FROM`: Redshift's TRUNCATE commits the transaction
    it runs in, which would publish an empty table (and any earlier statements) before the COPY
    succeeds. `in_transaction=False` gives the faster `TRUNCATE TABLE` for standalone use.
    """
    name = quote_ident(table)
    return f"DELETE FROM {name}" if in_transaction else f"TRUNCATE TABLE {name}"
