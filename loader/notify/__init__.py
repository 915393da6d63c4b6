"""Telling people how a batch went: one outcome document, sent on every configured channel.

`build_notifier` is what the Lambda runtime (and loader-admin, the worker, local mode) calls once
per container: SNS (the prefix's topics, else LOADER_SUCCESS/FAILURE_TOPIC_ARN) always, and
EventBridge when LOADER_EVENT_BUS_NAME is set. Modules: message (the document, pure), publisher
(the outcome publisher and its channels; each channel speaks through its adapter).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loader.deps import Deps
    from loader.notify.publisher import OutcomePublisher


def build_notifier(deps: Deps, *, clock: Callable[[], float] = time.time) -> OutcomePublisher:
    """The outcome publisher over the channels the settings ask for."""
    from loader.notify.publisher import EventBridgeChannel, OutcomePublisher, SnsChannel

    channels: list[SnsChannel | EventBridgeChannel] = [SnsChannel(deps.topics, deps.settings)]
    if deps.event_bus is not None:
        channels.append(EventBridgeChannel(deps.event_bus))
    return OutcomePublisher(channels, clock=clock)
