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
  the root struct whose subtypes and field names are the columns.

Types become the Redshift types the columnar COPY accepts for them (the stand-in's
`redshift_standin.columnar.COMPATIBLE` follows the same documentation); nested columns become
VARCHAR(65535) for SERIALIZETOJSON. ORC footers compressed with LZO or LZ4 (and ZSTD without the
`zstandard` module) cannot be read here: `UnreadableSampleError` says so.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from loader.schema.infer import column_name
from loader.schema.samples import SampleColumn, UnreadableSampleError

TAIL_BYTES = 64 * 1024
"""Read this much of a file's end first; a larger footer says how much more it needs."""
WIDE = "VARCHAR(65535)"
PARQUET_MAGIC = b"PAR1"
ORC_MAGIC = b"ORC"


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
        postscript = _orc_postscript(tail)
        return 1 + tail[-1] + postscript["footer"]
    raise UnreadableSampleError(f"{kind} has no footer schema")


def read_footer(tail: bytes, kind: str) -> Footer:
    """The columns of a Parquet or ORC file whose last `needed(...)` bytes are `tail`."""
    size = needed(tail, kind)
    if size > len(tail):
        raise UnreadableSampleError(f"the footer needs the last {size} bytes, got {len(tail)}")
    if kind == "parquet":
        return Footer(_parquet_columns(tail[-size:-8]))
    return Footer(_orc_columns(tail, size))


# --- Thrift compact protocol --------------------------------------------------------------------
class _Compact:
    """Just enough of the Thrift compact protocol to walk FileMetaData."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise UnreadableSampleError("the Parquet footer ends early")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def binary(self) -> bytes:
        size = self.varint()
        self.pos += size
        return self.data[self.pos - size : self.pos]

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
        columns.append(_column(label, index, _parquet_type(element)))
    return tuple(columns)


def _column(label: str, index: int, kind: str) -> SampleColumn:
    """Labels become names as CSV headers do, so drift compares them alike."""
    return SampleColumn(name=column_name(label, index), label=label, type=kind)


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


# --- protobuf and ORC ---------------------------------------------------------------------------
def _protobuf(data: bytes) -> dict[int, list[Any]]:
    """A message's fields by number (repeated fields keep every value; bytes stay bytes)."""
    reader = _Compact(data)
    fields: dict[int, list[Any]] = {}
    while reader.pos < len(data):
        key = reader.varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value: Any = reader.varint()
        elif wire == 2:
            value = reader.binary()
        elif wire == 1:
            reader.pos += 8
            value = None
        elif wire == 5:
            reader.pos += 4
            value = None
        else:
            raise UnreadableSampleError(
                f"the ORC footer holds an unknown protobuf wire type {wire}"
            )
        fields.setdefault(number, []).append(value)
    return fields


def _packed(values: list[Any]) -> list[int]:
    """A repeated uint32, packed (bytes) or not (ints)."""
    out: list[int] = []
    for value in values:
        if isinstance(value, bytes):
            reader = _Compact(value)
            while reader.pos < len(value):
                out.append(reader.varint())
        elif isinstance(value, int):
            out.append(value)
    return out


_ORC_COMPRESSION = {0: "none", 1: "zlib", 2: "snappy", 3: "lzo", 4: "lz4", 5: "zstd"}


def _orc_postscript(tail: bytes) -> dict[str, Any]:
    length = tail[-1]
    if length + 1 > len(tail):
        raise UnreadableSampleError("not an ORC file (its postscript is cut off)")
    fields = _protobuf(tail[-1 - length : -1])
    magic = fields.get(8000, [b""])[0]
    if magic != ORC_MAGIC:
        raise UnreadableSampleError("not an ORC file (no ORC magic in its postscript)")
    return {
        "footer": int(fields.get(1, [0])[0] or 0),
        "compression": _ORC_COMPRESSION.get(int(fields.get(2, [0])[0] or 0), "unknown"),
    }


