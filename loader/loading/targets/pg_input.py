"""PostgreSQL target input: which Redshift COPY options PostgreSQL can honour, and the streams
that turn one S3 object into `COPY ... FROM STDIN` input.

`pg_copy_plan` is pure and refuses, as a configuration error, everything PostgreSQL cannot do the
same way (columnar formats, fixed width, jsonpaths, LZOP, MAXERROR, NULL-conversion flags, ...):
a silently different load would be worse than none. The streams decompress (gzip, bzip2; zstd
when `zstandard` is importable), skip header lines, and convert JSON records to CSV rows.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loader.copy_sql import quote_ident, quote_name
from loader.errors import ConfigurationError, LoaderError, RetryableError, TerminalError

if TYPE_CHECKING:
    from config.copy_options import CopyOptions
    from config.formats import DataFormat

CHUNK = 1 << 16
MAX_JSON_DOCUMENT = 4 * 1024 * 1024
_NULL = "\\N"
# Options whose Redshift meaning PostgreSQL's COPY does not reproduce.
_UNSUPPORTED_FLAGS = (
    "empty_as_null",
    "blanks_as_null",
    "fill_record",
    "truncate_columns",
    "trim_blanks",
    "ignore_blank_lines",
    "encrypted",
)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class BadInputError(TerminalError):
    """A record the loader itself could not read (bad JSON, bad UTF-8, broken compression)."""

    def __init__(self, message: str, *, file: str, line: int | None) -> None:
        super().__init__(message, file=file, line=line)
        self.file, self.line = file, line


@dataclass(frozen=True)
class PgCopyPlan:
    """How the files of a batch are fed to PostgreSQL."""

    with_options: str
    """The `WITH (...)` list of `COPY ... FROM STDIN`."""
    compression: str
    skip_lines: int
    """Header lines skipped by the loader (PostgreSQL line numbers are offset by this)."""
    json_ignorecase: bool | None
    """None: text input passed through; else JSON records converted to CSV rows."""


def pg_copy_plan(options: CopyOptions, *, zstd_available: bool) -> PgCopyPlan:
    """The plan, or ConfigurationError naming every option PostgreSQL cannot honour."""
    problems = option_problems(options, zstd_available=zstd_available)
    with_options, json_ignorecase = _format_options(options.format, problems)
    if options.null_as is not None and json_ignorecase is None:
        with_options += f", NULL {_pg_text(options.null_as)}"
    if problems:
        raise ConfigurationError("PostgreSQL target: " + "; ".join(problems))
    skip = getattr(options.format, "ignore_header_rows", 0)
    return PgCopyPlan(with_options, options.compression, skip, json_ignorecase)


def option_problems(options: CopyOptions, *, zstd_available: bool) -> list[str]:
    """Options (other than the format) whose Redshift meaning PostgreSQL would not reproduce."""
    problems = [f"{name} is not supported" for name in _UNSUPPORTED_FLAGS if getattr(options, name)]
    if options.max_error:
        problems.append("max_error is not supported (PostgreSQL stops at the first bad row)")
    if options.accept_inv_chars:
        problems.append("accept_inv_chars is not supported")
    problems += [
        f"{name} other than 'auto' is not supported"
        for name in ("date_format", "time_format")
        if getattr(options, name) not in (None, "auto")
    ]
    if options.encoding not in (None, "utf8"):
        problems.append(f"encoding {options.encoding} is not supported (UTF-8 only)")
    if options.extra_options:
        problems.append("extra_options (Redshift COPY text) cannot be used")
    delimiter = getattr(options.format, "delimiter", ",")
    if len(delimiter.encode()) != 1:
        problems.append("a delimiter must be one character (one byte) for PostgreSQL's COPY")
    if options.compression == "lzop":
        problems.append("lzop compression is not supported")
    if options.compression == "zstd" and not zstd_available:
        problems.append("zstd compression needs the 'zstandard' module, which is not installed")
    return problems


def _format_options(fmt: DataFormat, problems: list[str]) -> tuple[str, bool | None]:
    """(`WITH` options, json ignorecase or None for text input); problems appended."""
    if fmt.type == "csv":
        quote = _pg_text(fmt.quote_char)
        return f"FORMAT csv, DELIMITER {_pg_text(fmt.delimiter)}, QUOTE {quote}", None
    if fmt.type == "delimited":
        delimiter = _pg_text(fmt.delimiter)
        if fmt.escape and fmt.remove_quotes:
            problems.append("delimited format with both escape and remove_quotes is not supported")
        if fmt.escape:  # text format: backslash escapes, like Redshift's ESCAPE
            return f"FORMAT text, DELIMITER {delimiter}", None
        # csv with quoting only for REMOVEQUOTES (else a char that never occurs): `\` stays data
        quote = _pg_text('"' if fmt.remove_quotes else "\x01")
        return f"FORMAT csv, DELIMITER {delimiter}, QUOTE {quote}", None
    if fmt.type == "json" and fmt.mode not in ("jsonpaths", "noshred"):
        return f"FORMAT csv, NULL {_pg_text(_NULL)}", fmt.mode != "auto"
    mode = f" {fmt.mode}" if fmt.type == "json" else ""
    problems.append(f"format {fmt.type}{mode} cannot be loaded into PostgreSQL")
    return "", None


def _pg_text(value: str) -> str:
    """A PostgreSQL escape-string literal (E'...'): safe for any character, control ones too."""
    if "\x00" in value:
        raise ConfigurationError("a NUL character cannot be used in COPY options")
    body = "".join(
        f"\\x{ord(c):02x}" if ord(c) < 32 else ("\\\\" if c == "\\" else c) for c in value
    )
    return "E'" + body.replace("'", "''") + "'"


def pg_copy_sql(table: str, columns: Sequence[str] | None, plan: PgCopyPlan) -> str:
    names = f" ({', '.join(quote_name(c) for c in columns)})" if columns else ""
    return f"COPY {quote_ident(table)}{names} FROM STDIN WITH ({plan.with_options})"


# --- streams -------------------------------------------------------------------------------


def decompressed(body: Readable, compression: str, url: str) -> Readable:
    """The object's bytes, decompressed as configured (the plan has checked zstd exists).

    Network failures while reading become RetryableError, undecodable data BadInputError.
    """
    raw: Any = _Guarded(body, url, network=True)  # file-like enough for the decompressors
    stream: Readable
    if compression == "gzip":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    elif compression == "bzip2":
        stream = bz2.BZ2File(raw)
    elif compression == "zstd":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    else:
        return raw
    return _Guarded(stream, url, network=False)


class _Guarded:
    """Classifies read errors: on the S3 body (network) or on a decompressor (bad data)."""

    def __init__(self, stream: Readable, url: str, *, network: bool) -> None:
        self._stream, self._url, self._network = stream, url, network

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        failures: tuple[type[BaseException], ...] = (
            BotoCoreError,
            OSError,
            EOFError,
            zlib.error,
            ValueError,
            *_zstd_errors(),
        )
        try:
            return self._stream.read(size)
        except LoaderError:
            raise
        except failures as exc:
            if self._network:
                raise RetryableError(f"reading {self._url} failed: {exc}") from exc
            raise BadInputError(f"cannot decompress: {exc}", file=self._url, line=None) from exc


@functools.cache
def _zstd_errors() -> tuple[type[Exception], ...]:
    """zstandard's ZstdError derives from Exception only; without this a corrupt .zst file
    escaped unclassified (and was retried as if the network had failed)."""
    try:
        from zstandard import ZstdError
    except ImportError:
        return ()
    return (ZstdError,)


def lines(stream: Readable) -> Iterator[bytes]:
    """Lines of a byte stream, newline kept, read in chunks."""
    pending = b""
    while chunk := stream.read(CHUNK):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line + b"\n"
    if pending:
        yield pending


class ChunkReader:
    """A `read(size)` file over an iterator of byte chunks (what psycopg2's copy_expert reads).

    A LoaderError raised while reading is handed to `on_error` before it propagates: psycopg2
    replaces it with a QueryCanceled error from the server.
    """

    def __init__(
        self, chunks: Iterator[bytes], on_error: Callable[[LoaderError], None] | None = None
    ) -> None:
        self._chunks = chunks
        self._on_error = on_error
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        try:
            return self._read(size)
        except LoaderError as exc:
            if self._on_error is not None:
                self._on_error(exc)
            raise

    def _read(self, size: int) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def text_input(stream: Readable, skip_lines: int) -> Iterator[bytes]:
    """Text/CSV input after the first `skip_lines` lines, in chunks as read."""
    pending, skipped = b"", 0
    while skipped < skip_lines:
        if b"\n" not in pending:
            chunk = stream.read(CHUNK)
            if not chunk:
                return
            pending += chunk
            continue
        pending = pending.split(b"\n", 1)[1]
        skipped += 1
    if pending:
        yield pending
    while chunk := stream.read(CHUNK):
        yield chunk


class LineCounter:
    r"""Counts the lines of text passing through, as PostgreSQL's COPY ends them: `\n`, `\r\n`
    or a lone `\r`, plus a last line without an ending."""

    def __init__(self) -> None:
        self.endings = 0
        self._last = b""

    @property
    def lines(self) -> int:
        return self.endings + (1 if self._last not in (b"", b"\n", b"\r") else 0)

    def count(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if not chunk:
                continue
            crlf = chunk.count(b"\r\n") + (1 if self._last == b"\r" and chunk[:1] == b"\n" else 0)
            self.endings += chunk.count(b"\n") + chunk.count(b"\r") - crlf
            self._last = chunk[-1:]
            yield chunk


class JsonRows:
    """JSON records (one or several per line, or one spread over lines) as CSV rows.

    Values are matched to `columns` by name (`ignorecase` as Redshift's 'auto ignorecase');
    nested values load as JSON text, JSON null and missing keys as NULL. `origins[i]` is the
    file line where output row i+1 started, to map PostgreSQL's line numbers back.
    """

    def __init__(self, stream: Readable, columns: Sequence[str], *, ignorecase: bool, url: str):
        self._stream = stream
        self._columns = list(columns)
        self._ignorecase = ignorecase
        self._url = url
        self._decoder = json.JSONDecoder(parse_float=str)
        self.origins: list[int] = []

    def chunks(self) -> Iterator[bytes]:
        batch: list[str] = []
        for line, document in self._documents():
            self.origins.append(line)
            batch.append(self._row(document, line))
            if len(batch) >= 512:
                yield "".join(batch).encode()
                batch = []
        if batch:
            yield "".join(batch).encode()

    def _documents(self) -> Iterator[tuple[int, Any]]:
        buffer, start = "", 0
        for number, raw in enumerate(lines(self._stream), start=1):
            text = self._decode(raw, number)
            if not buffer and not text.strip():
                continue
            if not buffer:
                start = number
            buffer += text
            parsed, buffer = self._parse(buffer, start, number)
            for document in parsed:
                yield start, document
        if buffer.strip():
            raise BadInputError("incomplete JSON record at end of file", file=self._url, line=start)

    def _parse(self, buffer: str, start: int, number: int) -> tuple[list[Any], str]:
        documents: list[Any] = []
        pos = 0
        while True:
            while pos < len(buffer) and buffer[pos].isspace():
                pos += 1
            if pos >= len(buffer):
                return documents, ""
            try:
                document, pos = self._decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(buffer.rstrip()) and len(buffer) < MAX_JSON_DOCUMENT:
                    return documents, buffer[pos:]  # incomplete: read the next line
                raise BadInputError(
                    f"invalid JSON: {exc.msg}", file=self._url, line=number
                ) from exc
            documents.append(document)

    def _decode(self, raw: bytes, number: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInputError(
                f"invalid UTF-8: {exc.reason}", file=self._url, line=number
            ) from exc

    def _row(self, document: Any, line: int) -> str:
        if not isinstance(document, dict):
            raise BadInputError("a JSON record must be an object", file=self._url, line=line)
        if self._ignorecase:
            document = {str(k).lower(): v for k, v in document.items()}
            values = [document.get(c.lower()) for c in self._columns]
        else:
            values = [document.get(c) for c in self._columns]
        return ",".join(_csv_field(v) for v in values) + "\n"


def _csv_field(value: Any) -> str:
    if value is None:
        return _NULL  # unquoted: the NULL marker; every real value is quoted below
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'
