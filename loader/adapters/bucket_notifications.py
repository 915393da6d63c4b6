"""S3 bucket notification configurations: read one bucket's whole configuration, write it back.

What to write is decided in loader/bucket_wiring.py; this adapter only talks to S3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from loader.errors import WiringError, classify_aws_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class BucketNotifications:
    """Reads and writes one bucket's whole notification configuration."""

    def __init__(self, client: S3Client) -> None:
        self._s3 = client

    def read(self, bucket: str) -> dict[str, Any]:
        try:
            found = self._s3.get_bucket_notification_configuration(Bucket=bucket)
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
        return {k: v for k, v in found.items() if k != "ResponseMetadata"}

    def write(self, bucket: str, configuration: dict[str, Any]) -> None:
        try:
            self._s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration=configuration,  # type: ignore[arg-type]
            )
        except ClientError as exc:
            error = classify_aws_error(exc)
            if "validate the following destination" in str(exc):
                raise WiringError(f"{error}\n{_DESTINATION_HINT}") from exc
            raise error from exc


_DESTINATION_HINT = (
    "S3 tests every destination of the bucket on each write: the queue's policy (or the "
    "function's resource policy, or the topic's policy) must let s3.amazonaws.com send from this "
    "bucket (aws:SourceArn arn:aws:s3:::<bucket>). The stack's queue policy and invoke "
    "permissions cover the buckets in SourceBuckets; a broken rule of someone else also fails it."
)
