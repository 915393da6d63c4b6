"""The configuration of one watched S3 prefix.

One `PrefixConfig` per prefix lives in the configuration table. Every field is validated here, once,
so the loader never meets a half-valid configuration at COPY time.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from config.copy_options import CopyOptions
from config.suggest import SuggestingModel
from config.targets import Target

_HIVE_WILDCARD = re.compile(r"^[^=/*]+=\*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
# SNS topic ARN, ASCII only: partition, region, 12-digit account, topic name (SNS CreateTopic).
_TOPIC_ARN = re.compile(
    r"arn:aws[a-z\-]*:sns:[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:[A-Za-z0-9_\-]{1,256}(?:\.fifo)?"
)


class _Model(SuggestingModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, use_attribute_docstrings=True
    )


class Thresholds(_Model):
    """When the open batch of a prefix is sealed. Any combination; the first one reached wins."""

    max_files: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    """Seal when the batch holds this many files."""
    max_bytes: Annotated[int | None, Field(ge=1)] = None
    """Seal when the files of the batch add up to this many bytes."""
    max_age_seconds: Annotated[int | None, Field(ge=1, le=7 * 24 * 3600)] = None
    """Seal this many seconds after the batch's first file arrived, even if no other file comes."""

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if self.max_files is None and self.max_bytes is None and self.max_age_seconds is None:
            raise ValueError(
                "set at least one of max_files, max_bytes or max_age_seconds, "
                "otherwise a batch would never be sealed"
            )
        return self


