"""Typed Redshift COPY options: the data format plus the data-conversion and load parameters.

Every combination Redshift would reject (or misread) is refused here, when the configuration is
saved, with a message naming the fields. `loader/copy_sql.py` turns a valid `CopyOptions` into
COPY text; `convert_original` imports the original loader's fields.

Values hold the characters they stand for (a tab is a tab, not backslash-t); the SQL builder does
all quoting. Delimiter and quote fields also accept `\\t` and octal `\\ddd`, as Redshift does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, NamedTuple, Self

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.copy_parameters import (
    ALL,
    COLUMNAR_PAGE,
    PARAMETERS,
    applies_to,
    columnar_names,
    extra_problem,
    suggestion,
)
from config.suggest import SuggestingModel

# No `str_strip_whitespace`: a blank delimiter, NULL AS ' ' or a tab are meaningful here.
_CONFIG = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

# Patterns are matched whole (fullmatch) and ASCII-only: `\d` would take any Unicode digit.
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^\x00-\x1f]+")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_LABEL = re.compile(r"[A-Za-z0-9_]{1,127}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_OCTAL = re.compile(r"\\[0-7]{3}")
_DELIMITER_PART = re.compile(r"\\t|\\[0-7]{3}|.", re.S)
# copy-parameters-data-conversion.html: "The 'auto', 'epochsecs', and 'epochmillisecs' keywords
# are case-sensitive."
_DATE_KEYWORDS = frozenset({"auto"})
_TIME_KEYWORDS = frozenset({"auto", "epochsecs", "epochmillisecs"})


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
    model_config = _CONFIG


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
_FORMATS: dict[str, type[_Format]] = {
    "csv": CsvFormat,
    "delimited": DelimitedFormat,
    "json": JsonFormat,
    "avro": AvroFormat,
    "parquet": ParquetFormat,
    "orc": OrcFormat,
    "fixedwidth": FixedWidthFormat,
}

# Which formats each typed option applies to, from the parameter table; EXPLICIT_IDS,
# ACCEPTINVCHARS and STATUPDATE apply to every format.
_APPLIES_TO: dict[str, frozenset[str]] = {
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
_WHY_NOT_COLUMNAR = {
    "compression": "Parquet and ORC files carry their own compression",
    "max_error": "Redshift fails a columnar COPY at the first bad row",
    "region": "columnar COPY needs the bucket in the cluster's region",
}

# Each COPY keyword that a typed field (or the loader itself) owns, with the shape of its argument
# in option text, from the one parameter table (config/copy_parameters.py). extra_options may not
# use them; the original's free text is read with them.
_FORMAT_FIELDS = (
    "delimiter",
    "quote_char",
    "escape",
    "remove_quotes",
    "ignore_header_rows",
    "serialize_to_json",
)
_KEYWORDS: dict[str, tuple[str, str]] = {
    p.name: (p.field, p.shape) for p in PARAMETERS.values() if p.field is not None
}
_AUTH_KEYWORDS = frozenset(p.name for p in PARAMETERS.values() if p.shape == "authorization")
_CREDENTIAL_TEXT = re.compile(
    r"aws_access_key_id|aws_secret_access_key|aws_iam_role|token\s*=|master_symmetric_key", re.I
)


class CopyOptions(SuggestingModel):
    """How COPY reads the files of a batch. `CopyOptions()` is CSV with delimiter ','."""

    model_config = _CONFIG

    format: DataFormat = Field(default_factory=CsvFormat)
    """Data format, chosen by `type`: csv, delimited, json, avro, parquet, orc or fixedwidth."""
    compression: Literal["none", "gzip", "bzip2", "lzop", "zstd"] = "none"
    """Compression of the input files (row formats only)."""
    date_format: str | None = None
    """`DATEFORMAT`: e.g. `YYYY-MM-DD` or `auto`."""
    time_format: str | None = None
    """`TIMEFORMAT`: e.g. `YYYY-MM-DD HH:MI:SS`, `auto`, `epochsecs` or `epochmillisecs`."""
    null_as: str | None = None
    """`NULL AS`: the field text loaded as NULL (text formats only; never a newline)."""
    empty_as_null: bool = False
    """`EMPTYASNULL`: empty CHAR/VARCHAR fields load as NULL (text formats and JSON)."""
    blanks_as_null: bool = False
    """`BLANKSASNULL`: whitespace-only CHAR/VARCHAR fields load as NULL (text formats and JSON)."""
    accept_inv_chars: bool | str = False
    """`ACCEPTINVCHARS`: true (invalid UTF-8 becomes `?`) or the one ASCII replacement character."""
    truncate_columns: bool = False
    """`TRUNCATECOLUMNS`: cut VARCHAR/CHAR values to the column width instead of failing."""
    trim_blanks: bool = False
    """`TRIMBLANKS`: remove trailing whitespace from VARCHAR values."""
    fill_record: bool = False
    """`FILLRECORD`: records missing trailing columns load with NULLs (or column defaults)."""
    ignore_blank_lines: bool = False
    """`IGNOREBLANKLINES`: skip lines holding only a line feed (text formats only)."""
    max_error: Annotated[int | None, Field(ge=0, le=100_000)] = None
    """`MAXERROR`: bad rows tolerated before the COPY fails (row formats only)."""
    comp_update: Literal["on", "off", "preset"] | None = None
    """`COMPUPDATE`: automatic compression analysis; unset keeps Redshift's default."""
    stat_update: bool | None = None
    """`STATUPDATE ON/OFF`: refresh optimizer statistics; unset keeps Redshift's default."""
    region: str | None = None
    """`REGION`: the input bucket's region, when it differs from the cluster's."""
    encrypted: bool = False
    """`ENCRYPTED`: client-side encrypted input (original-loader compatibility; Redshift is retiring
    client-side encryption for COPY). Needs `encrypted_master_symmetric_key`."""
    encrypted_master_symmetric_key: str | None = None
    """KMS ciphertext (base64) of the root symmetric key; decrypted for each load, never stored."""
    encoding: Literal["utf8", "utf16", "utf16le", "utf16be"] | None = None
    """`ENCODING`: character encoding of the input (Redshift's default is UTF8; fixed-width input
    must be UTF8)."""
    round_dec: bool = False
    """`ROUNDEC`: round decimals with more scale than the column instead of truncating them."""
    explicit_ids: bool = False
    """`EXPLICIT_IDS`: load IDENTITY columns from the data."""
    extra_options: str | None = None
    """More COPY parameters, appended last: only the documented ones without a typed field
    (`ACCEPTANYDATE`, `COMPROWS n` with n from 1000 to 2147483647, `IGNOREALLERRORS`), each once,
    for row formats only (see config/copy_parameters.py)."""

    @model_validator(mode="before")
    @classmethod
    def _format_keys(cls, data: Any) -> Any:
        fmt = data.get("format") if isinstance(data, dict) else None
        if isinstance(fmt, dict) and fmt.get("type") in _FORMATS:
            _check_format_keys(str(fmt["type"]), fmt)
        return data

    @field_validator("compression", "encoding", "comp_update", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("date_format", "time_format")
    @classmethod
    def _pattern(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not (0 < len(value) <= 128 and value.isprintable()):
            raise ValueError("must be 1 to 128 printable characters")
        # The keywords are case-sensitive in Redshift: 'AUTO' would be read as a format string.
        keyword = value.lower()
        if keyword in (_DATE_KEYWORDS if info.field_name == "date_format" else _TIME_KEYWORDS):
            return keyword
        if keyword in _TIME_KEYWORDS:
            raise ValueError(
                f"{value!r} is a TIMEFORMAT keyword; DATEFORMAT takes 'auto' or a format"
            )
        if info.field_name == "time_format" and any(z in value for z in ("TZ", "tz", "OF")):
            # r_DATEFORMAT_and_TIMEFORMAT_strings.html: "You can't include a time zone specifier
            # (TZ, tz, or OF) in the timeformat_string."
            raise ValueError("a time format cannot name a time zone (TZ, tz, OF): use 'auto'")
        return value

    @field_validator("null_as")
    @classmethod
    def _null(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        if value is not None and "\n" in value:
            # copy-parameters-data-conversion.html, NULL AS: "Amazon Redshift reserves '\n' for
            # use as a line delimiter."
            raise ValueError("must not contain a newline: Redshift reserves it as the line end")
        return value

    @field_validator("accept_inv_chars")
    @classmethod
    def _replacement(cls, value: bool | str) -> bool | str:
        if isinstance(value, str) and not (len(value) == 1 and "\x00" < value < "\x80"):
            raise ValueError("the replacement must be one ASCII character other than NUL")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name such as 'eu-west-1'")
        return value

    @field_validator("encrypted_master_symmetric_key")
    @classmethod
    def _ciphertext(cls, value: str | None) -> str | None:
        if value is not None and not _BASE64.fullmatch(value):
            raise ValueError("must be the base64 KMS ciphertext of the key")
        return value

    @field_validator("extra_options")
    @classmethod
    def _extra(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        fmt = info.data.get("format")
        kind = getattr(fmt, "type", None)  # None: the format itself was invalid
        return " ".join(_checked_extra(value, kind, info.data.get("max_error")))

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = self._misapplied()
        if self.encrypted and self.encrypted_master_symmetric_key is None:
            problems.append("encrypted needs encrypted_master_symmetric_key")
        if self.encrypted_master_symmetric_key is not None and not self.encrypted:
            problems.append("encrypted_master_symmetric_key is set but encrypted is false")
        if self.format.type == "fixedwidth" and self.encoding not in (None, "utf8"):
            # copy-parameters-data-conversion.html, ENCODING: "Fixed-width data files must use
            # UTF-8 encoding."
            problems.append("encoding: fixed-width input must be UTF-8 (Redshift refuses UTF-16)")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _misapplied(self) -> list[str]:
        kind = self.format.type
        problems = []
        for name, kinds in _APPLIES_TO.items():
            if kind in kinds or getattr(self, name) == type(self).model_fields[name].default:
                continue
            why = _WHY_NOT_COLUMNAR.get(name) if kind in {"parquet", "orc"} else None
            problems.append(
                f"{name} does not apply to format {kind!r}: "
                + (why or f"it applies to {', '.join(sorted(kinds))}")
            )
        return problems

    @classmethod
    def from_original(cls, item: Mapping[str, Any]) -> CopyOptions:
        """The original loader's configuration fields as typed options (see `convert_original`)."""
        return convert_original(item).options


def _check_format_keys(kind: str, fmt: dict[str, Any]) -> None:
    for key in fmt:
        if key in _FORMATS[kind].model_fields:
            continue
        owners = sorted(k for k, c in _FORMATS.items() if key in c.model_fields)
        if not owners:
            continue  # unknown to every format: pydantic's "extra inputs" error names it
        hint = f"it is an option of {', '.join(owners)}"
        if kind == "csv" and key in {"escape", "remove_quotes"}:
            hint = (
                "Redshift rejects ESCAPE/REMOVEQUOTES with FORMAT CSV; use format type 'delimited'"
            )
        raise ValueError(f"format.{key} does not apply to format {kind!r}: {hint}")


# ---------------------------------------------------------------------------------------------
# Option text: the extra_options escape hatch and the original loader's free-text copyOptions.


class _OptionToken(NamedTuple):
    """One token of COPY option text."""

    kind: Literal["word", "number", "literal"]
    text: str
    """As written, safe to emit again."""
    value: str
    """Words and numbers as written; literals decoded."""


_WORD_OR_NUMBER = r"(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>\d+(?:\.\d+)?)"
_PLAIN_TOKEN = re.compile(rf"\s*(?:{_WORD_OR_NUMBER}|(?P<literal>'(?:[^']|'')*'))")
# How Redshift reads its literals: backslash escapes are live (its QUOTE_LITERAL doubles them).
_ESCAPED_TOKEN = re.compile(rf"\s*(?:{_WORD_OR_NUMBER}|(?P<literal>'(?:[^'\\]|''|\\.)*'))", re.S)
_LITERAL_ESCAPE = re.compile(r"''|\\([0-7]{1,3}|.)", re.S)
_C_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _decode_escaped(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code is None:
            return "'"
        return chr(int(code, 8)) if code[0] in "01234567" else _C_ESCAPES.get(code, code)

    return _LITERAL_ESCAPE.sub(one, body)


def _unexpected(text: str, pos: int) -> str:
    rest = text[pos:].lstrip()
    if rest.startswith("'"):
        return "unbalanced quote: a '...' literal is not closed"
    if rest.startswith(("--", "/*", "*/")):
        return "comment markers are not allowed"
    return f"{rest[0]!r} is not allowed (only words, numbers and '...' literals)"


def _tokenize(text: str, *, backslash_escapes: bool) -> list[_OptionToken]:
    """Split option text into words, numbers and literals; anything else raises ValueError."""
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    pattern = _ESCAPED_TOKEN if backslash_escapes else _PLAIN_TOKEN
    tokens: list[_OptionToken] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = pattern.match(text, pos)
        if match is None:
            raise ValueError(_unexpected(text, pos))
        kind = match.lastgroup
        raw = match.group(kind or "")
        if kind == "literal":
            body = raw[1:-1]
            value = _decode_escaped(body) if backslash_escapes else body.replace("''", "'")
            tokens.append(_OptionToken("literal", raw, value))
        else:
            tokens.append(_OptionToken("word" if kind == "word" else "number", raw, raw))
        pos = match.end()
    return tokens


def _checked_extra(value: str, kind: str | None, max_error: int | None) -> list[str]:
    """Each parameter of `extra_options` checked against the documented table, normalized.

    `kind` is the data format (None when it did not validate: format checks are then skipped).
    """
    if "\\" in value:
        raise ValueError("extra_options: backslashes are not allowed (use the typed fields)")
    try:
        tokens = _tokenize(value, backslash_escapes=False)
    except ValueError as exc:
        raise ValueError(f"extra_options: {exc}") from None
    for token in tokens:  # secrets first, whatever else is wrong, and never echoed
        if token.kind == "literal" and _CREDENTIAL_TEXT.search(token.value):
            raise ValueError("extra_options must not carry credentials")
        if token.kind == "word" and token.value.upper() in _AUTH_KEYWORDS:
            raise ValueError(
                f"extra_options must not carry authorization ({token.value.upper()}): "
                "set the target's copy_authorization"
            )
    parameters: list[str] = []
    pos = 0
    while pos < len(tokens):
        token = tokens[pos]
        if token.kind != "word":
            raise ValueError(f"extra_options: {token.text} does not follow a parameter")
        text, pos = _extra_parameter(tokens, pos, kind)
        name = text.split(" ", 1)[0]
        if any(p.split(" ", 1)[0] == name for p in parameters):
            raise ValueError(f"extra_options: {name} is given more than once")
        parameters.append(text)
    if max_error is not None and "IGNOREALLERRORS" in parameters:
        # copy-parameters-data-load.html: "You can't specify the IGNOREALLERRORS option if you
        # specify the MAXERROR option."
        raise ValueError("extra_options: IGNOREALLERRORS cannot be combined with max_error")
    return parameters


def _extra_parameter(tokens: list[_OptionToken], pos: int, kind: str | None) -> tuple[str, int]:
    """The parameter at `pos` as normalized text, and the position after its argument."""
    word = tokens[pos].value.upper()
    parameter = PARAMETERS.get(word)
    if parameter is None:
        raise ValueError(f"extra_options: {word} is not a COPY parameter{suggestion(word)}")
    if parameter.shape == "format":
        raise ValueError(f"extra_options: {word} is a data format; the format is format.type")
    if parameter.field is not None:
        field = parameter.field
        owner = f"format.{field}" if field in _FORMAT_FIELDS else field
        raise ValueError(f"extra_options: {word} is set through {owner}")
    problem = extra_problem(parameter)
    if problem is not None:
        raise ValueError(f"extra_options: {problem}")
    if kind in {"parquet", "orc"} and kind not in parameter.formats:
        raise ValueError(
            f"extra_options: {word} does not apply to Parquet and ORC, which take only "
            f"{columnar_names()} ({COLUMNAR_PAGE})"
        )
    if kind is not None and kind not in parameter.formats:
        raise ValueError(f"extra_options: {word} does not apply to format {kind!r}")
    if parameter.shape == "flag":
        return word, pos + 1
    # The free parameters take no argument or, COMPROWS, a whole number in documented bounds.
    argument = tokens[pos + 1] if pos + 1 < len(tokens) else None
    if argument is None or argument.kind != "number" or not argument.text.isdigit():
        raise ValueError(f"extra_options: {word} takes a number")
    low, high = parameter.bounds or (0, 2**31 - 1)
    if not low <= int(argument.text) <= high:
        raise ValueError(f"extra_options: {word} must be between {low} and {high}")
    return f"{word} {int(argument.text)}", pos + 2


# ---------------------------------------------------------------------------------------------
# Import from the original loader.


class OriginalConversion(NamedTuple):
    """The result of importing the original loader's fields."""

    options: CopyOptions
    notes: tuple[str, ...]
    """What was dropped or reinterpreted, for the operator to review."""


class _Reader:
    """Walks the original's free text: typed options into `fields`, the rest into `extra`."""

    def __init__(self, tokens: list[_OptionToken], data_format: str) -> None:
        self.tokens, self.pos, self.data_format = tokens, 0, data_format
        self.fields: dict[str, Any] = {}
        self.extra: list[_OptionToken] = []
        self.notes: list[str] = []

    def next(self) -> _OptionToken | None:
        if self.pos >= len(self.tokens):
            return None
        self.pos += 1
        return self.tokens[self.pos - 1]

    def take(self, kind: str, words: frozenset[str] | None = None) -> _OptionToken | None:
        """The next token if it is of `kind` (and, for words, one of `words`)."""
        if self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token.kind == kind and (words is None or token.value.upper() in words):
                self.pos += 1
                return token
        return None

    def expect(self, kind: str, after: str) -> _OptionToken:
        self.take("word", frozenset({"AS"}))
        token = self.take(kind)
        if token is None:
            raise ValueError(f"copyOptions: {after} must be followed by a {kind}")
        return token


_SWITCH = frozenset({"ON", "OFF", "TRUE", "FALSE", "PRESET"})
_FORMAT_WORDS = frozenset({"CSV", "JSON", "AVRO", "PARQUET", "ORC", "FIXEDWIDTH"})


def _read_switch(reader: _Reader, word: str, field: str) -> Any:
    token = reader.take("word", _SWITCH)
    state = (token.value.upper() if token else "ON").replace("TRUE", "ON").replace("FALSE", "OFF")
    if field == "comp_update":
        return state.lower()
    if state == "PRESET":
        raise ValueError("copyOptions: STATUPDATE takes ON or OFF")
    return state == "ON"


def _read_format(reader: _Reader, word: str, field: str) -> None:
    if word == "FORMAT":
        reader.take("word", frozenset({"AS"}))
        token = reader.take("word", _FORMAT_WORDS)
        if token is None:
            raise ValueError("copyOptions: FORMAT must name a format")
        word = token.value.upper()
    if word != reader.data_format:
        raise ValueError(f"copyOptions names format {word} but dataFormat is {reader.data_format}")
    reader.take("literal")  # JSON 'auto' and the like: jsonPath decides
    reader.notes.append(f"{word} in copyOptions dropped: dataFormat sets the format")


def _read_optional_literal(reader: _Reader, word: str, field: str) -> Any:
    reader.take("word", frozenset({"AS"}))
    token = reader.take("literal")
    return token.value if token else True


def _read_loader_word(reader: _Reader, word: str, field: str) -> None:
    if word != "MANIFEST":
        raise ValueError(f"copyOptions: {word} cannot be imported")
    reader.notes.append("MANIFEST dropped: the loader adds it itself")


# How each argument shape is read; None means "nothing to store".
_READERS: dict[str, Callable[[_Reader, str, str], Any]] = {
    "flag": lambda reader, word, field: True,
    "literal": lambda reader, word, field: reader.expect("literal", word).value,
    "number": lambda reader, word, field: int(reader.expect("number", word).value),
    "word": lambda reader, word, field: reader.expect("word", word).value.lower(),
    "compression": lambda reader, word, field: word.lower(),
    "optional_literal": _read_optional_literal,
    "switch": _read_switch,
    "format": _read_format,
    "loader": _read_loader_word,
}


def _read_word(reader: _Reader, token: _OptionToken) -> None:
    word = token.value.upper()
    if word in _AUTH_KEYWORDS:
        # Never echo what follows: it is a secret.
        raise ValueError(f"copyOptions carries authorization ({word}): use copy_authorization")
    if word not in _KEYWORDS:
        reader.extra.append(token)
        return
    field, shape = _KEYWORDS[word]
    value = _READERS[shape](reader, word, field)
    if value is not None:
        reader.fields[field] = value


def _read_original_text(text: str, data_format: str) -> _Reader:
    reader = _Reader(_tokenize(text.strip().rstrip(";"), backslash_escapes=True), data_format)
    while (token := reader.next()) is not None:
        if token.kind == "word":
            _read_word(reader, token)
        else:
            reader.extra.append(token)
    return reader


def _extra_text(tokens: list[_OptionToken]) -> str | None:
    parts = [
        "'" + t.value.replace("'", "''") + "'" if t.kind == "literal" else t.text for t in tokens
    ]
    return " ".join(parts) or None


def _original_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().upper() in {"TRUE", "1", "YES", "Y"}


def convert_original(item: Mapping[str, Any]) -> OriginalConversion:
    """Map an original-loader configuration (its camelCase attributes) onto `CopyOptions`.

    Reads `dataFormat`, `csvDelimiter`, `ignoreCsvHeader`, `jsonPath`, `compression`, `copyOptions`
    and `masterSymmetricKey`. The free text is read as Redshift read it (backslash escapes live in
    literals): recognised options become typed fields, the rest `extra_options`. Raises ValueError
    (pydantic's ValidationError is one) when the original combination cannot be expressed.
    """
    kind = str(item.get("dataFormat") or "CSV").strip().upper()
    if kind not in {"CSV", "JSON", "AVRO", "PARQUET", "ORC"}:
        raise ValueError(f"dataFormat {kind!r} is not one of CSV, JSON, AVRO, PARQUET, ORC")
    text = " ".join(str(item.get(k) or "") for k in ("compression", "copyOptions"))
    reader = _read_original_text(text, kind)
    fields = reader.fields
    fmt = {key: fields.pop(key) for key in _FORMAT_FIELDS if key in fields}
    header = _original_bool(item.get("ignoreCsvHeader", False))
    if kind == "CSV":
        fmt = _original_csv(fmt, item, header)
    else:
        if header:
            reader.notes.append("ignoreCsvHeader dropped: the original applied it to CSV only")
        fmt["type"] = kind.lower()
        if kind in {"JSON", "AVRO"}:
            fmt.update(_json_mode(str(item.get("jsonPath") or "").strip()))
    if item.get("masterSymmetricKey"):
        fields["encrypted"] = True
        fields["encrypted_master_symmetric_key"] = str(item["masterSymmetricKey"])
    fields["extra_options"] = _extra_text(reader.extra)
    return OriginalConversion(CopyOptions(format=fmt, **fields), tuple(reader.notes))


def _original_csv(fmt: dict[str, Any], item: Mapping[str, Any], header: bool) -> dict[str, Any]:
    if "delimiter" not in fmt:
        # The original wrote `delimiter '<csvDelimiter>'`, so Redshift decoded its escapes.
        fmt["delimiter"] = _decode_escaped(str(item.get("csvDelimiter") or ","))
    fmt["ignore_header_rows"] = max(fmt.get("ignore_header_rows", 0), 1 if header else 0)
    if fmt.get("escape") or fmt.get("remove_quotes"):
        return {"type": "delimited", **fmt}  # the original then left out FORMAT CSV (issue #51)
    return {"type": "csv", **fmt}


def _json_mode(path: str) -> dict[str, Any]:
    lowered = path.lower()
    if lowered in {"", "auto"}:
        return {"mode": "auto"}
    if lowered == "auto ignorecase":
        return {"mode": "auto_ignorecase"}
    return {"mode": "jsonpaths", "jsonpaths_url": path}
