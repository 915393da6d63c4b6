"""What the model-based ledger test checks after every step, and how each example ends: the
world is drained (every pending notice delivered, reconciliation, time past every threshold and
lease, sweeps, failed batches reprocessed by the operator with the files that cannot load
omitted) and the targets must then hold exactly what the model says.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from reliability.ledger_model import Expected, UnitState, Violation

from loader.decisions import seal_reason
from loader.models import BatchStatus
from loader.transitions import LEASED

if TYPE_CHECKING:
    from reliability.ledger_machine import LedgerMachine
    from reliability.ledger_world import Observation


def must(condition: object, message: str) -> None:
    if not condition:
        raise Violation(message)


def check_step(machine: LedgerMachine, now: Observation, failures: dict[str, int]) -> None:
    """Compare the stores with the model after one step (`machine.obs` is the step before)."""
    before = machine.obs
    settle_registrations(machine, before, now)
    record_adoptions(machine, now)
    record_commits(machine, before, now)
    check_ledger(machine, now)
    check_rows(machine, now)
    check_batches(machine, now)
    check_failures(machine, now, failures)
    for batch in now.batches.values():
        earlier = before.batches.get(batch.batch_id) if before else None
        if batch.status is not BatchStatus.OPEN and (
            earlier is None or earlier.status is BatchStatus.OPEN
        ):
            machine.path(f"sealed by {batch.seal_reason}")
    if machine.swept_at is not None:
        check_nothing_stuck(machine, now, machine.swept_at)
        for batch_id, batch in (before.batches if before else {}).items():
            after = now.batches.get(batch_id)
            if batch.status in LEASED and after is not None and after.status not in LEASED:
                machine.path(f"sweep finished an abandoned batch ({machine.sweeper})")


def settle_registrations(
    machine: LedgerMachine, before: Observation | None, now: Observation
) -> None:
    """Each registration the step made: the ledger records the upload, in an open batch."""
    model, world = machine.model, machine.w
    for expected in machine.expected:
        source = "listing" if expected.listed else "notice"
        if expected.arrival.value not in ("new", "reupload"):
            machine.path(f"{source}: {expected.arrival}")
            continue
        record = now.ledger.get(world.url(expected.key))
        must(
            record is not None
            and (record.etag == expected.upload.etag or adopted_since(machine, expected, now)),
            f"{expected.arrival} {expected.upload!r} ({'listed' if expected.listed else 'notice'})"
            f": the ledger holds {record.etag if record else None}",
        )
        assert record is not None
        earlier = before.batches.get(record.batch_id) if before else None
        previous = model.unit_of(expected.key)
        old_batch = previous.batch_id if previous and previous.live else None
        how = model.settle(expected, record.batch_id)
        machine.path(f"{source}: {expected.arrival} ({how})")
        if how == "replaced":
            must(
                earlier is not None and earlier.status is BatchStatus.OPEN,
                f"{expected.upload!r} replaced its member in batch {record.batch_id}, which was "
                f"{earlier.status if earlier else 'unknown'}",
            )
            continue
        must(
            earlier is None or earlier.status is BatchStatus.OPEN,
            f"{expected.upload!r} registered into batch {record.batch_id}, which was "
            f"{earlier.status if earlier else None} before the step",
        )
        if how == "moved" and old_batch is not None:
            left = now.batches.get(old_batch)
            must(
                left is None or left.status is not BatchStatus.OPEN,
                f"{expected.upload!r} moved out of batch {old_batch}, which is still open",
            )
    machine.expected = []


def adopted_since(machine: LedgerMachine, expected: Expected, now: Observation) -> bool:
    """The registration's batch sealed and began loading in the same step, and the load adopted
    the key's current upload (`ignore`): the ledger holds that one already."""
    model, world = machine.model, machine.w
    record = now.ledger.get(world.url(expected.key))
    current = model.current(expected.key)
    batch = now.batches.get(record.batch_id) if record else None
    return (
        model.etag_check
        and not model.reload
        and current is not None
        and record is not None
        and record.etag == current.etag
        and (batch is None or batch.status is not BatchStatus.OPEN)
    )


def record_adoptions(machine: LedgerMachine, now: Observation) -> None:
    """A load attempted in this step compared its members with S3 first: under `ignore` it
    adopted the current object of a member overwritten since its registration (only then may
    a member's ETag differ from its unit's, and only to what S3 holds now); under `reload` it
    left such a member out. Either stands even if the attempt then failed."""
    model, world = machine.model, machine.w
    for batch_id, members in now.members.items():
        for unit in model.live_units(batch_id):
            member = members.get(world.url(unit.key))
            if member is None and model.superseded(unit):
                # `reload`: a load attempt left out a member overwritten since (the attempt may
                # have failed since: the check comes first); the newer upload loads on its own.
                unit.state = UnitState.SUPERSEDED
                machine.path("a load left out a member overwritten since (reload)")
                continue
            if member is None or member.etag == unit.upload.etag:
                continue
            current = model.current(unit.key)
            must(
                model.etag_check and not model.reload,
                f"batch {batch_id}: member {member.url} is etag {member.etag}, the model "
                f"{unit.upload!r} (adoption happens only under ignore)",
            )
            must(
                current is not None and member.etag == current.etag,
                f"batch {batch_id}: member {member.url} adopted etag {member.etag}, S3 holds "
                f"{current!r}",
            )
            assert current is not None
            model.adopt(unit, current)
            machine.path("a load adopted an upload newer than its member (ignore)")


