"""Flush timers: a delayed SQS message per batch, so an idle batch is sealed on time.

How long to wait is decided by the service (`decisions.timer_delay`: SQS caps a delay at 15
minutes, a longer wait is re-armed when the timer fires)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from loader.errors import classify_aws_error
from loader.events import FLUSH_TIMER
from loader.retry import retrying

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class FlushTimers:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._sqs = client
        self._queue_url = queue_url

    @retrying()
    def arm(self, *, prefix: str, batch_id: str, due_at: float, delay: int) -> None:
        """Send the timer for `batch_id`, delivered after `delay` seconds."""
        body = {"loader": FLUSH_TIMER, "prefix": prefix, "batch_id": batch_id, "due_at": due_at}
        try:
            self._sqs.send_message(
                QueueUrl=self._queue_url, MessageBody=json.dumps(body), DelaySeconds=delay
            )
        except ClientError as exc:
            raise classify_aws_error(exc) from exc
