"""`loader-admin config infer`: a prefix configuration and a table proposed for sample files.

Given the bytes of one or more sample files (their names only hint), decide:
- compression by magic number (gzip 1f8b, bzip2 `BZh`, zstd 28b52ffd);
- the format: Parquet (`PAR1`), ORC (`ORC`), JSON (the text parses as JSON values), else CSV
  with a delimiter (`,` tab `|` `;`) and quote character found by `csv.Sniffer`;
- a header row: the first row's fields are distinct non-empty labels and at least one column's
  data has a type its label does not fit (or `--header` / `--no-header` decides);
- the table (`loader.schema.propose`, `Widths.REVIEWED`: sample widths with headroom), the
  DATEFORMAT / TIMEFORMAT it needs, JSON `auto` (keys already lowercase) or `auto_ignorecase`;
  with `jsonpaths=True`, a JSONPaths file instead: one path per leaf of nested objects
  (`$['user']['id']` into `user_id`; arrays stay whole, as JSON text). Keys that cannot be told
  apart as Redshift column names (`Id` and `id`), or cannot be names, need that.

Parquet / ORC schemas come from the footer (the Lambda's own reader); pyarrow, when present,
measures string columns so VARCHAR widths fit the samples instead of 65535.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from config.copy_options import CopyOptions
from config.identifiers import duplicates, folded
from loader.errors import ConfigurationError
from loader.schema import ddl, footers, orc
from loader.schema.infer import Widths, column_name, guess_text, headroom
from loader.schema.propose import IncompatibleSamplesError, Proposal, propose
from loader.schema.samples import (
    Sample,
    SampleColumn,
    UnreadableSampleError,
    decompress_head,
    json_documents,
    read_sample,
)

MAX_RECORDS = 100_000
JSONPATHS_PLACEHOLDER = "s3://my-loader-config/jsonpaths/table.json"
"""Where the proposal says the JSONPaths file is; `config infer --jsonpaths` puts a better one."""
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd"}
_DELIMITERS = ",\t|;"


@dataclass(frozen=True)
class SampleFile:
    name: str
    """Where it came from (a local path or an s3:// URL), for messages."""
    data: bytes


@dataclass(frozen=True)
class Inferred:
    """What the samples say: the COPY options, the table and notes for the reader."""

    options: dict[str, Any]
    """`copy_options` of the configuration."""
    proposal: Proposal
    samples: tuple[Sample, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    jsonpaths: tuple[str, ...] = ()
    """The JSONPaths file's paths, in column order (mode jsonpaths only)."""

    def jsonpaths_document(self) -> str:
        return json.dumps({"jsonpaths": list(self.jsonpaths)}, indent=2) + "\n"

    def create_table(self, table: str) -> str:
        return ddl.create_table_sql(table, self.proposal.columns).replace(
            "CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1
        )


def compression_of(data: bytes) -> str:
    return next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), "none")


def infer(
    files: Sequence[SampleFile], *, header: bool | None = None, jsonpaths: bool = False
) -> Inferred:
    """The configuration and table for these files; ConfigurationError when they disagree or
    cannot be read."""
    if not files:
        raise ConfigurationError("give at least one sample file")
    kinds = {_kind(f) for f in files}
    if len(kinds) != 1:
        raise ConfigurationError(
            "the sample files have different formats or compressions: "
            + ", ".join(f"{f.name}: {' '.join(_kind(f))}" for f in files)
        )
    [(kind, compression)] = kinds
    try:
        if kind in ("parquet", "orc"):
            return _columnar(files, kind)
        texts = [_decompressed(f, compression) for f in files]
        if kind == "json":
            if jsonpaths:
                return _json_paths(files, texts, compression)
            return _json(files, texts, compression)
        return _csv(files, texts, compression, header)
    except (UnreadableSampleError, IncompatibleSamplesError) as exc:
        raise ConfigurationError(str(exc)) from None