class ManifestLocation(_Model):
    """Where COPY manifests are written (never inside a watched prefix)."""

    bucket: str
    """Bucket for manifests; keep it outside the watched prefixes."""
    prefix: str = "manifests"
    """Key prefix of manifests; the key is derived from the batch id (retries rewrite it)."""
    failed_prefix: str = "failed-manifests"
    """On a failed load the manifest is copied here, in the same bucket."""

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        value = value.removeprefix("s3://").strip("/")
        if not _BUCKET.match(value):
            raise ValueError(f"{value!r} is not a valid S3 bucket name")
        return value

    @field_validator("prefix", "failed_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if not value:
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.prefix == self.failed_prefix:
            raise ValueError("failed_prefix must differ from prefix")
        return self


class Notifications(_Model):
    """SNS topics told about each batch outcome."""

    success_topic_arn: str | None = None
    """Told about every batch that loaded."""
    failure_topic_arn: str | None = None
    """Told about every batch that failed (with the error rows)."""

    @field_validator("success_topic_arn", "failure_topic_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC_ARN.fullmatch(value):
            raise ValueError(f"{value!r} is not an SNS topic ARN")
        return value


class ReuploadPolicy(StrEnum):
    """What happens when a key that was already registered is written again with new content."""

    IGNORE = "ignore"
    """Keep the first version only (the original loader's behaviour); the new upload is logged."""
    RELOAD = "reload"
    """Load the new version too, in the prefix's open batch."""


class AfterLoad(_Model):
    """What happens to a batch's source files once the batch is `complete` (never before)."""

    action: Literal["tag", "archive", "delete"]
    """`tag` the objects, `archive` (move) them under `archive_prefix`, or `delete` them."""
    archive_prefix: str | None = None
    """`bucket/prefix` the files are moved under (their key is kept); outside watched prefixes."""
    tag_key: str = "s3-redshift-loader"
    """S3 object tag key written by action `tag`."""
    tag_value: str = "loaded"
    """S3 object tag value written by action `tag`."""

    @field_validator("archive_prefix")
    @classmethod
    def _archive(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = normalise_prefix(value)
        if not _BUCKET.match(value.split("/", 1)[0]):
            raise ValueError(f"{value!r} does not start with a valid bucket name")
        return value

    @model_validator(mode="after")
    def _needs_prefix(self) -> Self:
        if (self.action == "archive") != (self.archive_prefix is not None):
            raise ValueError("archive_prefix is required with action 'archive', and only then")
        return self


# Formats whose files name their columns (text only with a header row; JSON only in 'auto').
_NAMED_FORMATS = ("csv", "delimited", "json", "parquet", "orc")


def schema_problem(target: Target, options: CopyOptions) -> str | None:
    """Why this target's `create_table` / `schema_evolution` cannot work with these options (the
    same rules for every target kind)."""
    kind = options.format.type
    evolution = target.schema_evolution
    if evolution == "add_columns" and target.columns:
        return (
            "schema_evolution add_columns cannot extend a COPY column list (columns); "
            "drop the list or use schema_evolution detect"
        )
    if evolution != "none":
        named = kind in _NAMED_FORMATS and getattr(options.format, "mode", "auto") in (
            "auto",
            "auto_ignorecase",
        )
        header_rows = getattr(options.format, "ignore_header_rows", 0)
        headerless = kind in ("csv", "delimited") and header_rows == 0
        if not named or (headerless and evolution == "add_columns"):
            return (
                f"schema_evolution {evolution} needs files that name their columns: CSV or "
                "delimited text with a header row (ignore_header_rows), JSON 'auto', Parquet or ORC"
            )
    inferred = target.create_table == "if_missing" and not target.table_columns
    keyed = getattr(options.format, "mode", "auto") in ("auto", "auto_ignorecase")
    if inferred and (kind not in _NAMED_FORMATS or not keyed):
        return (
            f"create_table if_missing needs table_columns for format {kind!r} "
            "(its files name no columns to infer them from)"
        )
    return None


def normalise_prefix(value: str) -> str:
    """`s3://bucket/a/b/` -> `bucket/a/b`: the canonical form stored as the table key."""
    value = value.strip()
    value = value.removeprefix("s3://").strip("/")
    return value


def _could_match(watched: str, location: str) -> bool:
    """Could an object written under `location` (`bucket/key-prefix`) fall under the watched
    prefix? Segment by segment, as the loader matches objects: a Hive wildcard `dt=*` matches
    any `dt=...` segment, so `landing/dt=archive` is inside `landing/dt=*`."""
    wanted = watched.split("/")
    segments = location.strip("/").split("/")
    if len(segments) < len(wanted):
        return False
    for pattern, segment in zip(wanted, segments, strict=False):
        if pattern.endswith("=*"):
            if not segment.startswith(pattern[:-1]):
                return False
        elif pattern != segment:
            return False
    return True


class PrefixConfig(_Model):
    """Everything the loader needs to know about one watched S3 prefix."""

    prefix: str
    """`bucket/path`, where a segment may be a Hive wildcard such as `dt=*`."""
    description: str | None = None
    """Free text for operators."""
    filename_filter: str | None = None
    """Python regex that must match the *whole* file name (the key's last segment)."""
    thresholds: Thresholds
    """When a batch is sealed (at least one threshold)."""
    manifest: ManifestLocation
    """Where COPY manifests are written."""
    notifications: Notifications = Notifications()
    """SNS topics told about each batch outcome."""
    targets: Annotated[list[Target], Field(min_length=1)]
    """One or more load targets; every batch loads into each, exactly once per target."""
    copy_options: CopyOptions = Field(default_factory=CopyOptions)
    """Format and data-conversion options of the COPY (default: CSV with ',')."""
    reupload: ReuploadPolicy = ReuploadPolicy.IGNORE
    """A key written again with new content: `ignore` it (keep the first) or `reload` it."""
    paused: bool = False
    """While paused, files keep being registered but no batch is sealed or loaded."""
    after_load: AfterLoad | None = None
    """Optional: tag, archive or delete the source files once their batch is complete."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = normalise_prefix(value)
        segments = value.split("/")
        if not _BUCKET.match(segments[0]):
            raise ValueError(f"{segments[0]!r} is not a valid S3 bucket name")
        for segment in segments[1:]:
            if not segment:
                raise ValueError("must not contain empty path segments ('//')")
            if "*" in segment and not _HIVE_WILDCARD.match(segment):
                raise ValueError(
                    f"segment {segment!r}: the only wildcard allowed is a whole Hive value, "
                    "as in 'dt=*'"
                )
        return value

    @field_validator("filename_filter")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _manifest_outside_prefix(self) -> Self:
        manifest = self.manifest
        for what, location in (
            ("manifest location", f"{manifest.bucket}/{manifest.prefix}"),
            ("manifest failed_prefix", f"{manifest.bucket}/{manifest.failed_prefix}"),
        ):
            if _could_match(self.prefix, location):
                raise ValueError(
                    f"{what} is inside the watched prefix: the loader would load its own manifests"
                )
        archive = self.after_load.archive_prefix if self.after_load else None
        if archive and _could_match(self.prefix, archive):
            raise ValueError(
                "after_load.archive_prefix is inside the watched prefix: archived files would be "
                "loaded again"
            )
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"target names must be unique, got {names}")
        for target in self.targets:
            problem = schema_problem(target, self.copy_options)
            if problem:
                raise ValueError(f"target {target.name}: {problem}")
        return self

    @property
    def bucket(self) -> str:
        return self.prefix.split("/", 1)[0]
