"""COPY ... FORMAT AS PARQUET | ORC, read with pyarrow (copy-usage_notes-copy-from-columnar.md).

Rules followed:
- "COPY inserts values into the target table's columns in the same order as the columns occur in
  the columnar data files. The number of columns in the target table and the number of columns
  in the data file must match." (FILLRECORD: fewer file columns, the rest NULL.)
- Types must be compatible (`COMPATIBLE`); otherwise the COPY fails with Spectrum's
  "incompatible ... schema" error. Nested types load as JSON text only with SERIALIZETOJSON.
- "If COPY encounters an error while loading, the command fails" (no MAXERROR): a bad value
  (overflow, too long, NULL into NOT NULL) is recorded in stl_load_errors and fails the COPY.

Values become the text the row converters (`fields.py`) validate, so length, range, NOT NULL
and CHAR rules are the same as for text formats.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from redshift_standin.copy_spec import CopySpec, DataFormat
from redshift_standin.errors import NotEmulatedError, StandInError
from redshift_standin.fields import CHAR_TYPES, Column

if TYPE_CHECKING:
    import pyarrow as pa

ERR_SPECTRUM = 15007
_BATCH_ROWS = 10_000
_INTEGERS = frozenset({"int2", "int4", "int8", "numeric"})
_FLOATS = frozenset({"float4", "float8"})
_SPELLING = {DataFormat.PARQUET: "Parquet", DataFormat.ORC: "ORC"}

ToText = Callable[[Any], str | None]


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
    except ImportError as exc:
        raise NotEmulatedError(
            "FORMAT PARQUET / ORC needs the `pyarrow` package in the stand-in "
            "(pip install 's3-redshift-loader[cli]')"
        ) from exc
    return pa


def _kind(pa: Any, arrow_type: pa.DataType) -> str | None:
    """Which family of Redshift types an arrow type may load into."""
    types = pa.types
    checks = (
        ("integer", types.is_integer),
        ("float", types.is_floating),
        ("decimal", types.is_decimal),
        ("boolean", types.is_boolean),
        ("string", lambda t: types.is_string(t) or types.is_large_string(t)),
        ("date", types.is_date),
        ("timestamp", types.is_timestamp),
        ("nested", types.is_nested),
    )
    return next((name for name, check in checks if check(arrow_type)), None)


COMPATIBLE: dict[str, frozenset[str]] = {
    "integer": _INTEGERS,
    "float": _FLOATS,
    "decimal": frozenset({"numeric"}) | _FLOATS,
    "boolean": frozenset({"bool"}),
    "string": CHAR_TYPES,
    "date": frozenset({"date"}),
    "timestamp": frozenset({"timestamp", "timestamptz"}),
    "nested": CHAR_TYPES,  # with SERIALIZETOJSON only
}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, int | Decimal | dt.date):
        return str(value)
    return str(value)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        value = dict(value)  # an arrow map comes as (key, value) pairs
    return json.dumps(value, separators=(",", ":"), default=_text)


class ColumnarFile:
    """One Parquet or ORC object: its schema checked against the target, rows as text."""

    def __init__(self, data: bytes, url: str, spec: CopySpec, columns: Sequence[Column]) -> None:
        self.pa = _pyarrow()
        self.url = url
        self.spec = spec
        self.columns = tuple(columns)
        self._reader = self._open(data)
        parquet = spec.data_format is DataFormat.PARQUET
        self.schema = self._reader.schema_arrow if parquet else self._reader.schema
        self.to_text = self._check_schema()

    def _open(self, data: bytes) -> Any:
        source = (
            self.pa.BufferReader(data) if hasattr(self.pa, "BufferReader") else io.BytesIO(data)
        )
        try:
            if self.spec.data_format is DataFormat.PARQUET:
                import pyarrow.parquet as pq

                return pq.ParquetFile(source)
            from pyarrow import orc

            return orc.ORCFile(source)
        except (OSError, ValueError, self.pa.ArrowException) as exc:
            message = f"File '{self.url}' is not a valid {self._spelling} file: {exc}"
            raise self._error(message) from exc

    @property
    def _spelling(self) -> str:
        return _SPELLING[self.spec.data_format]

    def _error(self, message: str) -> StandInError:
        return StandInError(f"Spectrum Scan Error. {message}", code=ERR_SPECTRUM, context=self.url)

    def _check_schema(self) -> list[ToText]:
        fields, wanted = list(self.schema), len(self.columns)
        if len(fields) > wanted or (len(fields) < wanted and not self.spec.fill_record):
            raise self._error(
                "Unmatched number of columns between table and file. Table columns: "
                f"{wanted}, Data columns: {len(fields)}, File name: {self.url}"
            )
        return [
            self._to_text(field, column)
            for field, column in zip(fields, self.columns, strict=False)
        ]

    def _to_text(self, field: pa.Field, column: Column) -> ToText:
        kind = _kind(self.pa, field.type)
        nested_ok = kind != "nested" or self.spec.serialize_to_json
        if kind is None or not nested_ok or column.type_name not in COMPATIBLE[kind]:
            raise self._error(
                f"File '{self.url}' has an incompatible {self._spelling} schema for column "
                f"'{self.url}.{field.name}'. Column type: {column.display_type}, "
                f"{self._spelling} schema: {field.type}"
            )
        return _json_text if kind == "nested" else _text

    def rows(self) -> Iterator[list[str | None]]:
        """Rows as text, one value per target column (missing trailing columns None)."""
        missing = [None] * (len(self.columns) - len(self.to_text))
        try:
            yield from self._rows(missing)
        except self.pa.ArrowException as exc:
            raise self._error(f"File '{self.url}' could not be read: {exc}") from exc

    def _rows(self, missing: list[None]) -> Iterator[list[str | None]]:
        for batch in self._batches():
            values = [
                [convert(v) for v in self._pylist(column)]
                for convert, column in zip(self.to_text, batch.columns, strict=True)
            ]
            for row in zip(*values, strict=True):
                yield [*row, *missing]

    def _batches(self) -> Iterator[Any]:
        if self.spec.data_format is DataFormat.PARQUET:
            yield from self._reader.iter_batches(batch_size=_BATCH_ROWS)
            return
        for stripe in range(self._reader.nstripes):
            yield self._reader.read_stripe(stripe)

    def _pylist(self, array: Any) -> list[Any]:
        types = self.pa.types
        if types.is_timestamp(array.type) and array.type.unit == "ns":
            # datetime has microseconds: Redshift's TIMESTAMP precision too
            array = array.cast(self.pa.timestamp("us", array.type.tz), safe=False)
        return list(array.to_pylist())