def _kind(file: SampleFile) -> tuple[str, str]:
    data = file.data
    if data[:4] == footers.PARQUET_MAGIC:
        return "parquet", "none"
    if data[:3] == orc.ORC_MAGIC:
        return "orc", "none"
    compression = compression_of(data)
    text = _decompressed(file, compression)
    return ("json" if text.lstrip()[:1] in (b"{", b"[") else "csv"), compression


def _decompressed(file: SampleFile, compression: str) -> bytes:
    data = decompress_head(file.data, compression)
    if data is None:
        raise ConfigurationError(f"{file.name}: {compression} files cannot be read here")
    return data


# --- columnar -----------------------------------------------------------------------------------
def _columnar(files: Sequence[SampleFile], kind: str) -> Inferred:
    samples = []
    for file in files:
        columns = footers.read_footer(file.data, kind).columns
        widths, rows = _string_widths(file.data, kind)
        columns = tuple(
            replace(c, type=f"VARCHAR({headroom(widths[i])})")
            if c.type == footers.WIDE and i in widths
            else c
            for i, c in enumerate(columns)
        )
        samples.append(
            Sample(url=file.name, columns=columns, named=True, positional=True, records=rows)
        )
    proposal = propose(samples, Widths.REVIEWED)
    fmt: dict[str, Any] = {"type": kind}
    if any(c.type == footers.WIDE for c in proposal.columns):
        fmt["serialize_to_json"] = True  # nested columns load as JSON text
    return Inferred({"format": fmt}, proposal, tuple(samples))


def _string_widths(data: bytes, kind: str) -> tuple[dict[int, int], int]:
    """Longest value (UTF-8 bytes) of each string column, and the rows, with pyarrow (without
    it: no widths, 0 rows)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        return {}, 0
    if kind == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(data))
    else:
        from pyarrow import orc

        table = orc.ORCFile(pa.BufferReader(data)).read()
    widths = {}
    for index, column in enumerate(table.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            longest = pc.max(pc.binary_length(column)).as_py()
            widths[index] = int(longest or 0)
    return widths, table.num_rows


# --- JSON ---------------------------------------------------------------------------------------
def _json(files: Sequence[SampleFile], texts: list[bytes], compression: str) -> Inferred:
    auto = CopyOptions.model_validate({"format": {"type": "json"}})
    samples = [
        read_sample(f.name, t, auto, complete=True, records=MAX_RECORDS)
        for f, t in zip(files, texts, strict=True)
    ]
    keys = list(dict.fromkeys(c.name for s in samples for c in s.columns))
    clashing = duplicates(keys)
    if clashing:
        raise ConfigurationError(
            f"JSON keys {clashing} differ from others only in case: Redshift column names cannot "
            "tell them apart; a JSONPaths file must map them (--jsonpaths FILE)"
        )
    mode = "auto" if all(k == folded(k) for k in keys) else "auto_ignorecase"
    proposal = propose(samples, Widths.REVIEWED)
    if proposal.skipped:
        raise ConfigurationError(
            f"JSON keys {list(proposal.skipped)} cannot be Redshift column names (printable, at "
            "most 127 bytes); a JSONPaths file must map them (--jsonpaths FILE)"
        )
    options = _options({"type": "json", "mode": mode}, compression, proposal)
    notes = []
    if mode == "auto_ignorecase":
        notes.append("JSON keys have capitals: mode auto_ignorecase matches them to the columns")
    return Inferred(options, proposal, tuple(samples), tuple(notes))


def _json_paths(files: Sequence[SampleFile], texts: list[bytes], compression: str) -> Inferred:
    """One column per leaf of the records' objects, mapped by a JSONPaths file."""
    leaves: dict[tuple[str, ...], list[Any]] = {}
    count = 0
    for file, text in zip(files, texts, strict=True):
        try:
            documents = json_documents(
                text.decode("utf-8", errors="replace"), complete=True, limit=MAX_RECORDS
            )
        except UnreadableSampleError as exc:
            raise ConfigurationError(f"{file.name}: {exc}") from None
        for document in documents:
            for path in leaves.values():
                path.append(None)
            for path, value in _leaves(document):
                leaves.setdefault(path, [None] * (count + 1))[-1] = value
            count += 1
    names: list[str] = []
    for index, path in enumerate(leaves):
        name = column_name("_".join(path), index)
        names.append(name if name not in names else f"{name}_{index + 1}")
    columns = tuple(
        SampleColumn(name=name, label=_path_text(path), values=tuple(values))
        for name, (path, values) in zip(names, leaves.items(), strict=True)
    )
    sample = Sample(
        url=files[0].name,
        columns=columns,
        named=True,
        positional=False,
        records=count,
        json_values=True,
    )
    proposal = propose([sample], Widths.REVIEWED)
    fmt = {"type": "json", "mode": "jsonpaths", "jsonpaths_url": JSONPATHS_PLACEHOLDER}
    notes = ("upload the JSONPaths file to copy_options.format.jsonpaths_url before `config put`",)
    return Inferred(
        _options(fmt, compression, proposal),
        proposal,
        (sample,),
        notes,
        jsonpaths=tuple(_path_text(p) for p in leaves),
    )


