"""Recorded AWS calls against the policies of the principals that make them.

The policies come from template.yaml, rendered for `SUITE_PARAMETERS`: the stack a deployer
would create for the world the tests build (its buckets, its Redshift ARNs, ...). The tests use
shorter physical names for some stack resources (a flush queue `loader-flush`); `SUITE_RENAMES`
maps each of them to the stack resource it stands for, so a call on it is checked against what
the stack grants on that resource, and nothing else.

Matching is IAM's for Allow statements: action and resource patterns with `*` and `?`. Moto's
own enforcement (tests/iam) cannot check resources for most services and ignores conditions; this
check does resources. Conditions are not evaluated here either: a statement with a Condition
counts as granting (the only one, DataApiOwnStatements, limits statement-level Data API calls
to the caller's own statements, which every recorded call is).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from support.template import Stack, transformed

REGION, ACCOUNT = "us-east-1", "123456789012"


def arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


# The world the suite builds, as stack parameters. Account-wide patterns stand for the ARN lists
# a deployer names resource by resource (each test creates secrets, keys, topics of its own).
SUITE_PARAMETERS = {
    "LoaderName": "s3-redshift-loader",  # loader/tables.py's default table names
    "SourceBuckets": ",".join(
        [
            "landing-bucket",
            "raw",
            "whole-bucket",
            "data",
            "s3-redshift-loader-local",
        ]
    ),
    "AfterLoadActions": "tag-and-delete",
    "ArchivePrefixes": ",".join(
        [
            "landing-bucket/archive",
        ]
    ),
    "ManifestBucket": "loader-manifests",
    "ExtraTopicArns": arn("sns", "*"),
    "RedshiftClusterArns": arn("redshift", "cluster:*"),
    "RedshiftDbUserArns": arn("redshift", "dbuser:*/*"),
    "RedshiftDbNameArns": arn("redshift", "dbname:*/*"),
    "RedshiftWorkgroupArns": arn("redshift-serverless", "workgroup/*"),
    "SecretArns": arn("secretsmanager", "secret:*"),
    "KmsKeyArns": arn("kms", "key/*"),
}

# The suite's stand-ins for stack resources: recorded resource (regex) -> the stack resource it
# stands for. Tests name queues and buses their own way; local mode's stack is "local-loader".
SUITE_RENAMES = [
    (r":sqs:([^:]+):(\d+):loader-flush$", r":sqs:\1:\2:s3-redshift-loader-flush"),
    (
        r":sqs:([^:]+):(\d+):(worker-[a-z]+|local-loader-notifications)$",
        r":sqs:\1:\2:s3-redshift-loader-notifications",
    ),
    (r":sqs:([^:]+):(\d+):local-loader-flush$", r":sqs:\1:\2:s3-redshift-loader-flush"),
    (r":table/local-loader-", ":table/s3-redshift-loader-"),
    # `tables create` / `status` with --*-table options (tests/functional/test_cli_status.py)
    (r":table/t-(config|batches|files)$", r":table/s3-redshift-loader-\1"),
    (r":table/mine$", ":table/s3-redshift-loader-config"),
    (r":event-bus/(loader-events|no-such-bus)$", ":event-bus/default"),
]

# Each principal's policy: the template resources whose statements it holds.
POLICIES = {
    "function": ["LoaderRole"],  # its inline policies and the attached LoaderAccessPolicy
    "worker": ["LoaderAccessPolicy"],  # docs/worker.md
    "operator": ["LoaderAccessPolicy", "OperatorPolicy"],  # docs/operations.md
}

Statement = dict[str, Any]


@cache
def suite_stack(region: str = REGION) -> Stack:
    """The suite's stack, deployed in `region` (tests of region selection work in another one:
    the operator's calls there are checked against a stack deployed there)."""
    return Stack(transformed(), **SUITE_PARAMETERS, **{"AWS::Region": region})


def policy(principal: str, stack: Stack | None = None) -> list[Statement]:
    """The concrete statements of a principal's policy in `stack` (the suite's by default)."""
    stack = stack or suite_stack()
    return [s for logical_id in POLICIES[principal] for s in stack.concrete_statements(logical_id)]


def region_of(resource: str) -> str:
    """The region an ARN names (its fourth field); the suite's for ARNs without one (S3)."""
    parts = resource.split(":")
    return parts[3] if len(parts) > 3 and parts[0] == "arn" and parts[3] else REGION


def renamed(resource: str) -> str:
    for pattern, replacement in SUITE_RENAMES:
        resource = re.sub(pattern, replacement, resource)
    return resource


def matches(pattern: str, value: str) -> bool:
    """IAM wildcard match: `*` any run, `?` one character; case-insensitive for actions."""
    return re.fullmatch(_glob(pattern), value) is not None


@cache
def _glob(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def allows(statements: list[Statement], action: str, resource: str) -> bool:
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        if not any(matches(a.lower(), action.lower()) for a in statement["Action"]):
            continue
        # A call whose resource only IAM knows ("*", e.g. a Data API statement id) needs a
        # statement on "*"; a concrete resource needs a matching pattern.
        if any(matches(r, resource) for r in statement["Resource"]):
            return True
    return False


def not_granted(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The recorded calls of a principal with a policy that its policy does not grant."""
    policies: dict[tuple[str, str], list[Statement]] = {}
    missing = []
    for row in rows:
        if row["principal"] not in ("function", "worker", "operator"):
            continue
        key = (row["principal"], region_of(row["resource"]))
        if key not in policies:
            policies[key] = policy(key[0], suite_stack(key[1]))
        if not allows(policies[key], row["action"], renamed(row["resource"])):
            missing.append(row)
    return missing
