"""loader-admin behaves like the tools data engineers already use (AWS CLI, sam): --version,
values printed as they are, ISO 8601 times in JSON, piped tables that never wrap, numbers
right-aligned, and messages in words rather than Python reprs."""

from __future__ import annotations

import json
import re
from typing import Any

from typer.testing import Result

from loader.events import parse_event
from loader.models import Batch, BatchStatus, TargetState
from loader.ports import LoadContext, LoadResult
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record

ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")
BRACKETED = "line 3 [amount]: Invalid digit, Value 'x', Pos 0, Type: Decimal"


class RejectingLoader:
    """A destination that rejects a row, its reason in brackets as Redshift writes it."""

    def load(
        self, config: Any, batch: Batch, manifest_url: str, context: LoadContext
    ) -> LoadResult:
        state = TargetState(status="failed", error=BRACKETED, attempts=1)
        context.record("local", state)
        return LoadResult(targets={"local": state}, error=f"local: {BRACKETED}")


def deliver(env: Env, *keys: str, loader: Any = None) -> None:
    records = [s3_record(BUCKET, key, size=10) for key in keys]
    env.service(loader=loader).handle(parse_event(s3_event(*records)))


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_version_prints_the_package_version(run) -> None:
    result = run("--version")

    assert result.exit_code == 0
    assert re.match(r"^loader-admin \d+\.\d+\.\d+\S* Python/3\.\d+", result.stdout)


def test_text_in_brackets_is_printed_as_it_is(env: Env, run) -> None:
    # Given a batch whose target rejected a row, the column named in brackets
    env.put_config(make_config(thresholds={"max_files": 1}))
    deliver(env, "events/a.csv", loader=RejectingLoader())
    [batch] = env.batches(BatchStatus.ERROR)

    # When people look at it
    shown = run("batch", "show", batch.batch_id)
    listed = run("batch", "list")

    # Then `[amount]` is there, in the header, the target row and the list
    assert shown.exit_code == 0 and listed.exit_code == 0, shown.output
    assert shown.stdout.count("line 3 [amount]: Invalid digit") == 2
    assert "line 3 [amount]: Invalid digit" in listed.stdout


def test_json_output_writes_times_in_iso_8601(env: Env, run, loader) -> None:
    env.put_config(make_config(thresholds={"max_files": 1}))
    deliver(env, "events/a.csv", loader=loader)

    [listed] = ok_json(run("batch", "list", "--status", "complete", "-o", "json"))
    shown = ok_json(run("batch", "show", listed["batch_id"], "-o", "json"))

    for key in ("created_at", "updated_at", "sealed_at", "completed_at", "first_file_at"):
        assert ISO_8601.match(listed[key]), (key, listed[key])
    assert ISO_8601.match(shown["updated_at"]) and shown["lease"] is None
    assert listed["created_at"] == "2027-01-15T08:00:00+00:00"  # the test clock, 1.8e9


def test_piped_tables_keep_each_row_on_one_line_and_right_align_numbers(env: Env, run) -> None:
    # Given a batch whose prefix makes a row far wider than 80 columns
    prefix = f"{BUCKET}/a-rather-long-folder-name/with-partitions/year=2026/month=11/day=23"
    env.put_config(make_config(prefix=prefix))
    deliver(env, "a-rather-long-folder-name/with-partitions/year=2026/month=11/day=23/x.csv")

    # When the table is piped (the test runner is not a terminal)
    lines = run("batch", "list").stdout.splitlines()

    # Then the row is one line, and its numbers end where their headers end
    [header] = [line for line in lines if "prefix" in line and "bytes" in line]
    [row] = [line for line in lines if prefix in line]
    assert "open" in row
    cells, titles = row.split("│"), header.split("┃")
    files, size = titles.index(" files "), None
    for index, title in enumerate(titles):
        if title.strip() == "bytes":
            size = index
    assert cells[files].endswith(" 1 ") and cells[files].startswith("    ")
    assert size is not None and cells[size].endswith(" 10 ") and cells[size].startswith("    ")


def test_messages_have_no_python_reprs(env: Env, run) -> None:
    env.put_config(make_config())
    s3 = env.session.client("s3")
    for name in ("a.csv", "b.csv"):
        s3.put_object(Bucket=BUCKET, Key=f"events/{name}", Body=b"1\n")
    env.session.client("dynamodb").put_item(
        TableName=env.settings.tables.config,
        Item={
            "prefix": {"S": f"{BUCKET}/bad"},
            "config": {"S": json.dumps({**_raw(f"{BUCKET}/bad"), "reupload": "bogus"})},
        },
    )

    delete = run("batch", "delete", "--status", "open")
    dry_run = run("file", "backfill", f"{BUCKET}/events", "--dry-run")
    status = run("status")

    assert delete.exit_code == 1 and "not open" in delete.output
    assert "['open']" not in delete.output
    assert "2 file(s) would be registered" in dry_run.output and "{" not in dry_run.output
    assert status.exit_code == 3
    assert f"invalid configuration {BUCKET}/bad: reupload" in status.output
    for internal in ("Value error", "input_value", "errors.pydantic.dev", "validation error for"):
        assert internal not in status.output


def _raw(prefix: str) -> dict[str, Any]:
    return make_config(prefix=prefix).model_dump(mode="json", exclude_none=True)
