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


BREAKS: dict[str, Callable[[Patch], None]] = {
    "registration-condition": _registration_condition,
    "seal-condition": _seal_condition,
    "headroom-condition": _headroom_condition,
    "target-ledger": _target_ledger,
    "redact": _redact,
    "debug-sql": _debug_sql,
    "malformed-isolation": _reject_malformed,
}


def apply(names: Iterable[str], patch: Patch | None = None) -> None:
    """Apply breaks; `patch(obj, name, value)` defaults to setattr (worker processes)."""
    for name in names:
        if name not in BREAKS:
            raise ValueError(f"unknown break {name!r}; known: {', '.join(sorted(BREAKS))}")
        BREAKS[name](patch or setattr)


def from_env() -> list[str]:
    return [n for n in os.environ.get(ENV, "").split(",") if n]
