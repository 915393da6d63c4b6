"""Configurations Redshift would reject are refused (or normalized) when they are validated, and
configurations Redshift accepts are neither refused nor mangled (issue 14, part 1).

Each case names the Redshift Database Developer Guide page (under
https://docs.aws.amazon.com/redshift/latest/dg/) and the sentence it relies on.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from config.copy_options import CopyOptions
from config.models import PrefixConfig
from config.targets import CopyAuthorization, PostgresTarget, RedshiftTarget
from loader.copy_sql import build_copy, build_merge, quote_ident

URL = "s3://manifests-bucket/m/batch-1.json"
ROLE = "arn:aws:iam::123456789012:role/Load"


def refused(model: type[Any], **fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        model(**fields)
    return str(caught.value)


def target(**fields: Any) -> RedshiftTarget:
    return RedshiftTarget(
        **{"name": "wh", "table": "t", "host": "h", "cluster_identifier": "c", **fields}
    )


def copy_text(options: CopyOptions, table: str = "t", columns: list[str] | None = None) -> str:
    return build_copy(table, columns, URL, options, CopyAuthorization())


# --- keywords are case-sensitive ------------------------------------------------------------
# copy-parameters-data-conversion.html, DATEFORMAT: "The 'auto' keyword is case-sensitive."
# TIMEFORMAT: "The 'auto', 'epochsecs', and 'epochmillisecs' keywords are case-sensitive."


@pytest.mark.parametrize(
    ("field", "written", "emitted"),
    [
        ("date_format", "AUTO", "DATEFORMAT AS 'auto'"),
        ("date_format", "Auto", "DATEFORMAT AS 'auto'"),
        ("time_format", "AUTO", "TIMEFORMAT AS 'auto'"),
        ("time_format", "EPOCHSECS", "TIMEFORMAT AS 'epochsecs'"),
        ("time_format", "EpochMilliSecs", "TIMEFORMAT AS 'epochmillisecs'"),
    ],
)
def test_format_keywords_are_normalized_to_the_case_redshift_requires(
    field: str, written: str, emitted: str
) -> None:
    options = CopyOptions(**{field: written})
    assert getattr(options, field) == emitted.split("'")[1]
    assert emitted in copy_text(options)


@pytest.mark.parametrize("keyword", ["epochsecs", "EPOCHMILLISECS"])
def test_epoch_keywords_are_refused_for_dates(keyword: str) -> None:
    # DATEFORMAT [AS] {'dateformat_string' | 'auto'}: the epoch keywords belong to TIMEFORMAT.
    assert "TIMEFORMAT" in refused(CopyOptions, date_format=keyword)


def test_format_strings_keep_their_case() -> None:
    assert CopyOptions(date_format="DD-MON-YYYY").date_format == "DD-MON-YYYY"


# --- values Redshift reserves or cannot combine ---------------------------------------------


@pytest.mark.parametrize("null_as", ["\n", "a\nb", "NULL\n"])
def test_null_as_with_a_newline_is_refused(null_as: str) -> None:
    # NULL AS: "Do not use '\n' (newline) for the null_string value. Amazon Redshift reserves
    # '\n' for use as a line delimiter."
    assert "newline" in refused(CopyOptions, null_as=null_as)


@pytest.mark.parametrize("encoding", ["utf16", "utf16le", "utf16be"])
def test_fixed_width_input_must_be_utf8(encoding: str) -> None:
    # ENCODING: "Fixed-width data files must use UTF-8 encoding."
    fmt = {"type": "fixedwidth", "columns": ["a:1"]}
    assert "UTF-8" in refused(CopyOptions, format=fmt, encoding=encoding)
    assert CopyOptions(format=fmt, encoding="utf8").encoding == "utf8"


# --- identifiers ------------------------------------------------------------------------------
# r_names.html: "Identifiers must consist of only UTF-8 printable characters." ... "ASCII letters
# in standard and delimited identifiers are case-insensitive and are folded to lowercase".


@pytest.mark.parametrize(
    "fields",
    [
        {"table": "sa\tles"},
        {"table": "s.sa\nles"},
        {"columns": ["id", "na\tme"]},
        {"columns": ["id\x7f"]},
        {"merge": {"key_columns": ["k\n"]}},
    ],
)
def test_names_with_control_characters_are_refused(fields: dict[str, Any]) -> None:
    assert "printable" in refused(
        RedshiftTarget, name="wh", host="h", cluster_identifier="c", **{"table": "t", **fields}
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"columns": ["Id", "id"]},
        {"columns": ["Name", "NAME", "x"]},
        {"merge": {"key_columns": ["Id", "ID"]}},
    ],
)
def test_names_that_fold_to_the_same_identifier_are_refused(fields: dict[str, Any]) -> None:
    assert "same identifier" in refused(
        RedshiftTarget, name="wh", table="t", host="h", cluster_identifier="c", **fields
    )


def test_merge_keys_must_be_in_the_column_list_and_match_it_as_redshift_folds() -> None:
    # GIVEN key columns written in another case than the column list
    ok = target(columns=["ID", "name"], merge={"key_columns": ["id"]})
    assert ok.merge is not None
    # THEN a key missing from the list is refused when the configuration is validated
    message = refused(
        RedshiftTarget,
        name="wh",
        table="t",
        host="h",
        cluster_identifier="c",
        columns=["id", "name"],
        merge={"key_columns": ["other"]},
    )
    assert "other" in message
    statements = build_merge("t", "stage", ["id"], ["ID", "name"])
    assert '"t"."id" = "stage"."id"' in statements[1]


# --- ASCII only where AWS means ASCII -------------------------------------------------------


@pytest.mark.parametrize("region", ["eu-west-\u0661", "eu-west-\uff11", "eu-west-1\n", "éu-west-1"])
def test_regions_are_ascii(region: str) -> None:
    assert "region" in refused(CopyOptions, region=region)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662:role/r",
        "arn:aws:iam::123456789012:role/r\u00f4le",
        "arn:aws:iam::123456789012:role/r\u0663",
        "arn:aws:iam::123456789012:role/r\nx",
    ],
)
def test_iam_role_arns_are_ascii(arn: str) -> None:
    assert "IAM role ARN" in refused(CopyAuthorization, iam_roles=[arn])


@pytest.mark.parametrize(
    "arn", ["arn:aws:sns:eu-west-1:\u0661" + "1" * 11 + ":t", "arn:aws-nonsense", "arn:aws:sns:x"]
)
def test_topic_arns_are_checked_as_arns(arn: str) -> None:
    from config.models import Notifications

    assert "SNS topic ARN" in refused(Notifications, failure_topic_arn=arn)


@pytest.mark.parametrize(
    "key_id", ["AKIA' OR 'x", "AKIA EXAMPLE KEY 12", "short", "AKIA\u0661" * 5]
)
def test_access_key_ids_are_not_free_text(key_id: str) -> None:
    # An access key id is 16 to 128 ASCII word characters (IAM API, AccessKeyMetadata).
    message = refused(CopyAuthorization, access_key_id=key_id, encrypted_secret_access_key="eA==")
    assert "access key id" in message


def test_a_well_formed_access_key_id_is_accepted() -> None:
    auth = CopyAuthorization(
        access_key_id="AKIAIOSFODNN7EXAMPLE", encrypted_secret_access_key="eA=="
    )
    assert auth.access_key_id == "AKIAIOSFODNN7EXAMPLE"


# --- extra_options: each parameter checked against the documented list ------------------------


@pytest.mark.parametrize(
    ("extra", "fields", "named"),
    [
        ("FOO", {}, "not a COPY parameter"),
        ("DROP TABLE t", {}, "DROP is not a COPY parameter"),
        ("COMPROW 100000", {}, "did you mean COMPROWS"),
        # copy-parameters-data-load.html, COMPROWS: "The accepted range for this argument is a
        # number between 1000 and 2147483647".
        ("COMPROWS 500", {}, "between 1000 and 2147483647"),
        ("COMPROWS 2147483648", {}, "between 1000 and 2147483647"),
        ("COMPROWS", {}, "COMPROWS takes a number"),
        ("COMPROWS 'x'", {}, "COMPROWS takes a number"),
        ("COMPROWS 1000.5", {}, "COMPROWS takes a number"),
        ("COMPROWS 1000 COMPROWS 2000", {}, "more than once"),
        ("ACCEPTANYDATE 5", {}, "5"),
        # READRATIO is a parameter of COPY from DynamoDB, SSH of COPY from remote hosts.
        ("READRATIO 50", {}, "DynamoDB"),
        ("SSH", {}, "remote host"),
        # A second data format.
        ("SHAPEFILE", {}, "format.type"),
        ("SHAPEFILE SIMPLIFY AUTO", {}, "format.type"),
        ("SIMPLIFY AUTO", {}, "SHAPEFILE"),
        # copy-usage_notes-copy-from-columnar.html: "Only the following COPY parameters are
        # supported" (ACCEPTINVCHARS, FILLRECORD, ..., STATUPDATE, EXPLICIT_IDS);
        # "ACCEPTANYDATE and MAXERROR aren't supported for columnar data types."
        ("ACCEPTANYDATE", {"format": {"type": "parquet"}}, "Parquet and ORC"),
        ("COMPROWS 100000", {"format": {"type": "orc"}}, "Parquet and ORC"),
        ("IGNOREALLERRORS", {"format": {"type": "parquet"}}, "Parquet and ORC"),
        # copy-parameters-data-load.html: "You can't specify the IGNOREALLERRORS option if you
        # specify the MAXERROR option."
        ("IGNOREALLERRORS", {"max_error": 10}, "max_error"),
        # NOLOAD checks the files without loading them: the ledger would record a load.
        ("NOLOAD", {}, "NOLOAD"),
        # SERIALIZETOJSON belongs right after FORMAT PARQUET/ORC: it is a typed field.
        ("SERIALIZETOJSON", {"format": {"type": "parquet"}}, "format.serialize_to_json"),
    ],
)
def test_extra_options_are_checked_parameter_by_parameter(
    extra: str, fields: dict[str, Any], named: str
) -> None:
    message = refused(CopyOptions, extra_options=extra, **fields)
    assert "extra_options" in message
    assert named in message


@pytest.mark.parametrize(
    ("extra", "kept"),
    [
        ("acceptanydate", "ACCEPTANYDATE"),
        ("COMPROWS 1000", "COMPROWS 1000"),
        ("compRows   2147483647 IgnoreAllErrors", "COMPROWS 2147483647 IGNOREALLERRORS"),
    ],
)
def test_documented_parameters_without_a_typed_field_pass_normalized(extra: str, kept: str) -> None:
    options = CopyOptions(extra_options=extra)
    assert options.extra_options == kept
    assert copy_text(options).endswith(kept)


def test_serialize_to_json_follows_the_columnar_format() -> None:
    # ingest-super.html: "FORMAT PARQUET SERIALIZETOJSON".
    for kind in ("parquet", "orc"):
        options = CopyOptions(format={"type": kind, "serialize_to_json": True})
        assert f"FORMAT AS {kind.upper()} SERIALIZETOJSON" in copy_text(options)
    assert "serialize_to_json" in refused(
        CopyOptions, format={"type": "csv", "serialize_to_json": True}
    )


# --- accepted by Redshift, so accepted here and emitted as meant ------------------------------


def test_json_takes_emptyasnull_blanksasnull_and_ignoreheader() -> None:
    # copy-parameters-data-format.html, JSON: "If IGNOREHEADER is specified, COPY ignores the
    # specified number of lines in the JSON data." ... "If EMPTYASNULL is specified, COPY loads
    # empty strings for CHAR and VARCHAR fields as NULL." BLANKSASNULL is not among "The
    # following options aren't supported with JSON".
    options = CopyOptions(
        format={"type": "json", "ignore_header_rows": 2}, empty_as_null=True, blanks_as_null=True
    )
    sql = copy_text(options)
    assert "FORMAT AS JSON 'auto' IGNOREHEADER 2" in sql
    assert "BLANKSASNULL" in sql
    assert "EMPTYASNULL" in sql


@pytest.mark.parametrize("kind", ["json", "avro"])
def test_noshred_loads_each_document_into_one_super_column(kind: str) -> None:
    # ingest-super.html: "specify the noshred option in the FORMAT JSON clause" ... "You can use
    # these options with the JSON or Avro formats."
    options = CopyOptions(format={"type": kind, "mode": "noshred"})
    assert f"FORMAT AS {kind.upper()} 'noshred'" in copy_text(options)


@pytest.mark.parametrize(
    ("written", "meant"),
    [("|~|", "|~|"), ("::", "::"), ("\\302\\246", "\u00a6"), ("\\t\\t", "\t\t"), ("¦ì", "¦ì")],
)
def test_multi_character_delimiters_are_accepted(written: str, meant: str) -> None:
    # r_COPY_command_examples.html, "COPY with a multibyte delimiter and the ENCODING option":
    # the delimiter is given in octal as UTF-8 code units, or as the characters themselves.
    for kind in ("delimited", "csv"):
        options = CopyOptions(format={"type": kind, "delimiter": written})
        assert options.format.delimiter == meant  # type: ignore[union-attr]
        assert "DELIMITER AS '" + meant.replace("\\", "\\\\") + "'" in copy_text(options)


def test_a_csv_quote_inside_the_delimiter_is_refused() -> None:
    assert "quote_char" in refused(CopyOptions, format={"type": "csv", "delimiter": '|"|'})


@pytest.mark.parametrize(
    ("table", "quoted"),
    [
        ('"my.table"', '"my.table"'),
        ('s."a.b"', '"s"."a.b"'),
        ('"s.x"."a.b"', '"s.x"."a.b"'),
        ('"we""ird"', '"we""ird"'),
        ("plain", '"plain"'),
        ("s.t", '"s"."t"'),
    ],
)
def test_a_quoted_table_name_is_one_identifier_even_with_a_dot(table: str, quoted: str) -> None:
    assert target(table=table).table == table
    assert quote_ident(table) == quoted
    assert copy_text(CopyOptions(), table=table).startswith(f"COPY {quoted} FROM")


@pytest.mark.parametrize("table", ['"open', '"a"b', "a..b", "a.b.c", '"a".', ""])
def test_malformed_table_names_are_refused(table: str) -> None:
    refused(RedshiftTarget, name="wh", table=table, host="h", cluster_identifier="c")


def test_column_names_keep_their_blanks() -> None:
    # r_names.html: a delimited identifier "can contain any standard UTF-8 printable characters
    # other than the double quote itself" (spaces included).
    t = target(columns=[" a", "b "], merge={"key_columns": [" a"]})
    assert t.columns == [" a", "b "]
    assert t.merge is not None and t.merge.key_columns == [" a"]
    assert '(" a","b ")' in copy_text(CopyOptions(), columns=t.columns)


def test_postgres_targets_refuse_a_multi_character_delimiter_at_validation() -> None:
    from loader.loading.targets.pg_input import option_problems

    options = CopyOptions(format={"type": "delimited", "delimiter": "|~|"})
    problems = option_problems(options, zstd_available=True)
    assert any("one character" in p for p in problems)
    # and PrefixConfig itself still accepts it for Redshift targets
    config = PrefixConfig(
        prefix="b-1/in",
        thresholds={"max_files": 1},
        manifest={"bucket": "m-1"},
        targets=[target().model_dump()],
        copy_options=options,
    )
    assert config.copy_options.format.delimiter == "|~|"  # type: ignore[union-attr]
    assert PostgresTarget(name="pg", table="t", dsn="host=x").table == "t"


def test_postgres_targets_refuse_noshred_rather_than_shred_it() -> None:
    from loader.errors import ConfigurationError
    from loader.loading.targets.pg_input import pg_copy_plan

    with pytest.raises(ConfigurationError, match="noshred"):
        pg_copy_plan(CopyOptions(format={"type": "json", "mode": "noshred"}), zstd_available=True)


@pytest.mark.parametrize("written", ["YYYY-MM-DD HH:MI:SSOF", "YYYY-MM-DD HH:MI:SS TZ", "HH:MI tz"])
def test_time_formats_cannot_name_a_time_zone(written: str) -> None:
    # r_DATEFORMAT_and_TIMEFORMAT_strings.html: "You can't include a time zone specifier (TZ, tz,
    # or OF) in the timeformat_string." ... "To load TIMESTAMPTZ data that is in a format
    # different from the default format, specify 'auto'."
    assert "time zone" in refused(CopyOptions, time_format=written)
