"""How much time one load attempt may take. Pure: values in, values out.

A transaction must end before the invocation's deadline (so the outcome can be recorded) and
before the batch's lease can expire (so no second worker can take the batch over while our COPY
may still commit). `statement_timeout` is set from what is left, as the original loader did
(remaining time minus a margin), but never longer than the target's own limit.
"""

from __future__ import annotations

MIN_LOAD_SECONDS = 10.0
"""An attempt with less time than this is not started (the original's 10 s rule)."""
SAFETY_SECONDS = 5.0
"""Kept back from the statement timeout for ROLLBACK/COMMIT and recording the outcome."""
LEASE_MARGIN_SECONDS = 30.0
"""The transaction ends this long before the lease (renewed just before the attempt) expires."""


def attempt_budget(
    *, now: float, deadline: float, renewed_at: float, lease_seconds: float
) -> float:
    """Seconds the next attempt may use: up to the deadline and well inside the lease."""
    lease_end = renewed_at + lease_seconds - LEASE_MARGIN_SECONDS
    return min(deadline, lease_end) - now


def statement_timeout_ms(budget_seconds: float, limit_seconds: float) -> int | None:
    """`statement_timeout` for an attempt, or None when there is too little time to start one."""
    usable = min(budget_seconds - SAFETY_SECONDS, float(limit_seconds))
    if usable < MIN_LOAD_SECONDS:
        return None
    return int(usable * 1000)
