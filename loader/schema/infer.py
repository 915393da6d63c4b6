"""Redshift column types that fit sample values, and the column names a file's labels become. Pure.

Two width policies:
- `REVIEWED` (`loader-admin config infer`): a person reads the DDL, so widths come from the
  samples with headroom (`headroom`), integers are INTEGER unless the samples come near its range;
- `UNATTENDED` (the loader creating or extending a table on its own): the widest type of the
  family (VARCHAR(65535), BIGINT, DECIMAL(38, s)), so a later file with longer values still loads.

Text values follow COPY's input rules for text formats: an empty field is NULL for non-character
columns; dates and timestamps in ISO 8601 need no DATEFORMAT / TIMEFORMAT (Redshift's defaults,
r_DATEFORMAT_and_TIMEFORMAT_strings.md), other shapes get the format string that reads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from config.identifiers import folded
from config.redshift_types import MAX_PRECISION, MAX_VARCHAR

INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1
BOOLEAN_WORDS = frozenset({"true", "false", "t", "f", "yes", "no", "y", "n"})
"""Boolean input COPY reads (r_Boolean_type.md), less '1'/'0', which read as integers."""
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+|[+-]?(?:nan|inf|infinity)", re.I)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = r"[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}" + _ISO_TIME)
_ISO_TIMESTAMPTZ = re.compile(r"\d{4}-\d{2}-\d{2}" + _ISO_TIME + r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)")
# Other date shapes and the DATEFORMAT that reads them; month-first before day-first, as
# Redshift's 'auto' reads an ambiguous 01/02/2024 (automatic-recognition.md).
_DATE_SHAPES = (
    ("YYYY/MM/DD", re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"), (1, 2, 3)),
    ("MM/DD/YYYY", re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), (3, 1, 2)),
    ("DD/MM/YYYY", re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})"), (3, 2, 1)),
    ("DD.MM.YYYY", re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})"), (3, 2, 1)),
    ("MM-DD-YYYY", re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})"), (3, 1, 2)),
    ("DD-MM-YYYY", re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})"), (3, 2, 1)),
)
_CLOCK = re.compile(r"(.+?)[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?")


# TIMEFORMAT reads both (copy-parameters-data-conversion.md)
_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMPTZ")


class Widths(StrEnum):
    REVIEWED = "reviewed"
    UNATTENDED = "unattended"


@dataclass(frozen=True)
class Guess:
    """The type one column's samples fit, and what COPY needs to read them."""

    type: str
    """Canonical Redshift type (`config.redshift_types`)."""
    nullable: bool = True
    date_format: str | None = None
    """The DATEFORMAT a DATE column needs (None: Redshift's default reads it)."""
    time_format: str | None = None
    """The TIMEFORMAT a TIMESTAMP column needs."""
    max_bytes: int = 0
    """Longest sample value in UTF-8 bytes (for falling back to VARCHAR)."""


