"""`file backfill`: objects already in S3 under a configured prefix that the ledger lacks,
registered through the loader's own intake (`Operations.register`, i.e. `LoaderService.handle`).

The listing and the registration are `loader/reconcile.py`, shared with reconciliation (the same
job on a schedule, with a look-back window); this module only adapts it to `Operations`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from loader.decisions import listing_root
from loader.reconcile import Plan as BackfillPlan
from loader.reconcile import Registered as BackfillResult
from loader.reconcile import Window, plan_prefix, register_plan

if TYPE_CHECKING:
    from loader.admin import Operations

__all__ = ["BackfillPlan", "BackfillResult", "Window", "backfill", "listing_root", "plan_backfill"]


def plan_backfill(ops: Operations, prefix: str, window: Window) -> BackfillPlan:
    """List S3 under the prefix; keep what this configuration would load and the ledger lacks."""
    configs = ops.deps.configs.current(ops.clock())
    return plan_prefix(ops.deps, ops.config(prefix), configs, window)


def backfill(
    ops: Operations, plan: BackfillPlan, progress: Callable[[int], None] | None = None
) -> BackfillResult:
    """Register the plan's files a threshold's worth at a time, so batches seal as they fill."""
    return register_plan(ops.register, plan, progress)
