"""Redshift COPY manifests, built from a sealed batch's fixed membership. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable

from config.models import ManifestLocation
from loader.models import BatchMember


def manifest_key(location: ManifestLocation, prefix: str, batch_id: str) -> str:
    """Derived from the batch id alone, so a retried or taken-over batch rewrites the same key."""
    safe_prefix = prefix.replace("=*", "").replace("/", "_")
    return f"{location.prefix}/{safe_prefix}/{batch_id}.json"


def failed_manifest_key(location: ManifestLocation, key: str) -> str:
    """`failed_prefix` in place of the manifest prefix; a manifest written under another prefix
    (the configuration changed while its batch was in flight) keeps its whole key below it."""
    rest = key.removeprefix(location.prefix + "/") if key.startswith(location.prefix + "/") else key
    return f"{location.failed_prefix}/{rest}"


def failed_manifest_url(location: ManifestLocation, manifest_url: str | None) -> str | None:
    """Where a failed batch's manifest is copied: under `failed_prefix`, in the bucket it was
    written to (the configuration may have moved since). The one rule: the lifecycle copies the
    manifest there and the failure notification names it."""
    if not manifest_url:
        return None
    bucket, _, key = manifest_url.removeprefix("s3://").partition("/")
    return f"s3://{bucket}/{failed_manifest_key(location, key)}"


class ManifestBuilder:
    """Builds `{"entries": [{"url", "mandatory": true, "meta": {"content_length"}}]}` one member
    at a time, so a 100,000-file batch never holds its members as objects (only the bytes).

    `meta.content_length` is required for Parquet/ORC and harmless elsewhere. Entries keep the
    order they are added in (the member query returns them sorted by key).
    """

    def __init__(self) -> None:
        self._body = bytearray(b'{"entries":[')
        self.count = 0

    def add(self, member: BatchMember) -> None:
        entry = {"url": member.url, "mandatory": True, "meta": {"content_length": member.size}}
        if self.count:
            self._body += b","
        self._body += json.dumps(entry, separators=(",", ":")).encode()
        self.count += 1

    def finish(self) -> bytes:
        return bytes(self._body + b"]}")


def build_manifest(members: Iterable[BatchMember]) -> bytes:
    builder = ManifestBuilder()
    for member in members:
        builder.add(member)
    return builder.finish()


def manifest_urls(body: bytes) -> list[str]:
    return [entry["url"] for entry in json.loads(body)["entries"]]
