"""Loading sealed batches into their targets, and telling people how it went.

`build_loader` / `build_notifier` are what the Lambda runtime calls once per container. Both
always return an object: which targets a batch loads into, and which topics hear about it, are
decided per batch from its prefix configuration (and the loader-wide default topics). Nothing
here imports psycopg2, tenacity or the target modules until a batch is actually loaded.

Modules: runner (the BatchLoader), script / ledger / timing / outcome / load_errors / message
(pure decisions), db_errors (the one psycopg2 classification), redshift / data_api / postgres
(one adapter per target kind), pg_session / pg_input (psycopg2 and PostgreSQL input helpers),
credentials (secrets per load), load_check / load_history (the loaded-vs-staged check, pure),
notifier (SNS), events_bus (EventBridge), composite (both as one notifier).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loader.deps import Deps
    from loader.ports import BatchLoader, Notifier


def build_loader(deps: Deps, *, clock: Callable[[], float] = time.time) -> BatchLoader | None:
    """The loader for every target kind (`clock` must be the lifecycle's clock)."""
    from loader.loading.runner import TargetsLoader

    return TargetsLoader(deps, clock=clock)


def build_notifier(deps: Deps, *, clock: Callable[[], float] = time.time) -> Notifier | None:
    """SNS notifications (the prefix's topics, else LOADER_SUCCESS/FAILURE_TOPIC_ARN), and
    EventBridge events when LOADER_EVENT_BUS_NAME is set; each fails on its own."""
    from loader.loading.notifier import SnsNotifier

    sns = SnsNotifier(deps, clock=clock)
    if deps.settings.event_bus_name is None:
        return sns
    from loader.loading.composite import CompositeNotifier
    from loader.loading.events_bus import EventBridgeNotifier

    return CompositeNotifier([sns, EventBridgeNotifier(deps, clock=clock)])
