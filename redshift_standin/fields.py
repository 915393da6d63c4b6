"""Per-column field conversion with Redshift's COPY rules, validated in Python.

Each target column gets one converter (`build_converter`) that takes the raw field (None when the
reader already decided NULL) and returns the text PostgreSQL should store, or raises `FieldError`
with a Redshift-style error code. Validating here, row by row, is what lets MAXERROR skip bad
rows: PostgreSQL 16's COPY would abort on the first one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from redshift_standin.copy_spec import CopySpec
from redshift_standin.datetimes import date_parser, timestamp_parser

Converter = Callable[[str | None], str | None]

CHAR_TYPES = frozenset({"varchar", "bpchar", "text", "name", "citext"})
_INT_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_INT_NAMES = {"int2": "Short Integer", "int4": "Integer", "int8": "Long Integer"}
# ASCII only: Python's \d and int() accept other scripts' digits, PostgreSQL does not.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)",
    re.IGNORECASE,
)
_DIGITS = frozenset("0123456789")
_BOOLEANS = {
    "t": "true",
    "true": "true",
    "y": "true",
    "yes": "true",
    "1": "true",
    "on": "true",
    "f": "false",
    "false": "false",
    "n": "false",
    "no": "false",
    "0": "false",
    "off": "false",
}
# Lone surrogates are undecodable input bytes (decoded with 'surrogateescape'); PostgreSQL text
# cannot hold NUL either.
_INVALID_CHARS = re.compile("[\udc80-\udcff\x00]")
_UNDECODABLE = re.compile("[\udc80-\udcff]+")
_NON_ASCII = re.compile("[^\x00-\x7f]")
# stl_load_errors.type names the type as Redshift does (pg_type names, CHAR as 'char').
_REDSHIFT_TYPE_NAMES = {"bpchar": "char"}

ERR_LENGTH = 1204
ERR_DATE = 1205
ERR_TIMESTAMP = 1206
ERR_DIGIT = 1207
ERR_FLOAT = 1208
ERR_DECIMAL = 1209
ERR_BOOLEAN = 1210
ERR_NOT_NULL = 1213
ERR_OVERFLOW = 1216
ERR_NUL = 1218
ERR_UTF8 = 1220


class FieldError(ValueError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Column:
    """One column as the PostgreSQL catalog describes it."""

    name: str
    type_name: str
    """Base type name (pg_type.typname): int4, varchar, numeric, timestamptz, ..."""
    display_type: str
    """format_type(): 'character varying(10)', 'numeric(10,2)', ..."""
    typmod: int = -1
    not_null: bool = False
    identity: bool = False
    generated: bool = False

    @property
    def is_char(self) -> bool:
        return self.type_name in CHAR_TYPES

    @property
    def redshift_type(self) -> str:
        """This column's `type` in stl_load_errors / sys_load_error_detail (int4, char, ...)."""
        return _REDSHIFT_TYPE_NAMES.get(self.type_name, self.type_name)

    @property
    def missing_value(self) -> str | None:
        """What FILLRECORD puts in a missing field: '' for VARCHAR, NULL otherwise."""
        return "" if self.type_name in ("varchar", "text") else None

    @property
    def length(self) -> int | None:
        """varchar(n)/char(n) length; Redshift counts it in bytes."""
        if self.type_name in ("varchar", "bpchar") and self.typmod >= 4:
            return self.typmod - 4
        return None

    @property
    def precision_scale(self) -> tuple[int, int] | None:
        if self.type_name == "numeric" and self.typmod >= 4:
            packed = self.typmod - 4
            return (packed >> 16) & 0xFFFF, packed & 0xFFFF
        return None


def build_converter(column: Column, spec: CopySpec) -> Converter:
    if column.is_char:
        convert = _char_converter(column, spec)
    else:
        convert = _blank_is_null(_typed_converter(column, spec))
    if not column.not_null:
        return convert

    def not_null(raw: str | None) -> str | None:
        value = convert(raw)
        if value is None:
            raise FieldError(ERR_NOT_NULL, "Missing data for not-null field")
        return value

    return not_null


def replace_invalid(value: str, replacement: str | None) -> str:
    """Apply ACCEPTINVCHARS; without it an invalid character fails the row."""
    if not _INVALID_CHARS.search(value):
        return value
    if replacement is not None:
        return _INVALID_CHARS.sub(replacement, value)
    bad = _UNDECODABLE.search(value)
    if bad is not None:
        raise FieldError(
            ERR_UTF8,
            "String contains invalid or unsupported UTF8 codepoints. "
            f"Bad UTF8 hex sequence: {_hex(bad.group())} (error 3)",
        )
    # NUL alone is NULL only with NULL AS '\0' (the reader's job); within a field it is 1218.
    raise FieldError(ERR_NUL, "Invalid null byte - field longer than 1 byte")


