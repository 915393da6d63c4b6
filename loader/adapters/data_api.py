"""The Redshift Data API: statements submitted, polled, read and cancelled by id.

Every verb takes `where` (cluster or workgroup, database, secret or database user: see
`loader/loading/targets/data_api.py` `request_target`) and raises LoaderErrors only: Redshift's
"too many statements or sessions" answers are retryable, the rest is classified as any AWS error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from loader.errors import LoaderError, RetryableError, classify_aws_error

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient

# Redshift caps concurrent Data API statements and sessions; a slot frees up soon.
_BUSY_CODES = frozenset({"ActiveStatementsExceededException", "ActiveSessionsExceededException"})


@dataclass(frozen=True)
class Statement:
    status: str
    """SUBMITTED, PICKED, STARTED, FINISHED, FAILED or ABORTED."""
    error: str | None = None


def _error(exc: ClientError | BotoCoreError) -> LoaderError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    if code in _BUSY_CODES:
        return RetryableError(f"Data API busy: {code}", code=code)
    return classify_aws_error(exc)


class DataApi:
    def __init__(self, client: RedshiftDataAPIServiceClient) -> None:
        self._api = client

    def execute(self, sql: str, where: Mapping[str, str]) -> str:
        """Submit one statement; return its id."""
        try:
            return str(self._api.execute_statement(Sql=sql, **where)["Id"])  # type: ignore[arg-type]
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None  # `from None`: no request dump in traces

    def execute_batch(self, sqls: Sequence[str], where: Mapping[str, str]) -> str:
        """Submit statements to run in one transaction; return the batch's id."""
        try:
            response = self._api.batch_execute_statement(Sqls=list(sqls), **where)  # type: ignore[arg-type]
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None
        return str(response["Id"])

    def describe(self, statement_id: str) -> Statement:
        try:
            described = self._api.describe_statement(Id=statement_id)
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None
        return Statement(str(described["Status"]), described.get("Error") or None)

    def records(self, statement_id: str) -> list[list[Any]]:
        """A finished statement's records, typed fields unwrapped."""
        try:
            result = self._api.get_statement_result(Id=statement_id)
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc) from None
        return [[_value(f) for f in record] for record in result.get("Records", [])]

    def cancel(self, statement_id: str) -> str | None:
        """Cancel a running statement: None once cancelled, else why not (it finished)."""
        try:
            self._api.cancel_statement(Id=statement_id)
        except ClientError as exc:
            return type(exc).__name__
        return None


def _value(field: Mapping[str, Any]) -> Any:
    """A Data API typed field as a Python value."""
    if field.get("isNull"):
        return None
    for key in ("longValue", "doubleValue", "booleanValue", "stringValue", "blobValue"):
        if key in field:
            return field[key]
    return None