def headroom(max_bytes: int) -> int:
    """A VARCHAR length for values up to `max_bytes`: half as much again, rounded up to a power
    of two, at least 16 and at most 65535."""
    wanted = max(16, -(-max_bytes * 3 // 2))
    return min(MAX_VARCHAR, 1 << (wanted - 1).bit_length())


def varchar(max_bytes: int, widths: Widths) -> str:
    if widths is Widths.UNATTENDED:
        return f"VARCHAR({MAX_VARCHAR})"
    return f"VARCHAR({headroom(max_bytes)})"


def column_name(label: str, index: int) -> str:
    """A plain Redshift column name for a file's label: ASCII letters lowercased (as Redshift
    folds them), runs of characters other than letters, digits and `$` made `_`, a leading digit
    prefixed with `_`; `col_<n>` (1-based) for an empty label."""
    name = re.sub(r"[^\w$]+", "_", folded(label.strip())).strip("_")
    if not name:
        return f"col_{index + 1}"
    if name[0].isdigit() or name[0] == "$":
        name = "_" + name
    return name.encode()[:127].decode(errors="ignore")


# --- text values (CSV, delimited) ---------------------------------------------------------------
def guess_text(values: Iterable[str | None], widths: Widths) -> Guess:
    """The type of a column of text fields (None or blank: NULL)."""
    present = [v.strip() for v in values if v is not None and v.strip()]
    nullable = True  # a sample cannot prove a column never holds NULL
    longest = max((len(v.encode()) for v in present), default=0)
    if not present:
        return Guess(varchar(longest, widths), nullable, max_bytes=longest)
    numeric = not any(_leading_zero(v) for v in present)  # codes such as zip 02134 stay text
    guesses = (_integers, _decimals, _floats) if numeric else ()
    for guess in (*guesses, _booleans, _dates, _timestamps):
        found = guess(present, widths)
        if found is not None:
            return replace(found, nullable=nullable, max_bytes=longest)
    return Guess(varchar(longest, widths), nullable, max_bytes=longest)


def _integers(values: Sequence[str], widths: Widths) -> Guess | None:
    if not all(_INTEGER.fullmatch(v) for v in values):
        return None
    return _integer_type([int(v) for v in values], widths)


def _leading_zero(value: str) -> bool:
    whole = value.lstrip("+-").split(".", 1)[0]
    return len(whole) > 1 and whole.startswith("0") and whole.isdigit()


def _integer_type(numbers: Sequence[int], widths: Widths) -> Guess | None:
    largest = max(abs(n) for n in numbers)
    if widths is Widths.REVIEWED and largest * 100 <= INT4_MAX:
        return Guess("INTEGER")
    if largest <= INT8_MAX:
        return Guess("BIGINT")
    digits = len(str(largest))
    return Guess(f"DECIMAL({MAX_PRECISION},0)") if digits <= MAX_PRECISION else None


def _decimals(values: Sequence[str], widths: Widths) -> Guess | None:
    if not all(_INTEGER.fullmatch(v) or _DECIMAL.fullmatch(v) for v in values):
        return None
    return _decimal_type([Decimal(v) for v in values], widths)


def _decimal_type(numbers: Sequence[Decimal], widths: Widths) -> Guess | None:
    scale = max(max(-int(n.as_tuple().exponent), 0) for n in numbers)
    whole = max(len(str(abs(int(n)))) for n in numbers)
    if scale >= MAX_PRECISION or whole + scale > MAX_PRECISION:
        return Guess("DOUBLE PRECISION")
    if widths is Widths.UNATTENDED:
        return Guess(f"DECIMAL({MAX_PRECISION},{scale})")
    precision = min(MAX_PRECISION, whole + scale + 4)
    return Guess(f"DECIMAL({precision},{scale})")


def _floats(values: Sequence[str], widths: Widths) -> Guess | None:
    numeric = (_FLOAT, _DECIMAL, _INTEGER)
    if all(any(p.fullmatch(v) for p in numeric) for v in values):
        return Guess("DOUBLE PRECISION")
    return None


def _booleans(values: Sequence[str], widths: Widths) -> Guess | None:
    return Guess("BOOLEAN") if all(v.lower() in BOOLEAN_WORDS for v in values) else None


def _dates(values: Sequence[str], widths: Widths) -> Guess | None:
    if all(_ISO_DATE.fullmatch(v) for v in values):
        return Guess("DATE")
    fmt = date_shape(values)
    return None if fmt is None else Guess("DATE", date_format=fmt)


def date_shape(values: Sequence[str]) -> str | None:
    """The first DATEFORMAT of `_DATE_SHAPES` that reads every value as a real date."""
    for fmt, pattern, order in _DATE_SHAPES:
        if all(_real_date(pattern.fullmatch(v), order) for v in values):
            return fmt
    return None


def _real_date(match: re.Match[str] | None, order: tuple[int, int, int]) -> bool:
    if match is None:
        return False
    year, month, day = (int(match.group(i)) for i in order)
    return 1 <= month <= 12 and 1 <= day <= 31 and year > 0


def _timestamps(values: Sequence[str], widths: Widths) -> Guess | None:
    if all(_ISO_TIMESTAMPTZ.fullmatch(v) for v in values):
        return Guess("TIMESTAMPTZ")
    if all(_ISO_TIMESTAMP.fullmatch(v) or _ISO_DATE.fullmatch(v) for v in values):
        return Guess("TIMESTAMP")
    clocks = [_CLOCK.fullmatch(v) for v in values]
    if not all(clocks):
        return None
    fmt = date_shape([c.group(1) for c in clocks if c is not None])
    if fmt is None or not all(_real_clock(c) for c in clocks):
        return None
    seconds = all(c is not None and c.group(4) is not None for c in clocks)
    return Guess("TIMESTAMP", time_format=fmt + (" HH24:MI:SS" if seconds else " HH24:MI"))


def _real_clock(match: re.Match[str] | None) -> bool:
    if match is None:
        return False
    hour, minute = int(match.group(2)), int(match.group(3))
    second = int(match.group(4) or 0)
    return hour < 24 and minute < 60 and second < 60


# --- JSON values --------------------------------------------------------------------------------
def guess_json(values: Iterable[Any], widths: Widths) -> Guess:
    """The type of a JSON field from its values (numbers parsed as Decimal or int; None: null).

    Nested objects and arrays load as their JSON text (the stand-in's reading; on Redshift a
    SUPER column also takes them), so they are VARCHAR wide enough for that text."""
    import json

    present = [v for v in values if v is not None]
    texts = [v if isinstance(v, str) else json.dumps(v, default=str) for v in present]
    longest = max((len(t.encode()) for t in texts), default=0)
    kinds = {_json_kind(v) for v in present}
    guess: Guess | None = None
    if kinds == {"boolean"}:
        guess = Guess("BOOLEAN")
    elif kinds == {"integer"}:
        guess = _integer_type(present, widths)
    elif kinds <= {"integer", "decimal"} and kinds:
        numbers = [v if isinstance(v, Decimal) else Decimal(v) for v in present]
        finite = all(n.is_finite() for n in numbers)
        guess = _decimal_type(numbers, widths) if finite else Guess("DOUBLE PRECISION")
    elif kinds == {"string"}:
        guess = _dates(texts, widths) or _timestamps(texts, widths)
    if guess is None:
        guess = Guess(varchar(longest, widths))
    return replace(guess, nullable=True, max_bytes=longest)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal | float):
        return "decimal"
    if isinstance(value, str):
        return "string"
    return "nested"


# --- one format per COPY ------------------------------------------------------------------------
@dataclass(frozen=True)
class Formats:
    """The DATEFORMAT / TIMEFORMAT a COPY of these columns needs, and the columns as typed."""

    guesses: tuple[Guess, ...]
    date_format: str | None
    time_format: str | None


def settle_formats(guesses: Sequence[Guess], widths: Widths) -> Formats:
    """COPY takes one DATEFORMAT and one TIMEFORMAT for all columns: the format most DATE
    (TIMESTAMP) columns need wins, and a column needing another becomes VARCHAR."""
    date_format = _majority([g.date_format for g in guesses if g.type == "DATE"])
    time_format = _majority([g.time_format for g in guesses if g.type in _TIMESTAMPS])
    settled = []
    for guess in guesses:
        clash = (guess.type == "DATE" and guess.date_format != date_format) or (
            guess.type in _TIMESTAMPS and guess.time_format != time_format
        )
        settled.append(as_varchar(guess, widths) if clash else guess)
    return Formats(tuple(settled), date_format, time_format)


def as_varchar(guess: Guess, widths: Widths) -> Guess:
    """The column as text (its values need a date or time format the COPY does not use)."""
    return Guess(varchar(guess.max_bytes, widths), guess.nullable, max_bytes=guess.max_bytes)


def _majority(formats: list[str | None]) -> str | None:
    if not formats:
        return None
    return max(dict.fromkeys(formats), key=formats.count)
