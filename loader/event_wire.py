"""The wire models of the envelopes loader/events.py reads: the slow path, imported only when a
record is not in the shape S3, EventBridge or the loader itself sends (a field missing, of
another type, given under its Python name, ...). They decide what such a record means, or why it
is refused, exactly as the parser always did; the fast path in loader/events.py accepts only
records these models would accept unchanged. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loader.errors import MalformedEventError


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class S3Bucket(_Wire):
    name: str = Field(min_length=1)


class S3ObjectWire(_Wire):
    key: str = Field(min_length=1)
    size: int = Field(default=0, ge=0)
    etag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")
    sequencer: str | None = None


class S3Entity(_Wire):
    bucket: S3Bucket
    object: S3ObjectWire


class S3Record(_Wire):
    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    event_time: str | None = Field(default=None, alias="eventTime")
    s3: S3Entity


class EventBridgeObject(_Wire):
    key: str = Field(min_length=1)
    size: int = Field(default=0, ge=0)
    etag: str | None = None
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class EventBridgeDetail(_Wire):
    bucket: S3Bucket
    object: EventBridgeObject


class FlushTimerWire(_Wire):
    prefix: str = Field(min_length=1)
    batch_id: str = Field(min_length=1)
    due_at: float


class ReconcileWire(_Wire):
    prefix: str | None = Field(default=None, min_length=1)
    lookback_seconds: float | None = Field(default=None, gt=0)


Model = TypeVar("Model", bound=_Wire)


def validated(model: type[Model], raw: Any, what: str) -> Model:
    """`raw` as `model`, or a MalformedEventError naming the first problem: `malformed {what}:
    s3.object.key: Field required`."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise MalformedEventError(f"malformed {what}: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err.get("loc", ()))
    return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))
