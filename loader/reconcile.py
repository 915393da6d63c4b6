"""Objects S3 holds under a configured prefix that the file ledger lacks, found by listing.

One job, two uses: `file backfill` (any age, on an operator's request) and reconciliation (within
a look-back window, on a schedule: `{"loader": "reconcile"}` or `loader-admin reconcile`), which
registers files whose notifications never arrived. Either way the files go through the loader's
own intake (`LoaderService.handle`), so filters, dedupe and thresholds apply as for any event and
exactly-once holds: running it twice registers nothing the second time.

No terminal libraries here: the Lambda runs it too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from config.models import normalise_prefix
from loader.decisions import Arrival, classify_arrival, listing_root, passes_filter, resolve
from loader.errors import ConfigurationError, LoaderError
from loader.log import logger
from loader.models import S3Object

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.deps import Deps
    from loader.models import ConfigSet, FileRecord


class Handled(Protocol):
    """What the intake reports about the objects it was handed (`service.Result`)."""

    registered: int
    duplicates: int
    sealed: list[str]


Register = Callable[[Sequence[S3Object]], Handled]
"""Hands objects to the intake as if S3 had announced them (`Operations.register`, ...)."""

_SAMPLE = 10  # urls named in a log line


# --- pure decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Which listed objects to take: a regex searched in the key, and LastModified bounds."""

    regex: str | None = None
    since: float | None = None
    until: float | None = None

    def admits_key(self, key: str) -> bool:
        return self.regex is None or re.search(self.regex, key) is not None

    def admits_time(self, modified: float | None) -> bool:
        if modified is None:
            return True
        if self.since is not None and modified < self.since:
            return False
        return not (self.until is not None and modified > self.until)

    def admits(self, key: str, modified: float | None) -> bool:
        return self.admits_key(key) and self.admits_time(modified)


def listed_object(bucket: str, item: dict[str, Any]) -> S3Object:
    """A ListObjectsV2 entry as the object a notification would have named."""
    etag = str(item.get("ETag", "")).strip('"') or None
    return S3Object(bucket=bucket, key=item["Key"], size=int(item.get("Size", 0)), etag=etag)


def _folder_or_filtered(config: PrefixConfig, key: str, window: Window) -> bool:
    return key.endswith("/") or not passes_filter(config, key) or not window.admits_key(key)


def _modified(item: dict[str, Any]) -> float | None:
    moment = item.get("LastModified")
    return moment.timestamp() if moment is not None else None


@dataclass
class Plan:
    """What listing one configured prefix found. `new` is what to register."""

    config: PrefixConfig
    listed: int = 0
    """Objects under the listing root."""
    new: list[S3Object] = field(default_factory=list)
    """Not in the ledger (or, under `reupload: reload`, a new upload of a known key)."""
    known: int = 0
    """In the window and already in the ledger, as this upload."""
    filtered: int = 0
    """Folders, `filename_filter` or the window's regex and time bounds said no."""
    outside_window: int = 0
    """Of `filtered`: modified outside the window's time bounds (older than the look-back)."""
    elsewhere: int = 0
    """Owned by a more specific configuration (its own listing takes them)."""


def select(
    config: PrefixConfig,
    configs: ConfigSet,
    bucket: str,
    items: Iterable[dict[str, Any]],
    window: Window,
) -> tuple[Plan, list[S3Object]]:
    """Sort listed objects: the candidates this configuration would load in this window, and
    counts of the rest. An invalid configuration that would own an object is an error."""
    plan, candidates = Plan(config), []
    for item in items:
        plan.listed += 1
        obj = listed_object(bucket, item)
        owner = resolve(configs, obj)
        if owner is None or owner.prefix != config.prefix:
            plan.elsewhere += 1
        elif _folder_or_filtered(owner, obj.key, window):
            plan.filtered += 1
        elif not window.admits_time(_modified(item)):
            plan.filtered += 1
            plan.outside_window += 1
        else:
            candidates.append(obj)
    return plan, candidates


def split_known(plan: Plan, candidates: Sequence[S3Object], ledger: dict[str, FileRecord]) -> Plan:
    """Candidates the ledger lacks become `plan.new`; a known key counts as known unless it is a
    new upload that the prefix's `reupload: reload` policy would load."""
    for obj in candidates:
        arrival = classify_arrival(ledger.get(obj.url), obj, plan.config.reupload)
        if arrival in (Arrival.NEW, Arrival.REUPLOAD):
            plan.new.append(obj)
        else:
            plan.known += 1
    return plan


# --- listing and registering ---------------------------------------------------------------------


def plan_prefix(deps: Deps, config: PrefixConfig, configs: ConfigSet, window: Window) -> Plan:
    """List S3 under the configuration and keep what it would load and the ledger lacks."""
    bucket, root = listing_root(config.prefix)
    plan, candidates = select(config, configs, bucket, deps.s3.list_objects(bucket, root), window)
    ledger = deps.batches.known_files([o.url for o in candidates])
    return split_known(plan, candidates, ledger)


