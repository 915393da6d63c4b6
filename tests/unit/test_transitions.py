"""The one table of batch-status transitions."""

from __future__ import annotations

import pytest

from loader.models import BatchStatus as S
from loader.transitions import ALLOWED, IllegalTransitionError, sources_of
from loader.transitions import check_transition as check


def test_every_status_has_a_row() -> None:
    assert set(ALLOWED) == set(S)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (S.OPEN, S.SEALED),
        (S.SEALED, S.LOADING),
        (S.LOADING, S.COMPLETE),
        (S.LOADING, S.ERROR),
        (S.SEALED, S.ERROR),
        (S.ERROR, S.SEALED),
    ],
)
def test_allowed_transitions_pass(current: S, wanted: S) -> None:
    check(current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (S.COMPLETE, S.OPEN),
        (S.COMPLETE, S.ERROR),
        (S.SEALED, S.OPEN),
        (S.OPEN, S.LOADING),
        (S.ERROR, S.COMPLETE),
        (S.LOADING, S.OPEN),
    ],
)
def test_everything_else_is_refused(current: S, wanted: S) -> None:
    with pytest.raises(IllegalTransitionError):
        check(current, wanted)


def test_a_batch_never_reopens_so_a_sealed_membership_is_final() -> None:
    assert sources_of(S.OPEN) == []
