"""The loaded-vs-staged check: what the target reports loaded against the manifest."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from config.copy_options import CopyOptions
from config.targets import Target
from loader.loading.load_check import (
    MAX_LISTED,
    Expected,
    LoadCheckError,
    RowRule,
    enforce,
    expected_for,
    row_rule,
)
from loader.loading.load_check import FileLines as FileRecord
from loader.loading.load_check import find_mismatch as check
from loader.loading.load_check import reported_totals as summarize
from loader.loading.sql import load_history
from loader.loading.sql.ledger import Dialect, LedgerEntry
from loader.loading.sql.script import StepKind as K
from loader.loading.sql.script import build_script
from loader.loading.targets.pg_input import LineCounter

A, B, C = (f"s3://landing/in/{n}.csv" for n in "abc")


def history(*records: tuple[str, int, int | None], rows: int, header_rows: int = 0) -> Any:
    return summarize(
        [FileRecord(name, lines, errors) for name, lines, errors in records],
        rows=rows,
        header_rows=header_rows,
    )


def options(**raw: Any) -> CopyOptions:
    return CopyOptions.model_validate(raw)


# --- files ------------------------------------------------------------------------------------


def test_every_manifest_file_recorded_with_its_rows_passes() -> None:
    expected = Expected((A, B), rule=RowRule.ONE_PER_LINE)
    assert check(expected, history((A, 2, 0), (B, 3, 0), rows=5)) is None


def test_a_file_missing_from_the_history_fails_naming_it() -> None:
    expected = Expected((A, B, C), rule=RowRule.SPANS_LINES)

    mismatch = check(expected, history((A, 2, 0), (C, 2, 0), rows=4))

    assert mismatch is not None and not mismatch.files_ok and mismatch.rows_ok
    assert mismatch.missing == (B,)
    assert mismatch.describe() == (
        "load check failed: 3 files in the manifest, 2 in the COPY's load history; "
        f"missing: {B}; 4 rows loaded for 4 lines scanned"
    )


def test_a_long_list_of_missing_files_is_cut_short() -> None:
    urls = tuple(f"s3://landing/in/{i:03}.csv" for i in range(MAX_LISTED + 5))
    mismatch = check(Expected(urls), history(rows=0))

    assert mismatch is not None
    assert mismatch.describe().count("s3://") == MAX_LISTED
    assert "(+5 more)" in mismatch.describe()


def test_a_file_the_manifest_does_not_list_fails_too() -> None:
    mismatch = check(Expected((A,)), history((A, 1, 0), (B, 1, 0), rows=2))
    assert mismatch is not None and mismatch.missing == () and not mismatch.files_ok


def test_splits_of_one_file_count_once_and_names_compare_on_256_characters() -> None:
    long_url = "s3://landing/in/" + "k" * 300 + ".csv"
    reported = history((long_url[:256], 2, 0), (long_url[:256], 3, 0), rows=5)

    assert reported.file_count == 1 and reported.lines == 5
    assert check(Expected((long_url,), rule=RowRule.ONE_PER_LINE), reported) is None


# --- rows -------------------------------------------------------------------------------------


def test_one_record_per_line_formats_must_load_every_line() -> None:
    expected = Expected((A,), rule=RowRule.ONE_PER_LINE)

    mismatch = check(expected, history((A, 4, 0), rows=3))

    assert mismatch is not None and mismatch.files_ok and not mismatch.rows_ok
    assert mismatch.describe().endswith(
        "3 rows loaded for 4 lines scanned, expected 4 (one record per line)"
    )


def test_csv_records_may_span_lines_but_not_outnumber_them() -> None:
    expected = Expected((A,), rule=RowRule.SPANS_LINES)
    assert check(expected, history((A, 4, 0), rows=2)) is None  # quoted newlines
    too_many = check(expected, history((A, 4, 0), rows=5))
    assert too_many is not None and "expected 1 to 4" in too_many.describe()


def test_no_rows_from_files_with_data_fails_but_empty_files_may_load_nothing() -> None:
    for rule in (RowRule.ONE_PER_LINE, RowRule.SPANS_LINES, RowRule.PER_FILE):
        expected = Expected((A, B), header_rows=1, rule=rule)
        empty = history((A, 1, 0), (B, 0, 0), rows=0, header_rows=1)
        assert check(expected, empty) is None, rule
        with_data = history((A, 3, 0), (B, 1, 0), rows=0, header_rows=1)
        assert check(expected, with_data) is not None, rule


def test_header_lines_are_accepted_counted_or_not() -> None:
    expected = Expected((A, B), header_rows=1, rule=RowRule.ONE_PER_LINE)
    counted = history((A, 3, 0), (B, 3, 0), rows=4, header_rows=1)
    not_counted = history((A, 2, 0), (B, 2, 0), rows=4, header_rows=1)
    short = history((A, 3, 0), (B, 3, 0), rows=3, header_rows=1)
    assert check(expected, counted) is None
    assert check(expected, not_counted) is None
    assert check(expected, short) is not None


def test_rows_rejected_under_maxerror_count_as_accounted_for() -> None:
    expected = Expected((A,), rule=RowRule.ONE_PER_LINE, max_error=5)
    assert check(expected, history((A, 5, 2), rows=3)) is None
    assert check(expected, history((A, 5, 1), rows=3)) is not None


def test_without_a_rejected_count_maxerror_only_keeps_the_upper_bound() -> None:
    # Serverless's sys_load_detail does not say how many rows were rejected.
    expected = Expected((A,), rule=RowRule.ONE_PER_LINE, max_error=5)
    assert check(expected, history((A, 5, None), rows=3)) is None
    assert check(expected, history((A, 5, None), rows=6)) is not None
    strict = Expected((A,), rule=RowRule.ONE_PER_LINE)
    assert check(strict, history((A, 5, None), rows=3)) is not None


def test_columnar_formats_compare_files_only() -> None:
    expected = Expected((A,), rule=RowRule.FILES_ONLY)
    assert check(expected, history((A, 0, 0), rows=1000)) is None


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ({}, RowRule.SPANS_LINES),
        ({"format": {"type": "delimited"}}, RowRule.ONE_PER_LINE),
        ({"format": {"type": "delimited", "escape": True}}, RowRule.SPANS_LINES),
        ({"format": {"type": "fixedwidth", "columns": ["a:2"]}}, RowRule.ONE_PER_LINE),
        ({"ignore_blank_lines": True}, RowRule.AT_MOST_ONE_PER_LINE),
        ({"format": {"type": "json"}}, RowRule.PER_FILE),
        ({"format": {"type": "parquet"}}, RowRule.FILES_ONLY),
    ],
)
def test_the_rule_follows_the_format(raw: dict, rule: RowRule) -> None:
    assert row_rule(options(**raw)) is rule


def test_expectations_take_headers_and_maxerror_from_the_copy_options() -> None:
    expected = expected_for([A], options(format={"type": "csv", "ignore_header_rows": 2}))
    assert (expected.header_rows, expected.max_error, expected.rule) == (2, 0, RowRule.SPANS_LINES)
    assert expected_for([A], options(max_error=7)).max_error == 7


def test_a_mismatch_is_a_terminal_error_naming_the_target() -> None:
    with pytest.raises(LoadCheckError, match=r"^target warehouse: load check failed") as caught:
        enforce("warehouse", Expected((A, B)), history((A, 1, 0), rows=1))
    assert caught.value.retryable is False
    assert str(caught.value).endswith("the load was rolled back")


# --- SQL ------------------------------------------------------------------------------------


def test_the_history_is_read_for_the_last_copy_of_the_session() -> None:
    assert load_history.history_sql(serverless=False) == (
        "SELECT pg_last_copy_id(), trim(filename), lines_scanned, errors "
        "FROM stl_load_commits WHERE query = pg_last_copy_id()"
    )
    assert "FROM sys_load_detail WHERE query_id = pg_last_copy_id()" in (
        load_history.history_sql(serverless=True)
    )
    rows = [(7, A, 3, 0), (7, A, 1, 0), (7, B, 2, None)]
    reported = load_history.reported_from_rows(rows, rows=4, header_rows=1)
    assert (reported.query, reported.file_count, reported.lines) == (7, 2, 6)
    assert (reported.data_lines, reported.nonempty_files, reported.errors) == (4, 2, None)


def script(verify_sql: str | None, **fields: Any) -> Any:
    raw = {"type": "redshift", "name": "w", "table": "t", "host": "h", "auth": "secret"}
    target = TypeAdapter(Target).validate_python(raw | {"secret_arn": "arn:x"} | fields)
    entry = LedgerEntry("b", "w", "bucket/in", "s3://m/x.json", 2, 0.0)
    return build_script(
        target,
        entry,
        dialect=Dialect.REDSHIFT,
        timeout_ms=1000,
        copy_into=lambda table: f"COPY {table} ...",
        verify_sql=verify_sql,
    )


def test_the_check_runs_after_the_copy_count_and_before_anything_else() -> None:
    assert script("SELECT 1").kinds == [
        K.TIMEOUT,
        K.CHECK,
        K.COPY,
        K.COUNT,
        K.VERIFY,
        K.FENCE,
        K.RECHECK,
        K.RECORD,
    ]
    merged = script("SELECT 1", merge={"key_columns": ["id"]})
    assert merged.kinds[3:6] == [K.COPY, K.COUNT, K.VERIFY]
    assert K.VERIFY not in script(None).kinds


def guard_failure(expected: Expected, **numbers: Any) -> str:
    """The error text the guard's invalid cast produces (PostgreSQL's wording)."""
    values = {"query": 9, "files": 1, "lines": 2, "data_lines": 2, "nonempty_files": 1}
    values |= {"errors": 0, "rows": 2, "missing": " 1"} | numbers
    text = load_history.GUARD_MARK + "".join(f" {k}={v}" for k, v in values.items())
    return f'invalid input syntax for type integer: "{text}"'


def test_the_data_api_guard_carries_the_expectations_into_its_sql() -> None:
    expected = Expected((A, B), header_rows=1, rule=RowRule.ONE_PER_LINE)
    sql = load_history.guard_sql(expected, serverless=False)

    assert sql.startswith("SELECT CASE WHEN h.files = 2 AND h.missing = '' AND ")
    assert "pg_last_copy_count() + h.errors >= h.data_lines" in sql
    assert "pg_last_copy_count() + h.errors <= h.lines" in sql
    assert "WHEN lines > 1 THEN lines - 1" in sql
    assert f"WHEN name = '{A}' THEN 1 END), 0) = 0 THEN ' 0'" in sql
    assert f"WHEN name = '{B}' THEN 1 END), 0) = 0 THEN ' 1'" in sql
    assert "FROM stl_load_commits WHERE query = pg_last_copy_id()" in sql


def test_a_big_manifest_is_checked_by_count_without_listing_files_in_the_sql() -> None:
    urls = tuple(f"s3://l/{i}" for i in range(load_history.MAX_GUARD_ENTRIES + 1))
    sql = load_history.guard_sql(Expected(urls), serverless=True)
    assert "s3://l/" not in sql and "h.missing = ''" not in sql
    assert "FROM sys_load_detail WHERE query_id = pg_last_copy_id()" in sql

    reported = load_history.parse_guard(
        guard_failure(Expected(urls), files=100, missing="-"), Expected(urls), serverless=True
    )
    mismatch = check(Expected(urls), reported) if reported else None
    assert mismatch is not None and "could not be listed" in mismatch.describe()


def test_a_failed_guard_reads_back_as_the_same_mismatch() -> None:
    expected = Expected((A, B), rule=RowRule.ONE_PER_LINE)

    reported = load_history.parse_guard(guard_failure(expected), expected, serverless=False)

    assert reported is not None and reported.query == 9
    mismatch = check(expected, reported)
    assert mismatch is not None and mismatch.missing == (B,)
    assert "2 files in the manifest, 1 in the COPY's load history (query 9)" in (
        mismatch.describe()
    )
    other = "ERROR: relation t does not exist"
    assert load_history.parse_guard(other, expected, serverless=False) is None


# --- the PostgreSQL streamer's line count ---------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"1,a\n2,b\n"], 2),
        ([b"1,a\n2,b"], 2),
        ([b"1,a\r\n2,b\r", b"\n3,c\r4,d\r"], 4),
        ([b"", b"\n"], 1),
        ([], 0),
    ],
)
def test_the_streamer_counts_lines_as_postgresql_ends_them(chunks: list[bytes], lines: int) -> None:
    counter = LineCounter()
    assert b"".join(counter.count(iter(chunks))) == b"".join(chunks)
    assert counter.lines == lines
