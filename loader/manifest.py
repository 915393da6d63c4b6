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
    return location.failed_prefix + key.removeprefix(location.prefix)


def build_manifest(members: Iterable[BatchMember]) -> bytes:
    """`{"entries": [{"url", "mandatory": true, "meta": {"content_length"}}]}`, sorted by url.

    `meta.content_length` is required for Parquet/ORC and harmless elsewhere.
    """
    entries = [
        {"url": m.url, "mandatory": True, "meta": {"content_length": m.size}}
        for m in sorted(members, key=lambda m: m.url)
    ]
    return json.dumps({"entries": entries}, separators=(",", ":")).encode()


def manifest_urls(body: bytes) -> list[str]:
    return [entry["url"] for entry in json.loads(body)["entries"]]
