"""Loading sealed batches into their targets (filled in by the loading work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loader.deps import Deps
    from loader.processing import BatchLoader, Notifier


def build_loader(deps: Deps) -> BatchLoader | None:
    return None


def build_notifier(deps: Deps) -> Notifier | None:
    return None
