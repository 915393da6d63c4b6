"""A fake boto3 `redshift-data` client that really runs the SQL, through the stand-in.

moto's redshift-data never finishes a statement; this one runs each statement asynchronously in
a worker thread (psycopg2 to the stand-in's port, so S3 COPY works), moving it through
SUBMITTED -> STARTED -> FINISHED | FAILED | ABORTED, so polling code is exercised for real.

Same keyword arguments as boto3 (validated against botocore's own service model, so a missing
or misspelled argument raises the same ParamValidationError), and the same ClientError classes
(`client.exceptions.ValidationException`, `ResourceNotFoundException`).

Not emulated: sessions (SessionId / SessionKeepAliveSeconds), result pagination (everything comes
in one page), IAM: DbUser / SecretArn are recorded, but SQL runs as the stand-in's user.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from redshift_standin.data_api_exec import (
    ACTIVE,
    Statement,
    Status,
    SubStatement,
    cancel_backend,
    run_statement,
)

_ECHOED = ("ClusterIdentifier", "WorkgroupName", "Database", "DbUser", "SecretArn")


class FakeRedshiftData:
    """Drop-in for `boto3.client("redshift-data")` in tests and local mode.

    `dsn_for_database(database)` returns the libpq DSN of that database through the stand-in,
    e.g. `lambda db: standin.dsn(dbname=db)`.
    """

    def __init__(
        self,
        dsn_for_database: Callable[[str], str],
        *,
        region_name: str = "us-east-1",
        max_workers: int = 4,
    ) -> None:
        real = botocore.session.get_session().create_client(
            "redshift-data",
            region_name=region_name,
            aws_access_key_id="fake",
            aws_secret_access_key="fake",
        )  # never called: only for its model and error classes
        self.exceptions = real.exceptions
        self.meta = real.meta
        self._model = real.meta.service_model
        self._dsn_for = dsn_for_database
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="data-api")
        self._statements: dict[str, Statement] = {}
        self._lock = threading.Lock()
        self._query_ids = itertools.count(1)

    # -- submission -----------------------------------------------------------------------------
    def execute_statement(self, **kwargs: Any) -> dict[str, Any]:
        self._validate("ExecuteStatement", kwargs)
        return self._submit([kwargs["Sql"]], kwargs, is_batch=False)

    def batch_execute_statement(self, **kwargs: Any) -> dict[str, Any]:
        self._validate("BatchExecuteStatement", kwargs)
        if not kwargs["Sqls"]:
            raise self._error(
                "ValidationException",
                "Sqls must contain at least 1 statement",
                "BatchExecuteStatement",
            )
        return self._submit(list(kwargs["Sqls"]), kwargs, is_batch=True)

    def _submit(self, sqls: list[str], kwargs: dict[str, Any], *, is_batch: bool) -> dict[str, Any]:
        statement_id = str(uuid.uuid4())
        subs = [
            SubStatement(f"{statement_id}:{n}" if is_batch else statement_id, sql)
            for n, sql in enumerate(sqls, start=1)
        ]
        parameters = {p["name"]: p["value"] for p in kwargs.get("Parameters", [])} or None
        statement = Statement(statement_id, subs, is_batch, kwargs, parameters)
        with self._lock:
            self._statements[statement_id] = statement
        dsn = self._dsn_for(kwargs["Database"])
        self._pool.submit(run_statement, statement, dsn, self._query_ids)
        echoed = {key: kwargs[key] for key in _ECHOED if key in kwargs}
        return {"Id": statement_id, "CreatedAt": statement.created_at, **echoed}

    # -- inspection -----------------------------------------------------------------------------
    def describe_statement(self, **kwargs: Any) -> dict[str, Any]:
        self._validate("DescribeStatement", kwargs)
        statement, sub = self._find(kwargs["Id"], "DescribeStatement")
        with statement.lock:
            if sub is not None:
                return sub.describe()
            return self._describe(statement)

    def _describe(self, statement: Statement) -> dict[str, Any]:
        subs = statement.subs
        out: dict[str, Any] = {
            "Id": statement.id,
            "Status": statement.status.value,
            "CreatedAt": statement.created_at,
            "UpdatedAt": statement.updated_at,
            "Duration": sum(s.duration_ns for s in subs) or -1,
            "HasResultSet": any(s.has_result_set for s in subs),
            "RedshiftPid": statement.redshift_pid,
            "ResultRows": sum(max(s.result_rows, 0) for s in subs)
            if statement.is_batch
            else subs[0].result_rows,
            "ResultSize": sum(s.result_size for s in subs),
            **{key: statement.request[key] for key in _ECHOED if key in statement.request},
        }
        if statement.is_batch:
            out["SubStatements"] = [s.describe() for s in subs]
        else:
            out["QueryString"] = subs[0].sql
            out["RedshiftQueryId"] = subs[0].query_id
        if statement.parameters:
            out["QueryParameters"] = list(statement.request.get("Parameters", []))
        if statement.error is not None:
            out["Error"] = statement.error
        return out

    def get_statement_result(self, **kwargs: Any) -> dict[str, Any]:
        self._validate("GetStatementResult", kwargs)
        statement, sub = self._find(kwargs["Id"], "GetStatementResult")
        if sub is None:
            if statement.is_batch:
                raise self._error(
                    "ValidationException",
                    "Batch statement results are read per sub-statement: use an Id like '<id>:1'",
                    "GetStatementResult",
                )
            sub = statement.subs[0]
        with statement.lock:
            if sub.status is not Status.FINISHED or not sub.has_result_set:
                raise self._error(
                    "ResourceNotFoundException",
                    "Query does not have result. Please check query status with DescribeStatement.",
                    "GetStatementResult",
                )
            return {
                "Records": [list(row) for row in sub.records],
                "ColumnMetadata": list(sub.columns),
                "TotalNumRows": len(sub.records),
            }

    def cancel_statement(self, **kwargs: Any) -> dict[str, Any]:
        self._validate("CancelStatement", kwargs)
        statement, _ = self._find(kwargs["Id"], "CancelStatement")
        with statement.lock:
            if statement.status not in ACTIVE:
                raise self._error(
                    "ValidationException",
                    f"Could not cancel a query that is already in {statement.status.value} state.",
                    "CancelStatement",
                )
            statement.cancelled = True
            if statement.status is Status.SUBMITTED:
                statement.set_status(Status.ABORTED)
                for sub in statement.subs:
                    sub.status = Status.ABORTED
            pid = statement.redshift_pid
        if pid:  # 0: not connected yet; run_statement sees `cancelled` before it runs any SQL
            cancel_backend(self._dsn_for(statement.request["Database"]), pid)
        return {"Status": True}

    def list_statements(self, **kwargs: Any) -> dict[str, Any]:
        self._validate("ListStatements", kwargs)
        wanted = kwargs.get("Status", "ALL")
        with self._lock:
            statements = list(self._statements.values())
        rows = [
            {
                "Id": s.id,
                "Status": s.status.value,
                "CreatedAt": s.created_at,
                "UpdatedAt": s.updated_at,
                "IsBatchStatement": s.is_batch,
                "QueryStrings" if s.is_batch else "QueryString": [x.sql for x in s.subs]
                if s.is_batch
                else s.subs[0].sql,
            }
            for s in statements
            if wanted in ("ALL", s.status.value)
        ]
        return {"Statements": rows}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- helpers --------------------------------------------------------------------------------
    def _find(self, statement_id: str, operation: str) -> tuple[Statement, SubStatement | None]:
        base, _, suffix = statement_id.partition(":")
        with self._lock:
            statement = self._statements.get(base)
        if statement is None:
            raise self._error("ResourceNotFoundException", "Query does not exist.", operation)
        if not suffix:
            return statement, None
        if (
            not statement.is_batch
            or not suffix.isdigit()
            or not 1 <= int(suffix) <= len(statement.subs)
        ):
            raise self._error("ResourceNotFoundException", "Query does not exist.", operation)
        return statement, statement.subs[int(suffix) - 1]

    def _validate(self, operation: str, kwargs: dict[str, Any]) -> None:
        shape = self._model.operation_model(operation).input_shape
        assert shape is not None
        validate_parameters(kwargs, shape)
        if operation not in ("ExecuteStatement", "BatchExecuteStatement"):
            return
        targets = [key for key in ("ClusterIdentifier", "WorkgroupName") if key in kwargs]
        if len(targets) != 1:
            raise self._error(
                "ValidationException",
                "Exactly one of ClusterIdentifier or WorkgroupName must be specified.",
                operation,
            )
        if "WorkgroupName" in kwargs and "DbUser" in kwargs:
            raise self._error(
                "ValidationException",
                "DbUser is not supported with WorkgroupName (Redshift Serverless).",
                operation,
            )
        if "DbUser" in kwargs and "SecretArn" in kwargs:
            raise self._error(
                "ValidationException", "Specify either DbUser or SecretArn, not both.", operation
            )
        if "SessionId" in kwargs or "SessionKeepAliveSeconds" in kwargs:
            raise self._error(
                "ValidationException", "Sessions are not emulated by the fake Data API.", operation
            )
        if "Database" not in kwargs:
            raise self._error("ValidationException", "Database must be specified.", operation)

    def _error(self, code: str, message: str, operation: str) -> ClientError:
        response: dict[str, Any] = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        error_class = getattr(self.exceptions, code, ClientError)
        return error_class(cast("Any", response), operation)
