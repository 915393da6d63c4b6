"""The data formats COPY reads (`format` of a prefix's copy options), chosen by `type`.

Values hold the characters they stand for (a tab is a tab, not backslash-t); the SQL builder does
all quoting. Delimiter and quote fields also accept `\\t` and octal `\\ddd`, as Redshift does.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from config.copy_parameters import ALL, applies_to
from config.suggest import SuggestingModel

# No `str_strip_whitespace`: a blank delimiter, NULL AS ' ' or a tab are meaningful here.
MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

# Patterns are matched whole (fullmatch) and ASCII-only: `\d` would take any Unicode digit.
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^\x00-\x1f]+")
_LABEL = re.compile(r"[A-Za-z0-9_]{1,127}")
_OCTAL = re.compile(r"\\[0-7]{3}")
_DELIMITER_PART = re.compile(r"\\t|\\[0-7]{3}|.", re.S)


def _decode_char(value: str) -> str:
    """One delimiter or quote character; `\\t` and octal `\\ddd` (ASCII) decoded, as in Redshift."""
    if value == "\\t":
        value = "\t"
    elif _OCTAL.fullmatch(value) and 0 < int(value[1:], 8) < 128:
        value = chr(int(value[1:], 8))
    if len(value) != 1:
        raise ValueError("must be one character (write a tab as \\t, other ASCII as octal \\ddd)")
    if value in "\x00\n\r":
        raise ValueError("NUL, newline and carriage return cannot be used")
    return value


def _decode_delimiter(value: str) -> str:
    """One or more delimiter characters; `\\t` and octal `\\ddd` decoded.

    Octal escapes are UTF-8 code units, so `\\302\\246` is `¦` (r_COPY_command_examples.html,
    "COPY with a multibyte delimiter and the ENCODING option").
    """
    if _OCTAL.fullmatch(value) or value == "\\":
        return _decode_char(value)
    out, pending = [], bytearray()
    for part in _DELIMITER_PART.findall(value):
        if _OCTAL.fullmatch(part):
            pending.append(int(part[1:], 8) & 0xFF)
            continue
        out.append(_utf8(pending))
        out.append("\t" if part == "\\t" else part)
    out.append(_utf8(pending))
    decoded = "".join(out)
    if not decoded:
        raise ValueError("must not be empty")
    if any(c in decoded for c in "\x00\n\r"):
        raise ValueError("NUL, newline and carriage return cannot be used")
    return decoded


def _utf8(pending: bytearray) -> str:
    try:
        text = pending.decode()
    except UnicodeDecodeError:
        raise ValueError("octal escapes must spell UTF-8 characters") from None
    pending.clear()
    return text


class _Format(SuggestingModel):
    model_config = MODEL_CONFIG


class CsvFormat(_Format):
    """`FORMAT AS CSV`: quoted fields may hold the delimiter, newlines and doubled quotes."""

    type: Literal["csv"] = "csv"
    delimiter: str = ","
    """Field separator: one or more characters (`\\t` and octal UTF-8 bytes `\\ddd` accepted)."""
    quote_char: str = '"'
    """`QUOTE AS`: the quotation mark character; must differ from the delimiter."""
    ignore_header_rows: Annotated[int, Field(ge=0)] = 0
    """`IGNOREHEADER`: header lines skipped at the top of every file."""

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        return _decode_delimiter(value)

    @field_validator("quote_char")
    @classmethod
    def _one_char(cls, value: str) -> str:
        return _decode_char(value)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.quote_char in self.delimiter:
            raise ValueError("format.quote_char must not be (part of) format.delimiter")
        return self


class DelimitedFormat(_Format):
    """Plain delimited text (no `FORMAT AS CSV`): the home of ESCAPE and REMOVEQUOTES."""

    type: Literal["delimited"] = "delimited"
    delimiter: str = "|"
    """Field separator: one or more characters (`\\t` and octal UTF-8 bytes `\\ddd` accepted);
    Redshift's default `|`."""
    escape: bool = False
    """`ESCAPE`: a backslash in the data escapes the next character (delimiter, newline, quote)."""
    remove_quotes: bool = False
    """`REMOVEQUOTES`: strip surrounding quotation marks; delimiters inside them stay data."""
    ignore_header_rows: Annotated[int, Field(ge=0)] = 0
    """`IGNOREHEADER`: header lines skipped at the top of every file."""

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        return _decode_delimiter(value)

    @model_validator(mode="after")
    def _escape_char(self) -> Self:
        if self.escape and "\\" in self.delimiter:
            raise ValueError("format.escape makes '\\' the escape character, not the delimiter")
        return self


