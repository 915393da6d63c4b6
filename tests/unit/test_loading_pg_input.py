"""PostgreSQL targets: which COPY options they take, and how files become COPY input."""

from __future__ import annotations

import bz2
import gzip
import io
from typing import Any

import pytest
import zstandard

from config.copy_options import CopyOptions
from loader.errors import ConfigurationError, RetryableError
from loader.loading.targets.pg_input import (
    BadInputError,
    ChunkReader,
    JsonRows,
    decompressed,
    pg_copy_plan,
    pg_copy_sql,
    text_input,
)

URL = "s3://b/in/x.json"


def plan(**options: Any) -> Any:
    return pg_copy_plan(CopyOptions.model_validate(options), zstd_available=True)


def test_csv_maps_to_postgres_csv_with_its_delimiter_and_quote() -> None:
    built = plan(format={"type": "csv", "delimiter": "\t", "ignore_header_rows": 1}, null_as="\\N")
    assert built.with_options == "FORMAT csv, DELIMITER E'\\x09', QUOTE E'\"', NULL E'\\\\N'"
    assert built.skip_lines == 1 and built.json_ignorecase is None
    assert pg_copy_sql("s.t", ["id", "v"], built) == (
        'COPY "s"."t" ("id", "v") FROM STDIN WITH (' + built.with_options + ")"
    )


def test_delimited_text_keeps_backslashes_unless_escape_is_set() -> None:
    assert plan(format={"type": "delimited"}).with_options == (
        "FORMAT csv, DELIMITER E'|', QUOTE E'\\x01'"
    )
    assert plan(format={"type": "delimited", "escape": True}).with_options == (
        "FORMAT text, DELIMITER E'|'"
    )


def test_json_auto_becomes_csv_rows() -> None:
    assert plan(format={"type": "json"}).json_ignorecase is False
    assert plan(format={"type": "json", "mode": "auto_ignorecase"}).json_ignorecase is True


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"format": {"type": "parquet"}}, "format parquet cannot be loaded"),
        ({"format": {"type": "orc"}}, "format orc cannot be loaded"),
        ({"format": {"type": "avro"}}, "format avro cannot be loaded"),
        ({"format": {"type": "fixedwidth", "columns": ["a:2"]}}, "format fixedwidth"),
        (
            {"format": {"type": "json", "mode": "jsonpaths", "jsonpaths_url": "s3://bkt/p.json"}},
            "format json jsonpaths",
        ),
        ({"compression": "lzop"}, "lzop compression is not supported"),
        ({"max_error": 10}, "max_error is not supported"),
        (
            {"empty_as_null": True, "trim_blanks": True},
            "empty_as_null is not supported; trim_blanks is not supported",
        ),
        ({"date_format": "DD/MM/YYYY"}, "date_format other than 'auto'"),
        ({"extra_options": "ACCEPTANYDATE"}, "extra_options"),
    ],
)
def test_what_postgres_cannot_do_is_refused_as_configuration(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match="PostgreSQL target: .*" + named):
        plan(**options)


def test_zstd_needs_the_zstandard_module() -> None:
    options = CopyOptions(compression="zstd")
    with pytest.raises(ConfigurationError, match="needs the 'zstandard' module"):
        pg_copy_plan(options, zstd_available=False)
    assert pg_copy_plan(options, zstd_available=True).compression == "zstd"


@pytest.mark.parametrize(
    ("compression", "pack"),
    [
        ("none", lambda b: b),
        ("gzip", gzip.compress),
        ("bzip2", bz2.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_every_compression_streams_back_the_original_bytes(compression: str, pack: Any) -> None:
    data = b"h1\nh2\n" + b"".join(b"%d,row\n" % i for i in range(20_000))
    stream = decompressed(io.BytesIO(pack(data)), compression, URL)
    assert b"".join(text_input(stream, skip_lines=2)) == data[6:]


@pytest.mark.parametrize(
    ("compression", "corrupt"),
    [
        ("gzip", b"\x1f\x8bnot gzip at all"),
        ("bzip2", b"BZh9not bzip2 at all"),
        ("zstd", b"\x28\xb5\x2f\xfdnot zstd at all"),
    ],
)
def test_a_corrupt_compressed_file_is_bad_input_not_a_retry(
    compression: str, corrupt: bytes
) -> None:
    stream = decompressed(io.BytesIO(corrupt), compression, URL)
    with pytest.raises(BadInputError, match="cannot decompress") as caught:
        b"".join(text_input(stream, 0))
    assert caught.value.file == URL


def test_a_network_failure_while_reading_is_retryable() -> None:
    class Broken:
        def read(self, size: int = -1) -> bytes:
            raise ConnectionResetError("peer reset")

    with pytest.raises(RetryableError, match=r"reading s3://b/in/x\.json failed"):
        decompressed(Broken(), "none", URL).read(10)


def json_rows(text: str, columns: list[str], ignorecase: bool = False) -> tuple[str, list[int]]:
    rows = JsonRows(io.BytesIO(text.encode()), columns, ignorecase=ignorecase, url=URL)
    return ChunkReader(rows.chunks()).read().decode(), rows.origins


def test_json_records_become_quoted_csv_rows_matched_by_name() -> None:
    text = (
        '{"id": 1, "name": "a \\"q\\"", "tags": ["x", 1], "price": 1.50}\n'
        "\n"
        '{"id": 2, "name": null} {"id": 3}\n'
        '{\n  "id": 4,\n  "flag": true\n}\n'
    )
    out, origins = json_rows(text, ["id", "name", "tags", "price", "flag"])
    assert out.splitlines() == [
        '"1","a ""q""","[""x"",1]","1.50",\\N',
        '"2",\\N,\\N,\\N,\\N',
        '"3",\\N,\\N,\\N,\\N',
        '"4",\\N,\\N,\\N,"true"',
    ]
    assert origins == [1, 3, 3, 4]


def test_json_ignorecase_matches_keys_in_any_case() -> None:
    out, _ = json_rows('{"ID": 1, "Name": "a"}', ["id", "name"], ignorecase=True)
    assert out == '"1","a"\n'


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('{"id": 1}\n{"id": x}\n', 2, "invalid JSON"),
        ('{"id": 1}\n[1, 2]\n', 2, "must be an object"),
        ('{"id": 1}\n{"id": \n', 2, "incomplete JSON record"),
    ],
)
def test_bad_json_names_its_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(BadInputError, match=reason) as caught:
        json_rows(text, ["id"])
    assert (caught.value.file, caught.value.line) == (URL, line)


def test_the_reader_hands_its_error_over_before_psycopg2_replaces_it() -> None:
    seen = []

    def chunks() -> Any:
        yield b"1\n"
        raise BadInputError("bad", file=URL, line=2)

    reader = ChunkReader(chunks(), on_error=seen.append)
    with pytest.raises(BadInputError):
        reader.read(10)
    assert [e.line for e in seen] == [2]
