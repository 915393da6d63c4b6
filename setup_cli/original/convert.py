"""`config import-original`: the original loader's `LambdaRedshiftBatchLoadConfig` items as
`PrefixConfig`s, with a note for everything that changed meaning or could not be carried over.

Field names and types follow the original (see its setup.js / config.json): camelCase
attributes, `loadClusters` a list of maps, numbers as N (or S when updateConfig.js wrote them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from config.copy_options import convert_original
from config.models import PrefixConfig
from config.targets import CopyAuthorization
from setup_cli.output import validation_lines

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ORIGINAL_TABLE = "LambdaRedshiftBatchLoadConfig"
MAX_AGE = 7 * 24 * 3600

# Runtime state of the original, meaningless here.
_STATE = {"currentBatch", "lastBatchRotation", "version", "lastUpdate", "status"}
_PREFIX_FIELDS = {
    "s3Prefix",
    "filenameFilterRegex",
    "dataFormat",
    "csvDelimiter",
    "ignoreCsvHeader",
    "jsonPath",
    "compression",
    "copyOptions",
    "manifestBucket",
    "manifestKey",
    "failedManifestKey",
    "accessKeyForS3",
    "secretKeyForS3",
    "masterSymmetricKey",
    "successTopicARN",
    "failureTopicARN",
    "batchSize",
    "batchSizeBytes",
    "batchTimeoutSecs",
    "loadClusters",
}
_CLUSTER_FIELDS = {
    "clusterEndpoint",
    "clusterPort",
    "useSSL",
    "clusterDB",
    "connectUser",
    "connectPassword",
    "targetTable",
    "columnList",
    "truncateTarget",
    "presql",
    "postsql",
}
# Pattern text that may match a '/' or refer to the start of the key: not exact on a file name.
_NOT_NAME_LOCAL = re.compile(r"/|\^|\\[WSDBA]|\[\^|(?<!\\)\.")


@dataclass
class Conversion:
    prefix: str
    config: PrefixConfig | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def read_items(client: DynamoDBClient, table: str) -> Iterator[dict[str, Any]]:
    """Every item of the original's configuration table, decoded to plain values."""
    from loader.adapters.codec import decode

    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            yield decode(item)  # type: ignore[arg-type]


def convert_item(item: Mapping[str, Any]) -> Conversion:
    result = Conversion(prefix=str(item.get("s3Prefix", "?")))
    notes = result.notes
    try:
        options, copy_notes = convert_original(item)
        notes += copy_notes
        raw = {
            "prefix": result.prefix,
            "description": f"imported from {ORIGINAL_TABLE}",
            "filename_filter": _filter(item.get("filenameFilterRegex"), notes),
            "thresholds": _thresholds(item, notes),
            "manifest": _manifest(item, notes),
            "notifications": _topics(item, notes),
            "targets": _targets(item, notes),
            "copy_options": options.model_dump(),
        }
        result.config = PrefixConfig.model_validate(raw)
    except ValidationError as exc:
        result.error = "; ".join(validation_lines(exc))
    except (ValueError, TypeError) as exc:
        result.error = str(exc)
    unknown = sorted(set(item) - _PREFIX_FIELDS - _STATE - _CLUSTER_FIELDS)
    if unknown:
        notes.append(f"not converted (unknown to the original's loader): {', '.join(unknown)}")
    return result


def convert_filter(pattern: str) -> tuple[str | None, str | None]:
    """Original: a JavaScript regex *searched* anywhere in the object key. Here: a Python regex
    that must match the whole file name. Returns (pattern, note when not exactly equivalent)."""
    python = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)  # JS named groups
    try:
        re.compile(python)
    except re.error as exc:
        return None, (
            f"filenameFilterRegex {pattern!r} is not a valid regex ({exc}); the original let every "
            "file through, so no filter was set"
        )
    core = python.removeprefix("^.*").removeprefix(".*")
    if core.endswith(".*") and not core.endswith("\\.*"):
        core = core[:-2]
    anchored = core.endswith("$") and not core.endswith("\\$") and "|" not in core
    body = core[:-1] if anchored else core
    converted = f".*(?:{body})" + ("" if anchored else ".*") if body else None
    if _NOT_NAME_LOCAL.search(body):
        return converted, (
            f"filenameFilterRegex {pattern!r} refers to '/', the start of the key or characters "
            f"that may match '/': converted to {converted!r} on the file name; review it"
        )
    if not anchored and body:
        return converted, (
            f"filenameFilterRegex {pattern!r} was searched in the whole key, so the original also "
            f"accepted it in folder names; now {converted!r} on the file name only"
        )
    return converted, None


