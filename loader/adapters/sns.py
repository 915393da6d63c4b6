"""SNS: the loader's outcome notifications, published to a topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import classify_aws_error
from loader.retry import retrying

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsTopics:
    def __init__(self, client: SNSClient) -> None:
        self._sns = client

    @retrying(attempts=4, deadline=10.0)
    def publish_outcome(self, topic_arn: str, *, subject: str, message: str) -> str:
        """Publish `message` (a `MessageStructure="json"` body: one text per protocol); return
        the message id."""
        try:
            response = self._sns.publish(
                TopicArn=topic_arn, Subject=subject, Message=message, MessageStructure="json"
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from exc
        return str(response.get("MessageId", ""))
