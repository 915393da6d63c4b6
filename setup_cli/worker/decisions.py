"""The container worker's decisions, kept pure: values in, values out (no boto3, clock or env).

- `lambda_event`: the SQS event the Lambda service would have built from received messages.
- `settle`: which messages to delete after the handler ran (Lambda's partial-batch rules).
- `extensions`: which in-flight messages need their visibility extended now, and by how much.
- `sweep_due` / `wait_for_work`: when the sweep runs and how long the loop may block meanwhile.
- `worker_options`: the worker's settings from flags and environment, validated once.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_RECEIVE_BATCH = 10
"""SQS ReceiveMessage returns at most 10 messages."""
MAX_WAIT_SECONDS = 20
"""SQS long polling waits at most 20 seconds."""
MAX_VISIBILITY_SECONDS = 12 * 3600
"""A message may stay invisible at most 12 hours after it was received."""


@dataclass(frozen=True)
class Received:
    """One received SQS message, as the adapter hands it over (`received_at`: monotonic)."""

    queue_url: str
    message_id: str
    receipt_handle: str
    body: str
    received_at: float
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    md5_of_body: str = ""


# --- the event ------------------------------------------------------------------------------


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API message attribute -> the Lambda event's lower-camel-case shape."""
    binary = value.get("BinaryValue")
    if isinstance(binary, bytes | bytearray):
        binary = base64.b64encode(binary).decode("ascii")
    shaped: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": list(value.get("BinaryListValues", [])),
        "dataType": value.get("DataType", "String"),
    }
    if value.get("StringValue") is not None:
        shaped["stringValue"] = value["StringValue"]
    if binary is not None:
        shaped["binaryValue"] = binary
    return shaped


def lambda_event(messages: Sequence[Received], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event an SQS event source mapping would deliver for these messages."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": dict(m.attributes),
                "messageAttributes": {
                    name: _lambda_attribute(value) for name, value in m.message_attributes.items()
                },
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


# --- after the handler ran ------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """What to do with the messages of one batch once the handler returned (or raised)."""

    delete: tuple[Received, ...]
    retry: tuple[Received, ...]
    """Left alone: they reappear when their visibility timeout ends, as with Lambda."""
    reason: str | None = None
    """Why the whole batch is retried, if it is."""


def _failed_ids(failures: Any, known: set[str]) -> set[str] | str:
    """The failed message ids a `batchItemFailures` list names, or why the list is invalid."""
    if not isinstance(failures, list):
        return "batchItemFailures is not a list"
    failed: set[str] = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, Mapping) else None
        if not isinstance(identifier, str) or identifier not in known:
            return f"invalid batchItemFailures entry {entry!r}"
        failed.add(identifier)
    return failed


def settle(messages: Sequence[Received], response: Any, *, raised: bool) -> Settlement:
    """Lambda's partial batch response rules, applied to one received batch.

    Success for all: a response that is None, {}, or has a null / empty `batchItemFailures`.
    Failure for all: the handler raised, the response is not an object, or a failure entry has
    no (or an unknown, or an empty) `itemIdentifier`. Otherwise: delete all but the listed ones.
    """
    if raised:
        failed: set[str] | str = "handler raised"
    elif response is None:
        failed = set()
    elif not isinstance(response, Mapping):
        failed = "response is not an object"
    else:
        failures = response.get("batchItemFailures")
        failed = _failed_ids(failures, {m.message_id for m in messages}) if failures else set()
    if isinstance(failed, str):
        return Settlement(delete=(), retry=tuple(messages), reason=failed)
    return Settlement(
        delete=tuple(m for m in messages if m.message_id not in failed),
        retry=tuple(m for m in messages if m.message_id in failed),
    )


# --- visibility heartbeat -------------------------------------------------------------------


@dataclass(frozen=True)
class InFlight:
    """A message being worked on: when it was received and until when it stays invisible."""

    queue_url: str
    receipt_handle: str
    received_at: float
    visible_until: float


@dataclass(frozen=True)
class Extension:
    message: InFlight
    timeout: int
    """New VisibilityTimeout, counted from now."""


def extension_margin(visibility_timeout: int, tick: float) -> float:
    """Extend once at most this much invisibility is left: half the timeout, and never less
    than two heartbeat ticks, so one slow or failed ChangeMessageVisibility call is survivable."""
    return max(visibility_timeout / 2, 2 * tick)


def extensions(
    inflight: Iterable[InFlight], now: float, *, visibility_timeout: int, tick: float
) -> list[Extension]:
    """The messages whose visibility must be extended now, and the timeout to set for each.

    SQS counts the 12-hour limit from the receipt, so the timeout shrinks near that limit; a
    message that reached it is not extended again (it will be redelivered, the handler is
    idempotent).
    """
    margin = extension_margin(visibility_timeout, tick)
    due: list[Extension] = []
    for message in inflight:
        if message.visible_until - now > margin:
            continue
        allowed = int(MAX_VISIBILITY_SECONDS - (now - message.received_at))
        timeout = min(visibility_timeout, allowed)
        if timeout > 0:
            due.append(Extension(message, timeout))
    return due


