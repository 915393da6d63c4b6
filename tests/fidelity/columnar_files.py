"""Parquet and ORC files for the fidelity cases, written with pyarrow (a `cli` extra)."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import orc


def parquet(columns: dict[str, Any], schema: pa.Schema | None = None) -> bytes:
    table = pa.table(columns, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def orc_file(columns: dict[str, Any], schema: pa.Schema | None = None) -> bytes:
    table = pa.table(columns, schema=schema)
    sink = io.BytesIO()
    orc.write_table(table, sink)
    return sink.getvalue()