@dataclass
class Registered:
    registered: int = 0
    duplicates: int = 0
    sealed: list[str] = field(default_factory=list)


def register_plan(
    register: Register, plan: Plan, progress: Callable[[int], None] | None = None
) -> Registered:
    """Register the plan's files a threshold's worth at a time, so batches seal as they fill."""
    size = max(1, min(100, plan.config.thresholds.max_files or 100))
    done = Registered()
    for start in range(0, len(plan.new), size):
        chunk = plan.new[start : start + size]
        handled = register(chunk)
        done.registered += handled.registered
        done.duplicates += handled.duplicates
        done.sealed += handled.sealed
        if progress is not None:
            progress(len(chunk))
    return done


# --- reconciliation ------------------------------------------------------------------------------


@dataclass
class PrefixReport:
    prefix: str
    plan: Plan | None = None
    done: Registered = field(default_factory=Registered)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "prefix": self.prefix,
            "listed": plan.listed if plan else 0,
            "known": plan.known if plan else 0,
            "missing": len(plan.new) if plan else 0,
            "registered": self.done.registered,
            "duplicates": self.done.duplicates,
            "filtered": plan.filtered if plan else 0,
            "outside_window": plan.outside_window if plan else 0,
            "other_configuration": plan.elsewhere if plan else 0,
            "sealed": self.done.sealed,
            "error": self.error,
        }


@dataclass
class ReconcileReport:
    since: float
    dry_run: bool
    prefixes: list[PrefixReport] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(p.as_dict()[name]) for p in self.prefixes)

    @property
    def failed(self) -> list[PrefixReport]:
        return [p for p in self.prefixes if p.error is not None]

    @property
    def registered(self) -> int:
        return self.total("registered")

    @property
    def duplicates(self) -> int:
        return self.total("duplicates")

    @property
    def sealed(self) -> list[str]:
        return [b for p in self.prefixes for b in p.done.sealed]


def reconcile(
    deps: Deps,
    register: Register,
    *,
    now: float,
    lookback_seconds: float,
    prefix: str | None = None,
    dry_run: bool = False,
    deadline: float | None = None,
    clock: Callable[[], float] = time.time,
) -> ReconcileReport:
    """For each configured prefix (or the one named), register what S3 holds and the ledger
    lacks among objects modified in the last `lookback_seconds`. A prefix that fails is logged
    and reported; the others still run. Logs `reconcile_done` with the counts."""
    configs = deps.configs.current(now)
    chosen = sorted(configs.valid, key=lambda c: c.prefix)
    if prefix is not None:
        wanted = normalise_prefix(prefix)
        chosen = [c for c in chosen if c.prefix == wanted]
        if not chosen:
            reason = configs.invalid.get(wanted, "no configuration")
            raise ConfigurationError(f"cannot reconcile {wanted!r}: {reason}", prefix=wanted)
    report = ReconcileReport(since=now - lookback_seconds, dry_run=dry_run)
    window = Window(since=report.since)
    for config in chosen:
        entry = PrefixReport(config.prefix)
        report.prefixes.append(entry)
        if deadline is not None and clock() >= deadline:
            entry.error = "not reached before the deadline (the next run continues)"
            continue
        try:
            entry.plan = plan_prefix(deps, config, configs, window)
            if not dry_run:
                entry.done = register_plan(register, entry.plan)
        except LoaderError as exc:
            entry.error = str(exc)
            logger.error("reconcile_failed", prefix=config.prefix, error=str(exc))
            continue
        _log_missed(entry)
    _log_done(report, lookback_seconds, started=now, clock=clock)
    return report


def _log_missed(entry: PrefixReport) -> None:
    if entry.plan is None or not entry.plan.new:
        return
    logger.warning(
        "notifications_missed",
        prefix=entry.prefix,
        files=len(entry.plan.new),
        registered=entry.done.registered,
        sample=[o.url for o in entry.plan.new[:_SAMPLE]],
    )


def _log_done(
    report: ReconcileReport, lookback: float, started: float, clock: Callable[[], float]
) -> None:
    logger.info(
        "reconcile_done",
        prefixes=len(report.prefixes),
        listed=report.total("listed"),
        known=report.total("known"),
        missing=report.total("missing"),
        registered=report.registered,
        sealed=len(report.sealed),
        failed=len(report.failed),
        lookback_seconds=lookback,
        dry_run=report.dry_run,
        duration_ms=round((clock() - started) * 1000),
        by_prefix={
            p.prefix: {k: p.as_dict()[k] for k in ("listed", "known", "registered")}
            for p in report.prefixes
        },
    )