def _hex(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").hex(" ")


def _single_byte_only(value: str) -> str:
    """CHAR columns take ASCII only (multi-byte-character-load-errors.md): error 1220."""
    found = _NON_ASCII.search(value)
    if found is None:
        return value
    raise FieldError(
        ERR_UTF8,
        "Multibyte character not supported for CHAR (Hint: Try using VARCHAR). "
        f"Invalid char: {_hex(found.group())}",
    )


def _char_converter(column: Column, spec: CopySpec) -> Converter:
    limit = column.length
    padded = column.type_name == "bpchar"

    def convert(raw: str | None) -> str | None:
        if raw is None:
            return None
        value = replace_invalid(raw, spec.accept_inv_chars)
        if padded:
            value = _single_byte_only(value)
        if spec.trim_blanks or padded:
            value = value.rstrip()
        if value == "" and spec.empty_as_null:
            return None
        if value and spec.blanks_as_null and not value.strip():  # blank: whitespace only
            return None
        if limit is not None and len(value.encode("utf-8")) > limit:
            if not spec.truncate_columns:
                raise FieldError(ERR_LENGTH, "String length exceeds DDL length")
            value = _truncate_bytes(value, limit)
        return value

    return convert


def _truncate_bytes(value: str, limit: int) -> str:
    return value.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _blank_is_null(convert: Callable[[str], str]) -> Converter:
    """Empty or blank fields load as NULL for every non-character type (Redshift rule)."""

    def wrapper(raw: str | None) -> str | None:
        if raw is None:
            return None
        value = raw.strip()
        return convert(value) if value else None

    return wrapper


def _typed_converter(column: Column, spec: CopySpec) -> Callable[[str], str]:
    kind = column.type_name
    if kind in _INT_RANGES:
        return _integer(kind)
    if kind == "numeric":
        return _decimal(column.precision_scale, spec.round_decimals)
    if kind in ("float4", "float8"):
        return _pattern(_FLOAT, ERR_FLOAT, "Invalid floating point value")
    if kind == "bool":
        return _boolean
    return _datetime_converter(kind, spec) or (lambda value: replace_invalid(value, None))


def _datetime_converter(kind: str, spec: CopySpec) -> Callable[[str], str] | None:
    if kind == "date":
        return _dated(date_parser(spec.date_format), ERR_DATE, spec.date_format or "YYYY-MM-DD")
    if kind in ("timestamp", "timestamptz"):
        parse = timestamp_parser(spec.time_format, with_zone=kind == "timestamptz")
        return _dated(parse, ERR_TIMESTAMP, spec.time_format or "YYYY-MM-DD HH:MI:SS")
    return None


def _integer(kind: str) -> Callable[[str], str]:
    bound = _INT_RANGES[kind]
    label = _INT_NAMES[kind]

    def convert(value: str) -> str:
        if not _INTEGER.fullmatch(value):
            pos = next(
                i for i, c in enumerate(value) if not (c in _DIGITS or (i == 0 and c in "+-"))
            )
            raise FieldError(
                ERR_DIGIT, f"Invalid digit, Value '{value[pos]}', Pos {pos}, Type: {label}"
            )
        if not -bound <= int(value) < bound:
            raise FieldError(ERR_OVERFLOW, f"Overflow, Value '{value}', Type: {label}")
        return value

    return convert


def _decimal(precision_scale: tuple[int, int] | None, round_half: bool) -> Callable[[str], str]:
    def convert(value: str) -> str:
        try:
            if not value.isascii():
                raise InvalidOperation
            number = Decimal(value)
        except InvalidOperation:
            raise FieldError(
                ERR_DECIMAL, f"Invalid digit, Value '{value}', Type: Decimal"
            ) from None
        if not number.is_finite():
            raise FieldError(ERR_DECIMAL, f"Invalid numeric value '{value}'")
        if precision_scale is None:
            return value
        precision, scale = precision_scale
        # Redshift truncates extra scale unless ROUNDEC; PostgreSQL would round.
        number = number.quantize(
            Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP if round_half else ROUND_DOWN
        )
        if number.adjusted() >= precision - scale:
            raise FieldError(
                ERR_OVERFLOW, f"Numeric data overflow (result precision), Value '{value}'"
            )
        return str(number)

    return convert


def _pattern(pattern: re.Pattern[str], code: int, reason: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if not pattern.fullmatch(value):
            raise FieldError(code, f"{reason} '{value}'")
        return value

    return convert


def _boolean(value: str) -> str:
    try:
        return _BOOLEANS[value.lower()]
    except KeyError:
        raise FieldError(ERR_BOOLEAN, f"Invalid boolean value '{value}'") from None


def _dated(parse: Callable[[str], str], code: int, fmt: str) -> Callable[[str], str]:
    kind = "Date" if code == ERR_DATE else "timestamp"

    def convert(value: str) -> str:
        try:
            return parse(value)
        except (ValueError, OverflowError):
            raise FieldError(code, f"Invalid {kind} format or value [{fmt}]: '{value}'") from None

    return convert
