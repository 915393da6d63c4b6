"""loader-admin status (exit 3 when something needs attention), tables create, and how
expected failures end: a message and an exit code, never a stack trace."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner, Result

from loader.admin import Operations
from loader.events import parse_event
from loader.service import LoaderService
from loader.tables import TABLE_DEFINITIONS, TableNames
from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import BUCKET, Env, make_config
from support.events import s3_event, s3_record
from support.fakes import RecordingLoader


@pytest.fixture
def run(env: Env):
    def invoke(*args: str) -> Result:
        obj = Cli(
            session=env.session,
            settings=env.settings,
            clock=env.clock,
            service_factory=lambda deps: Operations(LoaderService(deps, clock=env.clock)),
        )
        return CliRunner().invoke(app, list(args), obj=obj)

    return invoke


def deliver(env: Env, *keys: str, loader: RecordingLoader | None = None) -> None:
    records = [s3_record(BUCKET, key, size=10) for key in keys]
    env.service(loader=loader).handle(parse_event(s3_event(*records)))


def status(run) -> tuple[int, dict[str, Any]]:
    result = run("status", "-o", "json")
    return result.exit_code, json.loads(result.stdout)


# --- status -----------------------------------------------------------------------------------


def test_status_is_zero_when_all_is_well_and_shows_pending_files(env: Env, run) -> None:
    env.put_config(make_config(thresholds={"max_files": 2, "max_age_seconds": 600}))
    deliver(env, "events/a.csv", "events/b.csv", loader=RecordingLoader(env.session))
    deliver(env, "events/c.csv")
    env.clock.advance(60)

    code, report = status(run)

    assert code == 0 and report["needs_attention"] is False
    [prefix] = report["prefixes"]
    assert (prefix["open_files"], prefix["open_age_seconds"]) == (1, 60)
    assert prefix["last_load_at"] is not None and prefix["problems"] == []
    human = run("status")
    assert human.exit_code == 0 and f"{BUCKET}/events" in human.stdout


def test_a_failed_batch_needs_attention(env: Env, run) -> None:
    env.put_config(make_config(thresholds={"max_files": 1}))
    deliver(env, "events/a.csv", loader=RecordingLoader(env.session, "terminal"))

    code, report = status(run)

    assert code == 3 and report["prefixes"][0]["problems"] == ["1 batch(es) in error"]
    assert run("status").exit_code == 3


def test_an_expired_lease_needs_attention(env: Env, run) -> None:
    env.put_config(make_config(thresholds={"max_files": 1}))
    deliver(env, "events/a.csv", loader=RecordingLoader(env.session, "retryable"))
    code, report = status(run)  # leased and live, but waiting to retry after an error
    assert code == 3 and report["prefixes"][0]["expired_leases"] == 0

    env.clock.advance(env.settings.lease_seconds + 1)
    code, report = status(run)

    assert code == 3 and report["prefixes"][0]["expired_leases"] == 1


def test_an_open_batch_overdue_beyond_the_grace_period_needs_attention(env: Env, run) -> None:
    env.put_config(make_config(thresholds={"max_age_seconds": 60}))
    deliver(env, "events/a.csv")

    env.clock.advance(60 + 200)
    within_grace = status(run)[0]
    env.clock.advance(200)
    code, report = status(run)

    assert within_grace == 0 and code == 3
    assert report["prefixes"][0]["problems"][0].startswith("open batch overdue by")


def test_a_paused_prefix_is_not_overdue_but_an_invalid_config_needs_attention(env: Env, run):
    env.put_config(make_config(thresholds={"max_age_seconds": 60}, paused=True))
    deliver(env, "events/a.csv")
    env.clock.advance(3600)
    assert status(run)[0] == 0

    env.session.client("dynamodb").put_item(
        TableName=env.settings.tables.config,
        Item={"prefix": {"S": f"{BUCKET}/bad"}, "config": {"S": "{}"}},
    )
    code, report = status(run)

    assert code == 3 and f"{BUCKET}/bad" in report["invalid_configurations"]


# --- tables create ----------------------------------------------------------------------------


def test_tables_create_is_idempotent_and_uses_the_template_definitions(aws: boto3.Session) -> None:
    names = TableNames("t-config", "t-batches", "t-files")

    def create() -> Result:
        obj = Cli(session=aws, tables=names)
        return CliRunner().invoke(app, ["tables", "create", "-o", "json"], obj=obj)

    first, second = create(), create()

    assert json.loads(first.stdout)["created"] == ["t-config", "t-batches", "t-files"]
    assert json.loads(second.stdout) == {
        "created": [],
        "existing": ["t-config", "t-batches", "t-files"],
    }
    described = aws.client("dynamodb").describe_table(TableName="t-batches")["Table"]
    assert described["KeySchema"] == TABLE_DEFINITIONS["batches"]["KeySchema"]
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == {
        "by-status",
        "by-prefix",
    }


def test_table_names_come_from_options(aws: boto3.Session) -> None:
    result = CliRunner().invoke(
        app,
        ["--config-table", "mine", "tables", "create", "-o", "json"],
        obj=Cli(session=aws),
    )

    assert "mine" in json.loads(result.stdout)["created"]


# --- errors and exit codes --------------------------------------------------------------------


def test_missing_tables_give_a_message_and_exit_1_not_a_stack_trace(aws: boto3.Session) -> None:
    result = CliRunner().invoke(app, ["config", "list"], obj=Cli(session=aws))

    assert result.exit_code == 1
    assert "ResourceNotFoundException" in result.stderr and "tables create" in result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_usage_errors_exit_2(env: Env, run) -> None:
    assert run("batch", "list", "--status", "nonsense").exit_code == 2
    assert run("batch", "delete", "--older-than", "soon").exit_code == 2
    assert run("no-such-command").exit_code == 2


def test_every_command_has_help_with_an_example() -> None:
    commands = [
        ["config", "put"], ["config", "wizard"], ["config", "show"], ["config", "list"],
        ["config", "delete"], ["config", "validate"], ["config", "explain"],
        ["config", "target", "add"], ["config", "target", "remove"],
        ["config", "import-original"], ["tables", "create"], ["batch", "list"],
        ["batch", "show"], ["batch", "reprocess"], ["batch", "unlock"], ["batch", "delete"],
        ["batch", "flush"], ["file", "show"], ["file", "reprocess"], ["file", "backfill"],
        ["status"],
    ]  # fmt: skip
    for command in commands:
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.stdout and "loader-admin " in result.stdout, command


def test_without_local_mode_installed_local_is_a_hidden_stub(monkeypatch) -> None:
    import importlib.util

    import typer

    from setup_cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "setup_cli.local" else real(name, *a),
    )
    bare = typer.Typer(cls=main._Group)
    bare.command("status")(lambda: None)
    main._add_local(bare)

    result = CliRunner().invoke(bare, ["local", "up"])

    assert result.exit_code == 1 and "local mode is not installed" in result.stderr
    assert "local" not in CliRunner().invoke(bare, ["--help"]).stdout
