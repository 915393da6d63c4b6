"""The batch-outcome notification: topic, subject, JSON document and email text. Pure.

The same document is the `detail` of the EventBridge event (publisher.py).

Published with `MessageStructure="json"`: SQS, Lambda, HTTP and email-json subscribers receive
the JSON document (`default`); email subscribers receive `email`, a plain-text summary followed
by the same document, pretty-printed. Schema: docs/notifications.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loader.copy_sql import redact
from loader.events import OUTCOME_SCHEMA
from loader.loading.outcome import describe_row
from loader.manifest import failed_manifest_url
from loader.models import BatchStatus, TargetStatus
from loader.ports import LoadErrorRow

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.models import Batch, TargetState
    from loader.ports import LoadResult
    from loader.settings import Settings

SCHEMA = OUTCOME_SCHEMA
"""The loader reads its own failure notifications back (a reprocess request, loader/events.py)."""
SUBJECT_PREFIX = "[s3-redshift-loader]"
NOT_ATTEMPTED = "not attempted"
"""A target's status in the document when the batch failed before reaching it."""
MAX_SUBJECT = 99  # SNS: ASCII, no line breaks, fewer than 100 characters
EMAIL_ROWS = 10


@dataclass(frozen=True)
class Notification:
    topic_arn: str
    subject: str
    document: dict[str, Any]
    email: str

    def sns_message(self) -> str:
        """The `Message` for `MessageStructure="json"`."""
        default = json.dumps(self.document, separators=(",", ":"), ensure_ascii=False)
        return json.dumps({"default": default, "email": self.email}, ensure_ascii=False)


def choose_topic(config: PrefixConfig, settings: Settings, ok: bool) -> str | None:
    """The prefix's own topic for the outcome, else the loader-wide default (may be None)."""
    if ok:
        return config.notifications.success_topic_arn or settings.default_success_topic_arn
    return config.notifications.failure_topic_arn or settings.default_failure_topic_arn


def build(
    config: PrefixConfig,
    batch: Batch,
    result: LoadResult,
    *,
    topic_arn: str,
    finished_at: float,
    version: str,
) -> Notification:
    doc = document(config, batch, result, finished_at=finished_at, version=version)
    return Notification(
        topic_arn=topic_arn,
        subject=subject(result.ok, batch),
        document=doc,
        email=email_text(doc),
    )


def document(
    config: PrefixConfig, batch: Batch, result: LoadResult, *, finished_at: float, version: str
) -> dict[str, Any]:
    """The outcome document (schema `SCHEMA`): the SNS message and the EventBridge detail."""
    failed_url = None if result.ok else failed_manifest_url(config.manifest, batch.manifest_url)
    targets = [_target(t.name, t.type, result.targets.get(t.name)) for t in config.targets]
    return {
        "schema": SCHEMA,
        "summary": summary_line(result.ok, batch, targets, result.error),
        "status": (BatchStatus.COMPLETE if result.ok else BatchStatus.ERROR).value,
        "batch_id": batch.batch_id,
        "prefix": batch.prefix,
        "files": batch.file_count,
        "bytes": batch.total_bytes,
        "targets": targets,
        "error": _clean(result.error),
        "retryable": result.retryable,
        "error_rows": [row.model_dump() for row in result.error_rows],
        "schema_drift": [drift.model_dump(mode="json") for drift in result.schema_drift],
        "manifest": batch.manifest_url,
        "failed_manifest": failed_url,
        "sealed_at": _iso(batch.sealed_at),
        "finished_at": _iso(finished_at),
        "duration_ms": result.duration_ms,
        "loader_version": version,
    }


def subject(ok: bool, batch: Batch) -> str:
    """`[s3-redshift-loader] FAILED: 12 files for bucket/prefix (batch ...)`, at most 99 chars."""
    word = "LOADED" if ok else "FAILED"
    head = f"{SUBJECT_PREFIX} {word}: {batch.file_count} files for "
    tail = f" (batch {batch.batch_id})"
    room = MAX_SUBJECT - len(head) - len(tail)
    text = head + shorten_prefix(_ascii(batch.prefix), room) + tail
    return text if len(text) <= MAX_SUBJECT else text[:MAX_SUBJECT]


def shorten_prefix(prefix: str, room: int) -> str:
    """`bucket/.../last/segments` within `room` characters: the bucket and the deepest whole
    segments stay legible (a cut never falls inside a segment)."""
    if len(prefix) <= room:
        return prefix
    bucket, _, path = prefix.partition("/")
    kept: list[str] = []
    for segment in reversed(path.split("/")):
        candidate = "/".join([segment, *kept])
        if len(bucket) + len("/.../") + len(candidate) > room:
            break
        kept.insert(0, segment)
    if kept:
        return f"{bucket}/.../{'/'.join(kept)}"
    return bucket if len(bucket) <= room else bucket[: max(room - 3, 0)] + "..."


def summary_line(ok: bool, batch: Batch, targets: list[dict[str, Any]], error: str | None) -> str:
    size = _size(batch.total_bytes)
    head = f"{batch.file_count} files ({size}) of {batch.prefix}, batch {batch.batch_id}"
    if ok:
        rows = sum(t["rows"] or 0 for t in targets)
        names = ", ".join(t["name"] for t in targets)
        return f"LOADED: {head}: {rows} rows into {names}."
    failed = [t["name"] for t in targets if t["status"] == TargetStatus.FAILED]
    first = (_clean(error) or "load failed").split(" | ")[0]
    return f"FAILED: {head}: target(s) {', '.join(failed) or '-'} failed: {first}"


def email_text(document: dict[str, Any]) -> str:
    lines = [document["summary"], ""]
    for target in document["targets"]:
        line = f"- {target['name']} ({target['type']}): {target['status']}"
        if target["rows"] is not None:
            line += f", {target['rows']} rows"
        if target["attempts"]:
            line += f", {target['attempts']} attempt(s)"
        lines.append(line)
        if target["error"]:
            lines.append(f"  {target['error'].split(' | ')[0]}")
    for drift in document.get("schema_drift") or []:
        lines += ["", f"Schema drift ({drift['target']}): {drift['summary']}"]
        lines += [f"  {statement};" for statement in drift["alter_table"]]
    rows = document["error_rows"]
    if rows:
        lines += ["", f"Rejected rows (first {min(len(rows), EMAIL_ROWS)} of {len(rows)}):"]
        lines += [f"  {describe_row_dict(row)}" for row in rows[:EMAIL_ROWS]]
    lines += ["", f"Manifest: {document['manifest']}"]
    if document["failed_manifest"]:
        lines.append(f"Failed manifest: {document['failed_manifest']}")
    lines += ["", "--- details (JSON) ---", json.dumps(document, indent=2, ensure_ascii=False)]
    return "\n".join(lines)


def describe_row_dict(row: dict[str, Any]) -> str:
    return describe_row(LoadErrorRow.model_validate(row))


def _target(name: str, kind: str, state: TargetState | None) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "status": state.status.value if state else NOT_ATTEMPTED,
        "rows": state.rows if state else None,
        "attempts": state.attempts if state else 0,
        "error": _clean(state.error) if state else None,
    }


def _clean(text: str | None) -> str | None:
    """Errors are redacted where raised; mask credential-shaped text once more, to be safe."""
    return None if text is None else redact(text)


def _ascii(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def _size(total: int) -> str:
    value = float(total)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{total} B"


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
