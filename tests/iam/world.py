"""One AWS account (moto, IAM enforced) holding the stack template.yaml creates, and the loader
running under the stack's own role.

- The template is rendered (samtranslator + support/template.py) for `parameters(...)`; the
  tables, queues, topics and buckets get the names the stack gives them.
- The role's statements go into moto IAM (inline policies, and LoaderAccessPolicy as a managed
  policy attached to it); the loader's session is an `AssumeRole` of it, so every call is signed
  with the role's credentials and moto authorises it (`settings.INITIAL_NO_AUTH_ACTION_COUNT`).
- moto's evaluator checks the action for every service, but the resource only for S3 and SQS
  (elsewhere it asks about "*"), and it cannot evaluate conditions. So the role given to moto
  keeps S3/SQS resources, widens the others to "*" and drops conditions, and a botocore hook on
  the role's session checks every call's resources with support/iam_check.py (`allows`) as well.
  The Data API and Redshift Serverless are not moto services here (the fake Data API, a stub
  for GetCredentials): the same check guards them.
- Setup and assertions use an administrator ("test-setup") of the same account.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin

from loader.deps import Deps
from loader.settings import Settings
from support.iam_actions import needed
from support.iam_check import allows
from support.template import Stack, transformed

REGION, ACCOUNT = "us-east-1", "123456789012"
SOURCE_BUCKET, MANIFEST_BUCKET = "landing-bucket", "loader-manifests"
ARCHIVE_PREFIX = f"{SOURCE_BUCKET}/archive"
MOTO_CHECKS_RESOURCES = ("s3", "sqs")


def arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


@contextmanager
def iam_enforced() -> Iterator[None]:
    """moto authorises every request from now on (signature, access key, policies)."""
    before = (moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = before


@contextmanager
def iam_relaxed() -> Iterator[None]:
    """Lambda assumes the role (trust: lambda.amazonaws.com); here the test does, unchecked."""
    before = (moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = before


# IAM authorises a DynamoDB transaction per item (PutItem, UpdateItem, ...); moto asks for an
# action named after the call. The item actions are still checked, by Role.check.
_MOTO_CALL_ACTIONS = {
    "dynamodb:TransactWriteItems": {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    },
    "dynamodb:TransactGetItems": {"dynamodb:GetItem"},
    "sqs:SendMessageBatch": {"sqs:SendMessage"},
    "sqs:DeleteMessageBatch": {"sqs:DeleteMessage"},
    "sqs:ChangeMessageVisibilityBatch": {"sqs:ChangeMessageVisibility"},
    # moto >= 5.2.6 asks S3 for the operation's name rather than its IAM action (HeadObject is
    # authorised by s3:GetObject, ListObjectsV2 by s3:ListBucket, ...; the IAM Service
    # Authorization Reference, "Actions defined by Amazon S3"). CopyObject: moto checks the
    # destination only, which s3:PutObject authorises; the source read is Role.check's.
    "s3:HeadObject": {"s3:GetObject"},
    "s3:CopyObject": {"s3:PutObject"},
    "s3:CreateMultipartUpload": {"s3:PutObject"},
    "s3:UploadPart": {"s3:PutObject"},
    "s3:CompleteMultipartUpload": {"s3:PutObject"},
    "s3:ListObjectsV2": {"s3:ListBucket"},
    "s3:ListObjects": {"s3:ListBucket"},
    "s3:GetBucketNotificationConfiguration": {"s3:GetBucketNotification"},
    "s3:PutBucketNotificationConfiguration": {"s3:PutBucketNotification"},
}


def for_moto(statement: dict[str, Any]) -> dict[str, Any]:
    """What moto can evaluate: resources kept where it checks them, conditions dropped."""
    out = {k: v for k, v in statement.items() if k not in ("Condition", "Sid")}
    extra = [call for call, items in _MOTO_CALL_ACTIONS.items() if items & set(out["Action"])]
    out["Action"] = [*out["Action"], *extra]
    services = {a.split(":", 1)[0] for a in statement["Action"]}
    if not services <= set(MOTO_CHECKS_RESOURCES):
        out["Resource"] = "*"
    return out


@dataclass
class Denials:
    """Actions refused to the role, by moto or by the resource check."""

    actions: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.actions.clear()


@dataclass
class Role:
    """The function's role as moto holds it, and a session that assumed it."""

    name: str
    statements: list[dict[str, Any]]
    session: boto3.Session
    denials: Denials

    def check(self, service: str, operation: str, params: dict[str, Any]) -> None:
        """The resource-level check moto cannot do; raises AccessDenied like IAM."""
        for action, resource in needed(service, operation, params, REGION, ACCOUNT):
            if not allows(self.statements, action, resource):
                self.denials.actions.append(action)
                raise ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": f"{action} on {resource}"}},
                    operation,
                )


