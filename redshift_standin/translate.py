"""Turn a parsed Redshift COPY into the CSV stream of a PostgreSQL `COPY ... FROM STDIN`.

Strategy for bad rows: every field is validated in Python against its column's type
(`fields.py`) before it is sent, so a bad row is skipped and recorded (MAXERROR) instead of
aborting PostgreSQL's COPY. Rows PostgreSQL still rejects (CHECK constraints, types the stand-in
does not validate) fail the whole COPY; `origin()` maps PostgreSQL's line number back to the
source file and line.

`prepare()` does the up-front I/O (manifest, prefix listing, jsonpaths) so its errors surface
before any data is sent; `LoadRun.chunks()` then streams object by object.
"""

from __future__ import annotations

import bisect
import zlib
from array import array
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from botocore.exceptions import BotoCoreError

from redshift_standin.columnar import ColumnarFile
from redshift_standin.copy_spec import Compression, CopySpec, DataFormat
from redshift_standin.errors import LoadFailedError, NotEmulatedError, StandInError
from redshift_standin.fields import Column, FieldError, build_converter
from redshift_standin.records import (
    ERR_DELIMITER,
    ERR_EXTRA_COLUMNS,
    JsonPath,
    LineSource,
    Record,
    csv_records,
    fixedwidth_records,
    json_records,
    parse_fixedwidth,
    parse_jsonpaths,
    text_records,
)
from redshift_standin.s3_source import (
    S3Object,
    missing_key,
    open_object,
    plan_objects,
    read_json,
)
from redshift_standin.sql_tokens import quote_identifier

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK_BYTES = 1 << 16
# Decompression and mid-stream S3 read failures.
_READ_ERRORS = (OSError, EOFError, zlib.error, BotoCoreError)


@dataclass
class FileLoad:
    url: str
    lines_scanned: int = 0
    rows_loaded: int = 0
    bad_rows: int = 0


@dataclass(frozen=True)
class BadRow:
    url: str
    line_number: int
    column: str
    column_type: str
    col_length: str
    position: int
    raw_line: str
    raw_value: str | None
    code: int
    reason: str


def check_emulated(spec: CopySpec) -> None:
    """Reject valid Redshift options the stand-in cannot honour, before any I/O."""
    if spec.data_format is DataFormat.AVRO:
        raise NotEmulatedError(f"FORMAT {spec.data_format.value} is not emulated by the stand-in")
    if spec.format_argument == "noshred":
        raise NotEmulatedError("JSON 'noshred' is not emulated by the stand-in")
    if spec.encrypted:
        raise NotEmulatedError("ENCRYPTED is not emulated by the stand-in")
    if spec.compression is Compression.LZOP:
        raise NotEmulatedError("LZOP is not emulated by the stand-in (use GZIP, BZIP2 or ZSTD)")
    if spec.encoding not in ("UTF8", "UTF_8"):
        raise NotEmulatedError(f"ENCODING {spec.encoding} is not emulated: only UTF8")


def target_columns(spec: CopySpec, table: Sequence[Column]) -> list[Column]:
    """The columns the input fields map to, in order (Redshift's IDENTITY rules included)."""
    if spec.columns is None:
        return [c for c in table if not c.generated and (spec.explicit_ids or not c.identity)]
    by_name = {c.name: c for c in table}
    chosen = []
    for name in spec.columns:
        column = by_name.get(name)
        if column is None:
            raise StandInError(
                f'column "{name}" of relation "{spec.table.name}" does not exist', sqlstate="42703"
            )
        if column.identity and not spec.explicit_ids:
            raise StandInError(
                f"IDENTITY column {name!r} in the column list needs EXPLICIT_IDS", sqlstate="0A000"
            )
        chosen.append(column)
    return chosen


@dataclass(frozen=True)
class LoadPlan:
    spec: CopySpec
    columns: tuple[Column, ...]
    objects: tuple[S3Object, ...]
    jsonpaths: tuple[JsonPath, ...] | None = None
    widths: tuple[int, ...] | None = None

    def copy_sql(self) -> str:
        names = ", ".join(quote_identifier(c.name) for c in self.columns)
        return f"COPY {self.spec.table.sql()} ({names}) FROM STDIN WITH (FORMAT csv)"


def prepare(spec: CopySpec, table: Sequence[Column], s3: S3Client) -> LoadPlan:
    columns = tuple(target_columns(spec, table))
    jsonpaths = widths = None
    if spec.data_format is DataFormat.JSON and (spec.format_argument or "").startswith("s3://"):
        url = spec.format_argument or ""
        jsonpaths = parse_jsonpaths(read_json(s3, url, "JSONPath"), url)
        if len(jsonpaths) != len(columns):
            raise StandInError(
                "Number of jsonpaths and the number of columns should match. JSONPath size: "
                f"{len(jsonpaths)}, Number of columns in table or column list: {len(columns)}",
                code=8001,
                context=url,
            )
    if spec.data_format is DataFormat.FIXEDWIDTH:
        widths = parse_fixedwidth(spec.format_argument or "")
        if len(widths) != len(columns):
            raise StandInError(
                f"FIXEDWIDTH names {len(widths)} fields for {len(columns)} columns", code=8001
            )
    objects = tuple(plan_objects(s3, spec.source, manifest=spec.manifest))
    return LoadPlan(spec, columns, objects, jsonpaths, widths)


def _csv_line(values: list[str | None]) -> str:
    # Quote every value so an empty string stays distinct from NULL (an unquoted empty field).
    return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"