def _filter(value: Any, notes: list[str]) -> str | None:
    if not value:
        return None
    converted, note = convert_filter(str(value))
    if note:
        notes.append(note)
    return converted


def _int(item: Mapping[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value in (None, ""):
        return None
    return int(str(value).strip())


def _thresholds(item: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    age = _int(item, "batchTimeoutSecs")
    if age is not None and age > MAX_AGE:
        notes.append(f"batchTimeoutSecs {age} capped to {MAX_AGE} (7 days)")
        age = MAX_AGE
    if age is not None:
        notes.append("batchTimeoutSecs now seals on time even when no new file arrives")
    return {
        "max_files": _int(item, "batchSize"),
        "max_bytes": _int(item, "batchSizeBytes"),
        "max_age_seconds": age,
    }


def _manifest(item: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    prefix = str(item.get("manifestKey") or "manifests").strip("/")
    failed = str(item.get("failedManifestKey") or "").strip("/")
    if not failed or failed == prefix:
        failed = f"{prefix}-failed"
        notes.append(f"failedManifestKey missing or equal to manifestKey: using {failed!r}")
    return {"bucket": item.get("manifestBucket"), "prefix": prefix, "failed_prefix": failed}


def _topics(item: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    if item.get("successTopicARN"):
        notes.append("successTopicARN now receives successes only (the original sent failures too)")
    return {
        "success_topic_arn": item.get("successTopicARN") or None,
        "failure_topic_arn": item.get("failureTopicARN") or None,
    }


def _targets(item: Mapping[str, Any], notes: list[str]) -> list[dict[str, Any]]:
    clusters = list(item.get("loadClusters") or [])
    if not clusters and item.get("clusterEndpoint"):
        clusters = [{k: item[k] for k in _CLUSTER_FIELDS if k in item}]  # the 1.x flat shape
        notes.append("1.x flat cluster fields converted to one target")
    auth = _copy_authorization(item, notes)
    targets, used = [], set()
    for cluster in clusters:
        name = _target_name(str(cluster.get("clusterEndpoint", "cluster")), used)
        targets.append(_target(cluster, name, auth, notes))
    return targets


def _target(
    cluster: Mapping[str, Any], name: str, auth: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    user = cluster.get("connectUser")
    database = cluster.get("clusterDB")
    if not database:
        database = user or "dev"
        notes.append(f"target {name}: no clusterDB, so database {database!r} (the user's)")
    ssl = str(cluster.get("useSSL", False)).lower() in {"true", "1", "yes", "y"}
    notes.append(
        f"target {name}: TLS "
        + ("now verifies the certificate (sslmode verify-full)" if ssl else "is now required")
    )
    columns = [c.strip() for c in str(cluster.get("columnList") or "").split(",") if c.strip()]
    return {
        "type": "redshift",
        "name": name,
        "host": cluster.get("clusterEndpoint"),
        "port": int(cluster.get("clusterPort") or 5439),
        "database": database,
        "user": user,
        "auth": "kms_password",
        "encrypted_password": cluster.get("connectPassword"),
        "table": cluster.get("targetTable"),
        "columns": columns or None,
        "truncate_before_load": str(cluster.get("truncateTarget", False)).lower() == "true",
        "pre_sql": cluster.get("presql") or None,
        "post_sql": cluster.get("postsql") or None,
        "sslmode": "verify-full" if ssl else "require",
        "copy_authorization": auth,
    }


def _copy_authorization(item: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    if item.get("secretKeyForS3"):
        return {
            "access_key_id": item.get("accessKeyForS3"),
            "encrypted_secret_access_key": item.get("secretKeyForS3"),
        }
    if "lambda_credentials" in CopyAuthorization.model_fields:
        return {"lambda_credentials": True}
    notes.append(
        "COPY used the Lambda role's temporary credentials; it now uses IAM_ROLE default: "
        "attach a role to the cluster or set copy_authorization.iam_roles"
    )
    return {}


def _target_name(endpoint: str, used: set[str]) -> str:
    host = endpoint.split(".", maxsplit=1)[0]
    base = re.sub(r"[^A-Za-z0-9_.\-]", "-", host).strip("-_.")[:56] or "cluster"
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}-{n}"
    used.add(name)
    return name
