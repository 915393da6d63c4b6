"""Sample files for `config infer` and `config test`: local paths or `s3://` URLs, read whole."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from loader.errors import ConfigurationError
from setup_cli.inference import SampleFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_BYTES = 256 * 1024 * 1024
"""Samples are read whole into memory (and, for `config test`, into a local S3)."""


def read_files(names: Sequence[str], s3: Callable[[], S3Client]) -> list[SampleFile]:
    """Each file's bytes; an `s3://bucket/key` is read with the operator's AWS access."""
    files = []
    for name in names:
        if name.startswith("s3://"):
            bucket, _, key = name.removeprefix("s3://").partition("/")
            if not key:
                raise ConfigurationError(f"{name}: give an object URL, s3://bucket/key")
            body = s3().get_object(Bucket=bucket, Key=key)
            if int(body.get("ContentLength", 0)) > MAX_BYTES:
                raise ConfigurationError(f"{name} is larger than {MAX_BYTES >> 20} MiB: sample it")
            files.append(SampleFile(name, body["Body"].read()))
            continue
        path = Path(name)
        if not path.is_file():
            raise ConfigurationError(f"{name}: no such file")
        if path.stat().st_size > MAX_BYTES:
            raise ConfigurationError(f"{name} is larger than {MAX_BYTES >> 20} MiB: sample it")
        files.append(SampleFile(name, path.read_bytes()))
    return files


def base_name(name: str) -> str:
    """`s3://b/dir/orders.csv.gz` -> `orders.csv.gz`."""
    return name.rstrip("/").rsplit("/", 1)[-1]


def stem(name: str) -> str:
    """`dir/orders.2026-01.csv.gz` -> `orders.2026-01` (known extensions stripped)."""
    text = base_name(name)
    for suffix in (".gz", ".bz2", ".zst", ".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson",
                   ".parquet", ".orc"):  # fmt: skip
        text = text.removesuffix(suffix)
    return text