@dataclass
class LoadRun:
    """One execution of a plan: the CSV stream plus what Redshift's history tables need."""

    plan: LoadPlan
    s3: S3Client
    files: list[FileLoad] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    _lines: array[int] = field(default_factory=lambda: array("Q"))
    _file_starts: list[int] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return len(self._lines)

    def origin(self, output_row: int) -> tuple[str, int] | None:
        """(url, source line) of the n-th row sent to PostgreSQL (1-based)."""
        if not 1 <= output_row <= len(self._lines):
            return None
        index = bisect.bisect_right(self._file_starts, output_row - 1) - 1
        return self.files[index].url, self._lines[output_row - 1]

    def chunks(self) -> Generator[bytes, None, None]:
        converters = [build_converter(c, self.plan.spec) for c in self.plan.columns]
        parts: list[str] = []
        size = 0
        for obj in self.plan.objects:
            stream = open_object(self.s3, obj, self.plan.spec.compression)
            if stream is None:
                continue
            load = FileLoad(obj.url)
            self.files.append(load)
            self._file_starts.append(len(self._lines))
            with stream:
                try:
                    for record in self._file_records(stream, load):
                        line = self._convert(record, load, converters)
                        if line is not None:
                            parts.append(line)
                            size += len(line)
                        if size >= CHUNK_BYTES:
                            yield "".join(parts).encode("utf-8")
                            parts, size = [], 0
                except _READ_ERRORS as exc:
                    raise StandInError(
                        f"Failed to read {obj.url}: {exc}", code=8001, context=obj.url
                    ) from exc
        if parts:
            yield "".join(parts).encode("utf-8")
        if not self.files and self.plan.spec.manifest and self.plan.objects:
            # "Regardless of any mandatory settings, COPY will terminate if no files are found."
            raise missing_key(self.plan.objects[0].url)

    def _file_records(self, stream: IO[bytes], load: FileLoad) -> Iterator[Record]:
        """The records of one file; sets `load.lines_scanned` once the file is read."""
        spec = self.plan.spec
        if spec.data_format in (DataFormat.PARQUET, DataFormat.ORC):
            columnar = ColumnarFile(stream.read(), load.url, spec, self.plan.columns)
            for number, values in enumerate(columnar.rows(), start=1):
                load.lines_scanned = number  # rows: a columnar file has no lines
                yield Record(number, "", values)
            return
        lines = LineSource(stream, newline=self._newline(), skip=spec.ignore_header)
        yield from self._records(lines)
        load.lines_scanned = lines.count

    def _newline(self) -> str:
        return "" if self.plan.spec.data_format is DataFormat.CSV else "\n"

    def _records(self, lines: LineSource) -> Iterator[Record]:
        spec = self.plan.spec
        if spec.data_format is DataFormat.CSV:
            return csv_records(lines, spec)
        if spec.data_format is DataFormat.FIXEDWIDTH:
            return fixedwidth_records(lines, spec, self.plan.widths or ())
        if spec.data_format is DataFormat.JSON:
            names = [c.name for c in self.plan.columns]
            ignorecase = spec.format_argument == "auto ignorecase"
            return json_records(lines, names, self.plan.jsonpaths, ignorecase=ignorecase)
        return text_records(lines, spec)

    def _convert(self, record: Record, load: FileLoad, converters: list) -> str | None:
        if record.error is not None:
            self._reject(record, load, None, None, *record.error)
            return None
        fields = record.fields
        if self._trailing_delimiter(fields, len(converters)):
            fields = fields[:-1]
        if len(fields) != len(converters):
            if len(fields) > len(converters):
                self._reject(record, load, None, None, ERR_EXTRA_COLUMNS, "Extra column(s) found")
                return None
            if not self.plan.spec.fill_record:
                self._reject(record, load, len(fields), None, ERR_DELIMITER, "Delimiter not found")
                return None
            fields = fields + [c.missing_value for c in self.plan.columns[len(fields) :]]
        values: list[str | None] = []
        for index, convert in enumerate(converters):
            try:
                values.append(convert(fields[index]))
            except FieldError as exc:
                self._reject(record, load, index, fields[index], exc.code, exc.reason)
                return None
        load.rows_loaded += 1
        self._lines.append(record.line)
        return _csv_line(values)

    def _trailing_delimiter(self, fields: list[str | None], wanted: int) -> bool:
        """A record ending in the delimiter: one empty field past the last column, ignored
        (the documentation's VENUE example loads such a file with a column list)."""
        return (
            len(fields) == wanted + 1
            and fields[-1] == ""
            and self.plan.spec.data_format in (DataFormat.TEXT, DataFormat.CSV)
        )

    def _reject(
        self,
        record: Record,
        load: FileLoad,
        index: int | None,
        raw_value: str | None,
        code: int,
        reason: str,
    ) -> None:
        column = (
            self.plan.columns[index]
            if index is not None and index < len(self.plan.columns)
            else None
        )
        self.bad_rows.append(
            BadRow(
                url=load.url,
                line_number=record.line,
                column=column.name if column else "",
                column_type=column.redshift_type if column else "",
                col_length=str(column.length or 0) if column else "0",
                position=0,
                raw_line=printable(record.raw),
                raw_value=printable(raw_value),
                code=code,
                reason=reason,
            )
        )
        load.bad_rows += 1
        if len(self.bad_rows) > self.plan.spec.max_error:
            location = f"{load.url}, line {record.line}" + (
                f", column {column.name}" if column else ""
            )
            raise LoadFailedError(
                self.plan.spec.table.name, code=code, context=f"{reason} ({location})"
            )


def printable(text: str | None) -> str:
    """Undecodable bytes (surrogate-escaped) shown as U+FFFD, NUL dropped: safe to store."""
    if text is None:
        return ""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\0", "")