def _leaves(
    document: dict[str, Any], above: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) of every leaf; arrays and empty objects are leaves (loaded as JSON text)."""
    found = []
    for key, value in document.items():
        path = (*above, str(key))
        if isinstance(value, dict) and value:
            found += _leaves(value, path)
        else:
            found.append((path, value))
    return found


def _path_text(path: tuple[str, ...]) -> str:
    """`('user', 'id')` -> `$['user']['id']` (bracket notation: keys may hold dots and blanks)."""
    if any("'" in key or "\\" in key for key in path):
        raise ConfigurationError(f"JSON key path {path} holds a quote or backslash: map it by hand")
    return "$" + "".join(f"['{key}']" for key in path)


# --- CSV ----------------------------------------------------------------------------------------
def _csv(
    files: Sequence[SampleFile], texts: list[bytes], compression: str, header: bool | None
) -> Inferred:
    text = texts[0].decode("utf-8", errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text[: 64 * 1024], delimiters=_DELIMITERS)
        delimiter, quote = dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        delimiter, quote = ",", '"'
    if header is None:
        header = _has_header(text, delimiter, quote)
    fmt = {"type": "csv", "delimiter": delimiter, "quote_char": quote}
    if header:
        fmt["ignore_header_rows"] = 1
    parsed = CopyOptions.model_validate({"format": fmt})
    samples = [
        read_sample(f.name, t, parsed, complete=True, records=MAX_RECORDS)
        for f, t in zip(files, texts, strict=True)
    ]
    proposal = propose(samples, Widths.REVIEWED)
    notes = [] if header else ["no header row: the columns are named col_1, col_2, ..."]
    return Inferred(_options(fmt, compression, proposal), proposal, tuple(samples), tuple(notes))


def _has_header(text: str, delimiter: str, quote: str) -> bool:
    """The first row labels the columns: distinct non-empty fields, and some column whose data
    is typed (numbers, dates, booleans) has a label that is not of that type."""
    rows = list(csv.reader(text.splitlines()[:200], delimiter=delimiter, quotechar=quote))
    if len(rows) < 2:
        return False
    first, rest = rows[0], rows[1:]
    if any(not f.strip() for f in first) or len(set(first)) != len(first):
        return False
    for index, label in enumerate(first):
        values = [r[index] for r in rest if index < len(r)]
        data = _family(guess_text(values, Widths.REVIEWED).type)
        if data != "VARCHAR" and _family(guess_text([label], Widths.REVIEWED).type) != data:
            return True
    return False


def _family(type_sql: str) -> str:
    """`DECIMAL(8,2)` -> `DECIMAL`; integers, decimals and floats are all numbers here."""
    name = type_sql.split("(", 1)[0]
    numbers = ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE PRECISION")
    return "NUMBER" if name in numbers else name


def _options(fmt: dict[str, Any], compression: str, proposal: Proposal) -> dict[str, Any]:
    options: dict[str, Any] = {"format": fmt}
    if compression != "none":
        options["compression"] = compression
    if proposal.date_format:
        options["date_format"] = proposal.date_format
    if proposal.time_format:
        options["time_format"] = proposal.time_format
    return options
