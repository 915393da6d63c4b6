"""Operator verbs on batches and files: list, reprocess, unlock, delete, flush, register, health.

Shared by `loader-admin` and any function that needs them; no terminal libraries here. Every
change goes through the adapters' verbs and the one service the Lambda runs (injected), so the CLI
never writes DynamoDB on its own. Plans (`plan_*`) only read; the matching verb carries them out.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from config.models import normalise_prefix
from loader.decisions import age_due_at, lease_expired, passes_filter, resolve, seal_reason
from loader.errors import BatchConflictError, ConfigurationError, LoaderError
from loader.events import Invocation, Message
from loader.models import Batch, BatchMember, BatchStatus, FileRecord, S3Object, SealReason
from loader.transitions import LEASED

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.service import LoaderService, Result

DELETABLE = (BatchStatus.COMPLETE, BatchStatus.ERROR)
RUN_SECONDS = 840.0  # how long one operator-triggered load may run, as in the Lambda


def file_url(text: str) -> str:
    """`s3://bucket/key` or `bucket/key` -> `s3://bucket/key` (the ledger's key)."""
    bucket, _, key = text.strip().removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise LoaderError(f"{text!r} is not s3://bucket/key")
    return f"s3://{bucket}/{key}"


def split(url: str) -> tuple[str, str]:
    bucket, _, key = file_url(url).removeprefix("s3://").partition("/")
    return bucket, key


class ReprocessAction(StrEnum):
    RETRY = "retry"
    """A failed batch: error -> sealed under a new lease, then loaded."""
    RESUME = "resume"
    """A stuck batch whose lease expired: taken over, then loaded."""


@dataclass(frozen=True)
class ReprocessPlan:
    batch: Batch
    action: ReprocessAction
    load: list[BatchMember]
    omit: list[str]


@dataclass(frozen=True)
class FileInfo:
    url: str
    record: FileRecord | None
    batch: Batch | None
    omitted_from: str | None

    @property
    def loaded_at(self) -> float | None:
        if self.batch is None or self.batch.status is not BatchStatus.COMPLETE:
            return None
        return None if self.omitted_from else self.batch.completed_at


@dataclass(frozen=True)
class PrefixHealth:
    prefix: str
    configured: bool
    paused: bool = False
    open_batch: Batch | None = None
    overdue_seconds: float | None = None
    last_load_at: float | None = None
    errors: int = 0
    leases: int = 0
    expired_leases: int = 0
    retrying: int = 0
    """Leased batches whose last attempt failed with a retryable error (a retry is scheduled)."""

    @property
    def problems(self) -> list[str]:
        found = []
        if not self.configured:
            found.append("batches without a configuration")
        if self.errors:
            found.append(f"{self.errors} batch(es) in error")
        if self.expired_leases:
            found.append(f"{self.expired_leases} lease(s) expired")
        if self.retrying:
            found.append(f"{self.retrying} batch(es) retrying after errors")
        if self.overdue_seconds is not None:
            found.append(f"open batch overdue by {round(self.overdue_seconds)}s")
        return found


@dataclass(frozen=True)
class Health:
    prefixes: list[PrefixHealth]
    invalid_configs: dict[str, str]

    @property
    def needs_attention(self) -> bool:
        return bool(self.invalid_configs) or any(p.problems for p in self.prefixes)


class Operations:
    """The operator's verbs over one loader's tables and buckets, through the one service the
    Lambda runs (its clock, its lease owner, its loader and notifier)."""

    def __init__(self, service: LoaderService) -> None:
        self.service = service
        self.deps = service.deps
        self.clock = service.clock
        self.owner = service.owner

    # --- reading ----------------------------------------------------------------------------

    def batch(self, batch_id: str) -> Batch:
        batch = self.deps.batches.get_batch(batch_id)
        if batch is None:
            raise LoaderError(f"no batch {batch_id!r}")
        return batch

    def config(self, prefix: str) -> PrefixConfig:
        config = self.deps.configs.get(prefix)
        if config is None:
            raise ConfigurationError(f"no configuration for prefix {prefix!r}")
        return config

    def list_batches(
        self,
        *,
        status: BatchStatus | None = None,
        prefix: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
    ) -> Iterator[Batch]:
        """Every page, newest first (by last update; with `prefix`, by creation)."""
        store = self.deps.batches
        found: Iterator[Batch]
        if prefix is not None:
            found = (
                b
                for b in store.batches_of_prefix(normalise_prefix(prefix))
                if (status is None or b.status is status)
                and (since is None or b.updated_at >= since)
                and (until is None or b.updated_at <= until)
            )
        else:
            statuses = [status] if status is not None else list(BatchStatus)
            streams = [store.batches_by_status(s, since=since, until=until) for s in statuses]
            found = heapq.merge(*streams, key=lambda b: -b.updated_at)
        return itertools.islice(found, limit)

    def file_info(self, url: str) -> FileInfo:
        url = file_url(url)
        store = self.deps.batches
        record = store.get_file(url)
        batch = store.get_batch(record.batch_id) if record else None
        omitted = store.file_omitted_from(url) if record else None
        return FileInfo(url, record, batch, omitted)

    # --- batches ----------------------------------------------------------------------------

    def plan_reprocess(self, batch_id: str, omit: Sequence[str] = ()) -> ReprocessPlan:
        batch = self.batch(batch_id)
        if batch.status is BatchStatus.OPEN:
            raise LoaderError(
                f"batch {batch_id} is open and still takes files: "
                f"`batch flush {batch.prefix}` seals and loads it now"
            )
        if batch.status is BatchStatus.COMPLETE:
            raise LoaderError(
                f"batch {batch_id} is complete; `file reprocess` loads single files again"
            )
        omitted = sorted({file_url(u) for u in omit})
        action = ReprocessAction.RETRY
        if batch.status in LEASED:
            if omitted:
                raise LoaderError("--omit needs a failed batch: a leased batch's files are fixed")
            if not lease_expired(batch, self.clock()):
                raise LoaderError(_lease_message(batch, self.clock()))
            action = ReprocessAction.RESUME
        members = list(self.deps.batches.members(batch_id))
        unknown = sorted(set(omitted) - {m.url for m in members})
        if unknown:
            raise LoaderError(f"not in batch {batch_id}: {', '.join(unknown)}")
        load = [m for m in members if m.url not in set(omitted)]
        if not load:
            raise LoaderError("--omit would leave the batch empty; delete it instead")
        return ReprocessPlan(batch, action, load, omitted)

    def reprocess(self, plan: ReprocessPlan) -> Batch:
        """Drive a failed or stuck batch to the end, as the Lambda would (its targets' ledger
        skips what is already loaded)."""
        config = self.config(plan.batch.prefix)
        deadline = self.clock() + RUN_SECONDS
        if plan.action is ReprocessAction.RESUME:
            return self.service.resume(plan.batch, deadline, config=config)
        if plan.omit:
            self.deps.members.omit_members(plan.batch.batch_id, plan.omit, now=self.clock())
        return self.service.retry_failed(plan.batch, deadline)

    def unlock(self, batch_id: str, *, force: bool = False) -> Batch:
        """Expire a stuck lease so the sweep (or `reprocess`) takes the batch over."""
        batch = self.batch(batch_id)
        if batch.status not in LEASED:
            raise LoaderError(
                f"batch {batch_id} is {batch.status}: only sealed or loading batches hold a lease"
            )
        now = self.clock()
        if batch.lease is None or lease_expired(batch, now):
            return batch
        if not force:
            raise LoaderError(_lease_message(batch, now))
        return self.deps.operator.expire_lease(batch_id, owner=batch.lease.owner, now=now)

    def plan_delete(
        self,
        statuses: Sequence[BatchStatus],
        *,
        older_than: float | None = None,
        prefix: str | None = None,
    ) -> list[Batch]:
        refused = [s.value for s in statuses if s not in DELETABLE]
        if refused:
            raise LoaderError(
                f"only complete or error batches can be deleted, not {', '.join(refused)}"
            )
        until = self.clock() - older_than if older_than is not None else None
        return [
            b
            for s in statuses
            for b in self.deps.batches.batches_by_status(s, until=until)
            if prefix is None or b.prefix == normalise_prefix(prefix)
        ]

    def delete(self, batches: Sequence[Batch]) -> tuple[list[str], dict[str, str]]:
        """Delete each batch if it is still as listed; return (deleted ids, skipped -> why)."""
        deleted, skipped = [], {}
        for batch in batches:
            try:
                self.deps.operator.delete_batch(batch.batch_id, status=batch.status)
            except BatchConflictError as exc:
                skipped[batch.batch_id] = str(exc)
                continue
            deleted.append(batch.batch_id)
        return deleted, skipped

    def flush(self, prefix: str) -> Batch | None:
        return self.service.flush(normalise_prefix(prefix), self.clock() + RUN_SECONDS)

    # --- files ------------------------------------------------------------------------------

    def reprocess_file(self, url: str) -> FileInfo:
        """Load one file again: it joins its prefix's open batch (a new file is registered)."""
        obj = self._head(url)
        config = self._config_of(obj)
        info = self.file_info(obj.url)
        if info.record is None:
            self.register([obj])
            return self.file_info(obj.url)
        if info.batch is not None and info.omitted_from is None:
            _check_reloadable(info.batch)
        self.service.registration.requeue_file(config.prefix, obj, self.clock())
        return self.file_info(obj.url)

    def register(self, objects: Sequence[S3Object]) -> Result:
        """Hand objects to the service as if S3 had announced them (filters, batching, seals)."""
        message = Message(message_id=None, notices=list(objects))
        return self.service.handle(
            Invocation(from_sqs=False, messages=[message]), deadline=self.clock() + RUN_SECONDS
        )

    def _head(self, url: str) -> S3Object:
        bucket, key = split(url)
        for item in self.deps.s3.list_objects(bucket, key):
            if item["Key"] == key:
                etag = str(item.get("ETag", "")).strip('"') or None
                return S3Object(bucket=bucket, key=key, size=int(item["Size"]), etag=etag)
        raise LoaderError(f"no object {file_url(url)} in S3")

    def _config_of(self, obj: S3Object) -> PrefixConfig:
        config = resolve(self.deps.configs.current(self.clock()), obj)
        if config is None:
            raise ConfigurationError(f"no configuration matches {obj.url}")
        if not passes_filter(config, obj.key):
            raise ConfigurationError(
                f"{obj.url} does not pass the filename filter of {config.prefix!r}"
            )
        return config

    # --- health -----------------------------------------------------------------------------

    def health(self, *, grace_seconds: float = 300.0) -> Health:
        """Per prefix: the open batch, overdue or not, last load, errors and leases."""
        now = self.clock()
        configs = self.deps.configs.current(now)
        store = self.deps.batches
        errors = _count_by_prefix(store.batches_by_status(BatchStatus.ERROR))
        leased = [b for s in sorted(LEASED) for b in store.batches_by_status(s)]
        leases = _count_by_prefix(iter(leased))
        expired = _count_by_prefix(b for b in leased if lease_expired(b, now))
        retrying = _count_by_prefix(b for b in leased if b.last_error)
        rows = []
        for config in sorted(configs.valid, key=lambda c: c.prefix):
            open_batch = store.open_batch(config.prefix)
            rows.append(
                PrefixHealth(
                    prefix=config.prefix,
                    configured=True,
                    paused=config.paused,
                    open_batch=open_batch,
                    overdue_seconds=_overdue(config, open_batch, now, grace_seconds),
                    last_load_at=self._last_load(config.prefix),
                    errors=errors.pop(config.prefix, 0),
                    leases=leases.pop(config.prefix, 0),
                    expired_leases=expired.pop(config.prefix, 0),
                    retrying=retrying.pop(config.prefix, 0),
                )
            )
        for prefix in sorted(set(errors) | set(leases)):
            if prefix not in configs.invalid:
                rows.append(
                    PrefixHealth(
                        prefix=prefix,
                        configured=False,
                        errors=errors.get(prefix, 0),
                        leases=leases.get(prefix, 0),
                        expired_leases=expired.get(prefix, 0),
                        retrying=retrying.get(prefix, 0),
                    )
                )
        return Health(rows, dict(configs.invalid))

    def _last_load(self, prefix: str) -> float | None:
        for batch in self.deps.batches.batches_of_prefix(prefix, limit=200):
            if batch.status is BatchStatus.COMPLETE:
                return batch.completed_at
        return None


def _lease_message(batch: Batch, now: float) -> str:
    lease = batch.lease
    left = round(lease.expires_at - now) if lease else 0
    holder = lease.owner if lease else "?"
    return (
        f"batch {batch.batch_id} is {batch.status}, leased by {holder} for another {left}s; "
        f"wait for the lease to expire, or `batch unlock {batch.batch_id} --force` if the "
        "holder is gone"
    )


def _check_reloadable(batch: Batch) -> None:
    if batch.status is BatchStatus.OPEN:
        raise LoaderError(f"already waiting in open batch {batch.batch_id}")
    if batch.status in LEASED:
        raise LoaderError(f"its batch {batch.batch_id} is being loaded now ({batch.status})")
    if batch.status is BatchStatus.ERROR:
        raise LoaderError(
            f"its batch {batch.batch_id} failed: `batch reprocess {batch.batch_id}` loads it "
            "(--omit leaves other files out)"
        )


def _count_by_prefix(batches: Iterator[Batch]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for batch in batches:
        counts[batch.prefix] = counts.get(batch.prefix, 0) + 1
    return counts


def _overdue(config: PrefixConfig, batch: Batch | None, now: float, grace: float) -> float | None:
    """How long past its seal time an open batch is, beyond the grace period (else None)."""
    if batch is None or config.paused:
        return None
    reason = seal_reason(batch, config.thresholds, now)
    if reason is None:
        return None
    due = age_due_at(batch, config.thresholds)
    since = due if reason is SealReason.MAX_AGE else batch.last_file_at
    late = now - (since if since is not None else now)
    return late if late > grace else None
