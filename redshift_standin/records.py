"""Record readers: split a decoded data file into records of raw fields, one reader per format.

Fields equal to the NULL AS string come out as None; everything else stays text for `fields.py`.
Every record carries the file line it starts on and its raw text, for `stl_load_errors`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from redshift_standin.copy_spec import CopySpec
from redshift_standin.errors import StandInError

ERR_EXTRA_COLUMNS = 1202
ERR_DELIMITER = 1214
ERR_INPUT_LINE = 1216
MAX_JSON_DOCUMENT = 4 * 1024 * 1024  # Redshift's limit for one JSON object
JSONPATH_INDEX_ERROR = "Invalid JSONPath format: Not an array or index out of range."
_QUOTES = "\"'"

JsonPath = tuple[str | int, ...]


@dataclass(slots=True)
class Record:
    line: int
    raw: str
    fields: list[str | None]
    error: tuple[int, str] | None = None


class LineSource:
    """Lines of one file: counts them and keeps the raw text of the current record."""

    def __init__(self, binary: IO[bytes], *, newline: str, skip: int) -> None:
        # 'surrogateescape' keeps undecodable bytes visible to ACCEPTINVCHARS instead of failing.
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape", newline=newline)
        self._lines = iter(text)
        self.count = 0
        self._raw: list[str] = []
        for _ in range(skip):
            if next(self, None) is None:
                break
        self._raw.clear()

    def __iter__(self) -> LineSource:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        self._raw.append(line)
        return line

    def take_raw(self) -> str:
        raw = "".join(self._raw)
        self._raw.clear()
        return raw.rstrip("\r\n")


def _body(line: str) -> str:
    return line[:-1] if line.endswith("\n") else line


# -- delimited text -----------------------------------------------------------------------------
def text_records(lines: LineSource, spec: CopySpec) -> Iterator[Record]:
    delimiter, null = spec.field_delimiter, spec.null_string
    simple = not (spec.escape or spec.remove_quotes)
    for first in lines:
        start, line = lines.count, first
        while spec.escape and _escaped_newline(line):
            line += next(lines, "")
        raw, body = lines.take_raw(), _body(line)
        if not body and spec.ignore_blank_lines:
            continue
        if simple:
            yield Record(start, raw, [None if f == null else f for f in body.split(delimiter)])
        else:
            fields, error = split_text(
                body, delimiter, null, escape=spec.escape, remove_quotes=spec.remove_quotes
            )
            yield Record(start, raw, fields, error)


def _escaped_newline(line: str) -> bool:
    if not line.endswith("\n"):
        return False
    body = line[:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def split_text(
    body: str, delimiter: str, null: str, *, escape: bool, remove_quotes: bool
) -> tuple[list[str | None], tuple[int, str] | None]:
    """Split one record with ESCAPE (backslash) and/or REMOVEQUOTES semantics."""
    fields: list[str | None] = []
    pos = 0
    while True:
        start, value = pos, list[str]()
        if remove_quotes and pos < len(body) and body[pos] in _QUOTES:
            pos = _scan(body, pos + 1, body[pos], value, escape)
            if pos >= len(body):
                return fields, (ERR_INPUT_LINE, "Missing end quote in quoted field")
            pos += 1  # closing quote
        pos = _scan(body, pos, delimiter, value, escape)
        fields.append(None if body[start:pos] == null else "".join(value))
        if pos >= len(body):
            return fields, None
        pos += 1  # delimiter


def _scan(body: str, pos: int, stop: str, out: list[str], escape: bool) -> int:
    while pos < len(body) and body[pos] != stop:
        if escape and body[pos] == "\\" and pos + 1 < len(body):
            pos += 1
        out.append(body[pos])
        pos += 1
    return pos


# -- CSV ----------------------------------------------------------------------------------------
_BLANKS = " \t"


def csv_records(lines: LineSource, spec: CopySpec) -> Iterator[Record]:
    """CSV records; a quoted field may span lines, and blanks around its quotes are ignored
    ("white space between the delimiters and the quote characters is ignored")."""
    null, delimiter, quote = spec.null_string, spec.field_delimiter, spec.quote
    for first in lines:
        start, text = lines.count, first
        fields = split_csv(_csv_body(text), delimiter, quote)
        while fields is None:
            more = next(lines, None)
            if more is None:
                break
            text += more
            fields = split_csv(_csv_body(text), delimiter, quote)
        raw = lines.take_raw()
        if fields is None:
            yield Record(start, raw, [], (ERR_INPUT_LINE, "Missing end quote in quoted field"))
            continue
        if fields == [""] and spec.ignore_blank_lines:
            continue
        yield Record(start, raw, [None if f == null else f for f in fields])


def _csv_body(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text


def split_csv(body: str, delimiter: str, quote: str) -> list[str] | None:
    """The fields of one CSV record; None while a quoted field is still open."""
    if quote not in body:
        return body.split(delimiter)
    fields: list[str] = []
    pos, end = 0, len(body)
    while True:
        lead = pos
        while lead < end and body[lead] in _BLANKS and body[lead] != delimiter:
            lead += 1
        if lead < end and body[lead] == quote:
            value, pos = _quoted(body, lead + 1, quote)
            if pos < 0:
                return None
            stop = body.find(delimiter, pos)
            stop = end if stop < 0 else stop
            value += body[pos:stop].strip(_BLANKS)  # text after the closing quote is kept
            pos = stop
        else:
            stop = body.find(delimiter, pos)
            stop = end if stop < 0 else stop
            value, pos = body[pos:stop], stop
        fields.append(value)
        if pos >= end:
            return fields
        pos += 1  # the delimiter


def _quoted(body: str, pos: int, quote: str) -> tuple[str, int]:
    """(value, position after the closing quote), or pos -1 if the quote is not closed."""
    parts: list[str] = []
    while True:
        close = body.find(quote, pos)
        if close < 0:
            return "", -1
        parts.append(body[pos:close])
        if body.startswith(quote, close + 1):  # a doubled quote is one quote character
            parts.append(quote)
            pos = close + 2
            continue
        return "".join(parts), close + 1


# -- fixed width --------------------------------------------------------------------------------
def parse_fixedwidth(spec_text: str) -> tuple[int, ...]:
    """'id:4,name:10' -> (4, 10); labels are only labels, mapping is positional."""
    widths = []
    for part in spec_text.split(","):
        label, _, width = part.strip().rpartition(":")
        if not label or not width.strip().isdigit() or int(width) <= 0:
            raise StandInError(f"Invalid FIXEDWIDTH specification {spec_text!r}", code=8001)
        widths.append(int(width))
    return tuple(widths)


def fixedwidth_records(
    lines: LineSource, spec: CopySpec, widths: Sequence[int]
) -> Iterator[Record]:
    null = spec.null_string
    for line in lines:
        start, raw, body = lines.count, lines.take_raw(), _body(line).rstrip("\r")
        if not body and spec.ignore_blank_lines:
            continue
        fields: list[str | None] = []
        pos = 0
        for width in widths:
            if pos >= len(body):
                break
            piece = body[pos : pos + width]
            fields.append(None if piece.strip() == null else piece)
            pos += width
        yield Record(start, raw, fields)


# -- JSON ---------------------------------------------------------------------------------------
# Decimal keeps numeric text exact for DECIMAL columns.
_DECODER = json.JSONDecoder(parse_float=Decimal)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_WHITESPACE = re.compile(r"\s*")
_PATH_STEP = re.compile(
    r"""\.([^.\[\]]+)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]"""
    r"""|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*(\d+)\s*\]"""
)


def parse_jsonpaths(document: Any, url: str) -> tuple[JsonPath, ...]:
    paths = document.get("jsonpaths") if isinstance(document, dict) else None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise StandInError(
            'Invalid JSONPath file: expected {"jsonpaths": [...]}', code=8001, context=url
        )
    return tuple(_parse_path(path, url) for path in paths)


def _parse_path(path: str, url: str) -> JsonPath:
    steps: list[str | int] = []
    pos = 1
    if not path.startswith("$"):
        raise StandInError(f"Invalid JSONPath format: {path!r}", code=8001, context=url)
    while pos < len(path):
        match = _PATH_STEP.match(path, pos)
        if match is None:
            raise StandInError(f"Invalid JSONPath format: {path!r}", code=8001, context=url)
        dotted, single, double, index = match.groups()
        steps.append(int(index) if index is not None else (dotted or single or double or ""))
        pos = match.end()
    return tuple(steps)


def json_records(
    lines: LineSource, columns: Sequence[str], paths: Sequence[JsonPath] | None, *, ignorecase: bool
) -> Iterator[Record]:
    for line, raw, document, error in _documents(lines):
        if error is not None:
            yield Record(line, raw, [], (ERR_INPUT_LINE, error))
        elif paths is not None:
            try:
                values = [_json_text(_follow(document, p)) for p in paths]
            except IndexError:
                yield Record(line, raw, [], (ERR_INPUT_LINE, JSONPATH_INDEX_ERROR))
                continue
            yield Record(line, raw, values)
        elif not isinstance(document, dict):
            yield Record(
                line, raw, [], (ERR_INPUT_LINE, "Invalid JSONPath format: Member is not an object")
            )
        else:
            if ignorecase:
                lowered = {str(key).lower(): value for key, value in document.items()}
                values = [lowered.get(name.lower()) for name in columns]
            else:
                values = [document.get(name) for name in columns]
            yield Record(line, raw, [_json_text(value) for value in values])


def _documents(lines: LineSource) -> Iterator[tuple[int, str, Any, str | None]]:
    """(start line, raw text, document, error) for each top-level JSON value."""
    buffer, start = "", 0
    for line in lines:
        if not buffer:
            if not line.strip():
                lines.take_raw()
                continue
            start = lines.count
        buffer += line
        try:
            documents = _decode_all(buffer)
        except ValueError as exc:
            if _open_depth(buffer) > 0 and len(buffer) < MAX_JSON_DOCUMENT:
                continue  # a document spread over several lines: read on
            yield start, lines.take_raw(), None, f"Invalid JSON: {exc}"
            buffer = ""
            continue
        raw = lines.take_raw()
        buffer = ""
        for document in documents:
            yield start, raw, document, None
    if buffer:
        yield start, lines.take_raw(), None, "Invalid JSON: unexpected end of file"


def _decode_all(text: str) -> list[Any]:
    documents: list[Any] = []
    pos = 0
    while True:
        pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            return documents
        document, pos = _DECODER.raw_decode(text, pos)
        documents.append(document)


def _open_depth(text: str) -> int:
    bare = _STRINGS.sub("", text)
    return bare.count("{") + bare.count("[") - bare.count("}") - bare.count("]")


def _follow(document: Any, path: JsonPath) -> Any:
    """The value at `path`: None for a missing object member, IndexError for a missing array
    element (copy-parameters-data-format.md: "COPY fails with ... index out of range")."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(document, list) or step >= len(document):
                raise IndexError(step)
            document = document[step]
        else:
            document = document.get(step) if isinstance(document, dict) else None
        if document is None:
            return None
    return document


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=float)
