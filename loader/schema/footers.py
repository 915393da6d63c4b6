"""Column names and types of Parquet and ORC files, read from their footers. Pure, no pyarrow.

The Lambda package has no pyarrow (its cold start and size stay small), yet schema drift of a
columnar batch must name the columns. Both formats keep their schema in a small footer at the
end of the file, so reading the file's tail is enough:

- Parquet (parquet-format, "File format"): `... <FileMetaData> <4-byte little-endian length>
  PAR1`. FileMetaData is a Thrift compact-protocol struct whose field 2 lists SchemaElements
  (type, repetition, name, num_children, converted_type, scale, precision, logicalType) in
  depth-first order under a root element.
- ORC (ORC v1 specification, "File Tail"): `... <Footer> <PostScript> <1-byte PostScript
  length>`. PostScript (protobuf, never compressed) gives the footer's length and compression;
  the Footer (protobuf, compressed in chunks with 3-byte headers) lists Types, types[0] being
  the root struct whose subtypes and field names are the columns (read in orc.py).

Types become the Redshift types the columnar COPY accepts for them (the stand-in's
`redshift_standin.columnar.COMPATIBLE` follows the same documentation); nested columns become
VARCHAR(65535) for SERIALIZETOJSON. ORC footers compressed with LZO or LZ4 (and ZSTD without the
`zstandard` module) cannot be read here: `UnreadableSampleError` says so.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from loader.schema import orc
from loader.schema.samples import SampleColumn, UnreadableSampleError, labelled_column

TAIL_BYTES = 64 * 1024
"""Read this much of a file's end first; a larger footer says how much more it needs."""
WIDE = orc.WIDE
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Footer:
    columns: tuple[SampleColumn, ...]


def needed(tail: bytes, kind: str) -> int:
    """How many bytes from the end of the file the footer takes (at least `len(tail)` means the
    tail holds it); raises UnreadableSampleError when the tail is not of that format."""
    if kind == "parquet":
        if len(tail) < 12 or tail[-4:] != PARQUET_MAGIC:
            raise UnreadableSampleError("not a Parquet file (no PAR1 at its end)")
        return struct.unpack("<I", tail[-8:-4])[0] + 8
    if kind == "orc":
        if len(tail) < 2:
            raise UnreadableSampleError("not an ORC file (too short)")
        postscript = orc.postscript(tail)
        return 1 + tail[-1] + postscript["footer"]
    raise UnreadableSampleError(f"{kind} has no footer schema")


def read_footer(tail: bytes, kind: str) -> Footer:
    """The columns of a Parquet or ORC file whose last `needed(...)` bytes are `tail`."""
    size = needed(tail, kind)
    if size > len(tail):
        raise UnreadableSampleError(f"the footer needs the last {size} bytes, got {len(tail)}")
    if kind == "parquet":
        return Footer(_parquet_columns(tail[-size:-8]))
    return Footer(orc.columns(tail))


# --- Thrift compact protocol --------------------------------------------------------------------
class _Compact(orc.Varints):
    """Just enough of the Thrift compact protocol to walk FileMetaData."""

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def struct(self, stop_after: int | None = None) -> dict[int, Any]:
        """A struct's fields by id, up to field `stop_after` (the rest is never parsed)."""
        found: dict[int, Any] = {}
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return found
            kind, delta = header & 0x0F, header >> 4
            last = last + delta if delta else self.zigzag()
            found[last] = self.value(kind)
            if last == stop_after:
                return found

    def value(self, kind: int) -> Any:
        if kind in (1, 2):
            return kind == 1
        if kind in (9, 10, 11, 12):
            return self._container(kind)
        if kind in (4, 5, 6):
            return self.zigzag()
        if kind == 3:
            return self.byte()
        if kind == 7:
            self.pos += 8  # a double: nothing here needs one
            return None
        if kind == 8:
            return self.binary()
        raise UnreadableSampleError(f"the Parquet footer holds an unknown Thrift type {kind}")

    def _container(self, kind: int) -> Any:
        if kind == 12:
            return self.struct()
        if kind == 11:  # a map: read past it
            size = self.varint()
            types = self.byte() if size else 0
            for _ in range(size):
                self.value(types >> 4)
                self.value(types & 0x0F)
            return None
        header = self.byte()  # a list or a set
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size = self.varint()
        return [self.value(element) for _ in range(size)]


