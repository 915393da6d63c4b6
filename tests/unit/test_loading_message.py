"""The notification: where it goes, its subject, its documented schema, its email text."""

from __future__ import annotations

import json
from typing import Any

from config.models import PrefixConfig
from loader.models import Batch, BatchStatus, TargetState
from loader.notify import message
from loader.ports import LoadErrorRow, LoadResult
from loader.settings import Settings

TOPIC_OK = "arn:aws:sns:us-east-1:123456789012:ok"
TOPIC_FAIL = "arn:aws:sns:us-east-1:123456789012:fail"
DOCUMENTED_KEYS = {
    "schema",
    "summary",
    "status",
    "batch_id",
    "prefix",
    "files",
    "bytes",
    "targets",
    "error",
    "retryable",
    "error_rows",
    "schema_drift",
    "manifest",
    "failed_manifest",
    "sealed_at",
    "finished_at",
    "duration_ms",
    "loader_version",
}


def config(prefix: str = "landing/events", **notifications: str) -> PrefixConfig:
    return PrefixConfig.model_validate(
        {
            "prefix": prefix,
            "thresholds": {"max_files": 10},
            "manifest": {"bucket": "loader-manifests"},
            "notifications": notifications,
            "targets": [
                {"type": "postgres", "name": "warehouse", "table": "t", "dsn": "host=x"},
                {"type": "postgres", "name": "replica", "table": "t", "dsn": "host=y"},
            ],
        }
    )


def batch(prefix: str = "landing/events", **fields: Any) -> Batch:
    return Batch(
        batch_id="20260101T000000Z-abcd1234",
        prefix=prefix,
        status=BatchStatus.LOADING,
        file_count=12,
        total_bytes=3_500_000,
        created_at=0.0,
        updated_at=0.0,
        sealed_at=1_767_225_600.0,
        manifest_url="s3://loader-manifests/manifests/landing_events/20260101T000000Z-abcd1234.json",
        **fields,
    )


ROW = LoadErrorRow(
    target="warehouse",
    file="s3://landing/events/b.csv",
    line=3,
    column="id",
    reason="Invalid digit, Value 'x'",
    code="1207",
    raw_line="x,c",
)
FAILED = LoadResult(
    targets={
        "warehouse": TargetState(
            status="failed",
            error="target warehouse: [XX000] Load into table 't' failed. | s3://... line 3",
            attempts=1,
        ),
        "replica": TargetState(status="loaded", rows=40, attempts=1),
    },
    error="target warehouse: [XX000] Load into table 't' failed. | s3://... line 3",
    error_rows=(ROW,),
    duration_ms=1234,
)
LOADED = LoadResult(
    targets={
        "warehouse": TargetState(status="loaded", rows=40, attempts=1),
        "replica": TargetState(status="loaded", rows=40, attempts=2),
    }
)


def build(result: LoadResult, b: Batch | None = None, c: PrefixConfig | None = None) -> Any:
    return message.build(
        c or config(),
        b or batch(),
        result,
        topic_arn=TOPIC_FAIL,
        finished_at=1_767_225_660.0,
        version="0.1.0",
    )


def test_the_prefix_topics_win_over_the_loader_defaults() -> None:
    settings = Settings.from_env(
        {
            "LOADER_SUCCESS_TOPIC_ARN": "arn:aws:sns:d:1:s",
            "LOADER_FAILURE_TOPIC_ARN": "arn:aws:sns:d:1:f",
        }
    )
    own = config(success_topic_arn=TOPIC_OK, failure_topic_arn=TOPIC_FAIL)
    assert message.choose_topic(own, settings, ok=True) == TOPIC_OK
    assert message.choose_topic(own, settings, ok=False) == TOPIC_FAIL
    assert message.choose_topic(config(), settings, ok=True) == "arn:aws:sns:d:1:s"
    assert message.choose_topic(config(), settings, ok=False) == "arn:aws:sns:d:1:f"
    assert message.choose_topic(config(), Settings.from_env({}), ok=False) is None


