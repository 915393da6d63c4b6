"""The invariant every scenario ends with, and the operator's recovery of failed batches.

Every input file version is in the target exactly once, or in a batch marked `error` that can be
reprocessed to exactly once; no batch is left sealed or loading without a live lease; no file
waits in an open batch once the run has been flushed.

A file version is `(url, etag)`: with the `reload` policy a key written twice is two versions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loader.adapters.items import batch_from_item as _batch_from_item
from loader.models import Batch, BatchStatus
from loader.transitions import LEASED

if TYPE_CHECKING:
    from reliability.destinations import FakeTarget

    from loader.deps import Deps

Version = tuple[str, str | None]


@dataclass
class Outcome:
    expected: int
    lost: list[Any] = field(default_factory=list)
    duplicated: list[Any] = field(default_factory=list)
    unexpected: list[Any] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    """Sealed/loading batches whose lease expired (nobody will finish them but the sweep)."""
    unfinished: list[str] = field(default_factory=list)
    """Sealed/loading batches under a live lease, or open batches still holding files."""
    failed: list[str] = field(default_factory=list)
    """Batches in `error`: visible, reprocessable."""
    failed_versions: int = 0

    @property
    def exactly_once(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.stuck)

    def counts(self) -> dict[str, int]:
        return {
            "files": self.expected,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "stuck": len(self.stuck) + len(self.unfinished),
            "error_batches": len(self.failed),
        }

    def assert_exactly_once(self, *, allow_failed: bool = False) -> None:
        problems = {
            "files lost": self.lost,
            "files loaded more than once": self.duplicated,
            "rows nobody sent": self.unexpected,
            "batches stuck without a live lease": self.stuck,
            "batches unfinished": self.unfinished,
        }
        if not allow_failed:
            problems["batches in error"] = self.failed
        bad = {k: sorted(map(str, v))[:10] for k, v in problems.items() if v}
        assert not bad, f"exactly-once broken: {bad}"


def headers(deps: Deps, prefixes: Iterable[str]) -> list[Batch]:
    """Every batch header of the prefixes, read from the table itself (not an index)."""
    wanted = set(prefixes)
    db = deps.client("dynamodb")
    found = []
    scan = db.get_paginator("scan").paginate(
        TableName=deps.settings.tables.batches,
        FilterExpression="sk = :header",
        ExpressionAttributeValues={":header": {"S": "header"}},
        ConsistentRead=True,
    )
    for page in scan:
        found += [b for b in map(_batch_from_item, page["Items"]) if b.prefix in wanted]
    return found


def _classify(outcome: Outcome, batches: list[Batch], now: float) -> None:
    for batch in batches:
        if batch.status in LEASED:
            live = batch.lease is not None and batch.lease.expires_at > now
            (outcome.unfinished if live else outcome.stuck).append(batch.batch_id)
        elif batch.status is BatchStatus.OPEN and batch.file_count:
            outcome.unfinished.append(batch.batch_id)
        elif batch.status is BatchStatus.ERROR:
            outcome.failed.append(batch.batch_id)


def audit_fake(
    deps: Deps,
    target: FakeTarget,
    expected: Iterable[Version],
    *,
    prefixes: Iterable[str],
    now: float,
) -> Outcome:
    """Rows are the fake destination's commits; a url's version is its member etag there."""
    batches = headers(deps, prefixes)
    by_id = {b.batch_id: b for b in batches}
    wanted = Counter(expected)
    outcome = Outcome(expected=len(wanted))
    _classify(outcome, batches, now)
    loaded: Counter[Version] = Counter()
    for batch_id in by_id:
        commits = target.committed(batch_id)
        etags = {m.url: m.etag for m in deps.batches.members(batch_id)}
        for urls in commits:
            loaded.update((url, etags.get(url)) for url in urls)
    in_error: set[Version] = set()
    for batch_id in outcome.failed:
        in_error.update((m.url, m.etag) for m in deps.batches.members(batch_id))
    _tally(outcome, wanted, loaded, in_error)
    return outcome


def audit_rows(
    batches: list[Batch],
    rows: Iterable[Any],
    expected: Iterable[Any],
    *,
    now: float,
    in_error: Callable[[list[str]], set[Any]] = lambda ids: set(),
) -> Outcome:
    """Rows read from a real target: each expected row once."""
    wanted = Counter(expected)
    outcome = Outcome(expected=len(wanted))
    _classify(outcome, batches, now)
    _tally(outcome, wanted, Counter(rows), in_error(outcome.failed))
    return outcome


def _tally(
    outcome: Outcome, wanted: Counter[Any], loaded: Counter[Any], in_error: set[Any]
) -> None:
    outcome.failed_versions = len(in_error)
    for version in wanted:
        if loaded[version] == 0 and version not in in_error:
            outcome.lost.append(version)
    outcome.duplicated = [v for v, n in loaded.items() if n > 1]
    outcome.unexpected = [v for v in loaded if v not in wanted]


def reprocess_failed(
    deps: Deps, batch_ids: Iterable[str], *, run: Callable[[Batch], Batch], now: float
) -> list[Batch]:
    """What an operator does: error -> sealed under their lease, then drive the batch."""
    done = []
    for batch_id in batch_ids:
        batch = deps.batches.transition(
            batch_id,
            owner="operator",
            current=BatchStatus.ERROR,
            wanted=BatchStatus.SEALED,
            now=now,
            lease_seconds=deps.settings.lease_seconds,
            error=None,
            error_kind=None,
        )
        done.append(run(batch))
    return done
