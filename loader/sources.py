"""What to do when a batch's files changed in S3 after they were registered. Pure.

COPY reads an object's latest content and a manifest entry cannot name a version, so a file
overwritten between its registration and its COPY would load content the ledger does not record:
under `reupload: reload` that newer content also loads with its own registration (twice), under
`ignore` the ledger would say one version while the table holds another. So before each load the
loader compares every member's ETag (content identity) with what S3 holds now:

- `reload`: the member is *superseded*: it leaves the batch (the newer version loads with its
  own notification, or reconciliation finds it: its ETag differs from the ledger's);
- `ignore`: the current version is *adopted*: the member and the ledger take its ETag and size,
  and it loads once, here;
- gone (deleted): left alone; the COPY fails on the mandatory manifest entry, visibly.

A change *during* the load is caught after the COPY and before the commit where the target lets
the loader look in between (psycopg2 targets: rolled back, retried, and the next attempt decides
as above; PostgreSQL reads each object with If-Match on its ETag). The Data API commits its
batch without a pause: a change detected after it is reported, never silent (docs/loading.md).
Members without a known ETag are not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice

from config.models import ReuploadPolicy
from loader.models import BatchMember


@dataclass(frozen=True)
class Current:
    """An object as S3 holds it now."""

    etag: str
    size: int


def same_etag(a: str | None, b: str | None) -> bool:
    """ETags compare without their quotes (events carry none, HEAD and LIST quote them)."""
    return a is not None and b is not None and a.strip('"') == b.strip('"')


@dataclass
class SourcePlan:
    """The members whose objects changed, by what happens to them."""

    superseded: list[BatchMember] = field(default_factory=list)
    adopted: list[tuple[BatchMember, Current]] = field(default_factory=list)
    gone: list[BatchMember] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.superseded or self.adopted)


def plan_sources(
    members: Iterable[BatchMember],
    current: Mapping[str, Current | None],
    policy: ReuploadPolicy,
) -> SourcePlan:
    """Compare members with `current` (url -> the object now, None when it is gone)."""
    plan = SourcePlan()
    for member in members:
        if member.etag is None or member.url not in current:
            continue
        now = current[member.url]
        if now is None:
            plan.gone.append(member)
        elif not same_etag(member.etag, now.etag):
            if policy is ReuploadPolicy.RELOAD:
                plan.superseded.append(member)
            else:
                plan.adopted.append((member, now))
    return plan


def moved_on(plan: SourcePlan, ledger_batch: Mapping[str, str | None], batch_id: str) -> SourcePlan:
    """Members the ledger no longer assigns to this batch (`ledger_batch`: url -> the batch the
    ledger names, None when it has no record) are never adopted, whatever the policy is now: a
    re-upload moved them to a later batch (`reload`, perhaps before the policy became `ignore`),
    which loads the file; adopting the new version here would load it twice. They leave."""
    keep: list[tuple[BatchMember, Current]] = []
    leave: list[tuple[BatchMember, Current]] = []
    for member, now in plan.adopted:
        (keep if ledger_batch.get(member.url) == batch_id else leave).append((member, now))
    if not leave:
        return plan
    return SourcePlan(
        superseded=plan.superseded + [m for m, _ in leave], adopted=keep, gone=plan.gone
    )


def changed_since(
    expected: Mapping[str, str | None], current: Mapping[str, Current | None]
) -> list[str]:
    """The urls whose object is no longer the one loaded (`expected`: url -> ETag)."""
    changed = []
    for url, etag in expected.items():
        if etag is None or url not in current:
            continue
        now = current[url]
        if now is None or not same_etag(etag, now.etag):
            changed.append(url)
    return sorted(changed)


CHUNK = 10_000
"""Members compared at a time: a million-file batch is never held whole."""


def chunks(members: Iterable[BatchMember], size: int = CHUNK) -> Iterator[list[BatchMember]]:
    """Consecutive runs of members (the member query returns them sorted by url, so each run
    covers a key range and a folder is listed at most once per run)."""
    iterator = iter(members)
    while chunk := list(islice(iterator, size)):
        yield chunk