def test_a_failure_document_has_the_documented_schema() -> None:
    doc = build(FAILED).document

    assert set(doc) == DOCUMENTED_KEYS
    assert doc["schema"] == "s3-redshift-loader/batch-outcome/1"
    assert doc["status"] == "error"
    assert (doc["files"], doc["bytes"], doc["duration_ms"]) == (12, 3_500_000, 1234)
    assert doc["failed_manifest"] == (
        "s3://loader-manifests/failed-manifests/landing_events/20260101T000000Z-abcd1234.json"
    )
    assert doc["targets"] == [
        {
            "name": "warehouse",
            "type": "postgres",
            "status": "failed",
            "rows": None,
            "attempts": 1,
            "error": FAILED.targets["warehouse"].error,
        },
        {
            "name": "replica",
            "type": "postgres",
            "status": "loaded",
            "rows": 40,
            "attempts": 1,
            "error": None,
        },
    ]
    assert doc["error_rows"] == [ROW.model_dump()]
    assert (doc["sealed_at"], doc["finished_at"]) == (
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:01:00Z",
    )
    assert doc["summary"] == (
        "FAILED: 12 files (3.3 MB) of landing/events, batch 20260101T000000Z-abcd1234: "
        "target(s) warehouse failed: target warehouse: [XX000] Load into table 't' failed."
    )


def test_a_success_document_sums_the_rows() -> None:
    doc = build(LOADED).document
    assert doc["status"] == "complete" and doc["failed_manifest"] is None
    assert doc["summary"].startswith("LOADED: 12 files (3.3 MB) of landing/events")
    assert doc["summary"].endswith(": 80 rows into warehouse, replica.")


def test_subjects_are_short_ascii_and_say_what_happened() -> None:
    assert build(FAILED).subject == (
        "[s3-redshift-loader] FAILED: 12 files for landing/events (batch 20260101T000000Z-abcd1234)"
    )
    long_prefix = "landing/" + "é" * 10 + "/x" * 60
    subject = build(LOADED, batch(prefix=long_prefix), config(prefix="landing/y")).subject
    assert len(subject) <= 99 and subject.isascii()
    # the bucket and the batch stay legible; whole segments are dropped from the middle
    assert subject.startswith("[s3-redshift-loader] LOADED: 12 files for landing/.../x/x")
    assert subject.endswith("/x/x (batch 20260101T000000Z-abcd1234)")


def test_a_long_prefix_is_never_cut_inside_a_segment() -> None:
    from loader.notify.message import shorten_prefix

    prefix = "analytics-landing/events/source=mobile-app/year=2026/month=11/day=23"
    assert shorten_prefix(prefix, 60) == "analytics-landing/.../year=2026/month=11/day=23"
    assert shorten_prefix(prefix, 40) == "analytics-landing/.../month=11/day=23"
    assert shorten_prefix(prefix, 30) == "analytics-landing/.../day=23"
    assert shorten_prefix(prefix, 200) == prefix
    assert shorten_prefix("b/" + "x" * 80, 30) == "b"  # a lone segment too long: the bucket


def test_email_subscribers_read_a_summary_first_and_machines_get_pure_json() -> None:
    note = build(FAILED)
    payload = json.loads(note.sns_message())

    assert json.loads(payload["default"]) == note.document
    lines = payload["email"].splitlines()
    assert lines[0] == note.document["summary"]
    assert "- warehouse (postgres): failed, 1 attempt(s)" in lines
    assert "  s3://landing/events/b.csv line 3 [id]: Invalid digit, Value 'x'" in lines
    assert "--- details (JSON) ---" in lines


CREDENTIALS = "aws_access_key_id=AKIA;aws_secret_access_key=zz"


def test_secrets_that_slipped_into_an_error_are_masked() -> None:
    leaked = LoadResult(
        targets={
            "warehouse": TargetState(status="failed", error="COPY ... SECRET_ACCESS_KEY 'abc'")
        },
        error=f"COPY x FROM 's3://b/k' CREDENTIALS '{CREDENTIALS}'",
    )
    text = build(leaked).sns_message()
    assert "zz'" not in text and "'abc'" not in text
