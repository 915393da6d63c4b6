"""Parsing Redshift COPY statements into a CopySpec (pure: no database, no S3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loader.copy_sql import quote_literal  # Redshift literals: what the loader sends
from redshift_standin.copy_parser import is_s3_copy, mask_secrets, parse_copy
from redshift_standin.copy_spec import AuthKind, Compression, DataFormat, TableRef
from redshift_standin.errors import CopySyntaxError, NotEmulatedError, UnsupportedCopyOptionError
from redshift_standin.sql_tokens import split_statements, tokenize


def test_minimal_copy_defaults_to_pipe_delimited_text() -> None:
    spec = parse_copy("COPY events FROM 's3://bucket/key'")

    assert spec.table == TableRef("events")
    assert spec.columns is None
    assert spec.source == "s3://bucket/key"
    assert spec.data_format is DataFormat.TEXT
    assert spec.field_delimiter == "|"
    assert spec.null_string == "\\N"
    assert spec.max_error == 0
    assert spec.authorization is AuthKind.NONE


def test_loader_style_copy_with_every_common_option() -> None:
    spec = parse_copy(
        'copy "Sales"."Orders" (ID, "Amount", note) from \'s3://m/manifests/manifest-1\' '
        "with credentials as 'aws_access_key_id=AK;aws_secret_access_key=SK' manifest "
        "format as csv quote as '''' delimiter '|' ignoreheader as 2 gzip "
        "dateformat as 'auto' timeformat 'epochmillisecs' emptyasnull blanksasnull "
        "acceptinvchars as '^' truncatecolumns maxerror as 10 compupdate off statupdate on "
        "region as 'eu-west-1' fillrecord trimblanks ignoreblanklines encoding as utf8 roundec "
        "explicit_ids null as 'NULL';"
    )

    assert spec.table == TableRef("Orders", schema="Sales")
    assert spec.table.sql() == '"Sales"."Orders"'
    assert spec.columns == ("id", "Amount", "note")
    assert spec.manifest is True
    assert spec.authorization is AuthKind.CREDENTIALS
    assert spec.data_format is DataFormat.CSV
    assert (spec.quote, spec.delimiter, spec.ignore_header) == ("'", "|", 2)
    assert spec.compression is Compression.GZIP
    assert (spec.date_format, spec.time_format) == ("auto", "epochmillisecs")
    assert spec.empty_as_null and spec.blanks_as_null and spec.truncate_columns
    assert spec.accept_inv_chars == "^"
    assert spec.max_error == 10
    assert (spec.comp_update, spec.stat_update) == (False, True)
    assert spec.region == "eu-west-1"
    assert spec.fill_record and spec.trim_blanks and spec.ignore_blank_lines
    assert spec.encoding == "UTF8"
    assert spec.round_decimals and spec.explicit_ids
    assert spec.null_as == "NULL"


@pytest.mark.parametrize(
    ("options", "fmt", "argument"),
    [
        ("CSV", DataFormat.CSV, None),
        ("FORMAT CSV", DataFormat.CSV, None),
        ("FORMAT AS CSV", DataFormat.CSV, None),
        ("JSON 'auto'", DataFormat.JSON, "auto"),
        ("FORMAT AS JSON 'AUTO  IGNORECASE'", DataFormat.JSON, "auto ignorecase"),
        ("JSON AS 's3://b/paths.json'", DataFormat.JSON, "s3://b/paths.json"),
        ("FORMAT JSON", DataFormat.JSON, "auto"),
        ("FORMAT AS AVRO 'auto'", DataFormat.AVRO, "auto"),
        ("FORMAT AS PARQUET", DataFormat.PARQUET, None),
        ("ORC", DataFormat.ORC, None),
        ("FIXEDWIDTH 'a:1,b:2'", DataFormat.FIXEDWIDTH, "a:1,b:2"),
        ("DELIMITER ','", DataFormat.TEXT, None),
    ],
)
def test_formats(options: str, fmt: DataFormat, argument: str | None) -> None:
    spec = parse_copy(f"COPY t FROM 's3://b/k' IAM_ROLE default {options}")

    assert spec.data_format is fmt
    assert spec.format_argument == argument


@pytest.mark.parametrize(
    ("auth", "kind", "role"),
    [
        ("IAM_ROLE default", AuthKind.IAM_ROLE, "default"),
        (
            "IAM_ROLE 'arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b'",
            AuthKind.IAM_ROLE,
            "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b",
        ),
        ("CREDENTIALS 'aws_iam_role=arn:aws:iam::1:role/x'", AuthKind.CREDENTIALS, None),
        (
            "ACCESS_KEY_ID 'AK' SECRET_ACCESS_KEY 'SK' SESSION_TOKEN 'ST'",
            AuthKind.ACCESS_KEYS,
            None,
        ),
    ],
)
def test_authorization_is_parsed_and_secrets_dropped(
    auth: str, kind: AuthKind, role: str | None
) -> None:
    spec = parse_copy(f"COPY t FROM 's3://b/k' {auth} CSV")

    assert spec.authorization is kind
    assert spec.iam_role == role
    assert "SK" not in repr(spec) and "ST" not in repr(spec)


def test_keywords_are_case_insensitive_and_with_is_optional() -> None:
    lower = parse_copy("copy t from 's3://b/k' with iam_role default with csv gzip maxerror 3")
    upper = parse_copy("COPY T FROM 's3://b/k' IAM_ROLE DEFAULT CSV GZIP MAXERROR AS 3")

    assert lower == upper


def test_quoted_literals_and_identifiers_keep_their_content() -> None:
    spec = parse_copy("""COPY "we""ird" FROM 's3://b/it''s; a key' DELIMITER '\\t' NULL AS ''""")

    assert spec.table.name == 'we"ird'
    assert spec.source == "s3://b/it's; a key"
    assert spec.delimiter == "\t"
    assert spec.null_as == ""


def test_comments_are_ignored() -> None:
    spec = parse_copy("COPY t -- target\nFROM /* where */ 's3://b/k' CSV")

    assert spec.data_format is DataFormat.CSV


@pytest.mark.parametrize("option", ["SHAPEFILE", "BOGUS", "ACCEPTANYDATE", "PARTITION"])
def test_unknown_option_is_named_in_the_error(option: str) -> None:
    with pytest.raises(UnsupportedCopyOptionError) as failure:
        parse_copy(f"COPY t FROM 's3://b/k' CSV {option}")

    assert failure.value.option == option
    assert option in str(failure.value)


@pytest.mark.parametrize(
    "sql",
    [
        "COPY t FROM 's3://b/k' CSV CSV",  # redundant
        "COPY t FROM 's3://b/k' CSV ESCAPE",  # Redshift: CSV is incompatible with ESCAPE
        "COPY t FROM 's3://b/k' CSV REMOVEQUOTES",
        "COPY t FROM 's3://b/k' QUOTE '\"'",  # QUOTE needs CSV
        "COPY t FROM 's3://b/k' JSON 'auto' DELIMITER ','",
        "COPY t FROM 's3://b/k' DELIMITER '||'",
        "COPY t FROM 's3://b/k' IGNOREHEADER 'x'",
        "COPY t FROM 's3://b/k' MAXERROR 100001",
        "COPY t FROM 's3://b/k' IAM_ROLE default CREDENTIALS 'x'",
        "COPY t FROM 's3://b/k' SECRET_ACCESS_KEY 'x'",
        "COPY t FROM 's3://b/k' JSON 'sometimes'",
        "COPY t (a, a) FROM 's3://b/k'",
        "COPY t FROM 's3://b/k' CSV; SELECT 1",
        "COPY t FROM 's3://b/k' DELIMITER 'unterminated",
        "COPY FROM 's3://b/k'",
        "COPY t FROM",
    ],
)
def test_invalid_statements_raise_copy_syntax_error(sql: str) -> None:
    with pytest.raises(CopySyntaxError):
        parse_copy(sql)


def test_non_s3_sources_are_not_emulated() -> None:
    with pytest.raises(NotEmulatedError):
        parse_copy("COPY t FROM 'dynamodb://table' READRATIO 50")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("COPY t FROM 's3://b/k' CSV", True),
        ("copy s.t (a) from 'S3://b/k'", True),
        ("COPY t FROM STDIN", False),
        ("COPY t TO STDOUT", False),
        ("SELECT 'COPY t FROM ''s3://b'''", False),
        ("COPY t FROM '/tmp/file'", False),
    ],
)
def test_is_s3_copy(sql: str, expected: bool) -> None:
    (statement,) = split_statements(tokenize(sql))

    assert is_s3_copy(statement) is expected


def test_mask_secrets_hides_every_credential() -> None:
    sql = (
        "COPY t FROM 's3://b/k' CREDENTIALS 'aws_access_key_id=AKIA1;aws_secret_access_key=S1' "
        "ACCESS_KEY_ID 'AKIA2' SECRET_ACCESS_KEY AS 'S2' SESSION_TOKEN 'T3' CSV"
    )

    masked = mask_secrets(sql)

    for secret in ("AKIA1", "S1", "AKIA2", "S2", "T3"):
        assert secret not in masked
    assert "s3://b/k" in masked


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=40,
    )
)
def test_any_literal_round_trips_through_the_tokenizer(value: str) -> None:
    (token,) = tokenize(quote_literal(value))

    assert token.value == value


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=30,
    )
)
def test_masked_secret_never_appears(secret: str) -> None:
    sql = f"COPY t FROM 's3://x/y' SECRET_ACCESS_KEY {quote_literal(secret)} ACCESS_KEY_ID 'k'"

    masked = mask_secrets(sql)

    assert masked == "COPY t FROM 's3://x/y' SECRET_ACCESS_KEY '***' ACCESS_KEY_ID '***'"