def record_commits(machine: LedgerMachine, before: Observation | None, now: Observation) -> None:
    """A target that committed a batch in this step loaded each live unit of it as it is now."""
    model = machine.model
    for kind, committed in now.committed.items():
        new = committed - (before.committed[kind] if before else set())
        for batch_id in sorted(new):
            for unit in model.live_units(batch_id):
                registered = unit.upload.tag
                unit.loaded[kind] = model.loads(unit)
                if unit.loaded[kind] is None:
                    machine.path("unit superseded (a newer upload loads on its own)")
                elif unit.loaded[kind] != registered:
                    machine.path("the batch loaded an upload newer than its member (ignore)")
    for batch in now.with_status(BatchStatus.COMPLETE):
        missing = [k for k, done in now.committed.items() if batch.batch_id not in done]
        live = model.live_units(batch.batch_id)
        if missing and all(model.superseded(u) for u in live):
            # Nothing left to load (every file moved on or was overwritten since): the targets
            # that had not committed it yet are not asked (those that had were checked then).
            earlier = before.batches.get(batch.batch_id) if before else None
            if earlier is None or earlier.status is not BatchStatus.COMPLETE:
                machine.path("batch completed with nothing left to load")
        else:
            must(not missing, f"batch {batch.batch_id} complete, not in the ledger of {missing}")
        for unit in live:
            # A unit overwritten before its load was left out (`file show`: omitted, never
            # loaded), even where a target had committed the batch before the overwrite.
            unit.state = UnitState.SUPERSEDED if model.superseded(unit) else UnitState.LOADED


def check_ledger(machine: LedgerMachine, now: Observation) -> None:
    """The ledger says of each key what the model says: the upload registered, and its batch."""
    model, world = machine.model, machine.w
    for key in machine.key_names():
        record = model.records.get(key)
        found = now.ledger.get(world.url(key))
        if record is None:
            must(found is None, f"{key}: registered {found.etag if found else ''}, never expected")
            continue
        must(found is not None, f"{key}: {record.upload!r} expected in the ledger, not there")
        assert found is not None
        must(
            found.etag == record.upload.etag,
            f"{key}: the ledger holds etag {found.etag}, the model {record.upload!r}",
        )
        unit = model.unit_of(key)
        must(
            unit is not None and found.batch_id == unit.batch_id,
            f"{key}: the ledger points at batch {found.batch_id}, the model at "
            f"{unit.batch_id if unit else None}",
        )


def check_rows(machine: LedgerMachine, now: Observation) -> None:
    """Each target holds exactly the rows of the units it committed, once."""
    for kind, actual in now.rows.items():
        expected = machine.model.expected_rows(kind)
        if actual == expected:
            continue
        twice = sorted(v for v, n in actual.items() if n > expected.get(v, 0) and v in expected)
        lost = sorted(v for v in expected if actual.get(v, 0) < expected[v])
        stray = sorted(v for v in actual if v not in expected)
        raise Violation(
            f"target {kind}: loaded more than once {twice}, lost {lost}, rows nobody "
            f"registered {stray}"
        )


def check_batches(machine: LedgerMachine, now: Observation) -> None:
    """A batch not yet complete has exactly its live units as members (a re-upload into the
    open batch replaced the member), plus members that moved to a later batch."""
    model, world = machine.model, machine.w
    for batch_id, members in now.members.items():
        live = {world.url(u.key): u for u in model.live_units(batch_id)}
        moved = {
            world.url(u.key)
            for u in model.units
            if u.batch_id == batch_id and u.state is UnitState.MOVED
        }
        must(
            set(live) <= set(members) <= set(live) | moved,
            f"batch {batch_id}: members {sorted(members)}, the model {sorted(live)} "
            f"(+ moved {sorted(moved)})",
        )
        if model.etag_check:
            continue
        for url, unit in live.items():
            must(
                members[url].etag == unit.upload.etag,
                f"batch {batch_id}: member {url} is etag {members[url].etag}, "
                f"the model {unit.upload!r}",
            )


