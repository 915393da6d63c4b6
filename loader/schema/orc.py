"""The ORC file tail (ORC v1 specification, "File Tail"), read without pyarrow. Pure.

`... <Footer> <PostScript> <1-byte PostScript length>`: the PostScript (protobuf, never
compressed) gives the footer's length and compression; the Footer (protobuf, compressed in chunks
with 3-byte headers) lists Types, types[0] being the root struct whose subtypes and field names
are the columns. Used by loader/schema/footers.py.
"""

from __future__ import annotations

import zlib
from typing import Any

from loader.schema.samples import SampleColumn, UnreadableSampleError, labelled_column

WIDE = "VARCHAR(65535)"
ORC_MAGIC = b"ORC"


class Varints:
    """Bytes read as varints and length-prefixed strings (protobuf, Thrift compact, Snappy)."""

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

    def binary(self) -> bytes:
        size = self.varint()
        self.pos += size
        return self.data[self.pos - size : self.pos]


def _protobuf(data: bytes) -> dict[int, list[Any]]:
    """A message's fields by number (repeated fields keep every value; bytes stay bytes)."""
    reader = Varints(data)
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
            reader = Varints(value)
            while reader.pos < len(value):
                out.append(reader.varint())
        elif isinstance(value, int):
            out.append(value)
    return out


_ORC_COMPRESSION = {0: "none", 1: "zlib", 2: "snappy", 3: "lzo", 4: "lz4", 5: "zstd"}


def postscript(tail: bytes) -> dict[str, Any]:
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


def columns(tail: bytes) -> tuple[SampleColumn, ...]:
    """The columns of the ORC file whose tail (footer included) is `tail`."""
    found = postscript(tail)
    end = len(tail) - 1 - tail[-1]
    raw = tail[end - int(found["footer"]) : end]
    footer = _protobuf(_orc_inflate(raw, str(found["compression"])))
    types = [_protobuf(t) for t in footer.get(4, []) if isinstance(t, bytes)]
    if not types:
        raise UnreadableSampleError("the ORC footer has no types")
    root = types[0]
    ids = _packed(root.get(2, []))
    labels = [n for n in root.get(3, []) if isinstance(n, bytes)]
    names = [label.decode("utf-8", errors="replace") for label in labels]
    return tuple(
        labelled_column(name, index, _orc_type(types[i]))
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
    reader = Varints(data)
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
