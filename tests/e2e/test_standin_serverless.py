"""The Serverless load-check path end to end: for a target with `workgroup_name` the loader reads
`sys_load_detail` (the check) and `sys_load_error_detail` (rejected rows) instead of the STL
tables, and the stand-in serves both views (docs/standin.md)."""

from __future__ import annotations

import json

import pytest
from e2e.stack import Stack
from e2e.test_loading_checks import MISSING, assert_failed_on_the_check, load_two_files

from loader.models import BatchStatus
from redshift_standin.s3_source import SKIP_MANIFEST_ENTRIES_ENV

# Both kinds: this suite found the Data API guard summing a bare NULL (the Serverless rejected-row
# column), "function sum(unknown) is not unique"; load_history.py now sums a typed NULL.
KINDS = ["redshift", "data_api"]


def serverless(stack: Stack, kind: str, table: str, **extra: object) -> dict:
    target = stack.target(kind, table, **extra)
    if kind == "data_api":  # Serverless takes no DbUser: a secret names the user
        del target["cluster_identifier"], target["db_user"]
        target |= {"workgroup_name": "local-wg", "secret_arn": stack.secret_arn}
    else:
        target |= {"workgroup_name": "local-wg"}
    return target


@pytest.mark.parametrize("kind", KINDS)
def test_a_serverless_batch_passes_the_check_on_sys_load_detail(stack: Stack, kind: str) -> None:
    # GIVEN a Serverless warehouse target with the load check on (the default)
    table = stack.table("id int, name varchar(10)")

    # WHEN a batch of two files is loaded
    load_two_files(stack, serverless(stack, kind, table))

    # THEN every row is there, and sys_load_detail recorded both files of the COPY
    assert stack.rows(table) == [(1, "alpha"), (2, "beta"), (3, "gamma"), (4, "delta")]
    batch = stack.batch(BatchStatus.COMPLETE)
    assert batch.targets["warehouse"].rows == 4
    recorded = stack.sql(
        "SELECT trim(file_name), lines_scanned FROM sys_load_detail WHERE file_name LIKE %s"
        " ORDER BY 1",
        ("s3://landing-bucket/in/%",),
    )
    # (the stack is shared: other tests' files are in the table too)
    assert {
        "s3://landing-bucket/in/a.csv",
        "s3://landing-bucket/in/b.csv",
    } <= {name for name, _ in recorded}


@pytest.mark.parametrize("kind", KINDS)
def test_a_short_serverless_copy_fails_the_check_and_commits_nothing(
    stack: Stack, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a Serverless warehouse whose COPY silently leaves out the manifest's last entry
    monkeypatch.setenv(SKIP_MANIFEST_ENTRIES_ENV, "1")
    table = stack.table("id int, name varchar(10)")

    # WHEN a batch of two files is loaded
    load_two_files(stack, serverless(stack, kind, table))

    # THEN the check (on sys_load_detail) sees one file for two, and the batch fails
    assert_failed_on_the_check(stack, table, source="the COPY's load history")
    assert MISSING in stack.batch(BatchStatus.ERROR).error


@pytest.mark.parametrize("kind", ["redshift", "data_api"])
def test_serverless_rejected_rows_come_from_sys_load_error_detail(stack: Stack, kind: str) -> None:
    # GIVEN a Serverless target and a file with a bad integer on its second line
    table = stack.table("id int, name varchar(10)")
    stack.config(serverless(stack, kind, table), files=1)

    # WHEN it is loaded
    stack.deliver(stack.put("in/bad.csv", "1,alpha\nx,beta\n"))

    # THEN the batch fails, nothing is loaded, and the failure names the rejected row as
    # sys_load_error_detail records it
    assert stack.rows(table) == []
    batch = stack.batch(BatchStatus.ERROR)
    assert batch.targets["warehouse"].status == "failed"
    [envelope] = stack.failure_messages()
    [row] = json.loads(envelope["Message"])["error_rows"]
    assert row["file"] == "s3://landing-bucket/in/bad.csv"
    assert row["line"] == 2
    assert row["column"] == "id"
    assert row["code"] == "1207"
    assert row["reason"] == "Invalid digit, Value 'x', Pos 0, Type: Integer"
