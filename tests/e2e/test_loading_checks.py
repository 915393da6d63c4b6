"""The loaded-vs-staged check: a COPY that loads less than its manifest fails the batch and
commits nothing, instead of being reported loaded (docs/loading.md)."""

from __future__ import annotations

import json

import pytest
from e2e.stack import Stack

from loader.loading.targets import postgres
from loader.models import BatchStatus
from redshift_standin.s3_source import SKIP_MANIFEST_ENTRIES_ENV

CSV_A = "1,alpha\n2,beta\n"
CSV_B = "3,gamma\n4,delta\n"
MISSING = "s3://landing-bucket/in/b.csv"


def load_two_files(stack: Stack, target: dict) -> None:
    stack.config(target)
    stack.deliver(stack.put("in/a.csv", CSV_A), stack.put("in/b.csv", CSV_B))


def assert_failed_on_the_check(stack: Stack, table: str, *, source: str) -> None:
    # nothing committed: no rows, no ledger row
    assert stack.rows(table) == []
    batch = stack.batch(BatchStatus.ERROR)
    assert stack.ledger(batch.batch_id) == []
    # a terminal failure naming expected vs reported files and the missing one
    assert batch.error_kind == "terminal"
    assert batch.targets["warehouse"].status == "failed"
    assert f"load check failed: 2 files in the manifest, 1 in {source}" in batch.error
    assert f"missing: {MISSING}" in batch.error
    assert "the load was rolled back" in batch.error
    # and the failure topic says the same
    [envelope] = stack.failure_messages()
    document = json.loads(envelope["Message"])
    assert document["status"] == "error" and document["retryable"] is False
    assert f"missing: {MISSING}" in document["targets"][0]["error"]
    assert document["error_rows"] == []


@pytest.mark.parametrize("kind", ["redshift", "data_api"])
def test_a_copy_that_skips_a_manifest_entry_fails_the_batch_and_commits_nothing(
    stack: Stack, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a warehouse whose COPY silently leaves out the manifest's last entry (b.csv)
    monkeypatch.setenv(SKIP_MANIFEST_ENTRIES_ENV, "1")
    table = stack.table("id int, name varchar(10)")

    # WHEN a batch of two files is loaded
    load_two_files(stack, stack.target(kind, table))

    # THEN the check sees one file recorded for two listed, and the batch fails
    assert_failed_on_the_check(stack, table, source="the COPY's load history (query ")


def test_with_the_check_off_the_same_short_copy_is_reported_loaded(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failure the check exists for: half the batch loaded, and the batch says complete.
    monkeypatch.setenv(SKIP_MANIFEST_ENTRIES_ENV, "1")
    table = stack.table("id int, name varchar(10)")

    load_two_files(stack, stack.target("redshift", table, verify_load=False))

    assert stack.rows(table) == [(1, "alpha"), (2, "beta")]
    assert stack.batch(BatchStatus.COMPLETE).targets["warehouse"].rows == 2


def test_a_postgres_streamer_that_drops_a_file_fails_the_batch(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a streamer that never sends b.csv to PostgreSQL
    copy_file = postgres._Feeder._copy_file

    def dropping(self: postgres._Feeder, cur: object, step: object, url: str) -> None:
        if url != MISSING:
            copy_file(self, cur, step, url)  # type: ignore[arg-type]

    monkeypatch.setattr(postgres._Feeder, "_copy_file", dropping)
    table = stack.table("id int, name varchar(10)")

    load_two_files(stack, stack.target("postgres", table))

    assert_failed_on_the_check(stack, table, source="the stream to COPY FROM STDIN")


@pytest.mark.parametrize("kind", ["redshift", "data_api", "postgres"])
def test_headers_quoted_newlines_and_tolerated_bad_rows_pass_the_check(
    stack: Stack, kind: str
) -> None:
    # GIVEN files with a header line, a record spanning two lines and (not for PostgreSQL,
    # which refuses MAXERROR) a bad row tolerated by MAXERROR
    table = stack.table("id int, name varchar(20)")
    options: dict = {"format": {"type": "csv", "ignore_header_rows": 1}}
    bad = ""
    if kind != "postgres":
        options["max_error"] = 1
        bad = "x,bad\n"
    stack.config(stack.target(kind, table), copy_options=options)

    stack.deliver(
        stack.put("in/a.csv", 'id,name\n1,"two\nlines"\n2,beta\n'),
        stack.put("in/b.csv", f"id,name\n3,gamma\n{bad}"),
    )

    # THEN the load is complete, with the rows the lines allow
    assert stack.rows(table) == [(1, "two\nlines"), (2, "beta"), (3, "gamma")]
    batch = stack.batch(BatchStatus.COMPLETE)
    assert stack.ledger(batch.batch_id) == [("warehouse", 2, 3)]
