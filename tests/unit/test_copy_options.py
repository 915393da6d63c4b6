"""Specification of CopyOptions: defaults, formats, rejected contradictions, the extra_options
escape hatch and the import of the original loader's fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from config.copy_options import CopyOptions, convert_original
from config.formats import (
    AvroFormat,
    CsvFormat,
    DelimitedFormat,
    FixedWidthColumn,
    FixedWidthFormat,
    JsonFormat,
    OrcFormat,
    ParquetFormat,
)


def rejected(**fields: Any) -> str:
    """The validation message for options that must not validate."""
    with pytest.raises(ValidationError) as caught:
        CopyOptions(**fields)
    return str(caught.value)


# --- defaults ---------------------------------------------------------------------------------


def test_default_options_mean_plain_csv_with_a_comma() -> None:
    # GIVEN nothing WHEN options are built THEN it is CSV, ',' and '"', no other option
    options = CopyOptions()

    assert options.format == CsvFormat(delimiter=",", quote_char='"', ignore_header_rows=0)
    assert options.compression == "none"
    assert options.extra_options is None
    assert not options.encrypted


def test_options_are_frozen_and_reject_unknown_fields() -> None:
    options = CopyOptions()
    with pytest.raises(ValidationError):
        options.compression = "gzip"
    assert "gzipped" in rejected(gzipped=True)


@pytest.mark.parametrize(
    "model",
    [CopyOptions, CsvFormat, DelimitedFormat, JsonFormat, AvroFormat, FixedWidthFormat],
)
def test_every_field_is_documented_for_editors_and_the_schema(model: type[BaseModel]) -> None:
    undocumented = [
        name for name, info in model.model_fields.items() if name != "type" and not info.description
    ]
    assert undocumented == []


# --- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "csv", "delimiter": ";"}, CsvFormat(delimiter=";")),
        ({"type": "delimited"}, DelimitedFormat(delimiter="|")),
        ({"type": "delimited", "escape": True}, DelimitedFormat(escape=True)),
        ({"type": "json"}, JsonFormat(mode="auto")),
        ({"type": "avro", "mode": "auto_ignorecase"}, AvroFormat(mode="auto_ignorecase")),
        ({"type": "parquet"}, ParquetFormat()),
        ({"type": "orc"}, OrcFormat()),
        (
            {"type": "fixedwidth", "columns": ["id:5", {"name": "name", "width": 20}]},
            FixedWidthFormat(
                columns=[
                    FixedWidthColumn(name="id", width=5),
                    FixedWidthColumn(name="name", width=20),
                ]
            ),
        ),
    ],
)
def test_format_is_chosen_by_its_type(data: dict[str, Any], expected: BaseModel) -> None:
    assert CopyOptions(format=data).format == expected


@pytest.mark.parametrize(
    ("written", "meant"),
    [("\t", "\t"), ("\\t", "\t"), ("\\001", "\x01"), ("\\174", "|"), ("\\", "\\"), ("'", "'")],
)
def test_delimiter_is_one_character_and_accepts_redshift_escapes(written: str, meant: str) -> None:
    assert CopyOptions(format={"type": "delimited", "delimiter": written}).format == (
        DelimitedFormat(delimiter=meant)
    )


@pytest.mark.parametrize(
    "options",
    [
        CopyOptions(),
        CopyOptions(format={"type": "csv", "delimiter": "\t", "ignore_header_rows": 2}),
        CopyOptions(
            format={"type": "json", "mode": "jsonpaths", "jsonpaths_url": "s3://b-1/p.json"}
        ),
        CopyOptions(format={"type": "fixedwidth", "columns": ["a:1"]}, null_as="\\N"),
        CopyOptions(accept_inv_chars="^", stat_update=False, extra_options="ACCEPTANYDATE"),
    ],
)
def test_options_survive_a_json_round_trip_as_stored_in_dynamodb(options: CopyOptions) -> None:
    assert CopyOptions.model_validate_json(options.model_dump_json()) == options


def test_enumerated_values_are_case_insensitive() -> None:
    options = CopyOptions(compression="GZIP", encoding="UTF16LE", comp_update="Off")
    assert (options.compression, options.encoding, options.comp_update) == (
        "gzip",
        "utf16le",
        "off",
    )


# --- contradictions ---------------------------------------------------------------------------

PARQUET = {"type": "parquet"}
ORC = {"type": "orc"}
JSON = {"type": "json"}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"format": PARQUET, "compression": "gzip"}, "compression"),
        ({"format": ORC, "compression": "zstd"}, "compression"),
        ({"format": PARQUET, "date_format": "auto"}, "date_format"),
        ({"format": ORC, "time_format": "epochsecs"}, "time_format"),
        ({"format": PARQUET, "null_as": "\\N"}, "null_as"),
        ({"format": {"type": "parquet", "ignore_header_rows": 1}}, "format.ignore_header_rows"),
        ({"format": {"type": "orc", "delimiter": ","}}, "format.delimiter"),
        ({"format": PARQUET, "max_error": 10}, "max_error"),
        ({"format": PARQUET, "region": "us-east-1"}, "region"),
        ({"format": ORC, "empty_as_null": True}, "empty_as_null"),
        ({"format": PARQUET, "trim_blanks": True}, "trim_blanks"),
        ({"format": {"type": "json", "delimiter": ","}}, "format.delimiter"),
        ({"format": {"type": "json", "quote_char": "'"}}, "format.quote_char"),
        ({"format": {"type": "avro", "ignore_header_rows": 1}}, "format.ignore_header_rows"),
        ({"format": {"type": "avro"}, "empty_as_null": True}, "empty_as_null"),
        ({"format": {"type": "avro"}, "blanks_as_null": True}, "blanks_as_null"),
        ({"format": JSON, "null_as": ""}, "null_as"),
        ({"format": JSON, "ignore_blank_lines": True}, "ignore_blank_lines"),
        ({"format": {"type": "csv", "escape": True}}, "format.escape"),
        ({"format": {"type": "csv", "remove_quotes": True}}, "format.remove_quotes"),
        ({"format": {"type": "fixedwidth", "columns": ["a:1"], "delimiter": "|"}}, "delimiter"),
        ({"format": {"type": "delimited", "quote_char": "'"}}, "format.quote_char"),
        ({"max_error": -1}, "max_error"),
        ({"format": {"type": "csv", "delimiter": ',"'}}, "delimiter"),
        ({"format": {"type": "csv", "delimiter": "a\nb"}}, "delimiter"),
        ({"format": {"type": "delimited", "delimiter": "\\377\\376"}}, "UTF-8"),
        ({"format": {"type": "csv", "delimiter": ""}}, "delimiter"),
        ({"format": {"type": "csv", "delimiter": "\n"}}, "delimiter"),
        ({"format": {"type": "csv", "delimiter": "\x00"}}, "delimiter"),
        ({"format": {"type": "csv", "quote_char": "''"}}, "quote_char"),
        ({"format": {"type": "csv", "quote_char": ","}}, "quote_char"),
        ({"format": {"type": "delimited", "delimiter": "\\", "escape": True}}, "format.escape"),
        ({"encrypted": True}, "encrypted_master_symmetric_key"),
        ({"encrypted_master_symmetric_key": "a2V5"}, "encrypted"),
        ({"encrypted": True, "encrypted_master_symmetric_key": "not base64!"}, "symmetric_key"),
        ({"format": {"type": "json", "mode": "jsonpaths"}}, "jsonpaths_url"),
        ({"format": {"type": "json", "jsonpaths_url": "s3://b-1/p.json"}}, "jsonpaths_url"),
        ({"format": {"type": "avro", "mode": "jsonpaths", "jsonpaths_url": "http://x/p"}}, "url"),
        ({"format": {"type": "fixedwidth", "columns": []}}, "columns"),
        ({"format": {"type": "fixedwidth", "columns": ["a,b:3"]}}, "name"),
        ({"format": {"type": "fixedwidth", "columns": ["a:0"]}}, "width"),
        ({"format": {"type": "fixedwidth", "columns": ["nowidth"]}}, "label:width"),
        ({"accept_inv_chars": "ab"}, "accept_inv_chars"),
        ({"accept_inv_chars": "é"}, "accept_inv_chars"),
        ({"region": "us-east-1'; DROP TABLE t; --"}, "region"),
        ({"date_format": "YYYY\nMM"}, "date_format"),
        ({"time_format": ""}, "time_format"),
        ({"null_as": "a\x00b"}, "null_as"),
        ({"compression": "snappy"}, "compression"),
        ({"encoding": "latin1"}, "encoding"),
    ],
)
def test_contradictory_or_invalid_options_are_rejected_naming_the_field(
    fields: dict[str, Any], named: str
) -> None:
    assert named in rejected(**fields)


def test_csv_with_escape_suggests_the_delimited_format() -> None:
    assert "use format type 'delimited'" in rejected(format={"type": "csv", "escape": True})


def test_every_misapplied_option_is_reported_at_once() -> None:
    message = rejected(format=PARQUET, compression="gzip", date_format="auto", max_error=1)
    assert all(name in message for name in ("compression", "date_format", "max_error"))


def test_columnar_formats_keep_the_options_redshift_allows_them() -> None:
    options = CopyOptions(
        format=PARQUET, accept_inv_chars=True, fill_record=True, stat_update=True, explicit_ids=True
    )
    assert options.format == ParquetFormat()


def test_encrypted_input_carries_its_kms_encrypted_key() -> None:
    options = CopyOptions(encrypted=True, encrypted_master_symmetric_key="AQICAHh+a2V5PT0=")
    assert options.encrypted_master_symmetric_key == "AQICAHh+a2V5PT0="


# --- extra_options ----------------------------------------------------------------------------


def test_extra_options_are_kept_normalised_to_single_spaces() -> None:
    options = CopyOptions(extra_options="  ACCEPTANYDATE\n  COMPROWS   100000 IGNOREALLERRORS ")
    assert options.extra_options == "ACCEPTANYDATE COMPROWS 100000 IGNOREALLERRORS"


def test_blank_extra_options_mean_none() -> None:
    assert CopyOptions(extra_options="   ").extra_options is None


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("ACCEPTANYDATE; DROP TABLE users", "';'"),
        ("ACCEPTANYDATE -- comment", "comment"),
        ("ACCEPTANYDATE /* x */", "comment"),
        ("COMPROWS 'unbalanced", "unbalanced quote"),
        ("X 'a'' ; DROP TABLE t; --", "unbalanced quote"),
        ('"quoted_ident"', "'\"'"),
        ("X 'it\\'s'", "backslash"),
        ("X (1)", "'('"),
        ("IAM_ROLE 'arn:aws:iam::123456789012:role/r'", "IAM_ROLE"),
        ("iam_role default", "IAM_ROLE"),
        ("CREDENTIALS 'aws_access_key_id=A;aws_secret_access_key=B'", "CREDENTIALS"),
        ("ACCESS_KEY_ID 'A' SECRET_ACCESS_KEY 'B'", "ACCESS_KEY_ID"),
        ("SECRET_ACCESS_KEY 'B'", "SECRET_ACCESS_KEY"),
        ("SESSION_TOKEN 'T'", "SESSION_TOKEN"),
        ("MASTER_SYMMETRIC_KEY 'K'", "MASTER_SYMMETRIC_KEY"),
        ("X 'aws_secret_access_key=B'", "credentials"),
        ("DATEFORMAT 'auto'", "date_format"),
        ("GZIP", "compression"),
        ("FORMAT AS JSON 'auto'", "format"),
        ("CSV", "format"),
        ("DELIMITER '|'", "format.delimiter"),
        ("IGNOREHEADER 1", "format.ignore_header_rows"),
        ("ESCAPE", "format.escape"),
        ("REMOVEQUOTES", "format.remove_quotes"),
        ("NULL AS 'x'", "null_as"),
        ("MAXERROR 5", "max_error"),
        ("REGION 'us-east-1'", "region"),
        ("ENCRYPTED", "encrypted"),
        ("MANIFEST", "the loader itself"),
        ("X \x00", "NUL"),
    ],
)
def test_extra_options_cannot_smuggle_sql_credentials_or_typed_options(
    extra: str, named: str
) -> None:
    message = rejected(extra_options=extra)
    assert "extra_options" in message
    assert named in message


# --- import from the original loader ----------------------------------------------------------


def test_original_csv_config_maps_delimiter_header_and_compression() -> None:
    # GIVEN the original's fields for a gzipped, pipe-delimited CSV with a header
    item = {"dataFormat": "csv", "csvDelimiter": "|", "ignoreCsvHeader": "Y", "compression": "GZIP"}

    # WHEN imported
    result = convert_original(item)

    # THEN the same COPY meaning is expressed with typed fields
    assert result.options == CopyOptions(
        format={"type": "csv", "delimiter": "|", "ignore_header_rows": 1}, compression="gzip"
    )
    assert result.notes == ()


@pytest.mark.parametrize(("flag", "rows"), [(True, 1), ("TRUE", 1), ("yes", 1), ("N", 0), ("", 0)])
def test_original_header_flag_follows_setup_boolean_rules(flag: object, rows: int) -> None:
    item = {"dataFormat": "CSV", "csvDelimiter": ",", "ignoreCsvHeader": flag}
    assert convert_original(item).options.format == CsvFormat(ignore_header_rows=rows)


def test_original_tab_delimiter_written_as_backslash_t_is_a_tab() -> None:
    item = {"dataFormat": "CSV", "csvDelimiter": "\\t"}
    assert convert_original(item).options.format == CsvFormat(delimiter="\t")


@pytest.mark.parametrize("flag", ["REMOVEQUOTES", "escape", "Escape RemoveQuotes"])
def test_original_removequotes_or_escape_means_delimited_text_as_the_original_dropped_csv(
    flag: str,
) -> None:
    item = {"dataFormat": "CSV", "csvDelimiter": ",", "ignoreCsvHeader": True, "copyOptions": flag}

    fmt = convert_original(item).options.format

    assert isinstance(fmt, DelimitedFormat)
    assert (fmt.delimiter, fmt.ignore_header_rows) == (",", 1)
    assert fmt.escape == ("ESCAPE" in flag.upper())
    assert fmt.remove_quotes == ("REMOVEQUOTES" in flag.upper())


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"dataFormat": "JSON"}, JsonFormat(mode="auto")),
        ({"dataFormat": "json", "jsonPath": "auto"}, JsonFormat(mode="auto")),
        ({"dataFormat": "AVRO", "jsonPath": "auto ignorecase"}, AvroFormat(mode="auto_ignorecase")),
        (
            {"dataFormat": "JSON", "jsonPath": "s3://paths-bucket/paths.json"},
            JsonFormat(mode="jsonpaths", jsonpaths_url="s3://paths-bucket/paths.json"),
        ),
        ({"dataFormat": "PARQUET"}, ParquetFormat()),
        ({"dataFormat": "ORC"}, OrcFormat()),
    ],
)
def test_original_self_describing_and_columnar_formats(
    item: dict[str, Any], expected: BaseModel
) -> None:
    assert convert_original(item).options.format == expected


def test_original_free_text_is_parsed_into_typed_fields_and_the_rest_kept_in_order() -> None:
    # GIVEN free text mixing recognised options, unknown ones and Redshift literal escapes
    text = (
        "dateformat as 'auto' ACCEPTANYDATE NULL AS '\\\\N' COMPROWS 1000 truncatecolumns "
        "MAXERROR AS 5 ACCEPTINVCHARS AS '^' compupdate off STATUPDATE TIMEFORMAT 'epochsecs' "
        "region 'eu-west-1' encoding utf8 blanksasnull emptyasnull fillrecord trimblanks "
        "ignoreblanklines roundec explicit_ids lzop;"
    )

    # WHEN imported with a CSV config
    options = convert_original(
        {"dataFormat": "CSV", "csvDelimiter": ",", "copyOptions": text}
    ).options

    # THEN each recognised option has its typed field; the rest is extra_options
    assert options == CopyOptions(
        date_format="auto",
        null_as="\\N",
        truncate_columns=True,
        max_error=5,
        accept_inv_chars="^",
        comp_update="off",
        stat_update=True,
        time_format="epochsecs",
        region="eu-west-1",
        encoding="utf8",
        blanks_as_null=True,
        empty_as_null=True,
        fill_record=True,
        trim_blanks=True,
        ignore_blank_lines=True,
        round_dec=True,
        explicit_ids=True,
        compression="lzop",
        extra_options="ACCEPTANYDATE COMPROWS 1000",
    )


def test_original_quote_and_delimiter_in_free_text_win_over_csv_delimiter() -> None:
    item = {"dataFormat": "CSV", "csvDelimiter": ",", "copyOptions": "QUOTE AS '''' DELIMITER ';'"}
    assert convert_original(item).options.format == CsvFormat(delimiter=";", quote_char="'")


def test_original_manifest_and_format_keywords_are_dropped_with_a_note() -> None:
    item = {"dataFormat": "JSON", "copyOptions": "MANIFEST FORMAT AS JSON 'auto'"}

    result = convert_original(item)

    assert result.options == CopyOptions(format=JSON)
    assert len(result.notes) == 2
    assert any("MANIFEST" in note for note in result.notes)


def test_original_master_symmetric_key_means_encrypted_input() -> None:
    item = {"dataFormat": "CSV", "csvDelimiter": ",", "masterSymmetricKey": "AQICAHh+a2V5PT0="}
    options = convert_original(item).options
    assert options.encrypted
    assert options.encrypted_master_symmetric_key == "AQICAHh+a2V5PT0="


def test_original_from_original_classmethod_gives_the_same_options() -> None:
    item = {"dataFormat": "CSV", "csvDelimiter": "|", "copyOptions": "ACCEPTANYDATE"}
    assert CopyOptions.from_original(item) == convert_original(item).options


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ({"dataFormat": "XML"}, "dataFormat"),
        ({"dataFormat": "CSV", "copyOptions": "FORMAT AS JSON 'auto'"}, "dataFormat is CSV"),
        ({"dataFormat": "CSV", "copyOptions": "DATEFORMAT"}, "DATEFORMAT"),
        ({"dataFormat": "CSV", "copyOptions": "x; drop table t"}, "';'"),
        ({"dataFormat": "JSON", "copyOptions": "REMOVEQUOTES"}, "format.remove_quotes"),
        ({"dataFormat": "PARQUET", "compression": "GZIP"}, "compression"),
        ({"dataFormat": "CSV", "csvDelimiter": "a\\nb"}, "delimiter"),
        ({"dataFormat": "CSV", "copyOptions": "READRATIO 50"}, "DynamoDB"),
        ({"dataFormat": "CSV", "copyOptions": "ENCRYPTED"}, "encrypted_master_symmetric_key"),
    ],
)
def test_original_configs_that_cannot_be_expressed_are_refused(
    item: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError) as caught:
        convert_original(item)
    assert named in str(caught.value)


def test_original_credentials_in_free_text_are_refused_without_echoing_the_secret() -> None:
    item = {
        "dataFormat": "CSV",
        "copyOptions": "CREDENTIALS 'aws_access_key_id=AKIAX;aws_secret_access_key=TOPSECRET'",
    }

    with pytest.raises(ValueError) as caught:
        convert_original(item)

    assert "CREDENTIALS" in str(caught.value)
    assert "TOPSECRET" not in str(caught.value)


def test_original_serializetojson_becomes_the_columnar_format_field() -> None:
    options = convert_original({"dataFormat": "PARQUET", "copyOptions": "SERIALIZETOJSON"}).options
    assert options.format == ParquetFormat(serialize_to_json=True)
    assert options.extra_options is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("COMPROWS 500", "between 1000 and 2147483647"),
        ("NOLOAD", "NOLOAD"),
        ("SSH", "remote host"),
        ("ACCEPTANYDAT", "did you mean ACCEPTANYDATE"),
        ("dateformat 'EPOCHSECS'", "TIMEFORMAT"),
    ],
)
def test_original_free_text_redshift_would_reject_is_refused_on_import(
    text: str, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        convert_original({"dataFormat": "CSV", "copyOptions": text})
