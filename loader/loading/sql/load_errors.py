"""Where a failed COPY's rejected rows are, and how they become `LoadErrorRow`s. Pure.

Redshift keeps them in `stl_load_errors` (provisioned clusters) and `sys_load_error_detail`
(Serverless and clusters). Over a psycopg2 session the failed COPY is `pg_last_copy_id()`; the
Data API has no session left afterwards, so it asks for the latest failed COPY that read a file
of the batch's prefix (best effort: a concurrent batch of the same prefix could be the latest).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from loader.copy_sql import quote_literal
from loader.ports import LoadErrorRow

MAX_ROWS = 20
"""Rejected rows fetched per failed target (SNS messages are limited to 256 KB)."""
MAX_TEXT = 1024

_STL = (
    "SELECT trim(filename), line_number, trim(colname), err_code, trim(err_reason), "
    "trim(raw_line), trim(raw_field_value) FROM stl_load_errors WHERE query = {query} "
    "ORDER BY line_number LIMIT {limit}"
)
_SYS = (
    "SELECT trim(file_name), line_number, trim(column_name), error_code, trim(error_message), "
    "NULL, NULL FROM sys_load_error_detail WHERE query_id = {query} "
    "ORDER BY line_number LIMIT {limit}"
)
_LATEST = {
    "stl": "(SELECT max(query) FROM stl_load_errors WHERE trim(filename) LIKE {pattern})",
    "sys": "(SELECT max(query_id) FROM sys_load_error_detail WHERE trim(file_name) LIKE {pattern})",
}
_PG_CONTEXT = re.compile(r"line (\d+)(?:, column ([^:]+))?")


def views(serverless: bool) -> tuple[str, str]:
    """Which system view to ask first: Serverless has no STL tables."""
    return ("sys", "stl") if serverless else ("stl", "sys")


def all_rows_sql(limit: int) -> str:
    """Every rejected row in `stl_load_errors` (a database only `config test` loads into)."""
    return (
        _STL.replace("WHERE query = {query} ", "")
        .format(limit=limit)
        .replace("ORDER BY line_number", "ORDER BY query, filename, line_number")
    )


def session_sql(view: str) -> str:
    """Rows of this session's last COPY (psycopg2)."""
    template = _SYS if view == "sys" else _STL
    return template.format(query="pg_last_copy_id()", limit=MAX_ROWS)


def prefix_sql(view: str, prefix: str) -> str:
    """Rows of the latest failed COPY that read a file under `prefix` (Data API)."""
    pattern = quote_literal("s3://" + prefix.replace("=*", "=%").rstrip("/") + "/%")
    template = _SYS if view == "sys" else _STL
    return template.format(query=_LATEST[view].format(pattern=pattern), limit=MAX_ROWS)


def rows_from_view(
    target: str, records: Sequence[Sequence[Any]], limit: int = MAX_ROWS
) -> tuple[LoadErrorRow, ...]:
    """(file, line, column, code, reason, raw_line, raw_value) records as error rows."""
    return tuple(
        LoadErrorRow(
            target=target,
            file=_text(file),
            line=int(line) if line is not None else None,
            column=_text(column),
            code=None if code is None else str(code),
            reason=_text(reason) or "rejected",
            raw_line=_text(raw_line),
            raw_value=_text(raw_value),
        )
        for file, line, column, code, reason, raw_line, raw_value in records[:limit]
    )


def row_from_pg_error(
    target: str,
    file: str | None,
    sqlstate: str | None,
    message: str,
    context: str | None,
    line_offset: int = 0,
    origins: Sequence[int] | None = None,
) -> LoadErrorRow:
    """PostgreSQL's `CONTEXT: COPY t, line 3, column id: "x"` as an error row.

    `line_offset` adds header lines the loader skipped; `origins` maps converted JSON rows back
    to their file lines.
    """
    match = _PG_CONTEXT.search(context or "")
    line = int(match.group(1)) if match else None
    if line is not None and origins is not None and 0 < line <= len(origins):
        line = origins[line - 1]
    elif line is not None:
        line += line_offset
    return LoadErrorRow(
        target=target,
        file=file,
        line=line,
        column=(match.group(2) or None) if match else None,
        code=sqlstate,
        reason=_text(message) or "rejected",
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] if text else None
