"""The SQL that reads a COPY's load history inside the load transaction. Pure SQL text.

Over psycopg2 the script's VERIFY step reads the history rows and the loader decides
(load_check.py) before COMMIT:

    SELECT pg_last_copy_id(), trim(filename), lines_scanned, errors
    FROM stl_load_commits WHERE query = pg_last_copy_id()

The Data API runs the whole script as one `batch_execute_statement`: nothing can be decided
between its statements. There the VERIFY step is a guard that computes the same numbers and, on a
mismatch, fails its statement (and so the transaction) with an invalid cast whose text carries
them: `invalid input syntax for integer: "s3rl-load-check query=.. files=.. ..."`.
`parse_guard` reads them back for `load_check.find_mismatch`, which words the message. The guard
names the missing files by their manifest position when the manifest has at most `MAX_GUARD_ENTRIES`
entries (each entry's URL is part of the SQL).

Serverless has no STL tables: `sys_load_detail` (no rejected-row count) is read instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from loader.copy_sql import quote_literal
from loader.loading.load_check import (
    BOUNDS,
    HISTORY_NAME_CHARS,
    Expected,
    FileLines,
    Reported,
    history_name,
    reported_totals,
)

MAX_GUARD_ENTRIES = 100
GUARD_MARK = "s3rl-load-check"
_VIEWS = {
    # name column, lines column, rejected-rows column, query column
    False: ("stl_load_commits", "filename", "lines_scanned", "errors", "query"),
    # No rejected-row count there: a typed NULL, since sum() of a bare NULL is ambiguous
    # ("function sum(unknown) is not unique") and the Data API guard sums it.
    True: ("sys_load_detail", "file_name", "lines_scanned", "CAST(NULL AS BIGINT)", "query_id"),
}
_NUMBERS = ("query", "files", "lines", "data_lines", "nonempty_files", "errors", "rows")
_GUARD_TEXT = re.compile(
    re.escape(GUARD_MARK)
    + "".join(rf" {name}=(-?\d+)" for name in _NUMBERS)
    + r" missing=(-|[\d ]*)"
)


def history_sql(*, serverless: bool) -> str:
    """The VERIFY step over psycopg2: one row per file (or file split) of the last COPY."""
    view, name, lines, errors, query = _VIEWS[serverless]
    return (
        f"SELECT pg_last_copy_id(), trim({name}), {lines}, {errors} "
        f"FROM {view} WHERE {query} = pg_last_copy_id()"
    )


def reported_from_rows(
    records: Sequence[Sequence[Any]], *, rows: int, header_rows: int
) -> Reported:
    """`history_sql` rows (query, name, lines, errors) and the COPY's count, summed."""
    files = [
        FileLines(str(name or ""), int(lines or 0), None if errors is None else int(errors))
        for _, name, lines, errors in records
    ]
    query = int(records[0][0]) if records and records[0][0] is not None else None
    return reported_totals(files, rows=rows, header_rows=header_rows, query=query)


def guard_sql(expected: Expected, *, serverless: bool) -> str:
    """The VERIFY step over the Data API: fails, naming the numbers, unless the check passes."""
    view, name, lines, errors, query = _VIEWS[serverless]
    header = int(expected.header_rows)
    named = f"left(trim({name}), {HISTORY_NAME_CHARS})"
    per_file = (
        f"SELECT {named} AS name, sum({lines}) AS lines, sum({errors}) AS errors "
        f"FROM {view} WHERE {query} = pg_last_copy_id() GROUP BY {named}"
    )
    listed = len(expected.files) <= MAX_GUARD_ENTRIES
    totals = (
        "SELECT count(*) AS files, coalesce(sum(lines), 0) AS lines, "
        f"coalesce(sum(CASE WHEN lines > {header} THEN lines - {header} ELSE 0 END), 0) "
        "AS data_lines, "
        f"coalesce(sum(CASE WHEN lines > {header} THEN 1 ELSE 0 END), 0) AS nonempty_files, "
        "coalesce(sum(errors), 0) AS errors, "
        f"{_missing_sql(expected) if listed else quote_literal('-')} AS missing "
        f"FROM ({per_file}) f"
    )
    accounted = "pg_last_copy_count() + h.errors"
    low, high = _guard_bounds(expected, serverless)
    conditions = [f"h.files = {len(expected.names)}"]
    if listed:
        conditions.append("h.missing = ''")
    if low is not None:
        conditions.append(f"{accounted} >= h.{low}")
    if high is not None:
        conditions.append(f"{accounted} <= h.{high}")
    numbers = {
        "query": "pg_last_copy_id()",
        "rows": "pg_last_copy_count()",
        **{n: f"h.{n}" for n in _NUMBERS if n not in ("query", "rows")},
    }
    text = " || ".join(
        [quote_literal(GUARD_MARK)]
        + [f"' {n}=' || CAST({numbers[n]} AS VARCHAR)" for n in _NUMBERS]
        + ["' missing=' || h.missing"]
    )
    return (
        f"SELECT CASE WHEN {' AND '.join(conditions)} THEN 0 "
        f"ELSE CAST({text} AS INTEGER) END FROM ({totals}) h"
    )


def parse_guard(text: str, expected: Expected, *, serverless: bool) -> Reported | None:
    """The numbers of a failed guard (None: the error is something else)."""
    match = _GUARD_TEXT.search(text)
    if match is None:
        return None
    query, files, lines, data_lines, nonempty, errors, rows = (int(g) for g in match.groups()[:7])
    missing = match.group(8)
    names = None
    if missing != "-":
        gone = {int(i) for i in missing.split() if int(i) < len(expected.files)}
        present = [u for i, u in enumerate(expected.files) if i not in gone]
        names = frozenset(history_name(u) for u in present)
    return Reported(
        names=names,
        file_count=files,
        lines=lines,
        data_lines=data_lines,
        nonempty_files=nonempty,
        errors=None if serverless else errors,
        rows=rows,
        query=query,
    )


def _guard_bounds(expected: Expected, serverless: bool) -> tuple[str | None, str | None]:
    low, high = BOUNDS[expected.rule]
    if serverless and expected.max_error:
        low = None  # as load_check.bounds: rejected rows are not known
    return low, high


def _missing_sql(expected: Expected) -> str:
    """' 0 3' for manifest entries 0 and 3 missing from the history ('' when none is)."""
    parts = [
        f"CASE WHEN coalesce(max(CASE WHEN name = {quote_literal(history_name(url))} "
        f"THEN 1 END), 0) = 0 THEN ' {i}' ELSE '' END"
        for i, url in enumerate(expected.files)
    ]
    return " || ".join(["''", *parts])
