"""The one table of allowed batch-status transitions. Nothing else decides them."""

from __future__ import annotations

from loader.models import BatchStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.OPEN: frozenset({S.SEALED}),
    # A sealed batch may fail before its manifest exists (e.g. the manifest bucket is gone).
    S.SEALED: frozenset({S.LOADING, S.ERROR}),
    S.LOADING: frozenset({S.COMPLETE, S.ERROR}),
    # Reprocessing puts a failed batch back under a lease; its membership never changes.
    S.ERROR: frozenset({S.SEALED}),
    S.COMPLETE: frozenset(),
}

# Statuses in which a batch is owned by a lease holder; an expired lease may be taken over.
LEASED: frozenset[S] = frozenset({S.SEALED, S.LOADING})


class IllegalTransitionError(ValueError):
    def __init__(self, current: S, wanted: S) -> None:
        super().__init__(f"batch status cannot go from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


def check_transition(current: S, wanted: S) -> None:
    """Raise unless `current -> wanted` is in the table."""
    if wanted not in ALLOWED[current]:
        raise IllegalTransitionError(current, wanted)


def sources_of(wanted: S) -> list[S]:
    """Every status from which `wanted` may be reached (for DynamoDB conditions)."""
    return [current for current, targets in ALLOWED.items() if wanted in targets]