def check_failures(machine: LedgerMachine, now: Observation, failures: dict[str, int]) -> None:
    """Every batch in error was notified; a batch fails only if one of its files cannot load."""
    seen = machine.seen_failures
    for batch in now.with_status(BatchStatus.ERROR):
        must(failures.get(batch.batch_id), f"batch {batch.batch_id} in error, nobody was told")
    for batch_id, count in failures.items():
        if batch_id not in now.batches or count <= seen.get(batch_id, 0):
            continue
        machine.path("batch failed, failure notice sent")
        must(
            machine.model.can_fail(batch_id),
            f"batch {batch_id} failed though every file of it is good: "
            f"{now.batches[batch_id].error}",
        )


def check_nothing_stuck(machine: LedgerMachine, now: Observation, at: float) -> None:
    """After a sweep (at the sweeper's clock `at`): no lease left expired, no overdue batch."""
    world = machine.w
    for batch in now.with_status(*LEASED):
        must(
            batch.lease is not None and batch.lease.expires_at > at,
            f"batch {batch.batch_id} {batch.status} with an expired lease after a sweep",
        )
    config = world.config()
    for batch in now.with_status(BatchStatus.OPEN):
        if not world.paused:
            reason = seal_reason(batch, config.thresholds, at)
            must(reason is None, f"batch {batch.batch_id} due ({reason}) after a sweep")


# --- the end of every example ------------------------------------------------------------------


def drain_and_audit(machine: LedgerMachine) -> None:
    world, model = machine.w, machine.model
    observe = machine.stores_agree_with_the_model
    if world.paused:
        world.cli("config", "resume", world.prefix)
        world.paused = False
        observe()
    pending = machine.pending
    for start in range(0, len(pending), 5):
        machine.send(pending[start : start + 5], "s3")
        observe()
    machine.pending = []
    machine.expected += model.listing()
    world.reconcile()
    observe()
    for _ in range(6):
        world.clock.advance(world.settings.lease_seconds + 1000)
        world.fire_timers()
        world.sweep()
        machine.swept_at, machine.sweeper = world.clock(), "lease expired"
        observe()
        if machine.open_with_files():  # no age threshold: the operator flushes what waits
            world.cli("batch", "flush", world.prefix)
            observe()
        failed = machine.failed()
        if not failed and not unfinished(machine):
            break
        for batch_id in failed:
            recover(machine, batch_id)
            observe()
    audit(machine)


def unfinished(machine: LedgerMachine) -> list[str]:
    assert machine.obs is not None
    leased = machine.obs.with_status(*LEASED)
    waiting = [b for b in machine.obs.with_status(BatchStatus.OPEN) if b.file_count]
    return [b.batch_id for b in leased + waiting]


def recover(machine: LedgerMachine, batch_id: str) -> None:
    """The operator reprocesses a failed batch, omitting the files that cannot load (deleted,
    or still bad); a batch left with nothing to load is deleted."""
    world, model = machine.w, machine.model
    assert machine.obs is not None
    omit = [u.key for u in model.unfixable(batch_id)]
    members = set(machine.obs.members.get(batch_id, {}))
    live = {world.url(u.key) for u in model.live_units(batch_id)}
    if live and {world.url(k) for k in omit} != members:
        machine.operator_reprocess(batch_id, omit)
        return
    batch = machine.obs.batches[batch_id]
    deleted, skipped = world.operations().delete([batch])
    must(deleted == [batch_id], f"batch {batch_id} could not be deleted: {skipped}")
    for unit in model.live_units(batch_id):
        unit.state = UnitState.OMITTED


def audit(machine: LedgerMachine) -> None:
    """0 lost, 0 duplicated, 0 stuck, and `file show` tells each file's story."""
    world, model = machine.w, machine.model
    now = machine.obs
    assert now is not None
    waiting = [u for u in model.units if u.live]
    stuck = unfinished(machine) + machine.failed()
    duplicated: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for kind, actual in now.rows.items():
        expected = model.expected_rows(kind)
        duplicated[kind] = sum(1 for v, n in actual.items() if n > expected.get(v, 0))
        lost[kind] = sum(1 for v in expected if actual.get(v, 0) < expected[v])
    machine.report.add(
        "model-based ledger test",
        files=len(model.uploads),
        faults=machine.faults,
        lost=len(waiting) + max(lost.values(), default=0),
        duplicated=max(duplicated.values(), default=0),
        stuck=len(stuck),
        error_batches=len(machine.failed()),
    )
    must(not waiting, f"registered, never loaded nor omitted: {waiting}")
    must(not stuck, f"batches left unfinished: {stuck}")
    for key in machine.key_names():
        record, unit = model.records.get(key), model.unit_of(key)
        if record is None or unit is None:
            continue
        result = world.cli("file", "show", world.url(key), "-o", "json")
        must(result.exit_code == 0, f"file show {key}: {result.output}")
        shown = json.loads(result.stdout)
        must(shown["etag"] == record.upload.etag, f"file show {key}: {shown}, not {record}")
        if unit.state is UnitState.LOADED:
            must(shown["batch_status"] == "complete" and shown["loaded_at"], f"{key}: {shown}")
