"""Parquet and ORC schemas read from the file's tail without pyarrow (the Lambda has none).

pyarrow only writes the files here; the reader under test is loader/schema/footers.py.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import orc

from loader.schema.footers import needed, read_footer
from loader.schema.samples import UnreadableSampleError

TABLE = pa.table(
    {
        "id": pa.array([1, 2], pa.int64()),
        "qty": pa.array([1, 2], pa.int16()),
        "n": pa.array([1, 2], pa.int32()),
        "name": pa.array(["a", "b"]),
        "amount": pa.array([Decimal("1.25"), None], pa.decimal128(10, 2)),
        "ratio": pa.array([1.0, 2.0], pa.float32()),
        "score": pa.array([1.0, 2.0]),
        "ok": pa.array([True, False]),
        "day": pa.array([dt.date(2024, 1, 1)] * 2),
        "at": pa.array([dt.datetime(2024, 1, 1)] * 2, pa.timestamp("us")),
        "tags": pa.array([[1], [2, 3]]),
    }
)
EXPECTED = [
    ("id", "BIGINT"),
    ("qty", "SMALLINT"),
    ("n", "INTEGER"),
    ("name", "VARCHAR(65535)"),
    ("amount", "DECIMAL(10,2)"),
    ("ratio", "REAL"),
    ("score", "DOUBLE PRECISION"),
    ("ok", "BOOLEAN"),
    ("day", "DATE"),
    ("at", "TIMESTAMP"),
    ("tags", "VARCHAR(65535)"),
]


def parquet(**options: object) -> bytes:
    out = io.BytesIO()
    pq.write_table(TABLE, out, **options)
    return out.getvalue()


def orc_file(compression: str) -> bytes:
    out = io.BytesIO()
    orc.write_table(TABLE, out, compression=compression)
    return out.getvalue()


@pytest.mark.parametrize("options", [{}, {"compression": "gzip"}, {"version": "1.0"}])
def test_parquet_columns_and_types_come_from_the_footer(options: dict[str, object]) -> None:
    data = parquet(**options)
    footer = read_footer(data[-needed(data, "parquet") :], "parquet")
    assert [(c.name, c.type) for c in footer.columns] == EXPECTED


@pytest.mark.parametrize("compression", ["uncompressed", "zlib", "snappy", "zstd"])
def test_orc_columns_and_types_come_from_the_footer_whatever_its_compression(
    compression: str,
) -> None:
    data = orc_file(compression)
    footer = read_footer(data[-needed(data, "orc") :], "orc")
    assert [(c.name, c.type) for c in footer.columns] == EXPECTED


def test_a_tail_too_short_for_the_footer_says_how_much_it_needs() -> None:
    data = parquet()
    size = needed(data[-100:], "parquet")
    assert size > 100
    with pytest.raises(UnreadableSampleError, match=f"the last {size} bytes"):
        read_footer(data[-100:], "parquet")


def test_files_of_another_format_are_refused() -> None:
    with pytest.raises(UnreadableSampleError, match="not a Parquet file"):
        needed(b"id,name\n1,a\n", "parquet")
    with pytest.raises(UnreadableSampleError, match="not an ORC file"):
        needed(parquet(), "orc")
