"""Event factories shaped like the real thing (see tests/events/ for captured samples)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def s3_record(
    bucket: str,
    key: str,
    size: int = 100,
    etag: str | None = None,
    sequencer: str | None = None,
    event_name: str = "ObjectCreated:Put",
) -> dict[str, Any]:
    """One S3 notification record; the key is URL-encoded exactly as S3 does it."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T10:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "loader",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": size,
                "eTag": etag or uuid.uuid4().hex,
                "sequencer": sequencer or uuid.uuid4().hex[:18].upper(),
            },
        },
    }


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sns_envelope(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:uploads",
        "Message": json.dumps(message),
        "Timestamp": "2026-11-23T10:00:00.000Z",
    }


def sns_event(message: dict[str, Any]) -> dict[str, Any]:
    envelope = sns_envelope(message)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": envelope["TopicArn"] + ":sub",
                "Sns": envelope,
            }
        ]
    }


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"msg-{i}",
                "receiptHandle": f"rh-{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:notifications",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def eventbridge_event(bucket: str, key: str, size: int = 100) -> dict[str, Any]:
    """EventBridge carries the key as written (not URL-encoded)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-23T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": uuid.uuid4().hex,
                "sequencer": uuid.uuid4().hex[:18].upper(),
            },
            "reason": "PutObject",
        },
    }
