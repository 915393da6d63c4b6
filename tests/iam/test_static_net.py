"""The static net itself: who a call is attributed to, and that a call not granted is caught."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from support.aws_calls import ROOT, principal
from support.iam_actions import needed
from support.iam_check import not_granted


def _frame_in(path: str, name: str, body: str) -> Callable[..., Any]:
    """A function whose frames claim to be in `path` (relative to the project, or not)."""
    namespace: dict[str, Any] = {"principal": principal, "sys": sys}
    filename = str(ROOT / path) if not path.startswith("<") else path
    exec(compile(f"def {name}(chain, i):\n    {body}\n", filename, "exec"), namespace)
    return namespace[name]


def through(*places: str) -> str:
    """`principal` as botocore would see it, called from code in `places` ("path.py:function"),
    outermost first."""
    chain = [
        _frame_in(path, name or "step", "return chain[i + 1](chain, i + 1)")
        for path, _, name in (p.partition(":") for p in places)
    ]
    chain.append(_frame_in("<botocore>", "emit", "return principal(sys._getframe())"))
    return chain[0](chain, 0)


@pytest.mark.parametrize(
    ("places", "expected"),
    [
        (["tests/e2e/test_x.py", "loader/service.py:handle"], "function"),
        (["tests/x.py", "setup_cli/batch_cmd.py:flush", "loader/service.py"], "operator"),
        (["tests/x.py", "setup_cli/worker/loop.py:run", "loader/service.py"], "worker"),
        (["tests/x.py", "setup_cli/worker/sqs.py:receive"], "worker"),
        (["tests/x.py", "loader/admin.py:reprocess", "loader/adapters/batch_store.py"], "operator"),
        (["tests/x.py", "loader/adapters/config_store.py:put"], "operator"),
        (["tests/x.py", "loader/adapters/config_store.py:current"], "function"),
        (["tests/x.py", "redshift_standin/proxy.py:copy"], "test-setup"),
        (["setup_cli/local/stack.py:provision", "loader/tables.py:create_tables"], "test-setup"),
        (["tests/support/aws.py:provision"], "test-setup"),
    ],
)
def test_a_call_belongs_to_the_principal_whose_code_makes_it(
    places: list[str], expected: str
) -> None:
    assert through(*places) == expected


def row(who: str, service: str, operation: str, **params: Any) -> list[dict[str, str]]:
    return [
        {"principal": who, "action": a, "resource": r, "example": "test"}
        for a, r in needed(service, operation, params, "us-east-1", "123456789012")
    ]


def test_calls_the_policies_grant_pass_and_others_are_reported() -> None:
    files = "s3-redshift-loader-files"
    granted = [
        *row("function", "dynamodb", "BatchGetItem", RequestItems={files: {}}),
        *row("function", "sqs", "SendMessage", QueueUrl="https://q/123456789012/loader-flush"),
        *row("worker", "s3", "GetObject", Bucket="landing-bucket", Key="events/a.csv"),
        *row("operator", "dynamodb", "DeleteItem", TableName="s3-redshift-loader-config"),
        *row("test-setup", "dynamodb", "DeleteTable", TableName=files),  # never checked
    ]
    refused = [
        # the function never deletes, and writes objects only where the stack says
        *row("function", "dynamodb", "DeleteItem", TableName=files),
        *row("function", "s3", "PutObject", Bucket="landing-bucket", Key="events/a.csv"),
        # a versioned read needs s3:GetObjectVersion, which nobody holds yet
        *row("worker", "s3", "GetObject", Bucket="landing-bucket", Key="a", VersionId="v1"),
        *row("operator", "dynamodb", "DeleteTable", TableName=files),
    ]
    assert not_granted(granted) == []
    assert not_granted(refused) == refused
