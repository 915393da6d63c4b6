"""Fixtures shared by every layer: AWS credentials that can never reach a real account, and a
loader wired to in-process moto."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from local_aws import moto_patches
from support.aws import Env, provision

moto_patches.apply()  # moto's transactions copy whole tables; ours touch only their items


def pytest_configure(config: pytest.Config) -> None:
    # Every AWS call the suite makes, checked against the stack's IAM policies at the end.
    from support import aws_calls

    aws_calls.register(config)


@pytest.fixture(autouse=True)
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # loader-admin turns metrics off in its process; each test starts with them on again
        "POWERTOOLS_METRICS_DISABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def env(aws: boto3.Session) -> Env:
    return Env(aws, provision(aws))
