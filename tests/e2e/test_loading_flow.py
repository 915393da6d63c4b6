"""The whole flow: files in S3 -> S3 events -> batch -> COPY through each target kind -> rows in
PostgreSQL exactly once, failures reported to the failure topic."""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import json

import pytest
from e2e.stack import Stack

from loader.models import BatchStatus
from support.aws import MANIFEST_BUCKET

KINDS = ["redshift", "data_api", "postgres"]

CSV_A = "1,alpha\n2,beta\n"
CSV_B = '3,"gam,ma"\n4,delta\n'
EXPECTED = [(1, "alpha"), (2, "beta"), (3, "gam,ma"), (4, "delta")]


def files_for(fmt: str) -> tuple[dict, list[tuple[str, bytes]]]:
    """(copy_options, [(key, body)]) carrying EXPECTED in the given format."""
    if fmt == "csv":
        return {}, [("in/a.csv", CSV_A.encode()), ("in/b.csv", CSV_B.encode())]
    if fmt == "gzip":
        return {"compression": "gzip"}, [
            ("in/a.csv.gz", gzip.compress(CSV_A.encode())),
            ("in/b.csv.gz", gzip.compress(CSV_B.encode())),
        ]
    if fmt == "bzip2":
        return {"compression": "bzip2"}, [
            ("in/a.csv.bz2", bz2.compress(CSV_A.encode())),
            ("in/b.csv.bz2", bz2.compress(CSV_B.encode())),
        ]
    rows = [{"id": i, "name": n} for i, n in EXPECTED]
    first = "\n".join(json.dumps(r) for r in rows[:2])
    second = json.dumps(rows[2], indent=2) + json.dumps(rows[3])  # spread over lines, and two
    return {"format": {"type": "json"}}, [
        ("in/a.json", first.encode()),
        ("in/b.json", second.encode()),
    ]


@pytest.mark.parametrize("fmt", ["csv", "gzip", "json"])
@pytest.mark.parametrize("kind", KINDS)
def test_files_land_in_the_table_exactly_once(stack: Stack, kind: str, fmt: str) -> None:
    # GIVEN a prefix loading into a table of the target kind, sealing at two files
    table = stack.table("id int, name varchar(10)")
    options, files = files_for(fmt)
    stack.config(stack.target(kind, table), copy_options=options)

    # WHEN the files arrive, and their notifications are delivered again later
    records = [stack.put(key, body) for key, body in files]
    stack.deliver(*records)
    stack.deliver(*records)

    # THEN the rows are in the table once, and the batch and ledger say so
    assert stack.rows(table) == EXPECTED
    batch = stack.batch(BatchStatus.COMPLETE)
    assert batch.targets["warehouse"].status == "loaded"
    assert batch.targets["warehouse"].rows == 4
    assert stack.ledger(batch.batch_id) == [("warehouse", 2, 4)]


def test_bzip2_files_load_into_postgres(stack: Stack) -> None:
    table = stack.table("id int, name varchar(10)")
    options, files = files_for("bzip2")
    stack.config(stack.target("postgres", table), copy_options=options)

    stack.deliver(*[stack.put(key, body) for key, body in files])

    assert stack.rows(table) == EXPECTED


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_row_fails_the_batch_and_tells_the_failure_topic_where(
    stack: Stack, kind: str
) -> None:
    # GIVEN a file whose third line has a non-integer id
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target(kind, table))
    good = stack.put("in/good.csv", CSV_A)
    bad = stack.put("in/bad.csv", "5,e\n6,f\nseven,g\n")

    # WHEN the batch is loaded
    stack.deliver(good, bad)

    # THEN nothing is loaded, the batch is in error and its manifest copied to the failed prefix
    assert stack.rows(table) == []
    batch = stack.batch(BatchStatus.ERROR)
    assert batch.error_kind == "terminal"
    assert batch.targets["warehouse"].status == "failed"
    assert batch.failed_manifest_url.startswith(f"s3://{MANIFEST_BUCKET}/failed-manifests/")
    key = batch.failed_manifest_url.removeprefix(f"s3://{MANIFEST_BUCKET}/")
    stack.env.session.client("s3").head_object(Bucket=MANIFEST_BUCKET, Key=key)
    assert "bad.csv line 3" in batch.error

    # AND the failure topic delivered a message naming file, line, column and reason
    [envelope] = stack.failure_messages()
    assert envelope["Subject"].startswith("[s3-redshift-loader] FAILED: 2 files for ")
    document = json.loads(envelope["Message"])
    assert document["status"] == "error"
    assert document["batch_id"] == batch.batch_id
    assert document["failed_manifest"] == batch.failed_manifest_url
    assert document["targets"][0]["status"] == "failed"
    first = document["error_rows"][0]
    assert first["file"] == "s3://landing-bucket/in/bad.csv"
    assert first["line"] == 3
    assert first["column"] == "id"
    assert "seven" in first["reason"] or "integer" in first["reason"].lower()
    assert document["summary"].startswith("FAILED: 2 files")


