"""Domain models the loader passes around. Adapters convert DynamoDB items to and from these."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from config.models import PrefixConfig


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchStatus(StrEnum):
    OPEN = "open"
    """Accepting files."""
    SEALED = "sealed"
    """Membership fixed; held under a lease until its manifest is written."""
    LOADING = "loading"
    """Manifest written; COPY into the targets in progress, under a lease."""
    COMPLETE = "complete"
    """Loaded into every target."""
    ERROR = "error"
    """Failed; visible to operators and reprocessable."""


class TargetStatus(StrEnum):
    """Where one target stands for one batch (a target not yet attempted has no state)."""

    LOADED = "loaded"
    FAILED = "failed"


class ErrorKind(StrEnum):
    """Why a batch ended in error: a retryable failure whose attempts ran out, or a terminal one."""

    RETRYABLE = "retryable"
    TERMINAL = "terminal"


class SealReason(StrEnum):
    """What sealed a batch: a threshold (loader/decisions.py), or an operator's flush."""

    MAX_FILES = "max_files"
    MAX_BYTES = "max_bytes"
    MAX_AGE = "max_age"
    FLUSH = "flush"


class S3Object(_Model):
    """One object named by a notification, key already URL-decoded."""

    bucket: str
    key: str
    size: int = Field(ge=0)
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    event_time: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def path(self) -> str:
        """`bucket/key`, the form configuration prefixes are matched against."""
        return f"{self.bucket}/{self.key}"


class Lease(_Model):
    owner: str
    expires_at: float
    generation: int = 0
    """Counts the leases the batch was ever given (seal, takeover, reprocess): a later holder
    always has a higher one, whatever the clocks say. Each target's load fence compares it."""


class TargetState(_Model):
    """Where one target stands for one batch."""

    status: TargetStatus
    rows: int | None = None
    error: str | None = None
    attempts: int = 0
    loaded_at: float | None = None


class Batch(_Model):
    """The header of one batch. Its members are stored as separate items (no 400 KB limit)."""

    batch_id: str
    prefix: str
    status: BatchStatus
    file_count: int = 0
    total_bytes: int = 0
    created_at: float
    updated_at: float
    first_file_at: float | None = None
    last_file_at: float | None = None
    sealed_at: float | None = None
    seal_reason: str | None = None
    """Why it was sealed: a SealReason's value (kept as text, as stored)."""
    lease: Lease | None = None
    manifest_url: str | None = None
    failed_manifest_url: str | None = None
    completed_at: float | None = None
    load_duration_ms: int | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    attempts: int = 0
    last_error: str | None = None
    """The latest retryable failure; set when a retry is scheduled, kept once it loads."""
    retry_at: float | None = None
    """When the latest scheduled retry may start (its backoff lease ends)."""
    auto_reprocessed: int = 0
    """How often the batch was reprocessed automatically from its failure notification."""
    timer_armed: bool = False
    targets: dict[str, TargetState] = Field(default_factory=dict)


class BatchMember(_Model):
    url: str
    size: int
    etag: str | None = None
    version_id: str | None = None


class FileRecord(_Model):
    """One row of the file ledger."""

    url: str
    prefix: str
    batch_id: str
    size: int
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    first_received_at: float
    last_received_at: float
    times_received: int = 1
    revision: int = 1
    previous_batches: list[str] = Field(default_factory=list)
    ignored_etag: str | None = None
    """The latest re-upload `reupload: ignore` did not load (its ETag, size, when, version)."""
    ignored_size: int | None = None
    ignored_at: float | None = None
    ignored_version_id: str | None = None

    @property
    def newer_upload_ignored(self) -> bool:
        """A later upload than the one the ledger records was left alone by the policy."""
        return bool(self.ignored_etag) and (self.ignored_etag or "").strip('"') != (
            self.etag or ""
        ).strip('"')


@dataclass(frozen=True)
class Headroom:
    """What a registration write must find on its batch header for no seal to be due after it
    (loader/decisions.py `headroom`; the condition is conditions.py `has_headroom`). None
    means no bound of that kind."""

    files_below: int | None = None
    """The header's file count before the write is below this (count + files < max_files)."""
    bytes_below: int | None = None
    """Its bytes before the write are below this (bytes + size < max_bytes)."""
    first_file_after: float | None = None
    """Its first file arrived after this (the age threshold is not met yet)."""
    timer_armed: bool = False
    """Its age timer has been sent (the timer, not the next file, seals it by age)."""


class RegistrationOutcome(_Model):
    """What happened to the objects of one prefix in one call."""

    prefix: str
    batch: Batch | None
    """The header as read after the writes, to decide a seal; None when every write found
    headroom (no seal can be due: nothing to decide, nothing read)."""
    batch_id: str | None = None
    """The open batch the files joined last."""
    registered: list[str] = Field(default_factory=list)
    duplicates: list[str] = Field(default_factory=list)
    reuploads_ignored: list[str] = Field(default_factory=list)
    reuploads_registered: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class ConfigSet:
    """Every stored prefix configuration, as read at one moment."""

    valid: list[PrefixConfig] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    """Stored prefixes whose configuration does not validate, with the reason."""


@dataclass(frozen=True)
class DbLogin:
    """A database login for one load; the password never appears in a repr."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SecretValue:
    """A Secrets Manager database secret (RDS/Redshift JSON shape); never in a repr."""

    fields: dict[str, Any] = field(repr=False)
