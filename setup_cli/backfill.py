"""`file backfill`: objects already in S3 under a configured prefix that the ledger lacks,
registered through the loader's own intake (`Operations.register`, i.e. `LoaderService.handle`)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loader.decisions import passes_filter
from loader.models import S3Object
from loader.service import resolve

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.admin import Operations


@dataclass
class Window:
    """Which listed objects to take: a regex searched in the key, and LastModified bounds."""

    regex: str | None = None
    since: float | None = None
    until: float | None = None

    def admits(self, key: str, modified: float | None) -> bool:
        if self.regex is not None and re.search(self.regex, key) is None:
            return False
        if modified is not None and self.since is not None and modified < self.since:
            return False
        return not (modified is not None and self.until is not None and modified > self.until)


@dataclass
class BackfillPlan:
    config: PrefixConfig
    new: list[S3Object] = field(default_factory=list)
    known: int = 0
    filtered: int = 0
    elsewhere: int = 0
    """Objects under the prefix that a more specific configuration owns."""


@dataclass
class BackfillResult:
    registered: int = 0
    duplicates: int = 0
    sealed: list[str] = field(default_factory=list)


def listing_root(prefix: str) -> tuple[str, str]:
    """Bucket and S3 listing prefix: the configured path up to its first Hive wildcard."""
    bucket, *segments = prefix.split("/")
    fixed = list(itertools.takewhile(lambda s: not s.endswith("=*"), segments))
    root = "".join(f"{s}/" for s in fixed)
    if len(fixed) < len(segments):
        return bucket, root + segments[len(fixed)][:-1]  # "dt=*" lists "dt="
    return bucket, root


def _object(bucket: str, item: dict[str, Any]) -> S3Object:
    etag = str(item.get("ETag", "")).strip('"') or None
    return S3Object(bucket=bucket, key=item["Key"], size=int(item.get("Size", 0)), etag=etag)


def plan_backfill(ops: Operations, prefix: str, window: Window) -> BackfillPlan:
    """List S3 under the prefix; keep what this configuration would load and the ledger lacks."""
    plan = BackfillPlan(ops.config(prefix))
    bucket, root = listing_root(plan.config.prefix)
    configs = ops.deps.configs.current(ops.clock())
    candidates = []
    for item in ops.deps.s3.list_objects(bucket, root):
        obj = _object(bucket, item)
        owner = resolve(configs, obj)
        if owner is None or owner.prefix != plan.config.prefix:
            plan.elsewhere += 1
            continue
        modified = item["LastModified"].timestamp() if "LastModified" in item else None
        folder = obj.key.endswith("/")
        if folder or not passes_filter(owner, obj.key) or not window.admits(obj.key, modified):
            plan.filtered += 1
        else:
            candidates.append(obj)
    known = ops.deps.batches.known_files([o.url for o in candidates])
    plan.known = len(known)
    plan.new = [o for o in candidates if o.url not in known]
    return plan


def backfill(
    ops: Operations, plan: BackfillPlan, progress: Callable[[int], None] | None = None
) -> BackfillResult:
    """Register the plan's files a threshold's worth at a time, so batches seal as they fill."""
    size = max(1, min(100, plan.config.thresholds.max_files or 100))
    result = BackfillResult()
    for start in range(0, len(plan.new), size):
        chunk = plan.new[start : start + size]
        handled = ops.register(chunk)
        result.registered += handled.registered
        result.duplicates += handled.duplicates
        result.sealed += handled.sealed
        if progress is not None:
            progress(len(chunk))
    return result