@pytest.mark.parametrize("kind", KINDS)
def test_merge_replaces_rows_with_matching_keys(stack: Stack, kind: str) -> None:
    table = stack.table("id int, name varchar(10)")
    stack.sql(f"INSERT INTO {table} VALUES (1, 'old'), (9, 'keep')")
    stack.config(stack.target(kind, table, merge={"key_columns": ["id"]}))

    stack.deliver(stack.put("in/a.csv", "1,new\n2,two\n"), stack.put("in/b.csv", "3,three\n"))

    assert stack.rows(table) == [(1, "new"), (2, "two"), (3, "three"), (9, "keep")]
    assert stack.batch(BatchStatus.COMPLETE).targets["warehouse"].rows == 3


def test_truncate_pre_and_post_sql_run_in_the_load_transaction(stack: Stack) -> None:
    table = stack.table("id int, name varchar(10)")
    audit = stack.table("step varchar(20), n int")
    stack.sql(f"INSERT INTO {table} VALUES (100, 'stale')")
    stack.config(
        stack.target(
            "redshift",
            table,
            truncate_before_load=True,
            pre_sql=f"INSERT INTO {audit} SELECT 'pre', count(*) FROM {table}",
            post_sql=f"INSERT INTO {audit} SELECT 'post', count(*) FROM {table}",
        )
    )

    stack.deliver(stack.put("in/a.csv", CSV_A), stack.put("in/b.csv", CSV_B))

    assert stack.rows(table) == EXPECTED
    assert stack.rows(audit) == [("post", 4), ("pre", 1)]


def test_a_loaded_batch_is_announced_on_the_default_success_topic(stack: Stack) -> None:
    # GIVEN no success topic on the prefix, but a loader-wide default one
    session = stack.env.session
    topic = session.client("sns").create_topic(Name="loader-success")["TopicArn"]
    sqs = session.client("sqs")
    queue = sqs.create_queue(QueueName="success-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    stack.env.deps.settings = dataclasses.replace(
        stack.env.deps.settings, default_success_topic_arn=topic
    )
    table = stack.table("id int, name varchar(10)")
    stack.config(stack.target("postgres", table))

    stack.deliver(stack.put("in/a.csv", CSV_A), stack.put("in/b.csv", CSV_B))

    [received] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(received["Body"])
    document = json.loads(envelope["Message"])
    batch = stack.batch(BatchStatus.COMPLETE)
    assert envelope["Subject"] == (
        f"[s3-redshift-loader] LOADED: 2 files for landing-bucket/in (batch {batch.batch_id})"
    )
    assert document["status"] == "complete"
    assert document["targets"] == [
        {
            "name": "warehouse",
            "type": "postgres",
            "status": "loaded",
            "rows": 4,
            "attempts": 1,
            "error": None,
        }
    ]
    assert document["error_rows"] == [] and document["failed_manifest"] is None
    assert stack.failure_messages() == []
