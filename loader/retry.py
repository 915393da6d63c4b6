"""One retry policy: only retryable errors, jittered exponential backoff, a deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from loader.errors import LoaderError, classify_aws_error

F = TypeVar("F", bound=Callable[..., Any])


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, LoaderError):
        return exc.retryable
    try:
        return classify_aws_error(exc).retryable
    except ImportError:  # pragma: no cover - botocore is always there in practice
        return False


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    from loader.log import logger

    logger.warning(
        "retrying",
        attempt=state.attempt_number,
        error=str(exc),
        call=state.fn.__name__ if state.fn else "?",
    )


def retrying(
    *, attempts: int = 8, deadline: float = 30.0, max_wait: float = 5.0
) -> Callable[[F], F]:
    """Decorator: retry retryable errors with full-jitter backoff until attempts or deadline."""
    return retry(  # type: ignore[return-value]
        retry=retry_if_exception(is_retryable),
        wait=wait_random_exponential(multiplier=0.05, max=max_wait),
        stop=stop_after_attempt(attempts) | stop_after_delay(deadline),
        before_sleep=_log_retry,
        reraise=True,
    )
