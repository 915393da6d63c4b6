"""Before and during a load: are a batch's files still the versions the ledger registered?

The decisions are loader/sources.py's; this module reads S3 and the batch's members, and applies
what was decided through the batch store (under the batch's lease).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from loader.errors import SourcesChangedError
from loader.log import logger
from loader.sources import SourcePlan, changed_since, chunks, moved_on, plan_sources

if TYPE_CHECKING:
    from config.models import ReuploadPolicy
    from loader.deps import Deps
    from loader.models import BatchMember


@dataclass
class Reconciled:
    """What the check before a load changed in the batch."""

    superseded: int = 0
    adopted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.superseded or self.adopted)


def settle_chunk(
    deps: Deps,
    batch_id: str,
    chunk: list[BatchMember],
    policy: ReuploadPolicy,
    *,
    owner: str,
    now: float,
    done: Reconciled,
) -> list[BatchMember]:
    """Compare a run of members with S3 and apply the plan: superseded members leave the
    batch, adopted ones take the current version. Returns the members as they now load."""
    current = deps.s3.current_objects(m.url for m in chunk if m.etag)
    plan: SourcePlan = plan_sources(chunk, current, policy)
    if plan.adopted:
        ledger = deps.members.known_files([m.url for m, _ in plan.adopted])
        plan = moved_on(plan, {url: r.batch_id for url, r in ledger.items()}, batch_id)
    if plan.superseded:
        urls = [m.url for m in plan.superseded]
        deps.members.omit_members(batch_id, urls, now=now, owner=owner)
        logger.warning(
            "members_superseded",
            batch_id=batch_id,
            files=len(urls),
            sample=urls[:10],
            reason="overwritten since registered; the new version loads on its own",
        )
        done.superseded += len(urls)
    if plan.adopted:
        deps.members.adopt_versions(batch_id, plan.adopted, owner=owner, now=now)
        logger.warning(
            "versions_adopted",
            batch_id=batch_id,
            files=len(plan.adopted),
            sample=[m.url for m, _ in plan.adopted[:10]],
            reason="overwritten since registered; reupload: ignore loads it as it is now",
        )
        done.adopted += len(plan.adopted)
    if plan.gone:
        logger.warning(
            "members_gone",
            batch_id=batch_id,
            files=len(plan.gone),
            sample=[m.url for m in plan.gone[:10]],
        )
    left = {m.url for m in plan.superseded}
    adopted = {m.url: c for m, c in plan.adopted}
    return [
        m.model_copy(update={"etag": adopted[m.url].etag, "size": adopted[m.url].size})
        if m.url in adopted
        else m
        for m in chunk
        if m.url not in left
    ]


def settle_sources(
    deps: Deps, batch_id: str, policy: ReuploadPolicy, *, owner: str, now: float
) -> Reconciled:
    """Every member, chunk by chunk (`settle_chunk`). When something changed, the caller writes
    the manifest again from the members (rare: no member list is held here)."""
    done = Reconciled()
    for chunk in chunks(deps.batches.members(batch_id)):
        settle_chunk(deps, batch_id, chunk, policy, owner=owner, now=now, done=done)
    return done


@dataclass
class BatchSources:
    """The batch's members as the load expects them: their ETags (PostgreSQL reads each object
    with If-Match) and a check that none changed (after the COPY, before the commit)."""

    deps: Deps
    batch_id: str

    @cached_property
    def etags(self) -> dict[str, str | None]:
        return {m.url: m.etag for m in self.deps.batches.members(self.batch_id)}

    def changed(self) -> list[str]:
        """The members whose object is no longer the version this load read."""
        found: list[str] = []
        for chunk in chunks(self.deps.batches.members(self.batch_id)):
            expected = {m.url: m.etag for m in chunk}
            current = self.deps.s3.current_objects(u for u, e in expected.items() if e)
            found += changed_since(expected, current)
        return found

    def verify(self, target: str) -> None:
        """Raise (retryable: the next attempt settles the sources first) if any changed."""
        changed = self.changed()
        if changed:
            raise SourcesChangedError(
                f"target {target}: {len(changed)} file(s) changed in S3 during the load "
                f"(e.g. {changed[0]}); rolled back",
                target=target,
                files=changed[:10],
            )
