"""The model-based ledger test's state machine: rules are what happens in production, the checks
run after every step, and the end of every example drains the world and checks the outcome.

Rules (each one step): upload a new key or a new version of one (bad data sometimes; its notice
sent later, or delivered at once), delete a key; deliver pending notices (any subset, any order,
any envelope), redeliver delivered ones, lose one for good; reconcile or backfill; let time pass
(due flush timers arrive); sweep (on this clock, or on a worker's clock that runs past the
leases); flush; a worker that dies after sealing or around a target's commit; two workers racing
for a batch whose lease one of them lost; reprocess a failed batch (with or without `--omit`);
route a failure notice back to the loader; pause, resume, change thresholds and the re-upload
policy. With `etag_check`: overwrite a file whose batch is sealed and not yet loaded.
"""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

from e2e.stack import Stack
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from reliability.ledger_checks import check_step, drain_and_audit, must
from reliability.ledger_model import Expected, LedgerModel, UnitState
from reliability.ledger_world import ENVELOPES, Notice, Observation, World
from reliability.report import Report

from loader.models import BatchStatus
from loader.transitions import LEASED

KEYS = 3
CHANGES = (
    "pause",
    "resume",
    "reupload=reload",
    "reupload=ignore",
    "max_files=1",
    "max_files=2",
    "max_files=3",
    "max_files=5",
    "max_age_seconds=none",
    "max_age_seconds=60",
    "max_age_seconds=600",
)
KINDS = ("redshift", "postgres", "data_api")
SKEW = 60.0
"""How far past the lease a skewed worker's clock runs."""


@dataclass(frozen=True)
class Options:
    etag_check: bool = True
    """The loader checks each member's object before loading (loader/source_check.py): the
    rules may then overwrite a file between its batch's seal and its load.
    `LOADER_MODEL_ETAG_CHECK=0` keeps the rules away from that window (the model of a loader
    without the check)."""

    @classmethod
    def from_env(cls) -> Options:
        return cls(
            etag_check=os.environ.get("LOADER_MODEL_ETAG_CHECK") != "0",
        )


