"""loader-admin config: put/validate/show/list/delete, explain, targets and the wizard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from config.models import PrefixConfig
from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import BUCKET, MANIFEST_BUCKET, Env, make_config

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "config" / "examples").glob("*.yaml"))


@pytest.fixture
def run(env: Env):
    def invoke(*args: str, input: str | None = None) -> Result:
        obj = Cli(session=env.session, settings=env.settings, clock=env.clock)
        return CliRunner().invoke(app, list(args), obj=obj, input=input)

    return invoke


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write(tmp_path: Path, raw: Any, name: str = "config.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def raw_config(prefix: str = f"{BUCKET}/events", **overrides: Any) -> dict[str, Any]:
    return make_config(prefix, **overrides).model_dump(mode="json")


def stored(env: Env) -> dict[str, PrefixConfig]:
    return {c.prefix: c for c in env.deps.configs.current(env.clock()).valid}


# --- put, validate, show, list, delete --------------------------------------------------------


def test_every_example_validates_and_reads_back_from_show(env: Env, run, tmp_path) -> None:
    assert len(EXAMPLES) >= 6
    for example in EXAMPLES:
        expected = PrefixConfig.model_validate(yaml.safe_load(example.read_text()))
        assert run("config", "validate", str(example)).exit_code == 0, example

        put = run("config", "put", str(example))
        shown = run("config", "show", expected.prefix)
        again = run("config", "put", write(tmp_path, yaml.safe_load(shown.stdout)))

        assert put.exit_code == 0 and again.exit_code == 0, again.output
        assert stored(env)[expected.prefix] == expected, example


def test_config_put_rejects_a_bad_file_naming_every_offending_field(env: Env, run, tmp_path):
    raw = raw_config()
    raw["thresholds"] = {}
    raw["targets"][0]["table"] = "a.b.c"

    result = run("config", "put", write(tmp_path, raw))

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "thresholds: set at least one of" in result.stderr
    assert "targets.0.postgres.table: expected 'table' or 'schema.table'" in result.stderr
    assert stored(env) == {}


def test_config_put_refuses_what_only_the_load_would_find_out(env: Env, run, tmp_path) -> None:
    # Parquet cannot be streamed into a PostgreSQL target: say so now, not at COPY time.
    raw = raw_config()
    raw["copy_options"] = {"format": {"type": "parquet"}}

    result = run("config", "put", write(tmp_path, raw))

    assert result.exit_code == 1
    assert "format parquet cannot be loaded into PostgreSQL" in result.stderr
    assert stored(env) == {}


def test_config_validate_refuses_a_column_type_postgresql_lacks(run, tmp_path) -> None:
    # GIVEN a PostgreSQL target asked to create a table with a SUPER column
    raw = raw_config()
    raw["copy_options"] = {"format": {"type": "csv", "ignore_header_rows": 1}}
    raw["targets"][0] |= {
        "create_table": "if_missing",
        "table_columns": [{"name": "id", "type": "bigint"}, {"name": "doc", "type": "super"}],
        "schema_evolution": "add_columns",
    }

    result = run("config", "validate", write(tmp_path, raw))

    # THEN refused before any load, naming the column and why
    assert result.exit_code == 1
    assert "table_columns 'doc': SUPER has no PostgreSQL counterpart" in result.stderr
    raw["targets"][0]["table_columns"][1]["type"] = "varchar(max)"
    assert run("config", "validate", write(tmp_path, raw)).exit_code == 0


def test_config_put_takes_several_documents_and_reports_created_or_updated(env, run, tmp_path):
    first = write(tmp_path, raw_config(), "one.yaml")
    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump_all([raw_config(), raw_config(f"{BUCKET}/other", paused=True)]))

    run("config", "put", first)
    actions = as_json(run("config", "put", str(both), "-o", "json"))

    assert actions == [
        {"prefix": f"{BUCKET}/events", "action": "updated"},
        {"prefix": f"{BUCKET}/other", "action": "created"},
    ]
    assert stored(env)[f"{BUCKET}/other"].paused


def test_config_list_shows_valid_and_invalid_configurations(env: Env, run) -> None:
    env.put_config(make_config())
    env.session.client("dynamodb").put_item(
        TableName=env.settings.tables.config,
        Item={"prefix": {"S": f"{BUCKET}/broken"}, "config": {"S": '{"prefix": 1}'}},
    )

    listed = as_json(run("config", "list", "-o", "json"))
    human = run("config", "list")

    assert [(c["prefix"], c["valid"]) for c in listed] == [
        (f"{BUCKET}/events", True),
        (f"{BUCKET}/broken", False),
    ]
    assert listed[0]["config"]["targets"][0]["name"] == "local"
    assert human.exit_code == 0 and "INVALID" in human.stdout


def test_config_show_of_an_unknown_prefix_is_an_error(run) -> None:
    result = run("config", "show", "s3://nowhere/at-all")

    assert result.exit_code == 1 and "no configuration for prefix 'nowhere/at-all'" in result.stderr


def test_config_delete_confirms_unless_yes(env: Env, run) -> None:
    env.put_config(make_config())

    declined = run("config", "delete", f"{BUCKET}/events", input="n\n")
    assert declined.exit_code == 1 and f"{BUCKET}/events" in stored(env)

    accepted = run("config", "delete", f"s3://{BUCKET}/events/", "--yes")
    assert accepted.exit_code == 0 and stored(env) == {}


def test_an_invalid_stored_configuration_can_be_replaced_or_deleted(env: Env, run, tmp_path):
    table = env.settings.tables.config
    broken = {"prefix": {"S": f"{BUCKET}/events"}, "config": {"S": '{"prefix": 1}'}}
    ddb = env.session.client("dynamodb")
    ddb.put_item(TableName=table, Item=broken)

    replaced = as_json(run("config", "put", write(tmp_path, raw_config()), "-o", "json"))
    ddb.put_item(TableName=table, Item=broken)
    deleted = run("config", "delete", f"{BUCKET}/events", "--yes")

    assert replaced == [{"prefix": f"{BUCKET}/events", "action": "updated"}]
    assert deleted.exit_code == 0 and ddb.scan(TableName=table)["Items"] == []


# --- explain ----------------------------------------------------------------------------------


def test_explain_picks_the_longest_prefix_and_prints_its_copy_with_secrets_masked(
    env: Env, run
) -> None:
    env.put_config(make_config(f"{BUCKET}/events"))
    redshift = {
        "type": "redshift",
        "name": "warehouse",
        "host": "example.redshift.amazonaws.com",
        "cluster_identifier": "example",
        "user": "loader",
        "table": "raw.events",
        "copy_authorization": {
            "access_key_id": "AKIAEXAMPLEKEY123456",
            "encrypted_secret_access_key": "c2VjcmV0",
        },
    }
    env.put_config(
        make_config(
            f"{BUCKET}/events/dt=*",
            filename_filter=r".*\.csv\.gz",
            targets=[redshift],
            copy_options={"compression": "gzip", "format": {"type": "csv", "delimiter": "|"}},
        )
    )

    day = f"{BUCKET}/events/dt=2026-11-23"
    hit = as_json(run("config", "explain", f"s3://{day}/a.csv.gz", "-o", "json"))
    filtered = as_json(run("config", "explain", f"{day}/a.txt", "-o", "json"))
    nothing = as_json(run("config", "explain", f"s3://{BUCKET}/elsewhere/a.csv", "-o", "json"))

    assert hit["candidates"] == [f"{BUCKET}/events/dt=*", f"{BUCKET}/events"]
    assert hit["chosen"] == f"{BUCKET}/events/dt=*" and hit["verdict"].startswith("loaded by")
    [copy] = hit["statements"]["warehouse"]
    assert copy.startswith('COPY "raw"."events" FROM ')
    assert f"'s3://{MANIFEST_BUCKET}/manifests/" in copy and "MANIFEST" in copy
    assert "DELIMITER AS '|'" in copy and "GZIP" in copy
    assert "SECRET_ACCESS_KEY '***'" in copy and "PLACEHOLDER" not in copy
    assert filtered["passes_filter"] is False and filtered["verdict"].startswith("skipped")
    assert nothing["chosen"] is None and nothing["verdict"].startswith("ignored")
    human = run("config", "explain", f"s3://{BUCKET}/events/dt=1/a.csv.gz")
    assert human.exit_code == 0 and "target warehouse" in human.stdout


# --- targets ----------------------------------------------------------------------------------


def test_targets_are_added_from_a_file_and_removed_by_name(env: Env, run, tmp_path) -> None:
    env.put_config(make_config())
    second = {"type": "postgres", "name": "replica", "table": "public.events", "dsn": "host=x"}

    added = run("config", "target", "add", f"{BUCKET}/events", write(tmp_path, second))
    duplicate = run("config", "target", "add", f"{BUCKET}/events", write(tmp_path, second))
    removed = run("config", "target", "remove", f"{BUCKET}/events", "local", "--yes")
    last = run("config", "target", "remove", f"{BUCKET}/events", "replica", "--yes")

    assert added.exit_code == 0 and removed.exit_code == 0
    assert duplicate.exit_code == 1 and "unique" in duplicate.stderr
    assert last.exit_code == 1 and "needs a target" in last.stderr
    assert [t.name for t in stored(env)[f"{BUCKET}/events"].targets] == ["replica"]


# --- wizard -----------------------------------------------------------------------------------


def answers(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_the_wizard_asks_csv_questions_for_csv_and_stores_a_valid_config(env: Env, run) -> None:
    result = run(
        "config", "wizard", "--store",
        input=answers(
            f"{BUCKET}/sales", "",  # prefix, description
            "csv", ";", "1", "'",  # format, delimiter, header lines, quote
            "gzip", r".*\.csv\.gz",  # compression, name filter
            "50", "0", "600",  # thresholds
            MANIFEST_BUCKET, "manifests",
            "redshift", "warehouse", "sales.orders",
            "n", "example.redshift.amazonaws.com", "5439", "", "dev", "iam", "example", "loader",
            "",  # no COPY role: IAM_ROLE default
            "n",  # truncate
            "", "",  # topics
        ),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    config = stored(env)[f"{BUCKET}/sales"]
    fmt = config.copy_options.format
    assert (fmt.type, fmt.delimiter, fmt.ignore_header_rows, fmt.quote_char) == ("csv", ";", 1, "'")
    assert config.copy_options.compression == "gzip" and config.thresholds.max_files == 50
    assert config.targets[0].cluster_identifier == "example"


def test_the_wizard_skips_text_questions_for_parquet(env: Env, run, tmp_path) -> None:
    out_file = tmp_path / "parquet.yaml"
    result = run(
        "config", "wizard", "--file", str(out_file), "--no-store",
        input=answers(
            f"{BUCKET}/lake", "Parquet exports",
            "parquet", "",  # format; no delimiter, header or compression questions
            "0", "0", "900",
            MANIFEST_BUCKET, "manifests",
            "data_api", "serverless", "lake.t",
            "y", "dev", "secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            "analytics", "arn:aws:iam::123456789012:role/copy",
            "y", "", "",
        ),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "delimiter" not in result.output.lower() and "compression" not in result.output.lower()
    config = PrefixConfig.model_validate(yaml.safe_load(out_file.read_text()))
    assert config.copy_options.format.type == "parquet" and config.targets[0].truncate_before_load
    assert stored(env) == {}
