"""Deliberately broken builds, to see each invariant test fail (`pytest --broken=NAME`).

Each break patches the loader in-process (never the files), so anyone can re-demonstrate that a
test catches the defect it is meant to catch:

    .venv/bin/pytest tests/reliability --broken=registration-condition

Worker processes get the same breaks through the `LOADER_TEST_BROKEN` environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

ENV = "LOADER_TEST_BROKEN"
Patch = Callable[[Any, str, Any], None]
_OPEN = "#status = :open"


def _loosen(patch: Patch, broken: Callable[[str], bool]) -> None:
    """Rewrite the chosen transaction conditions to always hold (the values stay used:
    DynamoDB rejects unused expression values)."""
    from loader.adapters.dynamo import Dynamo

    real = Dynamo.transact

    def transact(self: Any, items: list[dict[str, Any]]) -> Any:
        for item in items:
            update = item.get("Update")
            condition = update.get("ConditionExpression", "") if update else ""
            if condition and broken(condition):
                update["ConditionExpression"] = f"attribute_exists(#always) OR ({condition})"
                update["ExpressionAttributeNames"] = {
                    **update["ExpressionAttributeNames"],
                    "#always": "updated_at",
                }
        return real(self, items)

    patch(Dynamo, "transact", transact)


_SEAL = _OPEN + " AND #file_count > :zero"
_HEADROOM = (":files_below", ":bytes_below", ":first_after", ":armed")


def _rewrite(patch: Patch, rewrite: Callable[[str], str | None]) -> None:
    """Rewrite chosen transaction conditions (`rewrite` returns the new text, or None to keep
    it); a rewritten condition may use `#always` (an attribute every batch item has)."""
    from loader.adapters.dynamo import Dynamo

    real = Dynamo.transact

    def transact(self: Any, items: list[dict[str, Any]]) -> Any:
        for item in items:
            update = item.get("Update")
            condition = update.get("ConditionExpression", "") if update else ""
            changed = rewrite(condition) if condition else None
            if changed is not None:
                update["ConditionExpression"] = changed
                update["ExpressionAttributeNames"] = {
                    **update["ExpressionAttributeNames"],
                    "#always": "updated_at",
                }
        return real(self, items)

    patch(Dynamo, "transact", transact)


def _registration_condition(patch: Patch) -> None:
    """Files may join a batch that is no longer open (the condition that fixes membership),
    with or without headroom."""

    def rewrite(condition: str) -> str | None:
        if not condition.startswith(_OPEN) or condition == _SEAL:
            return None
        return f"(attribute_exists(#always) OR {_OPEN}){condition[len(_OPEN) :]}"

    _rewrite(patch, rewrite)


def _headroom_condition(patch: Patch) -> None:
    """A registration write asking for headroom gets it whenever the batch is open, even at a
    threshold or before its age timer is sent: no one reads the header, no one decides."""

    def rewrite(condition: str) -> str | None:
        if not condition.startswith(_OPEN + " AND ") or not any(v in condition for v in _HEADROOM):
            return None
        rest = condition[len(_OPEN + " AND ") :]
        return f"{_OPEN} AND (attribute_exists(#always) OR ({rest}))"

    _rewrite(patch, rewrite)


def _seal_condition(patch: Patch) -> None:
    """Anyone may seal a batch, whatever its state, and rotate the prefix away from it."""
    _loosen(patch, lambda condition: condition in (_SEAL, "#open_batch_id = :current"))


def _target_ledger(patch: Patch) -> None:
    """A target never finds the batch in its ledger (nor in the batch's recorded target states),
    so a retried batch is loaded again."""
    from loader.loading import runner
    from loader.loading.sql import ledger

    real_lookup = ledger.lookup_sql

    def lookup_sql(*args: Any, **kwargs: Any) -> str:
        return real_lookup(*args, **kwargs) + " AND 1 = 0"

    patch(ledger, "lookup_sql", lookup_sql)
    real_load = runner.TargetsLoader.load

    def load(self: Any, config: Any, batch: Any, manifest_url: str, context: Any) -> Any:
        return real_load(
            self, config, batch.model_copy(update={"targets": {}}), manifest_url, context
        )

    patch(runner.TargetsLoader, "load", load)
    from reliability import destinations  # the tests' fake destinations keep a ledger too

    patch(destinations, "LEDGER_CHECK", False)


def _redact(patch: Patch) -> None:
    """Secrets are not masked in error messages, notifications or logs."""
    from loader import copy_sql
    from loader.loading.targets import db_errors
    from loader.notify import message

    def redact(sql: str, *, secrets: Any = None) -> str:
        return sql

    for module in (copy_sql, db_errors, message):
        patch(module, "redact", redact)


def _debug_sql(patch: Patch) -> None:
    """The original loader's defect #13: each statement, COPY and credentials included, logged
    at DEBUG before it runs."""
    from loader.loading.targets import pg_session
    from loader.log import logger

    real = pg_session.run_script

    def run_script(conn: Any, script: Any, **kwargs: Any) -> Any:
        for step in script.steps:
            logger.debug("load_statement", sql=step.sql)
        return real(conn, script, **kwargs)

    patch(pg_session, "run_script", run_script)


def _reject_malformed(patch: Patch) -> None:
    """A bad SQS message fails the whole batch instead of failing alone."""
    from loader import events

    def sqs_message(record: dict[str, Any]) -> Any:
        message_id = str(record.get("messageId") or "")
        if not message_id:
            raise events.MalformedEventError("SQS record without messageId")
        return events.Message(message_id, events.parse_payload(record.get("body")))

    patch(events, "_sqs_message", sqs_message)


def _reprocess_keeps_moved(patch: Patch) -> None:
    """Reprocessing a failed batch keeps the files re-uploaded into later batches since."""
    from loader.lifecycle import BatchLifecycle

    def keep(self: Any, batch: Any) -> None:
        return None

    patch(BatchLifecycle, "_omit_moved_members", keep)


def _unconditional_ledger(patch: Patch) -> None:
    """The ledger write of a new file is an unconditional put (the original loader's upsert):
    a redelivered notice registers the file again."""
    from loader.adapters.file_ledger import FileLedger

    real = FileLedger._ledger_put

    def ledger_put(self: Any, *args: Any) -> dict[str, Any]:
        item = real(self, *args)
        put = {k: v for k, v in item["Put"].items() if "Condition" not in k}
        put.pop("ExpressionAttributeNames")
        return {"Put": put}

    patch(FileLedger, "_ledger_put", ledger_put)


def _stale_as_reupload(patch: Patch) -> None:
    """Notices are not ordered by their sequencer: an older upload's late notice counts as a
    re-upload."""
    from loader import decisions, reconcile, registration

    def classify(existing: Any, obj: Any, policy: Any) -> Any:
        if existing is None:
            return decisions.Arrival.NEW
        if decisions.is_same_upload(existing, obj):
            return decisions.Arrival.DUPLICATE
        if policy is decisions.ReuploadPolicy.RELOAD:
            return decisions.Arrival.REUPLOAD
        return decisions.Arrival.REUPLOAD_IGNORED

    for module in (registration, reconcile):
        patch(module, "classify_arrival", classify)


def _silent_failure(patch: Patch) -> None:
    """A batch that fails ends `error` without a failure notice."""
    from loader.lifecycle import BatchLifecycle

    real = BatchLifecycle._fail

    def fail(self: Any, *args: Any) -> Any:
        notifier, self._notifier = self._notifier, None
        try:
            return real(self, *args)
        finally:
            self._notifier = notifier

    patch(BatchLifecycle, "_fail", fail)


def _no_lease_recovery(patch: Patch) -> None:
    """The sweep never takes over a batch whose lease expired."""
    from loader.sealing import Sealer

    def recover(self: Any, *args: Any) -> bool:
        return False

    patch(Sealer, "_recover", recover)


def _fence_always_claims(patch: Patch) -> None:
    """A holder whose lease was taken over still claims the batch's fence in each target."""
    from loader.loading.sql import ledger

    real_fence, real_guard = ledger.fence_sql, ledger.fence_guard_sql

    def fence_sql(schema: str, entry: Any, dialect: Any) -> str:
        return real_fence(schema, entry, dialect).rsplit(" AND generation <=", 1)[0]

    def fence_guard_sql(schema: str, entry: Any) -> str:
        return real_guard(schema, entry).rsplit(" AND generation =", 1)[0]

    patch(ledger, "fence_sql", fence_sql)
    patch(ledger, "fence_guard_sql", fence_guard_sql)


def _no_fence(patch: Patch) -> None:
    """Load transactions neither claim the batch's fence nor look the ledger up again before
    committing: a holder whose lease was taken over commits whatever happened meanwhile."""
    from dataclasses import replace

    from loader.loading.sql import redshift_script, script
    from loader.loading.targets import postgres

    real = script.build_script
    dropped = {script.StepKind.FENCE, script.StepKind.FENCE_GUARD, script.StepKind.RECHECK}

    def build_script(*args: Any, **kwargs: Any) -> Any:
        built = real(*args, **kwargs)
        return replace(built, steps=tuple(s for s in built.steps if s.kind not in dropped))

    for module in (postgres, redshift_script):
        patch(module, "build_script", build_script)


BREAKS: dict[str, Callable[[Patch], None]] = {
    "registration-condition": _registration_condition,
    "seal-condition": _seal_condition,
    "headroom-condition": _headroom_condition,
    "target-ledger": _target_ledger,
    "redact": _redact,
    "debug-sql": _debug_sql,
    "malformed-isolation": _reject_malformed,
    "reprocess-keeps-moved": _reprocess_keeps_moved,
    "unconditional-ledger": _unconditional_ledger,
    "stale-as-reupload": _stale_as_reupload,
    "silent-failure": _silent_failure,
    "no-lease-recovery": _no_lease_recovery,
    "fence-always-claims": _fence_always_claims,
    "no-fence": _no_fence,
}


def apply(names: Iterable[str], patch: Patch | None = None) -> None:
    """Apply breaks; `patch(obj, name, value)` defaults to setattr (worker processes)."""
    for name in names:
        if name not in BREAKS:
            raise ValueError(f"unknown break {name!r}; known: {', '.join(sorted(BREAKS))}")
        BREAKS[name](patch or setattr)


def from_env() -> list[str]:
    return [n for n in os.environ.get(ENV, "").split(",") if n]
