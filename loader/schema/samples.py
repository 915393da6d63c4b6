"""The columns a data file carries, read from its first bytes as COPY would read them. Pure.

- CSV and delimited text: with `ignore_header_rows` >= 1 the header line just above the data
  names the columns (labels become names with `infer.column_name`); without one the columns are
  only counted. Values are split with the prefix's delimiter and quote character.
- JSON: the keys of the records, in order of first appearance (several records per line and
  records spread over lines both work), values parsed with numbers kept exact.
- Parquet / ORC: names and types come from the file's footer (footers.py), no values.

A head that was cut off mid-record loses its last, partial record (`complete=False`).
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from loader.schema.infer import column_name

if TYPE_CHECKING:
    from config.copy_options import CopyOptions

MAX_RECORDS = 1000
"""Records read per file: enough to type a column, few enough for a Lambda."""


@dataclass(frozen=True)
class SampleColumn:
    name: str
    """The column name the label becomes (`col_<n>` for unnamed text columns)."""
    label: str | None = None
    """As written in the file (header text, JSON key); None when the file names no columns."""
    values: tuple[Any, ...] = ()
    type: str | None = None
    """Known from the file itself (Parquet / ORC footers); else inferred from `values`."""


@dataclass(frozen=True)
class Sample:
    """One file's columns, in file order."""

    url: str
    columns: tuple[SampleColumn, ...]
    named: bool
    """False for text without a header row: only the column count is known."""
    positional: bool
    """True when COPY maps file columns to table columns by position (text, Parquet, ORC);
    False for JSON, whose keys are matched to column names."""
    records: int = 0
    json_values: bool = field(default=False)
    """Values are JSON values (typed with `infer.guess_json`), not text fields."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


class UnreadableSampleError(ValueError):
    """The sample cannot be read as the configured format (its message says why)."""


def decompress_head(data: bytes, compression: str) -> bytes | None:
    """As much of a compressed head as it holds; None for a compression we cannot stream here
    (lzop; zstd without the `zstandard` module)."""
    if compression == "none":
        return data
    try:
        if compression == "gzip":
            return zlib.decompressobj(wbits=47).decompress(data)
        if compression == "bzip2":
            return bz2.BZ2Decompressor().decompress(data)
        if compression == "zstd":
            try:
                import zstandard
            except ImportError:
                return None
            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    except (OSError, zlib.error, EOFError) as exc:
        raise UnreadableSampleError(f"not {compression} data: {exc}") from None
    return None


def read_sample(
    url: str, data: bytes, options: CopyOptions, *, complete: bool, records: int = MAX_RECORDS
) -> Sample:
    """The columns of a text or JSON file from its (decompressed) head, with the values of its
    first `records` records."""
    fmt = options.format
    text = data.decode("utf-8", errors="replace")
    if not complete:
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut >= 0 else ""
    if fmt.type == "json":
        return _json_sample(url, text, fmt.ignore_header_rows, complete=complete, records=records)
    if fmt.type in ("csv", "delimited"):
        return _text_sample(url, text, options, records)
    raise UnreadableSampleError(f"format {fmt.type} has no columns to sample from its head")


# --- text ---------------------------------------------------------------------------------------
def _text_sample(url: str, text: str, options: CopyOptions, limit: int) -> Sample:
    fmt = options.format
    header_rows = getattr(fmt, "ignore_header_rows", 0)
    records = _split_records(text, options)
    header = records[header_rows - 1] if 0 < header_rows <= len(records) else None
    rows = records[header_rows : header_rows + limit]
    width = max([len(header or ())] + [len(r) for r in rows])
    nulls = {"", options.null_as if options.null_as is not None else "\\N"}
    columns = []
    for index in range(width):
        label = header[index] if header is not None and index < len(header) else None
        values = tuple(
            None if index >= len(row) or row[index] in nulls else row[index] for row in rows
        )
        name = column_name(label or "", index)
        columns.append(SampleColumn(name=name, label=label, values=values))
    return Sample(
        url=url,
        columns=_unique(columns),
        named=header is not None,
        positional=True,
        records=len(rows),
    )


def _split_records(text: str, options: CopyOptions) -> list[list[str]]:
    fmt = options.format
    delimiter = getattr(fmt, "delimiter", ",")
    lines = text.splitlines(keepends=True)
    if options.ignore_blank_lines:
        lines = [line for line in lines if line.strip("\r\n")]
    if fmt.type == "csv" and len(delimiter) == 1:
        source = io.StringIO("".join(lines))
        reader = csv.reader(source, delimiter=delimiter, quotechar=fmt.quote_char)
        try:
            return [row for row in reader]
        except csv.Error as exc:
            raise UnreadableSampleError(f"not CSV with delimiter {delimiter!r}: {exc}") from None
    records = []
    for line in lines:
        body = line.rstrip("\r\n") if fmt.type == "csv" else line.rstrip("\n")
        fields = body.split(delimiter)
        if getattr(fmt, "remove_quotes", False) or fmt.type == "csv":
            fields = [_unquote(f) for f in fields]
        records.append(fields)
    return records


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _unique(columns: list[SampleColumn]) -> tuple[SampleColumn, ...]:
    """Labels that become the same name get `_2`, `_3`, ... (CREATE TABLE needs distinct names)."""
    seen: dict[str, int] = {}
    out = []
    for column in columns:
        count = seen.get(column.name, 0) + 1
        seen[column.name] = count
        name = f"{column.name}_{count}" if count > 1 else column.name
        out.append(SampleColumn(name, column.label, column.values, column.type))
    return tuple(out)


# --- JSON ---------------------------------------------------------------------------------------
def _json_sample(url: str, text: str, header_rows: int, *, complete: bool, records: int) -> Sample:
    for _ in range(header_rows):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    documents = json_documents(text, complete=complete, limit=records)
    keys: dict[str, list[Any]] = {}
    for count, document in enumerate(documents):
        for key, seen in keys.items():
            seen.append(document.get(key))
        for key, value in document.items():
            if key not in keys:
                keys[key] = [None] * count + [value]
    columns = tuple(
        SampleColumn(name=key, label=key, values=tuple(values)) for key, values in keys.items()
    )
    return Sample(
        url=url,
        columns=columns,
        named=True,
        positional=False,
        records=len(documents),
        json_values=True,
    )


def json_documents(text: str, *, complete: bool, limit: int) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder(parse_float=Decimal)
    documents: list[dict[str, Any]] = []
    pos, end = 0, len(text)
    while len(documents) < limit:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if not complete and documents:
                break  # the head cut a record off
            raise UnreadableSampleError(f"not JSON at character {exc.pos}: {exc.msg}") from None
        documents += _objects(value)
    return documents


def _objects(value: Any) -> list[dict[str, Any]]:
    """A record is an object; an array of objects holds several (as COPY's JSON 'auto' reads)."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def merge_names(samples: Sequence[Sample]) -> list[str]:
    """Every column name of the samples, in order of first appearance."""
    return list(dict.fromkeys(name for sample in samples for name in sample.names))


def labelled_column(label: str, index: int, kind: str) -> SampleColumn:
    """A column of a file's own schema (a footer): labels become names as CSV headers do, so
    drift compares them alike."""
    return SampleColumn(name=column_name(label, index), label=label, type=kind)