# --- the sweep timer ------------------------------------------------------------------------


def sweep_due(now: float, next_sweep_at: float | None) -> bool:
    """`next_sweep_at` None means the sweep is disabled."""
    return next_sweep_at is not None and now >= next_sweep_at


def next_sweep_at(now: float, interval: float) -> float | None:
    return now + interval if interval > 0 else None


def wait_for_work(now: float, next_sweep: float | None, *, longest: float) -> float:
    """How long the loop may wait for a batch before it must look at the sweep (or the stop
    flag) again."""
    if next_sweep is None:
        return longest
    return max(0.0, min(longest, next_sweep - now))


# --- settings -------------------------------------------------------------------------------


class WorkerSettingsError(ValueError):
    """The worker's flags or environment are unusable; the message says which one."""


@dataclass(frozen=True)
class WorkerOptions:
    queue_urls: tuple[str, ...]
    batch_size: int = MAX_RECEIVE_BATCH
    wait_seconds: int = MAX_WAIT_SECONDS
    idle_sleep: float = 1.0
    """Pause after an empty receive when `wait_seconds` is 0 (short polling)."""
    visibility_timeout: int = 60
    sweep_interval: float = 5.0
    """Seconds between sweeps; 0 disables the worker's own sweep."""
    batch_timeout: float = 900.0
    """The handler's time budget per batch (what Lambda's timeout would be)."""
    heartbeat_tick: float = 1.0


ENV_QUEUE_URLS = "LOADER_NOTIFICATION_QUEUE_URL"
ENV_FLUSH_QUEUE_URL = "LOADER_FLUSH_QUEUE_URL"
_ENV_NUMBERS = {
    "batch_size": "LOADER_WORKER_BATCH_SIZE",
    "wait_seconds": "LOADER_WORKER_WAIT_SECONDS",
    "idle_sleep": "LOADER_WORKER_IDLE_SLEEP",
    "visibility_timeout": "LOADER_WORKER_VISIBILITY_TIMEOUT",
    "sweep_interval": "LOADER_WORKER_SWEEP_SECONDS",
    "batch_timeout": "LOADER_WORKER_BATCH_TIMEOUT",
}


def _number(name: str, raw: Any, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(raw)
    except (TypeError, ValueError):
        raise WorkerSettingsError(f"{name}: expected a number, got {raw!r}") from None


def worker_options(
    env: Mapping[str, str], flags: Mapping[str, Any], *, flush_queue: bool = True
) -> WorkerOptions:
    """Flags win over the environment. Queues: every `--queue-url` (or the comma-separated
    `LOADER_NOTIFICATION_QUEUE_URL`), plus the loader's flush queue unless `flush_queue` is off."""
    urls = list(flags.get("queue_urls") or [])
    if not urls:
        urls = [u.strip() for u in env.get(ENV_QUEUE_URLS, "").split(",") if u.strip()]
    flush = flags.get("flush_queue_url") or env.get(ENV_FLUSH_QUEUE_URL)
    if flush_queue and flush and flush not in urls:
        urls.append(flush)
    if not urls:
        raise WorkerSettingsError(
            f"no queue to consume: pass --queue-url or set {ENV_QUEUE_URLS} / {ENV_FLUSH_QUEUE_URL}"
        )
    defaults = WorkerOptions(queue_urls=())
    values: dict[str, Any] = {}
    for name, variable in _ENV_NUMBERS.items():
        default = getattr(defaults, name)
        raw = flags.get(name)
        raw = env.get(variable, default) if raw is None else raw
        values[name] = _number(f"{name} ({variable})", raw, type(default))
    options = WorkerOptions(queue_urls=tuple(urls), **values)
    _check(options)
    return options


def _check(o: WorkerOptions) -> None:
    problems = []
    if not 1 <= o.batch_size <= MAX_RECEIVE_BATCH:
        problems.append(f"batch_size must be 1..{MAX_RECEIVE_BATCH}")
    if not 0 <= o.wait_seconds <= MAX_WAIT_SECONDS:
        problems.append(f"wait_seconds must be 0..{MAX_WAIT_SECONDS}")
    if not 2 <= o.visibility_timeout <= MAX_VISIBILITY_SECONDS:
        problems.append(f"visibility_timeout must be 2..{MAX_VISIBILITY_SECONDS}")
    if o.visibility_timeout <= 2 * o.heartbeat_tick:
        problems.append("visibility_timeout must exceed two heartbeat ticks")
    if o.sweep_interval < 0 or o.idle_sleep < 0 or o.batch_timeout <= 0:
        problems.append("sweep_interval and idle_sleep must be >= 0, batch_timeout > 0")
    if problems:
        raise WorkerSettingsError("; ".join(problems))
