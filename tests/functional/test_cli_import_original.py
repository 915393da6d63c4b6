"""loader-admin config import-original: the original loader's config items, converted."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from setup_cli.context import Cli
from setup_cli.main import app
from setup_cli.original.convert import ORIGINAL_TABLE, convert_filter
from support.aws import BUCKET, MANIFEST_BUCKET, Env

ENDPOINT = "analytics.abc123.us-east-1.redshift.amazonaws.com"
CIPHERTEXT = "AQICAHhOriginalKmsCiphertextBase64=="


def S(value: str) -> dict[str, str]:
    return {"S": value}


def N(value: int) -> dict[str, str]:
    return {"N": str(value)}


def cluster(table: str, **extra: Any) -> dict[str, Any]:
    return {
        "M": {
            "clusterEndpoint": S(ENDPOINT),
            "clusterPort": N(5439),
            "useSSL": {"BOOL": True},
            "clusterDB": S("dev"),
            "connectUser": S("loader"),
            "connectPassword": S(CIPHERTEXT),
            "targetTable": S(table),
            "truncateTarget": {"BOOL": False},
            **extra,
        }
    }


# Shaped as setup.js / setup-file.js write them (original-loader.md sections 1.4 and 2).
SALES = {
    "s3Prefix": S(f"{BUCKET}/legacy/sales"),
    "filenameFilterRegex": S(r"\.csv$"),
    "dataFormat": S("CSV"),
    "csvDelimiter": S("|"),
    "ignoreCsvHeader": {"BOOL": True},
    "compression": S("GZIP"),
    "copyOptions": S("dateformat 'auto' ACCEPTINVCHARS"),
    "manifestBucket": S(MANIFEST_BUCKET),
    "manifestKey": S("redshift/manifests"),
    "failedManifestKey": S("redshift/failed"),
    "successTopicARN": S("arn:aws:sns:us-east-1:123456789012:loaded"),
    "failureTopicARN": S("arn:aws:sns:us-east-1:123456789012:failed"),
    "batchSize": N(100),
    "batchSizeBytes": N(1_048_576),
    "batchTimeoutSecs": N(300),
    "currentBatch": S("0b3c3a8e-1f0e-4a5e-9a51-3d4f5e6a7b8c"),
    "lastBatchRotation": S("2020-01-01 00:00:00"),
    "version": S("2.7.9"),
    "loadClusters": {
        "L": [
            cluster("public.sales", columnList=S("id, amount"), presql=S("SET query_group TO 'x'")),
            cluster("backup.sales"),
        ]
    },
}
# A 1.x item: flat cluster fields, no version; batchSize a string (updateConfig.js wrote it).
EVENTS = {
    "s3Prefix": S(f"{BUCKET}/legacy/events"),
    "dataFormat": S("JSON"),
    "jsonPath": S(f"s3://{MANIFEST_BUCKET}/paths/events.json"),
    "manifestBucket": S(MANIFEST_BUCKET),
    "manifestKey": S("m"),
    "failedManifestKey": S("m-failed"),
    "batchSize": S("10"),
    "clusterEndpoint": S(ENDPOINT),
    "clusterPort": N(5439),
    "connectUser": S("etl"),
    "connectPassword": S(CIPHERTEXT),
    "targetTable": S("events"),
}
# No threshold at all: the original crashed on it; here it cannot be converted.
BROKEN = {
    "s3Prefix": S(f"{BUCKET}/legacy/broken"),
    "dataFormat": S("CSV"),
    "manifestBucket": S(MANIFEST_BUCKET),
    "manifestKey": S("m"),
    "failedManifestKey": S("f"),
    "loadClusters": {"L": [cluster("t")]},
}


@pytest.fixture
def original(env: Env) -> Env:
    ddb = env.session.client("dynamodb")
    ddb.create_table(
        TableName=ORIGINAL_TABLE,
        KeySchema=[{"AttributeName": "s3Prefix", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "s3Prefix", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for item in (SALES, EVENTS, BROKEN):
        ddb.put_item(TableName=ORIGINAL_TABLE, Item=item)
    return env


@pytest.fixture
def run(env: Env):
    def invoke(*args: str) -> Result:
        obj = Cli(session=env.session, settings=env.settings, clock=env.clock)
        return CliRunner().invoke(app, list(args), obj=obj)

    return invoke


def config_items(env: Env) -> list[dict[str, Any]]:
    return env.session.client("dynamodb").scan(TableName=env.settings.tables.config)["Items"]


def test_a_dry_run_converts_and_reports_but_stores_nothing(original: Env, run) -> None:
    result = run("config", "import-original", "--dry-run")

    assert result.exit_code == 3, result.output
    assert f"{BUCKET}/legacy/broken: failed" in result.stdout
    assert "set at least one of max_files" in result.stderr
    assert "prefix: landing-bucket/legacy/sales" in result.stdout  # the converted YAML
    assert config_items(original) == []


def test_import_stores_faithful_configurations_and_lists_every_change(original: Env, run) -> None:
    result = run("config", "import-original", "-o", "json")

    assert result.exit_code == 3  # one item could not be converted
    report = {entry["prefix"]: entry for entry in json.loads(result.stdout)}
    assert report[f"{BUCKET}/legacy/broken"]["action"] == "failed"
    configs = {c.prefix: c for c in original.deps.configs.current(original.clock()).valid}
    assert sorted(configs) == [f"{BUCKET}/legacy/events", f"{BUCKET}/legacy/sales"]

    sales = configs[f"{BUCKET}/legacy/sales"]
    assert (sales.thresholds.max_files, sales.thresholds.max_bytes) == (100, 1_048_576)
    assert sales.thresholds.max_age_seconds == 300
    assert sales.filename_filter == r".*(?:\.csv)"
    assert (sales.manifest.bucket, sales.manifest.prefix, sales.manifest.failed_prefix) == (
        MANIFEST_BUCKET,
        "redshift/manifests",
        "redshift/failed",
    )
    assert sales.notifications.failure_topic_arn.endswith(":failed")
    first, second = sales.targets
    assert (first.name, second.name) == ("analytics", "analytics-2")
    assert (first.auth, first.encrypted_password, first.user) == (
        "kms_password",
        CIPHERTEXT,
        "loader",
    )
    assert first.columns == ["id", "amount"] and first.pre_sql == "SET query_group TO 'x'"
    assert (first.host, first.port, first.database, first.sslmode) == (
        ENDPOINT,
        5439,
        "dev",
        "verify-full",
    )
    fmt = sales.copy_options.format
    assert (fmt.type, fmt.delimiter, fmt.ignore_header_rows) == ("csv", "|", 1)
    assert sales.copy_options.compression == "gzip" and sales.copy_options.date_format == "auto"
    assert sales.copy_options.accept_inv_chars is True
    notes = report[f"{BUCKET}/legacy/sales"]["notes"]
    assert any("successTopicARN" in n for n in notes)

    events = configs[f"{BUCKET}/legacy/events"]
    assert events.thresholds.max_files == 10 and events.copy_options.format.type == "json"
    assert events.copy_options.format.jsonpaths_url == f"s3://{MANIFEST_BUCKET}/paths/events.json"
    [target] = events.targets
    assert (target.table, target.user, target.database) == ("events", "etl", "etl")
    assert any("1.x" in n for n in report[f"{BUCKET}/legacy/events"]["notes"])


def test_a_second_import_keeps_existing_configurations_unless_overwrite(original: Env, run):
    run("config", "import-original")
    before = config_items(original)

    kept = run("config", "import-original", "-o", "json")
    replaced = run("config", "import-original", "--overwrite", "-o", "json")

    skipped = "skipped: exists (use --overwrite)"
    assert {e["action"] for e in json.loads(kept.stdout)} == {skipped, "failed"}
    assert config_items(original) == before
    assert {e["action"] for e in json.loads(replaced.stdout)} == {"imported", "failed"}


def test_a_missing_original_table_is_a_clear_error(env: Env, run) -> None:
    result = run("config", "import-original", "--table", "NoSuchTable")

    assert result.exit_code == 1 and "ResourceNotFoundException" in result.stderr
    assert "Traceback" not in result.output


# --- the filename filter: JS search on the key -> Python fullmatch on the file name ---------


@pytest.mark.parametrize(
    ("original", "converted", "exact", "names_in", "names_out"),
    [
        (r"\.csv$", r".*(?:\.csv)", True, ["a.csv"], ["a.csv.gz", "csv"]),
        (r".*\.gz$", r".*(?:\.gz)", True, ["x.gz"], ["x.gzip"]),
        ("orders", ".*(?:orders).*", False, ["orders-1.csv", "my_orders"], ["sales.csv"]),
        (r"(?<day>\d{8})\.json$", r".*(?:(?P<day>\d{8})\.json)", True, ["x20261123.json"], []),
        (r"^data/.*\.csv$", r".*(?:^data/.*\.csv)", False, [], ["a.csv"]),
    ],
)
def test_filter_conversion(original, converted, exact, names_in, names_out) -> None:
    pattern, note = convert_filter(original)

    assert pattern == converted and (note is None) == exact
    assert all(re.fullmatch(pattern, name) for name in names_in)
    assert not any(re.fullmatch(pattern, name) for name in names_out)


def test_an_invalid_original_regex_becomes_no_filter_as_the_original_behaved() -> None:
    pattern, note = convert_filter("([unclosed")

    assert pattern is None and "no filter" in note
