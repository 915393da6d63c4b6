"""Which database errors are retried: one table, read as the specification."""

from __future__ import annotations

import psycopg2
import pytest

from loader.copy_sql import CopySecrets
from loader.errors import RetryableError, TerminalError
from loader.loading.targets.db_errors import classify_db_error, describe, is_transient

S3_404 = (
    "\n  -----------------------------------------------\n  error:  "
    "S3ServiceException:The specified key does not exist.,Status 404,Error NoSuchKey\n"
    "  code:      8001\n  context:   s3://bucket/a.csv\n"
)


@pytest.mark.parametrize(
    ("sqlstate", "text"),
    [
        ("40001", "could not serialize access due to concurrent update"),
        ("40P01", "deadlock detected"),
        ("08006", "connection failure"),
        ("08001", "could not connect"),
        ("57P01", "terminating connection due to administrator command"),
        ("53300", "sorry, too many clients already"),
        ("55P03", "could not obtain lock on relation"),
        ("57014", "canceling statement due to statement timeout"),
        ("XX000", "Load into table 't' failed." + S3_404),
        ("XX000", "1023 Serializable isolation violation on table - 123, transactions forming"),
        (None, "ERROR: Serializable isolation violation on table t"),
    ],
)
def test_transient_failures_are_retried(sqlstate: str | None, text: str) -> None:
    assert is_transient(sqlstate, text)


@pytest.mark.parametrize(
    ("sqlstate", "text"),
    [
        ("22P02", 'invalid input syntax for type integer: "x"'),
        ("22001", "value too long for type character varying(5)"),
        ("23505", "duplicate key value violates unique constraint"),
        ("23502", "null value in column violates not-null constraint"),
        ("42601", "syntax error at or near"),
        ("42P01", 'relation "t" does not exist'),
        ("42501", "permission denied for relation t"),
        ("XX000", "Load into table 't' failed.  Check 'stl_load_errors' system table for details."),
        ("25P02", "current transaction is aborted, commands ignored until end of block"),
        (None, "ERROR: Load into table 't' failed.  Check 'stl_load_errors'"),
    ],
)
def test_everything_else_is_terminal(sqlstate: str | None, text: str) -> None:
    assert not is_transient(sqlstate, text)


def test_a_lost_connection_without_sqlstate_is_retryable() -> None:
    error = classify_db_error(
        psycopg2.OperationalError("server closed the connection unexpectedly"), target="w"
    )
    assert isinstance(error, RetryableError)
    assert str(error).startswith("target w: server closed the connection")


def test_a_python_error_is_terminal_and_named() -> None:
    error = classify_db_error(ValueError("boom"), target="w")
    assert isinstance(error, TerminalError)
    assert "boom" in str(error)


def test_the_message_keeps_redshift_context_and_masks_secrets() -> None:
    secrets = CopySecrets(access_key_id="AKIAEXAMPLEKEY", secret_access_key="s3cr3tValue")
    detail = "  error: x\n  context:   Invalid digit, Value 'x' (s3://b/k.csv, line 3)\n"
    text = describe(
        "warehouse", "XX000", "COPY failed near SECRET_ACCESS_KEY 's3cr3tValue'", detail, secrets
    )
    assert text.startswith("target warehouse: [XX000] COPY failed")
    assert "s3cr3tValue" not in text
    assert "(Invalid digit, Value 'x' (s3://b/k.csv, line 3))" in text


def test_messages_are_bounded() -> None:
    assert len(describe("w", "XX000", "x" * 5000)) <= 1000
