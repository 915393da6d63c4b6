"""The Lambda's flows, run under the stack's own role with IAM enforced (world.py), and each
action the role grants shown necessary: without it, a flow that needs it fails on a refusal.

Not exercised here, on purpose (EXEMPT): permissions that AWS services use on the function's
behalf, or that moto cannot show (see each reason). The static net (tests/support/aws_calls.py)
checks every call of the whole suite against the role in addition.
"""

from __future__ import annotations

import pytest
from iam.conftest import Account
from iam.flows import FLOWS

# Action -> why no flow here can show it is needed.
EXEMPT = {
    "logs:CreateLogStream": "Lambda's runtime writes the function's logs, not the code",
    "logs:PutLogEvents": "Lambda's runtime writes the function's logs, not the code",
    "kms:GenerateDataKey": "S3 asks KMS when writing to an SSE-KMS bucket; moto's S3 does not",
    "redshift:GetClusterCredentialsWithIAM": "only for targets without a user; no flow here",
    "redshift-data:CancelStatement": "only when a statement outlives its deadline; no flow here",
}

# Action -> the flow that needs it (the removal test proves each pairing).
NEEDS = {
    "dynamodb:GetItem": "register-direct",
    "dynamodb:BatchGetItem": "reconcile",
    "dynamodb:PutItem": "register-direct",
    "dynamodb:UpdateItem": "register-direct",
    "dynamodb:DeleteItem": "fix-and-reprocess",
    "dynamodb:Query": "timer-and-sweep",
    "dynamodb:Scan": "register-direct",
    "sqs:ReceiveMessage": "queue-consumer",
    "sqs:DeleteMessage": "queue-consumer",
    "sqs:ChangeMessageVisibility": "queue-consumer",
    "sqs:GetQueueAttributes": "queue-consumer",
    "sqs:SendMessage": "register-direct",
    "sns:Publish": "load-postgres",
    "events:PutEvents": "load-postgres",
    "s3:GetObject": "load-postgres",
    "s3:PutObject": "load-postgres",
    "s3:ListBucket": "reconcile",
    "s3:AbortMultipartUpload": "manifest-upload-fails",
    "s3:GetObjectTagging": "after-load-tag",
    "s3:PutObjectTagging": "after-load-tag",
    "s3:DeleteObject": "after-load-delete",
    "redshift:GetClusterCredentials": "load-cluster-credentials",
    "redshift-serverless:GetCredentials": "load-serverless-credentials",
    "redshift-data:ExecuteStatement": "load-data-api",
    "redshift-data:BatchExecuteStatement": "load-data-api",
    "redshift-data:DescribeStatement": "load-data-api",
    "redshift-data:GetStatementResult": "load-data-api",
    "secretsmanager:GetSecretValue": "load-secret",
    "kms:Decrypt": "load-kms",
}


def granted(account: Account) -> set[str]:
    return {a for s in account.world.stack.concrete_statements("LoaderRole") for a in s["Action"]}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_the_flow_works_under_the_stacks_role(account: Account, name: str) -> None:
    role = account.world.role()
    FLOWS[name](account, role)
    assert role.denials.actions == []


def test_every_granted_action_is_needed_by_a_flow_or_exempt_with_a_reason(
    account: Account,
) -> None:
    assert granted(account) == set(NEEDS) | set(EXEMPT)


@pytest.mark.parametrize("action", sorted(NEEDS))
def test_without_the_action_its_flow_fails_on_a_refusal(account: Account, action: str) -> None:
    role = account.world.role(without=action)
    with pytest.raises(Exception):  # noqa: B017 - any failure; the refusal is checked below
        FLOWS[NEEDS[action]](account, role)
    assert action in role.denials.actions