class World:
    """The account: the stack's resources, an administrator, and roles made from the template."""

    def __init__(self, admin: boto3.Session, parameters: dict[str, str]) -> None:
        self.admin = admin
        self.stack = Stack(transformed(), **parameters)
        self.physical = self.stack.physical()
        self._roles = 0

    # --- the stack's resources ------------------------------------------------------------
    def name(self, logical_id: str, attribute: str = "Ref") -> str:
        return self.physical[logical_id][attribute]

    def settings(self) -> Settings:
        env = self.stack.concrete(
            self.stack.resources()["LoaderFunction"]["Properties"]["Environment"]["Variables"]
        )
        env["LOADER_CONFIG_TTL_SECONDS"] = "0"
        return Settings.from_env({k: str(v) for k, v in env.items()})

    # --- roles ----------------------------------------------------------------------------
    def role(
        self, policies: tuple[str, ...] = ("LoaderRole",), *, without: str | None = None
    ) -> Role:
        """A role holding the statements of the template's `policies` (LoaderRole: the function;
        LoaderAccessPolicy: the worker; plus OperatorPolicy: loader-admin), minus `without`."""
        self._roles += 1
        name = f"loader-role-{self._roles}"
        iam = self.admin.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]
        statements = []
        every = [s for p in policies for s in self.stack.concrete_statements(p)]
        for statement in every:
            actions = [a for a in statement["Action"] if a != without]
            if actions:
                statements.append({**statement, "Action": actions})
        document = {"Version": "2012-10-17", "Statement": [for_moto(s) for s in statements]}
        iam.put_role_policy(RoleName=name, PolicyName="stack", PolicyDocument=json.dumps(document))
        with iam_relaxed():
            credentials = self.admin.client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName="loader"
            )["Credentials"]
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
        role = Role(name, statements, session, Denials())

        def check(params: Any, model: Any, context: Any, **_: Any) -> None:
            context["iam_params"] = dict(params or {})
            role.check(model.service_model.service_name, model.name, dict(params or {}))

        def refused(parsed: Any, model: Any, context: Any, **_: Any) -> None:
            code = str(((parsed or {}).get("Error") or {}).get("Code", ""))
            if "AccessDenied" in code or code == "AuthorizationError":
                params = (context or {}).get("iam_params", {})
                for action, _resource in needed(
                    model.service_model.service_name, model.name, params, REGION, ACCOUNT
                ):
                    role.denials.actions.append(action)

        session.events.register("before-parameter-build", check)
        session.events.register("after-call", refused)
        return role

    def deps(self, role: Role, **clients: Any) -> Deps:
        deps = Deps(self.settings(), role.session)
        for service, client in clients.items():
            deps._clients[service.replace("_", "-")] = Guarded(client, service, role)
        return deps


class Guarded:
    """A stand-in client (fake Data API, Serverless stub) behind the role's resource check."""

    _OPERATIONS = {
        "execute_statement": "ExecuteStatement",
        "batch_execute_statement": "BatchExecuteStatement",
        "describe_statement": "DescribeStatement",
        "get_statement_result": "GetStatementResult",
        "cancel_statement": "CancelStatement",
        "get_credentials": "GetCredentials",
    }

    def __init__(self, client: Any, service: str, role: Role) -> None:
        self._client, self._service, self._role = client, service.replace("_", "-"), role

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        operation = self._OPERATIONS.get(name)
        if operation is None:
            return target

        def call(**kwargs: Any) -> Any:
            self._role.check(self._service, operation, kwargs)
            return target(**kwargs)

        return call


class ServerlessStub:
    """redshift-serverless GetCredentials (moto has no Redshift Serverless): a fixed user."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.calls: list[dict[str, Any]] = []

    def get_credentials(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"dbUser": self.user, "dbPassword": "temporary"}


Flow = Callable[[Deps], None]