def _orc_columns(tail: bytes, size: int) -> tuple[SampleColumn, ...]:
    postscript = _orc_postscript(tail)
    end = len(tail) - 1 - tail[-1]
    raw = tail[end - int(postscript["footer"]) : end]
    footer = _protobuf(_orc_inflate(raw, str(postscript["compression"])))
    types = [_protobuf(t) for t in footer.get(4, []) if isinstance(t, bytes)]
    if not types:
        raise UnreadableSampleError("the ORC footer has no types")
    root = types[0]
    ids = _packed(root.get(2, []))
    labels = [n for n in root.get(3, []) if isinstance(n, bytes)]
    names = [label.decode("utf-8", errors="replace") for label in labels]
    return tuple(
        _column(name, index, _orc_type(types[i]))
        for index, (name, i) in enumerate(zip(names, ids, strict=False))
    )


# orc_proto.proto, Type.Kind: BOOLEAN 0, BYTE 1, SHORT 2, INT 3, LONG 4, FLOAT 5, DOUBLE 6,
# STRING 7, BINARY 8, TIMESTAMP 9, DATE 15, TIMESTAMP_INSTANT 18 (and DECIMAL 14, VARCHAR 16,
# CHAR 17 with parameters; LIST 10, MAP 11, STRUCT 12, UNION 13 nested).
_ORC_KINDS = {
    0: "BOOLEAN",
    1: "SMALLINT",
    2: "SMALLINT",
    3: "INTEGER",
    4: "BIGINT",
    5: "REAL",
    6: "DOUBLE PRECISION",
    7: WIDE,
    8: "VARBYTE",
    9: "TIMESTAMP",
    15: "DATE",
    18: "TIMESTAMPTZ",
}


def _orc_type(fields: dict[int, list[Any]]) -> str:
    kind = int(fields.get(1, [7])[0] or 0)
    if kind == 14:
        precision = int(fields.get(5, [38])[0] or 38)
        scale = int(fields.get(6, [0])[0] or 0)
        return f"DECIMAL({precision},{scale})"
    if kind in (16, 17):
        length = int(fields.get(4, [0])[0] or 0)
        name = "VARCHAR" if kind == 16 else "CHAR"
        return f"{name}({length})" if 0 < length <= (65535 if kind == 16 else 4096) else WIDE
    return _ORC_KINDS.get(kind, WIDE)  # lists, maps, structs, unions: JSON text


def _orc_inflate(data: bytes, compression: str) -> bytes:
    if compression == "none":
        return data
    out, pos = bytearray(), 0
    while pos + 3 <= len(data):
        header = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        length, original = header >> 1, header & 1
        chunk = data[pos + 3 : pos + 3 + length]
        pos += 3 + length
        out += chunk if original else _inflate_chunk(chunk, compression)
    return bytes(out)


def _inflate_chunk(chunk: bytes, compression: str) -> bytes:
    if compression == "zlib":
        return zlib.decompressobj(-15).decompress(chunk)
    if compression == "snappy":
        return _unsnappy(chunk)
    if compression == "zstd":
        try:
            import zstandard
        except ImportError:
            raise UnreadableSampleError(
                "the ORC footer is zstd-compressed (no zstandard)"
            ) from None
        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(chunk))
    raise UnreadableSampleError(
        f"the ORC footer is {compression}-compressed, which cannot be read here"
    )


def _unsnappy(data: bytes) -> bytes:
    """Raw Snappy (format_description.txt): a varint length, then literals and back-copies."""
    reader = _Compact(data)
    size = reader.varint()
    out = bytearray()
    while reader.pos < len(data):
        tag = reader.byte()
        kind = tag & 3
        if kind == 0:
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                length = int.from_bytes(data[reader.pos : reader.pos + extra], "little")
                reader.pos += extra
            length += 1
            out += data[reader.pos : reader.pos + length]
            reader.pos += length
            continue
        if kind == 1:
            length = 4 + ((tag >> 2) & 7)
            offset = (tag >> 5) << 8 | reader.byte()
        else:
            width = 2 if kind == 2 else 4
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[reader.pos : reader.pos + width], "little")
            reader.pos += width
        if not 0 < offset <= len(out):
            raise UnreadableSampleError("the ORC footer's Snappy data is corrupt")
        for _ in range(length):  # copies may overlap what they produce
            out.append(out[-offset])
    if len(out) != size:
        raise UnreadableSampleError("the ORC footer's Snappy data is corrupt")
    return bytes(out)
