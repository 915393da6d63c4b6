"""SNS notifications of batch outcomes (message.py decides what is sent, and where).

A notification that cannot be sent is logged (`notification_failed`) and dropped after retries:
the batch's status in DynamoDB is the record of truth, and a lost email must not leave a loaded
batch unfinished or make a failed one retry. Delivery is at least once (a batch finished again
after a crash notifies again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import LoaderError, classify_aws_error
from loader.loading import message
from loader.log import logger
from loader.retry import retrying

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.deps import Deps
    from loader.models import Batch
    from loader.ports import LoadResult


def loader_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("s3-redshift-loader")
    except PackageNotFoundError:  # the Lambda package ships modules, not distribution metadata
        return "unknown"


class SnsNotifier:
    def __init__(self, deps: Deps, *, clock: Callable[[], float] = time.time) -> None:
        self._deps = deps
        self._clock = clock

    @cached_property
    def _version(self) -> str:
        return loader_version()

    def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None:
        topic = message.choose_topic(config, self._deps.settings, result.ok)
        if topic is None:
            logger.info("notification_skipped", batch_id=batch.batch_id, reason="no topic")
            return
        note = message.build(
            config,
            batch,
            result,
            topic_arn=topic,
            finished_at=self._clock(),
            version=self._version,
        )
        try:
            message_id = self._publish(note)
        except LoaderError as exc:
            logger.error(
                "notification_failed", batch_id=batch.batch_id, topic=topic, error=str(exc)
            )
            return
        logger.info(
            "notification_sent",
            batch_id=batch.batch_id,
            topic=topic,
            status=note.document["status"],
            message_id=message_id,
        )

    @retrying(attempts=4, deadline=10.0)
    def _publish(self, note: message.Notification) -> str:
        try:
            response = self._deps.client("sns").publish(
                TopicArn=note.topic_arn,
                Subject=note.subject,
                Message=note.sns_message(),
                MessageStructure="json",
            )
        except (ClientError, BotoCoreError) as exc:
            raise classify_aws_error(exc) from exc
        return str(response.get("MessageId", ""))