# parquet.thrift: Type (physical), ConvertedType and LogicalType field ids.
_PHYSICAL = {
    0: "BOOLEAN",
    1: "INT32",
    2: "INT64",
    3: "INT96",
    4: "FLOAT",
    5: "DOUBLE",
    6: "BYTE_ARRAY",
    7: "FIXED_LEN_BYTE_ARRAY",
}
# Physical types whose Redshift type needs no logical annotation.
_PLAIN = {"BOOLEAN": "BOOLEAN", "INT96": "TIMESTAMP", "FLOAT": "REAL", "DOUBLE": "DOUBLE PRECISION"}
_TEXT_CONVERTED = {0, 4, 19}  # UTF8, ENUM, JSON
_TEXT_LOGICAL = {1, 4, 12}  # STRING, ENUM, JSON
_CONVERTED_INTS = {
    11: "SMALLINT",  # UINT_8
    12: "INTEGER",  # UINT_16
    13: "BIGINT",  # UINT_32
    14: "DECIMAL(20,0)",  # UINT_64
    15: "SMALLINT",  # INT_8
    16: "SMALLINT",  # INT_16
    17: "INTEGER",  # INT_32
    18: "BIGINT",  # INT_64
}


def _parquet_columns(metadata: bytes) -> tuple[SampleColumn, ...]:
    reader = _Compact(metadata)
    fields = reader.struct(stop_after=2)  # 1: version, 2: schema; row groups are not needed
    elements = fields.get(2)
    if not isinstance(elements, list) or not elements:
        raise UnreadableSampleError("the Parquet footer has no schema")
    root, rest = elements[0], elements[1:]
    columns, pos = [], 0
    for index in range(int(root.get(5) or 0)):
        element = rest[pos]
        pos += 1 + _subtree(rest, pos)
        label = bytes(element[4]).decode("utf-8", errors="replace")
        columns.append(labelled_column(label, index, _parquet_type(element)))
    return tuple(columns)


def _subtree(elements: list[dict[int, Any]], pos: int) -> int:
    """How many elements below elements[pos] (its children, depth first)."""
    total, children = 0, int(elements[pos].get(5) or 0)
    for _ in range(children):
        below = _subtree(elements, pos + 1 + total)
        total += 1 + below
    return total


def _parquet_type(element: dict[int, Any]) -> str:
    if element.get(5):
        return WIDE  # a group: struct, list or map
    physical = _PHYSICAL.get(int(element.get(1, -1)), "")
    found = element.get(10)
    logical: dict[int, Any] = found if isinstance(found, dict) else {}
    converted = element.get(6)
    decimal = logical.get(5) if isinstance(logical.get(5), dict) else None
    if decimal is not None or converted == 5:
        precision = int((decimal or {}).get(2, element.get(8)) or 38)
        scale = int((decimal or {}).get(1, element.get(7)) or 0)
        return f"DECIMAL({precision},{scale})"
    if physical in _PLAIN:
        return _PLAIN[physical]
    if physical in ("INT32", "INT64"):
        return _parquet_integer(physical, logical, converted)
    if _TEXT_LOGICAL & set(logical) or converted in _TEXT_CONVERTED:
        return WIDE
    return "VARBYTE"


def _parquet_integer(physical: str, logical: dict[int, Any], converted: object) -> str:
    timestamp = logical.get(8)
    if isinstance(timestamp, dict):
        return "TIMESTAMPTZ" if timestamp.get(1) else "TIMESTAMP"
    integer = logical.get(10)
    if isinstance(integer, dict):
        return _integer_width(int(integer.get(1, 32)), bool(integer.get(2, True)))
    annotated = {6: "DATE", 9: "TIMESTAMP", 10: "TIMESTAMP", **_CONVERTED_INTS}
    if 6 in logical:
        return "DATE"
    if isinstance(converted, int) and converted in annotated:
        return annotated[converted]
    return "INTEGER" if physical == "INT32" else "BIGINT"


def _integer_width(bits: int, signed: bool) -> str:
    """The smallest Redshift integer holding every value of a (bits, signed) integer."""
    if bits <= 8 or (bits <= 16 and signed):
        return "SMALLINT"
    if bits <= 16 or (bits <= 32 and signed):
        return "INTEGER"
    if bits <= 32 or signed:
        return "BIGINT"
    return "DECIMAL(20,0)"
