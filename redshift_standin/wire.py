"""PostgreSQL v3 wire protocol: framing, the few messages the proxy builds, and their parsers."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608
MAX_STARTUP = 10_000


@dataclass(frozen=True, slots=True)
class Message:
    type: bytes
    body: bytes

    def raw(self) -> bytes:
        return self.type + struct.pack("!I", len(self.body) + 4) + self.body


async def read_message(reader: asyncio.StreamReader) -> Message:
    """Read one typed message; raises asyncio.IncompleteReadError at end of stream."""
    header = await reader.readexactly(5)
    (length,) = struct.unpack("!I", header[1:])
    return Message(header[:1], await reader.readexactly(length - 4))


async def read_startup(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read an untyped startup-phase packet; returns (request code, whole packet)."""
    header = await reader.readexactly(4)
    (length,) = struct.unpack("!I", header)
    if not 8 <= length <= MAX_STARTUP:
        raise ValueError(f"bad startup packet length {length}")
    body = await reader.readexactly(length - 4)
    (code,) = struct.unpack("!I", body[:4])
    return code, header + body


def startup_parameters(packet: bytes) -> dict[str, str]:
    """The key/value pairs of a StartupMessage (user, database, options, ...)."""
    items = packet[8:].split(b"\0")
    pairs = zip(items[0::2], items[1::2], strict=False)
    return {key.decode(): value.decode() for key, value in pairs if key}


def _cstr(text: str) -> bytes:
    # Error texts may quote a line that was not UTF-8 (read with surrogate escapes): the client
    # gets U+FFFD for those bytes rather than a dropped connection.
    raw = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return raw.replace("\0", "").encode() + b"\0"


def query(sql: str) -> Message:
    return Message(b"Q", _cstr(sql))


def copy_data(chunk: bytes) -> Message:
    return Message(b"d", chunk)


def copy_done() -> Message:
    return Message(b"c", b"")


def copy_fail(reason: str) -> Message:
    return Message(b"f", _cstr(reason))


def command_complete(tag: str) -> Message:
    return Message(b"C", _cstr(tag))


def ready_for_query(status: bytes) -> Message:
    return Message(b"Z", status)


def error_response(
    sqlstate: str, message: str, *, detail: str | None = None, severity: str = "ERROR"
) -> Message:
    return Message(b"E", _fields(severity, sqlstate, message, detail))


def notice_response(message: str, *, severity: str = "INFO") -> Message:
    return Message(b"N", _fields(severity, "00000", message, None))


def _fields(severity: str, sqlstate: str, message: str, detail: str | None) -> bytes:
    parts = [
        b"S" + _cstr(severity),
        b"V" + _cstr(severity),
        b"C" + _cstr(sqlstate),
        b"M" + _cstr(message),
    ]
    if detail:
        parts.append(b"D" + _cstr(detail))
    return b"".join(parts) + b"\0"


def parse_fields(body: bytes) -> dict[str, str]:
    """ErrorResponse / NoticeResponse fields keyed by their one-letter code."""
    fields: dict[str, str] = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode(errors="replace")
    return fields


def parse_data_row(body: bytes) -> list[str | None]:
    (count,) = struct.unpack("!H", body[:2])
    values: list[str | None] = []
    pos = 2
    for _ in range(count):
        (length,) = struct.unpack("!i", body[pos : pos + 4])
        pos += 4
        if length < 0:
            values.append(None)
        else:
            values.append(body[pos : pos + length].decode())
            pos += length
    return values


def parse_command_tag(body: bytes) -> str:
    return body.rstrip(b"\0").decode()
