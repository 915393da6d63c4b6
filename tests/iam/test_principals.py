"""The worker and loader-admin under their documented policies, IAM enforced (world.py).

The worker's task role holds LoaderAccessPolicy (docs/worker.md): it runs the very flows of the
function. An operator holds LoaderAccessPolicy + OperatorPolicy (docs/operations.md): every
command group is run below, and each OperatorPolicy action is shown necessary by removing it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from iam.conftest import Account
from iam.flows import FLOWS, Run, target
from iam.world import SOURCE_BUCKET, Role
from typer.testing import CliRunner, Result

from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import Clock

WORKER = ("LoaderAccessPolicy",)
OPERATOR = ("LoaderAccessPolicy", "OperatorPolicy")


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_the_worker_runs_every_flow_under_its_policy(account: Account, name: str) -> None:
    role = account.world.role(WORKER)
    FLOWS[name](account, role)
    assert role.denials.actions == []


def operator_session(account: Account, role: Role, tmp_path: Path) -> None:
    """Every command group of loader-admin, as an operator would run them, in order."""
    run = Run(account, role)  # for its prefix, table and the administrator's view
    table = run.table()
    world = account.world

    def admin_cli(*args: str, input: str | None = None) -> Result:
        obj = Cli(session=role.session, settings=world.settings(), clock=Clock(time.time()))
        result = CliRunner().invoke(app, list(args), obj=obj, input=input)
        assert result.exit_code == 0, f"{args}: {result.output} {result.exception!r}"
        return result

    config = tmp_path / f"{run.id}.json"
    raw = {
        "prefix": run.prefix,
        "thresholds": {"max_files": 100},
        "manifest": {"bucket": "loader-manifests"},
        "targets": [target("postgres", account, table)],
    }
    config.write_text(json.dumps(raw))
    admin_cli("tables", "create")
    admin_cli("config", "put", str(config))
    admin_cli("config", "show", run.prefix)
    _original_config_table(account)
    admin_cli("config", "import-original", "--dry-run")
    run.two_files()
    admin_cli("reconcile", run.prefix)
    admin_cli("batch", "flush", run.prefix)
    assert run.rows(table) == [(1, "a"), (2, "b"), (3, "c")]
    admin_cli("batch", "list")
    admin_cli("batch", "show", run.batch().batch_id)
    admin_cli("batch", "delete", "--prefix", run.prefix, "--execute", "--yes")
    queue_arn = world.name("NotificationQueue", "Arn")
    admin_cli("bucket", "wire", f"s3://{SOURCE_BUCKET}/in/{run.id}/", "--queue-arn", queue_arn)
    admin_cli("bucket", "show", SOURCE_BUCKET)
    admin_cli("kms", "encrypt", "-", "--key-id", account.key_id, input="secret")
    admin_cli("config", "delete", run.prefix, "--unwire", "--yes")


def _original_config_table(account: Account) -> None:
    """The original loader's configuration table, which `config import-original` reads."""
    ddb = account.admin.client("dynamodb")
    if "LambdaRedshiftBatchLoadConfig" not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName="LambdaRedshiftBatchLoadConfig",
            KeySchema=[{"AttributeName": "s3Prefix", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "s3Prefix", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_an_operator_runs_every_command_group_under_its_policies(
    account: Account, tmp_path: Path
) -> None:
    role = account.world.role(OPERATOR)
    operator_session(account, role, tmp_path)
    assert role.denials.actions == []


def operator_actions(account: Account) -> list[str]:
    return sorted(
        {a for s in account.world.stack.concrete_statements("OperatorPolicy") for a in s["Action"]}
    )


# `tables create` only creates (and then describes, and sets TTL on) tables that are missing:
# never the stack's, which CloudFormation created. Its own test (test_cli_status.py) runs it on
# missing tables, and the static net checks those calls against OperatorPolicy.
OPERATOR_EXEMPT = {"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTimeToLive"}
OPERATOR_NEEDS = [
    "dynamodb:ListTables",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:Scan",
    "dynamodb:BatchWriteItem",
    "s3:GetBucketNotification",
    "s3:PutBucketNotification",
    "kms:Encrypt",
]


def test_every_operator_action_is_exercised_or_exempt(account: Account) -> None:
    assert set(operator_actions(account)) == set(OPERATOR_NEEDS) | OPERATOR_EXEMPT


@pytest.mark.parametrize("action", OPERATOR_NEEDS)
def test_without_an_operator_action_a_command_fails_on_a_refusal(
    account: Account, tmp_path: Path, action: str
) -> None:
    role = account.world.role(OPERATOR, without=action)
    with pytest.raises(AssertionError):
        operator_session(account, role, tmp_path)
    assert action in role.denials.actions
