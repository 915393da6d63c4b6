"""Several notifiers as one: every member hears about every batch, whatever the others do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loader.log import logger

if TYPE_CHECKING:
    from config.models import PrefixConfig
    from loader.models import Batch
    from loader.ports import LoadResult, Notifier


class CompositeNotifier:
    """Calls each member in turn; a member that raises is logged and the next one still runs."""

    def __init__(self, members: Sequence[Notifier]) -> None:
        self.members = tuple(members)

    def batch_finished(self, config: PrefixConfig, batch: Batch, result: LoadResult) -> None:
        for member in self.members:
            try:
                member.batch_finished(config, batch, result)
            except Exception:
                # Members log and drop their own publishing errors; this is for the unexpected
                # (a bug, an error class nobody classified), which must neither silence the
                # other channels nor fail a finished batch: notifications are best effort.
                logger.exception(
                    "notifier_failed", batch_id=batch.batch_id, notifier=type(member).__name__
                )
