"""What IAM authorises for one AWS API call: (action, resource ARN) pairs, from the call's own
parameters, as the service authorisation reference describes them.

One table per service; an operation missing from the tables is named in the report (as
`service:Operation` on "?") so a new call cannot slip through unmapped. Extend it when the code
starts calling something new (e.g. `VersionId` reads map to `s3:GetObjectVersion` already).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Grant = tuple[str, str]
"""("service:Action", "arn:..." or "*")."""

UNMAPPED = "?"


def needed(
    service: str, operation: str, params: dict[str, Any], region: str, account: str
) -> list[Grant]:
    """The (action, resource) pairs IAM checks for this call."""
    rule = _RULES.get(service)
    if rule is None:
        return [(f"{service}:{operation}", UNMAPPED)]
    return rule(operation, params, _Arns(region, account))


class _Arns:
    def __init__(self, region: str, account: str) -> None:
        self.region, self.account = region, account

    def of(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        r = self.region if region else ""
        a = self.account if account else ""
        return f"arn:aws:{service}:{r}:{a}:{resource}"


# --- DynamoDB ------------------------------------------------------------------------------------
# Transactions and batches are authorised per item with the single-item action.
_TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _dynamodb(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    def table(name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            return name
        suffix = f"/index/{index}" if index else ""
        return arns.of("dynamodb", f"table/{name}{suffix}")

    if operation in ("TransactWriteItems", "TransactGetItems"):
        grants = []
        for item in params.get("TransactItems", []):
            ((kind, body),) = item.items()
            grants.append((f"dynamodb:{_TRANSACT_ITEM_ACTIONS[kind]}", table(body["TableName"])))
        return grants
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table(name)) for name in params.get("RequestItems", {})]
    if "TableName" in params:
        return [(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    return [(f"dynamodb:{operation}", "*")]  # ListTables and friends have no resource


# --- S3 ------------------------------------------------------------------------------------------
# Operation -> action when it differs from the operation's name; object-level unless in _BUCKET.
_S3_OBJECT = {
    "HeadObject": "GetObject",
    "CopyObject": "PutObject",
    "UploadPartCopy": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "DeleteObjects": "DeleteObject",
}
_S3_VERSIONED = {
    "GetObject": "GetObjectVersion",
    "HeadObject": "GetObjectVersion",
    "GetObjectTagging": "GetObjectVersionTagging",
    "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObject": "DeleteObjectVersion",
}
_S3_BUCKET = {
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "CreateBucket": "CreateBucket",
    "DeleteBucket": "DeleteBucket",
    "GetBucketLocation": "GetBucketLocation",
    "PutBucketVersioning": "PutBucketVersioning",
    "GetBucketVersioning": "GetBucketVersioning",
    "PutBucketPolicy": "PutBucketPolicy",
}


def _s3(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    bucket = params.get("Bucket", "*")
    if operation in _S3_BUCKET:
        return [(f"s3:{_S3_BUCKET[operation]}", f"arn:aws:s3:::{bucket}")]
    if operation == "ListBuckets":
        return [("s3:ListAllMyBuckets", "*")]
    if operation == "DeleteObjects":
        keys = [o["Key"] for o in params.get("Delete", {}).get("Objects", [])]
        return [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k}") for k in keys]
    action = _S3_OBJECT.get(operation, operation)
    if params.get("VersionId") and operation in _S3_VERSIONED:
        action = _S3_VERSIONED[operation]
    grants = [(f"s3:{action}", f"arn:aws:s3:::{bucket}/{params.get('Key', '*')}")]
    source = params.get("CopySource")
    if source:  # a copy also reads its source
        if isinstance(source, str):
            path, _, query = source.lstrip("/").partition("?versionId=")
            src_bucket, _, src_key = path.partition("/")
            version = query or None
        else:
            src_bucket, src_key, version = source["Bucket"], source["Key"], source.get("VersionId")
        read = "s3:GetObjectVersion" if version else "s3:GetObject"
        grants.append((read, f"arn:aws:s3:::{src_bucket}/{src_key}"))
    return grants


# --- SQS, SNS, EventBridge -----------------------------------------------------------------------
_SQS_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    action = f"sqs:{_SQS_BATCH.get(operation, operation)}"
    if "QueueUrl" in params:
        name = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
    elif "QueueName" in params:
        name = params["QueueName"]
    else:
        return [(action, "*")]  # ListQueues
    return [(action, arns.of("sqs", name))]


def _sns(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    if operation == "CreateTopic":
        return [("sns:CreateTopic", arns.of("sns", params["Name"]))]
    arn = params.get("TopicArn") or params.get("SubscriptionArn", "").rsplit(":", 1)[0] or "*"
    return [(f"sns:{operation}", arn)]


def _events(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    def bus(name: str | None) -> str:
        name = name or "default"
        return name if name.startswith("arn:") else arns.of("events", f"event-bus/{name}")

    if operation == "PutEvents":
        buses = {bus(e.get("EventBusName")) for e in params.get("Entries", [])}
        return [("events:PutEvents", b) for b in sorted(buses)]
    if operation in ("PutRule", "PutTargets", "DeleteRule", "RemoveTargets", "DescribeRule"):
        rule = params.get("Name") or params.get("Rule", "*")
        name = params.get("EventBusName")
        path = f"rule/{name}/{rule}" if name and name != "default" else f"rule/{rule}"
        return [(f"events:{operation}", arns.of("events", path))]
    if "Name" in params:
        return [(f"events:{operation}", bus(params["Name"]))]
    return [(f"events:{operation}", "*")]


# --- credentials and targets ---------------------------------------------------------------------
def _secretsmanager(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    secret = params.get("SecretId") or params.get("Name") or "*"
    if not secret.startswith("arn:") and secret != "*":
        secret = arns.of("secretsmanager", f"secret:{secret}-??????")
    return [(f"secretsmanager:{operation}", secret)]


def _kms(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    key = params.get("KeyId")
    if key is None and operation == "Decrypt":
        # moto's ciphertext starts with the key id (36 characters); AWS authorises Decrypt on
        # the key the ciphertext names.
        blob = params.get("CiphertextBlob") or b""
        key = bytes(blob[:36]).decode("ascii", "replace") if len(blob) > 36 else None
    if key is None:
        return [(f"kms:{operation}", "*")]
    if key.startswith("alias/"):
        key = _aliased_key(key, arns) or key
    if not key.startswith("arn:"):
        key = arns.of("kms", key if key.startswith("alias/") else f"key/{key}")
    return [(f"kms:{operation}", key)]


def _aliased_key(alias: str, arns: _Arns) -> str | None:
    """IAM authorises a call by alias on the key behind it; ask moto (in-process) which."""
    try:
        from moto.kms.models import kms_backends

        return kms_backends[arns.account][arns.region].get_key_id_from_alias(alias)
    except Exception:
        return None


def _redshift(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    cluster = params.get("ClusterIdentifier", "*")
    grants: list[Grant] = []
    if operation == "GetClusterCredentials":
        grants.append(
            (f"redshift:{operation}", arns.of("redshift", f"dbuser:{cluster}/{params['DbUser']}"))
        )
    if operation in ("GetClusterCredentials", "GetClusterCredentialsWithIAM") and params.get(
        "DbName"
    ):
        grants.append(
            (f"redshift:{operation}", arns.of("redshift", f"dbname:{cluster}/{params['DbName']}"))
        )
    if not grants:
        resource = arns.of("redshift", f"cluster:{cluster}") if cluster != "*" else "*"
        grants.append((f"redshift:{operation}", resource))
    return grants


def _redshift_serverless(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    # The workgroup ARN ends in the workgroup's id, which the call does not carry; the recorder
    # names it by workgroup name instead, and the check grants it by name (see iam_check).
    name = params.get("workgroupName", "*")
    return [
        (f"redshift-serverless:{operation}", arns.of("redshift-serverless", f"workgroup/{name}"))
    ]


def _redshift_data(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    action = f"redshift-data:{operation}"
    if operation not in ("ExecuteStatement", "BatchExecuteStatement"):
        return [(action, "*")]  # statement-level calls have no resource type
    if params.get("WorkgroupName"):
        name = params["WorkgroupName"]
        return [(action, arns.of("redshift-serverless", f"workgroup/{name}"))]
    cluster = params.get("ClusterIdentifier", "*")
    grants = [(action, arns.of("redshift", f"cluster:{cluster}"))]
    # The Data API gets the caller's database login with the caller's own permissions:
    # temporary credentials for DbUser, or the secret.
    if params.get("DbUser"):
        login = {"ClusterIdentifier": cluster, "DbUser": params["DbUser"]}
        if params.get("Database"):
            login["DbName"] = params["Database"]
        grants += _redshift("GetClusterCredentials", login, arns)
    if params.get("SecretArn"):
        grants.append(("secretsmanager:GetSecretValue", params["SecretArn"]))
    return grants


def _sts(operation: str, params: dict[str, Any], arns: _Arns) -> list[Grant]:
    if operation == "GetCallerIdentity":
        return []  # always allowed
    return [(f"sts:{operation}", params.get("RoleArn", "*"))]


def _by_name(prefix: str) -> Callable[[str, dict[str, Any], _Arns], list[Grant]]:
    return lambda operation, params, arns: [(f"{prefix}:{operation}", "*")]


_RULES: dict[str, Callable[[str, dict[str, Any], _Arns], list[Grant]]] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "sqs": _sqs,
    "sns": _sns,
    "events": _events,
    "secretsmanager": _secretsmanager,
    "kms": _kms,
    "redshift": _redshift,
    "redshift-serverless": _redshift_serverless,
    "redshift-data": _redshift_data,
    "sts": _sts,
    "iam": _by_name("iam"),
    "logs": _by_name("logs"),
    "cloudwatch": _by_name("cloudwatch"),
    "lambda": _by_name("lambda"),
    "cloudformation": _by_name("cloudformation"),
}