class LedgerMachine(RuleBasedStateMachine):
    stack: ClassVar[Stack]
    options: ClassVar[Options]
    report: ClassVar[Report]
    _names: ClassVar[itertools.count[int]] = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.world: World | None = None
        self.model = LedgerModel(reload=False)
        self.pending: list[Notice] = []
        self.delivered: list[Notice] = []
        self.expected: list[Expected] = []
        self.obs: Observation | None = None
        self.swept_at: float | None = None
        self.sweeper = "lease expired"
        self.faults = 0
        self.seen_failures: dict[str, int] = {}

    # --- the example's world --------------------------------------------------------------

    @initialize(
        reload=st.booleans(),
        versioned=st.booleans(),
        kinds=st.permutations(KINDS),
        max_files=st.sampled_from([3, 2, 4, 1]),
        max_age=st.sampled_from([None, 120]),
    )
    def start(
        self, reload: bool, versioned: bool, kinds: list[str], max_files: int, max_age: int | None
    ) -> None:
        thresholds: dict[str, Any] = {"max_files": max_files, "max_age_seconds": max_age}
        self.world = World(
            self.stack,
            f"m{next(self._names)}",
            list(kinds),
            versioned,
            thresholds,
            reload,
        )
        self.model = LedgerModel(reload=reload, etag_check=self.options.etag_check)
        self.path(f"{'versioned' if versioned else 'unversioned'} bucket")
        self.path(f"reupload: {'reload' if reload else 'ignore'} at the start")

    @property
    def w(self) -> World:
        assert self.world is not None
        return self.world

    def key(self, index: int) -> str:
        return f"{self.w.name}/k{index}.csv"

    def key_names(self) -> list[str]:
        return [self.key(i) for i in range(KEYS)]

    def leased_units(self, key: str) -> bool:
        """Does a live unit of the key sit in a sealed or loading batch?"""
        batches = self.obs.batches if self.obs else {}
        return any(
            u.key == key and batches[u.batch_id].status in LEASED
            for u in self.model.live_units()
            if u.batch_id in batches
        )

    def path(self, name: str) -> None:
        """Count a path the example took (hypothesis statistics, and the run's report)."""
        event(name)
        self.report.paths[name] += 1

    def open_with_files(self) -> bool:
        batch = self.obs.open_batch() if self.obs else None
        return batch is not None and batch.file_count > 0

    # --- S3 -----------------------------------------------------------------------------

    @rule(index=st.integers(0, KEYS - 1), bad=st.sampled_from([False, False, True]))
    def upload(self, index: int, bad: bool) -> None:
        """A producer writes the key (new, or a new version); its notice is sent, not yet
        delivered. Under `reload` while a unit of the key waits, it is delivered at once (else
        the batch would read the newer upload: the known open item)."""
        self.put(index, bad, now=False)

    @rule(index=st.integers(0, KEYS - 1), bad=st.sampled_from([False, False, True]))
    def upload_notified_at_once(self, index: int, bad: bool) -> None:
        """A producer writes the key and its notice is delivered right away."""
        self.put(index, bad, now=True)

    def put(self, index: int, bad: bool, *, now: bool) -> None:
        key = self.key(index)
        if not self.options.etag_check:
            if self.leased_units(key):
                return  # the known open item: an overwrite between seal and load
            pending = [n.upload for n in self.pending if not n.removed]
            if self.model.reload and not now and not self.model.quiet_overwrite_safe(key, pending):
                now = True
        upload = self.w.put(self.model.new_upload(key, bad=bad))
        self.model.put(upload)
        self.faults += bad
        if now:
            self.send([Notice(upload)], "s3")
        else:
            self.pending.append(Notice(upload))

    @precondition(lambda self: any(u is not None for u in self.model.s3.values()))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        """A producer deletes a file (its batch, if not loaded yet, fails visibly)."""
        keys = [k for k, u in sorted(self.model.s3.items()) if u is not None]
        key = data.draw(st.sampled_from(keys), label="key")
        if self.leased_units(key):
            return  # a file that disappears under a load in progress is not modelled
        upload = self.model.current(key)
        assert upload is not None
        self.w.delete(key)
        self.model.delete(key)
        self.pending.append(Notice(upload, removed=True))
        self.faults += 1

    @precondition(lambda self: self.options.etag_check)
    @rule(data=st.data(), now=st.booleans())
    def overwrite_between_seal_and_load(self, data: st.DataObject, now: bool) -> None:
        """A file of a sealed batch whose load has not committed anywhere is overwritten."""
        assert self.obs is not None
        waiting = [
            u
            for u in self.model.live_units()
            if self.obs.batches[u.batch_id].status in LEASED
            and not any(u.batch_id in done for done in self.obs.committed.values())
        ]
        if not waiting:
            return
        unit = data.draw(st.sampled_from(waiting), label="unit")
        upload = self.w.put(self.model.new_upload(unit.key))
        self.model.put(upload)
        if now:
            self.send([Notice(upload)], "s3")
        else:
            self.pending.append(Notice(upload))

    # --- notifications --------------------------------------------------------------------

    def send(self, notices: list[Notice], envelope: str) -> None:
        self.expected += self.model.deliver([n.upload for n in notices if not n.removed])
        self.delivered += notices
        self.w.deliver(notices, envelope)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), envelope=st.sampled_from(ENVELOPES))
    def deliver(self, data: st.DataObject, envelope: str) -> None:
        """S3 delivers some pending notices, in any order (late ones are stale versions)."""
        choices = self.pending
        if not choices:
            return
        picked = data.draw(
            st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True), label="notices"
        )
        self.pending = [n for n in self.pending if n not in picked]
        self.send(picked, envelope)
        self.path(f"delivered via {envelope}")

    @precondition(lambda self: self.delivered)
    @rule(data=st.data(), envelope=st.sampled_from(ENVELOPES))
    def redeliver(self, data: st.DataObject, envelope: str) -> None:
        """At-least-once delivery: a notice already delivered comes again."""
        choices = sorted(set(self.delivered), key=repr)
        if not choices:
            return
        picked = data.draw(
            st.lists(st.sampled_from(choices), min_size=1, max_size=2, unique=True), label="notices"
        )
        self.send(picked, envelope)
        self.path(f"redelivered via {envelope}")

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def lose_notice(self, data: st.DataObject) -> None:
        """A notice never arrives (an outage): reconciliation's job."""
        notice = data.draw(st.sampled_from(self.pending), label="notice")
        self.pending.remove(notice)
        self.faults += 1

    @rule(how=st.sampled_from(["reconcile", "backfill"]))
    def listing(self, how: str) -> None:
        """The scheduled reconciliation (`{"loader": "reconcile"}`) or the operator's backfill
        (`loader-admin file backfill`) lists the prefix and registers what the ledger lacks."""
        self.expected += self.model.listing()
        if how == "reconcile":
            self.w.reconcile()
            return
        result = self.w.cli("file", "backfill", self.w.prefix)
        must(result.exit_code == 0, f"file backfill failed: {result.output}")

    # --- time, sweeps, timers, workers ----------------------------------------------------

    @rule(seconds=st.sampled_from([30, 130, 330, 1000]))
    def time_passes(self, seconds: int) -> None:
        """Time passes; the flush timers that are due arrive (seal by age)."""
        self.w.clock.advance(seconds)
        if self.w.fire_timers():
            self.path("flush timer fired")

    @rule(skewed=st.booleans())
    def sweep(self, skewed: bool) -> None:
        """The scheduled sweep; `skewed`: run by a worker whose clock is past every lease."""
        ahead = self.w.settings.lease_seconds + SKEW if skewed else 0.0
        self.w.sweep(ahead)
        self.swept_at = self.w.clock() + ahead
        self.sweeper = "a worker whose clock runs past the lease" if skewed else "lease expired"

    @precondition(lambda self: self.open_with_files())
    @rule()
    def flush(self) -> None:
        """The operator seals and loads the open batch now (`loader-admin batch flush`)."""
        self.w.cli("batch", "flush", self.w.prefix)

    @precondition(lambda self: self.open_with_files())
    @rule(data=st.data())
    def worker_dies(self, data: st.DataObject) -> None:
        """A worker seals the open batch and dies: before its manifest, or just before or just
        after a target's commit. Its lease expires later (or a skewed worker takes over)."""
        points = ["manifest"] + [f"{w}:{k}" for k in self.w.kinds for w in ("before", "after")]
        point = data.draw(st.sampled_from(points), label="point")
        died = self.w.crash(point)
        self.faults += died
        self.path(f"worker died at {point}" if died else "worker did not reach its crash point")

    @precondition(lambda self: self.open_with_files())
    @rule(new_holder_first=st.booleans())
    def lease_taken_over_during_load(self, new_holder_first: bool) -> None:
        """A worker is inside its load transaction when another one, whose clock is past its
        lease, takes the batch over; either may reach the commit first."""
        if not self.w.race(new_holder_first):
            self.path("lease race: the first load failed before the takeover (bad data)")
            return
        self.faults += 1
        self.path(f"lease taken over during load ({'new' if new_holder_first else 'stale'} first)")

    # --- the operator ---------------------------------------------------------------------

    def failed(self) -> list[str]:
        return [b.batch_id for b in self.obs.with_status(BatchStatus.ERROR)] if self.obs else []

    @precondition(lambda self: self.failed())
    @rule(data=st.data())
    def reprocess(self, data: st.DataObject) -> None:
        """`loader-admin batch reprocess BATCH [--omit URL ...]`."""
        assert self.obs is not None
        batch_id = data.draw(st.sampled_from(self.failed()), label="batch")
        keys = sorted(u.key for u in self.model.live_units(batch_id))
        omit = data.draw(st.lists(st.sampled_from(keys), unique=True) if keys else st.just([]))
        self.operator_reprocess(batch_id, omit)

    def operator_reprocess(self, batch_id: str, keys: list[str]) -> None:
        assert self.obs is not None
        urls = [self.w.url(k) for k in keys]
        args = ["batch", "reprocess", batch_id, "-o", "json"]
        for url in urls:
            args += ["--omit", url]
        result = self.w.cli(*args)
        self.path(f"reprocess{' --omit' if urls else ''}: exit {result.exit_code}")
        members = set(self.obs.members.get(batch_id, {}))
        if urls and set(urls) != members:
            for unit in self.model.live_units(batch_id):
                if unit.key in keys:
                    unit.state = UnitState.OMITTED
        elif urls:
            must(result.exit_code == 1, f"--omit of every member was not refused: {result.output}")

    @precondition(lambda self: any(b in self.w.failure_bodies for b in self.failed()))
    @rule(data=st.data())
    def failure_notice_routed_back(self, data: st.DataObject) -> None:
        """The failure topic is subscribed back to the loader: it reprocesses the batch itself
        (at most LOADER_MAX_AUTO_REPROCESS times)."""
        batch_id = data.draw(
            st.sampled_from(sorted(b for b in self.w.failure_bodies if b in self.failed())),
            label="batch",
        )
        self.w.route_failure_notice(batch_id)
        self.path("failure notice routed back")

    @rule(change=st.sampled_from(CHANGES))
    def configuration_changes(self, change: str) -> None:
        """The operator pauses or resumes the prefix (`loader-admin config pause|resume`;
        resume seals and loads a batch already due, and exits 1 if that load fails), or
        changes a threshold or the re-upload policy."""
        world = self.w
        if change in ("pause", "resume"):
            result = world.cli("config", change, world.prefix)
            failed_due = change == "resume" and "failed" in result.output
            must(result.exit_code == 0 or failed_due, f"config {change}: {result.output}")
            world.paused = change == "pause"
            return
        name, _, value = change.partition("=")
        if name == "reupload":
            reload = value == "reload"
            if reload and not self.reload_safe():
                return  # a file overwritten under `ignore` still waits in a batch
            world.reload = self.model.reload = reload
        else:
            world.thresholds = world.thresholds | {name: None if value == "none" else int(value)}
        world.configure()

    def reload_safe(self) -> bool:
        if self.options.etag_check:
            return True
        pending = [n.upload for n in self.pending if not n.removed]
        return all(self.model.reload_safe(k, pending) for k in self.key_names())

    # --- the checks after every step --------------------------------------------------------

    @invariant()
    def stores_agree_with_the_model(self) -> None:
        if self.world is None:
            return
        now = self.w.observe(self.key_names())
        failures = dict(self.w.drain_failures())  # cumulative, per batch
        check_step(self, now, failures)
        self.obs, self.seen_failures, self.swept_at = now, failures, None

    def teardown(self) -> None:
        if self.world is None:
            return
        try:
            if sys.exc_info()[0] is None:  # a failed step is reported as it failed
                drain_and_audit(self)
        finally:
            self.w.retire()


def machine(stack: Stack, options: Options, report: Report) -> type[LedgerMachine]:
    """The state machine over this test's stack (hypothesis builds one per example)."""
    return type(
        "LedgerMachine", (LedgerMachine,), {"stack": stack, "options": options, "report": report}
    )
