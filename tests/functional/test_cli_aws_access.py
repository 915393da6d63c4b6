"""loader-admin finds region, profile, endpoint and credentials as the AWS CLI v2 does, and
reaches the running local stack with one flag (`--local`) or one `eval` (`local env`).

Every test runs the real command with no injected session: what it reaches is what a user's
shell would reach.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner, Result

from loader.deps import Deps
from loader.settings import Settings
from loader.tables import TableNames, create_tables
from local_aws.moto_server import MotoServer
from setup_cli.local.stack import Resources, write_state
from setup_cli.main import app
from support.aws import make_config

ROOT = Path(__file__).resolve().parents[2]
LOADER_ADMIN = Path(sys.executable).with_name("loader-admin")
DEFAULT_TABLES = TableNames.from_env({})


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def listed(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [b["prefix"] for b in json.loads(result.stdout)]


@pytest.fixture
def only_in_eu_west_1(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The loader's tables exist in eu-west-1 only (in-process moto); no region in the env."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("LOADER_CONFIG_TABLE", "LOADER_BATCHES_TABLE", "LOADER_FILES_TABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    with mock_aws():
        create_tables(boto3.client("dynamodb", region_name="eu-west-1"), DEFAULT_TABLES)
        yield


def test_aws_region_alone_selects_the_region(only_in_eu_west_1, monkeypatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")

    assert listed(run("batch", "list", "-o", "json")) == []


def test_aws_region_wins_over_aws_default_region(only_in_eu_west_1, monkeypatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    assert listed(run("batch", "list", "-o", "json")) == []


def test_the_region_option_wins_over_the_environment(only_in_eu_west_1, monkeypatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    assert listed(run("--region", "eu-west-1", "batch", "list", "-o", "json")) == []
    assert run("batch", "list").exit_code == 1  # us-east-1 has no tables


def test_a_profiles_region_applies_when_the_environment_names_none(
    only_in_eu_west_1, monkeypatch, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[profile ops]\nregion = eu-west-1\n"
        "aws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))

    assert listed(run("--profile", "ops", "batch", "list", "-o", "json")) == []
    monkeypatch.setenv("AWS_PROFILE", "ops")
    assert listed(run("batch", "list", "-o", "json")) == []


def test_no_region_anywhere_is_one_clear_message(only_in_eu_west_1) -> None:
    result = run("batch", "list")

    assert result.exit_code == 1
    assert "no AWS region: use --region or AWS_REGION" in result.output
    assert "Traceback" not in result.output


# --- endpoints and the local stack ------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[MotoServer]:
    with MotoServer() as running:
        yield running


def _seed(endpoint: str, tables: TableNames) -> None:
    """The loader's tables at `endpoint`, one configuration and one file in an open batch."""
    session = boto3.Session(region_name="us-east-1")
    create_tables(session.client("dynamodb", endpoint_url=endpoint), tables)
    settings = Settings.from_env(
        {
            "LOADER_CONFIG_TABLE": tables.config,
            "LOADER_BATCHES_TABLE": tables.batches,
            "LOADER_FILES_TABLE": tables.files,
        }
    )
    deps = Deps(settings, session)
    deps._clients["dynamodb"] = session.client("dynamodb", endpoint_url=endpoint)
    config = make_config()
    deps.configs.put(config, 1_800_000_000.0)
    from loader.events import parse_event
    from loader.service import LoaderService
    from support.events import s3_event, s3_record

    event = parse_event(s3_event(s3_record("landing-bucket", "events/a.csv", size=10)))
    LoaderService(deps, clock=lambda: 1_800_000_000.0).handle(event)


def test_aws_endpoint_url_and_the_option_reach_that_endpoint(server, monkeypatch) -> None:
    _seed(server.endpoint, DEFAULT_TABLES)

    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    assert listed(run("batch", "list", "-o", "json")) == ["landing-bucket/events"]
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert listed(run("--endpoint-url", server.endpoint, "batch", "list", "-o", "json")) == [
        "landing-bucket/events"
    ]


def _local_state(data_dir: Path, endpoint: str) -> Resources:
    """A state file as `local up` writes it, for a stack whose AWS is `endpoint`."""
    tables = TableNames("local-loader-config", "local-loader-batches", "local-loader-files")
    _seed(endpoint, tables)
    resources = Resources(
        endpoint=endpoint,
        region="us-east-1",
        bucket="local-loader-landing",
        manifest_bucket="local-loader-manifests",
        prefixes={},
        tables={"config": tables.config, "batches": tables.batches, "files": tables.files},
        notification_queue_url=f"{endpoint}/123456789012/local-loader-notifications",
        flush_queue_url=f"{endpoint}/123456789012/local-loader-flush",
        outcomes_queue_url=f"{endpoint}/123456789012/local-loader-outcomes",
        success_topic_arn="arn:aws:sns:us-east-1:123456789012:local-loader-success",
        failure_topic_arn="arn:aws:sns:us-east-1:123456789012:local-loader-failure",
        secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:local-loader/redshift",
        redshift_dsn="host=127.0.0.1 port=1 dbname=postgres",
        postgres_dsn="host=127.0.0.1 port=1 dbname=postgres",
        target_tables=[],
        pid=os.getpid(),  # alive: this test process plays the stack
    )
    write_state(data_dir, resources)
    return resources


def test_local_flag_reaches_the_running_local_stack(server, tmp_path, monkeypatch) -> None:
    # Given a running local stack, and a shell with real-looking AWS settings of its own
    _local_state(tmp_path, server.endpoint)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_PROFILE", "production")

    # When the operator adds --local
    result = run("--local", "--local-dir", str(tmp_path), "batch", "list", "-o", "json")

    # Then it lists the local stack's batches, not those of any account
    assert listed(result) == ["landing-bucket/events"]


def test_local_flag_without_a_running_stack_says_how_to_start_one(tmp_path) -> None:
    result = run("--local", "--local-dir", str(tmp_path), "batch", "list")

    assert result.exit_code == 1
    assert "no local stack is running" in result.output and "make local" in result.output


def test_local_env_exports_point_a_shell_at_the_local_stack(server, tmp_path) -> None:
    # Given a running local stack
    _local_state(tmp_path, server.endpoint)
    shell_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOADER_"))} | {
        "AWS_PROFILE": "production",
        "AWS_REGION": "eu-west-1",
    }

    # When a shell evaluates `loader-admin local env`, then runs plain `loader-admin`
    script = (
        f'eval "$({LOADER_ADMIN} local env --data-dir {tmp_path})" && '
        f"{LOADER_ADMIN} batch list -o json"
    )
    done = subprocess.run(
        ["bash", "-c", script],
        check=False,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then it lists the local stack's batches
    assert done.returncode == 0, done.stderr
    assert [b["prefix"] for b in json.loads(done.stdout)] == ["landing-bucket/events"]
