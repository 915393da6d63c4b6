"""Typed Redshift COPY options: the data format plus the data-conversion and load parameters.

Every combination Redshift would reject (or misread) is refused here, when the configuration is
saved, with a message naming the fields. `loader/copy_sql.py` turns a valid `CopyOptions` into
COPY text; `convert_original` imports the original loader's fields. The formats are in
config/formats.py, the option text (`extra_options`, the original's `copyOptions`) in
config/option_text.py.

Values hold the characters they stand for (a tab is a tab, not backslash-t); the SQL builder does
all quoting. Delimiter and quote fields also accept `\\t` and octal `\\ddd`, as Redshift does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, NamedTuple, Self

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from config.formats import (
    APPLIES_TO,
    FORMATS,
    MODEL_CONFIG,
    WHY_NOT_COLUMNAR,
    CsvFormat,
    DataFormat,
    check_format_keys,
)
from config.option_text import (
    AUTH_KEYWORDS,
    FORMAT_FIELDS,
    KEYWORDS,
    OptionToken,
    checked_extra,
    decode_escaped,
    tokenize,
)
from config.suggest import SuggestingModel

_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
# copy-parameters-data-conversion.html: "The 'auto', 'epochsecs', and 'epochmillisecs' keywords
# are case-sensitive."
_DATE_KEYWORDS = frozenset({"auto"})
_TIME_KEYWORDS = frozenset({"auto", "epochsecs", "epochmillisecs"})


class CopyOptions(SuggestingModel):
    """How COPY reads the files of a batch. `CopyOptions()` is CSV with delimiter ','."""

    model_config = MODEL_CONFIG

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
        if isinstance(fmt, dict) and fmt.get("type") in FORMATS:
            check_format_keys(str(fmt["type"]), fmt)
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
        return " ".join(checked_extra(value, kind, info.data.get("max_error")))

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
        for name, kinds in APPLIES_TO.items():
            if kind in kinds or getattr(self, name) == type(self).model_fields[name].default:
                continue
            why = WHY_NOT_COLUMNAR.get(name) if kind in {"parquet", "orc"} else None
            problems.append(
                f"{name} does not apply to format {kind!r}: "
                + (why or f"it applies to {', '.join(sorted(kinds))}")
            )
        return problems

    @classmethod
    def from_original(cls, item: Mapping[str, Any]) -> CopyOptions:
        """The original loader's configuration fields as typed options (see `convert_original`)."""
        return convert_original(item).options


# --- import from the original loader ---------------------------------------------------------


class OriginalConversion(NamedTuple):
    """The result of importing the original loader's fields."""

    options: CopyOptions
    notes: tuple[str, ...]
    """What was dropped or reinterpreted, for the operator to review."""


class _Reader:
    """Walks the original's free text: typed options into `fields`, the rest into `extra`."""

    def __init__(self, tokens: list[OptionToken], data_format: str) -> None:
        self.tokens, self.pos, self.data_format = tokens, 0, data_format
        self.fields: dict[str, Any] = {}
        self.extra: list[OptionToken] = []
        self.notes: list[str] = []

    def next(self) -> OptionToken | None:
        if self.pos >= len(self.tokens):
            return None
        self.pos += 1
        return self.tokens[self.pos - 1]

    def take(self, kind: str, words: frozenset[str] | None = None) -> OptionToken | None:
        """The next token if it is of `kind` (and, for words, one of `words`)."""
        if self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token.kind == kind and (words is None or token.value.upper() in words):
                self.pos += 1
                return token
        return None

    def expect(self, kind: str, after: str) -> OptionToken:
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


def _read_word(reader: _Reader, token: OptionToken) -> None:
    word = token.value.upper()
    if word in AUTH_KEYWORDS:
        # Never echo what follows: it is a secret.
        raise ValueError(f"copyOptions carries authorization ({word}): use copy_authorization")
    if word not in KEYWORDS:
        reader.extra.append(token)
        return
    field, shape = KEYWORDS[word]
    value = _READERS[shape](reader, word, field)
    if value is not None:
        reader.fields[field] = value


def _read_original_text(text: str, data_format: str) -> _Reader:
    reader = _Reader(tokenize(text.strip().rstrip(";"), backslash_escapes=True), data_format)
    while (token := reader.next()) is not None:
        if token.kind == "word":
            _read_word(reader, token)
        else:
            reader.extra.append(token)
    return reader


def _extra_text(tokens: list[OptionToken]) -> str | None:
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
    fmt = {key: fields.pop(key) for key in FORMAT_FIELDS if key in fields}
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
        fmt["delimiter"] = decode_escaped(str(item.get("csvDelimiter") or ","))
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
