"""The worker's one SQS adapter: receive, delete, extend, release; our verbs, our models."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import classify_aws_error
from loader.retry import retrying
from setup_cli.worker.decisions import Extension, Received

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_CHUNK = 10  # the batch APIs take at most 10 entries


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class SqsQueues:
    """SQS for the worker. Errors come out classified (RetryableError / TerminalError)."""

    def __init__(self, client: SQSClient, clock: Callable[[], float]) -> None:
        self._sqs = client
        self._clock = clock
        self._arns: dict[str, str] = {}

    @property
    def region(self) -> str:
        return str(self._sqs.meta.region_name)

    @retrying()
    def arn(self, queue_url: str) -> str:
        if queue_url not in self._arns:
            try:
                attributes = self._sqs.get_queue_attributes(
                    QueueUrl=queue_url, AttributeNames=["QueueArn"]
                )["Attributes"]
            except (BotoCoreError, ClientError) as exc:
                raise classify_aws_error(exc) from exc
            self._arns[queue_url] = attributes["QueueArn"]
        return self._arns[queue_url]

    def receive(
        self, queue_url: str, *, max_messages: int, wait_seconds: int, visibility_timeout: int
    ) -> list[Received]:
        """One receive call (the poller owns the retry loop, so a stop is never delayed)."""
        try:
            response = self._sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as exc:
            raise classify_aws_error(exc) from exc
        now = self._clock()
        return [
            Received(
                queue_url=queue_url,
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                body=m.get("Body", ""),
                received_at=now,
                attributes={str(k): v for k, v in m.get("Attributes", {}).items()},
                message_attributes=dict(m.get("MessageAttributes", {})),
                md5_of_body=m.get("MD5OfBody", ""),
            )
            for m in response.get("Messages", [])
        ]

    def delete(self, messages: Sequence[Received]) -> list[Received]:
        """Delete messages (of any queues); returns the ones SQS refused to delete."""
        refused: list[Received] = []
        for queue_url in {m.queue_url for m in messages}:
            of_queue = [m for m in messages if m.queue_url == queue_url]
            for chunk in _chunks(of_queue):
                refused.extend(self._delete_chunk(queue_url, chunk))
        return refused

    @retrying()
    def _delete_chunk(self, queue_url: str, chunk: Sequence[Received]) -> list[Received]:
        entries: list[Any] = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(chunk)
        ]
        try:
            response = self._sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            raise classify_aws_error(exc) from exc
        return [chunk[int(f["Id"])] for f in response.get("Failed", [])]

    def extend(self, queue_url: str, due: Sequence[Extension]) -> list[Extension]:
        """ChangeMessageVisibility for each; returns the extensions SQS accepted. One attempt:
        the heartbeat tries again at its next tick."""
        accepted: list[Extension] = []
        for chunk in _chunks(due):
            entries: list[Any] = [
                {
                    "Id": str(i),
                    "ReceiptHandle": e.message.receipt_handle,
                    "VisibilityTimeout": e.timeout,
                }
                for i, e in enumerate(chunk)
            ]
            try:
                response = self._sqs.change_message_visibility_batch(
                    QueueUrl=queue_url, Entries=entries
                )
            except (BotoCoreError, ClientError) as exc:
                raise classify_aws_error(exc) from exc
            accepted.extend(chunk[int(s["Id"])] for s in response.get("Successful", []))
        return accepted

    def release(self, messages: Sequence[Received]) -> None:
        """Make messages visible again now (we will not process them: shutting down)."""
        for queue_url in {m.queue_url for m in messages}:
            of_queue = [m for m in messages if m.queue_url == queue_url]
            for chunk in _chunks(of_queue):
                entries: list[Any] = [
                    {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for i, m in enumerate(chunk)
                ]
                try:
                    self._sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
                except (BotoCoreError, ClientError) as exc:
                    raise classify_aws_error(exc) from exc
