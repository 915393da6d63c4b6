"""Errors, classified once: retryable (try again later) or terminal (a person must act)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

    from loader.ports import LoadErrorRow, SchemaDrift


class LoaderError(Exception):
    """Base of every error the loader raises on purpose.

    `fields` are context for logs (target, sqlstate, ...). A target's load failure may also say
    which input rows it rejected and how the files and the table disagree (loader/loading/)."""

    retryable: bool = False
    error_rows: tuple[LoadErrorRow, ...] = ()
    schema_drift: SchemaDrift | None = None

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.fields = fields


class RetryableError(LoaderError):
    """Throttling, network, conflicts, eventual consistency: the same call may succeed later."""

    retryable = True


class SourcesChangedError(RetryableError):
    """A file of the batch changed in S3 during the load (rolled back): not worth retrying
    as it is; the batch's files are compared with S3 again first (loader/sources.py)."""


class TerminalError(LoaderError):
    """Bad configuration, bad data, permissions: retrying will not help."""


class MalformedEventError(TerminalError):
    """The event is not one the loader understands; nothing was written."""


class ConfigurationError(TerminalError):
    """A stored configuration is invalid or missing."""


class WiringError(ConfigurationError):
    """A bucket notification rule cannot be written (an overlap, a bad destination); nothing
    was (loader/bucket_wiring.py)."""


class BatchConflictError(LoaderError):
    """A conditional write lost: the batch is not in the state the caller expected.

    Carries the item as DynamoDB returned it (`ReturnValuesOnConditionCheckFailure`).
    """

    def __init__(self, message: str, *, current: Any = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.current = current


class LeaseLostError(BatchConflictError):
    """Another worker holds (or took over) the batch's lease."""


_RETRYABLE_AWS_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSInternalException",
        "LimitExceededException",
        "ActiveStatementsExceededException",  # Data API: too many statements running
    }
)


def classify_aws_error(exc: BaseException) -> LoaderError:
    """Map a botocore error to a retryable or terminal LoaderError (the one place that decides)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, LoaderError):
        return exc
    if isinstance(
        exc,
        EndpointConnectionError | ConnectionClosedError | ReadTimeoutError | ConnectTimeoutError,
    ):
        return RetryableError(f"AWS connection problem: {exc}")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"{exc.operation_name} failed: {code}: {error.get('Message', '')}"
        if code in _RETRYABLE_AWS_CODES or status >= 500 or status == 429:
            return RetryableError(message, code=code)
        return TerminalError(message, code=code)
    return TerminalError(f"unexpected error: {exc!r}")


def validation_problems(exc: ValidationError) -> list[str]:
    """One `field.path: message` per problem of a pydantic error, in the operator's words: no
    `Value error,` prefix, no input repr, no documentation URL. The one place such errors are
    worded (the CLI prints these lines; the config store keeps them as an invalid config's
    reason), so a suggestion added here reaches every message."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        lines.append(f"{path}: {message}")
    return lines