class _SelfDescribing(_Format):
    mode: Literal["auto", "auto_ignorecase", "jsonpaths", "noshred"] = "auto"
    """`auto` matches field names to columns; `auto_ignorecase` ignores case; `jsonpaths` a file;
    `noshred` loads each document whole into the table's one SUPER column (ingest-super.html)."""
    jsonpaths_url: str | None = None
    """`s3://bucket/key` of the JSONPaths file: required with mode `jsonpaths`, and only then."""

    @field_validator("jsonpaths_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _S3_URL.fullmatch(value):
            raise ValueError(f"{value!r} is not an s3://bucket/key URL")
        return value

    @model_validator(mode="after")
    def _paths(self) -> Self:
        if (self.mode == "jsonpaths") != (self.jsonpaths_url is not None):
            raise ValueError("format.jsonpaths_url goes with mode 'jsonpaths', and only with it")
        return self


class JsonFormat(_SelfDescribing):
    """`FORMAT AS JSON`: one object (or array) per record."""

    type: Literal["json"] = "json"
    ignore_header_rows: Annotated[int, Field(ge=0)] = 0
    """`IGNOREHEADER`: lines skipped at the top of every file (JSON counts newlines)."""


class AvroFormat(_SelfDescribing):
    """`FORMAT AS AVRO`: schema field names matched to columns as for JSON."""

    type: Literal["avro"] = "avro"


class ParquetFormat(_Format):
    """`FORMAT AS PARQUET`: columns in file order; compression is inside the file."""

    type: Literal["parquet"] = "parquet"
    serialize_to_json: bool = False
    """`SERIALIZETOJSON`: nested (struct, array) columns load into SUPER columns as JSON."""


class OrcFormat(_Format):
    """`FORMAT AS ORC`: columns in file order; compression is inside the file."""

    type: Literal["orc"] = "orc"
    serialize_to_json: bool = False
    """`SERIALIZETOJSON`: nested (struct, array) columns load into SUPER columns as JSON."""


class FixedWidthColumn(_Format):
    """One `label:width` pair of a FIXEDWIDTH spec, in table column order."""

    name: str
    """Label (letters, digits, `_`); Redshift does not match it to column names."""
    width: Annotated[int, Field(ge=1, le=65535)]
    """Width in characters."""

    @field_validator("name")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL.fullmatch(value):
            raise ValueError(f"{value!r}: use letters, digits or '_' in a fixed-width label")
        return value


class FixedWidthFormat(_Format):
    """`FIXEDWIDTH 'label:width,...'`: columns cut at fixed positions."""

    type: Literal["fixedwidth"] = "fixedwidth"
    columns: Annotated[list[FixedWidthColumn], Field(min_length=1)]
    """Column spec, as `{name, width}` objects or `"label:width"` strings."""
    ignore_header_rows: Annotated[int, Field(ge=0)] = 0
    """`IGNOREHEADER`: header lines skipped at the top of every file."""

    @field_validator("columns", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_label_width(item) if isinstance(item, str) else item for item in value]


def _label_width(spec: str) -> dict[str, Any]:
    name, sep, width = spec.rpartition(":")
    if not sep or not width.strip().isdigit():
        raise ValueError(f"{spec!r} is not 'label:width'")
    return {"name": name.strip(), "width": int(width)}


DataFormat = Annotated[
    CsvFormat
    | DelimitedFormat
    | JsonFormat
    | AvroFormat
    | ParquetFormat
    | OrcFormat
    | FixedWidthFormat,
    Field(discriminator="type"),
]
FORMATS: dict[str, type[_Format]] = {
    "csv": CsvFormat,
    "delimited": DelimitedFormat,
    "json": JsonFormat,
    "avro": AvroFormat,
    "parquet": ParquetFormat,
    "orc": OrcFormat,
    "fixedwidth": FixedWidthFormat,
}


def check_format_keys(kind: str, fmt: dict[str, Any]) -> None:
    for key in fmt:
        if key in FORMATS[kind].model_fields:
            continue
        owners = sorted(k for k, c in FORMATS.items() if key in c.model_fields)
        if not owners:
            continue  # unknown to every format: pydantic's "extra inputs" error names it
        hint = f"it is an option of {', '.join(owners)}"
        if kind == "csv" and key in {"escape", "remove_quotes"}:
            hint = (
                "Redshift rejects ESCAPE/REMOVEQUOTES with FORMAT CSV; use format type 'delimited'"
            )
        raise ValueError(f"format.{key} does not apply to format {kind!r}: {hint}")


# Which formats each typed option applies to, from the parameter table; EXPLICIT_IDS,
# ACCEPTINVCHARS and STATUPDATE apply to every format.
APPLIES_TO: dict[str, frozenset[str]] = {
    name: kinds
    for name in (
        "compression",
        "date_format",
        "time_format",
        "null_as",
        "empty_as_null",
        "blanks_as_null",
        "truncate_columns",
        "trim_blanks",
        "fill_record",
        "ignore_blank_lines",
        "max_error",
        "comp_update",
        "region",
        "encrypted",
        "encoding",
        "round_dec",
        "accept_inv_chars",
        "stat_update",
        "explicit_ids",
    )
    if (kinds := applies_to(name)) != ALL
}
WHY_NOT_COLUMNAR = {
    "compression": "Parquet and ORC files carry their own compression",
    "max_error": "Redshift fails a columnar COPY at the first bad row",
    "region": "columnar COPY needs the bucket in the cluster's region",
}
