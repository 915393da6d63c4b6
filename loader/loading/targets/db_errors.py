"""Database errors, classified once: transient (retry after ROLLBACK) or terminal (a person acts).

Transient: serialization failure 40001, deadlock 40P01, every connection failure (class 08 and
libpq errors without a SQLSTATE), admin/crash shutdown 57P01-57P03, too many connections 53300,
lock timeout 55P03, statement timeout 57014 (the load ran out of time, not into bad data),
Redshift's serializable isolation violation (error 1023, reported as XX000) and Redshift's S3
eventual-consistency failure ("The specified key does not exist").

Terminal: everything else, notably data errors 22*, constraint violations 23*, syntax and
permission errors 42* (42501), and Redshift load errors (XX000, "Check 'stl_load_errors'").
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from loader.copy_sql import redact
from loader.errors import LoaderError, RetryableError, TerminalError

if TYPE_CHECKING:
    from loader.copy_sql import CopySecrets

_TRANSIENT_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "53300", "55P03", "57014"}
)
_TRANSIENT_CLASSES = ("08",)
_TRANSIENT_TEXT = (
    "the specified key does not exist",  # S3 read-after-write, as the original retried (#73)
    "serializable isolation violation",  # Redshift 1023: another transaction won; try again
    # A lost session, reported as text only (the Data API gives no SQLSTATE).
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "connection reset by peer",
)
_CONTEXT_LINE = re.compile(r"^\s*context:\s*(.+?)\s*$", re.M)
_MAX_MESSAGE = 1000


def is_transient(sqlstate: str | None, text: str) -> bool:
    """The decision: SQLSTATE first, then the texts Redshift reports under a generic XX000."""
    if sqlstate and (sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith(_TRANSIENT_CLASSES)):
        return True
    lowered = text.lower()
    return any(marker in lowered for marker in _TRANSIENT_TEXT)


def classify_db_error(
    exc: BaseException, *, target: str, secrets: CopySecrets | None = None
) -> LoaderError:
    """Map a psycopg2 error to RetryableError or TerminalError, message redacted and bounded.

    The error's `fields` carry `sqlstate` (or None) for callers that log it.
    """
    import psycopg2

    if isinstance(exc, LoaderError):
        return exc
    if not isinstance(exc, psycopg2.Error):
        return TerminalError(f"target {target}: unexpected error: {exc!r}", target=target)
    sqlstate = exc.pgcode
    primary = exc.diag.message_primary or str(exc).strip() or type(exc).__name__
    detail = exc.diag.message_detail or ""
    # libpq reports a lost or refused connection without a SQLSTATE.
    connection_lost = sqlstate is None and isinstance(
        exc, psycopg2.OperationalError | psycopg2.InterfaceError
    )
    retryable = connection_lost or is_transient(sqlstate, f"{primary}\n{detail}")
    message = describe(target, sqlstate, primary, detail, secrets)
    kind = RetryableError if retryable else TerminalError
    return kind(message, target=target, sqlstate=sqlstate)


def describe(
    target: str,
    sqlstate: str | None,
    primary: str,
    detail: str = "",
    secrets: CopySecrets | None = None,
) -> str:
    """`target X: [SQLSTATE] message (context)`, secrets masked, at most ~1000 characters."""
    context = _CONTEXT_LINE.search(detail)
    # Redact before trimming: a secret with edge whitespace must be masked whole.
    primary = redact(primary, secrets=secrets).strip()
    text = f"target {target}: " + (f"[{sqlstate}] " if sqlstate else "") + primary
    if context:
        text += f" ({context.group(1)})"
    text = redact(text, secrets=secrets)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."
