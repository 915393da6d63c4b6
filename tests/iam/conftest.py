"""The IAM-enforced world (see world.py): one moto account per module, PostgreSQL behind the
Redshift stand-in, the fake Data API; everything the stack would create, named as it names it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from e2e.conftest import postgres  # noqa: F401 - the session's embedded PostgreSQL
from e2e.stack import admin
from iam.world import (
    ARCHIVE_PREFIX,
    MANIFEST_BUCKET,
    REGION,
    SOURCE_BUCKET,
    World,
    arn,
    iam_enforced,
)
from moto import mock_aws

from loader.tables import TableNames, create_tables
from redshift_standin.data_api import FakeRedshiftData
from redshift_standin.postgres import EmbeddedPostgres
from redshift_standin.proxy import StandIn
from redshift_standin.testing import fake_data_api, standin

SERVERLESS_USER = "IAMR:loader-serverless"


@dataclass
class Account:
    """The enforced world plus what the flows need to reach and to look at."""

    world: World
    proxy: StandIn
    data_api: FakeRedshiftData
    postgres_dsn: str
    secret_arn: str
    key_id: str
    encrypted_password: str
    inboxes: dict[str, str]  # success / failure / events -> queue URL

    @property
    def admin(self) -> boto3.Session:
        return self.world.admin

    def drain(self, inbox: str) -> list[dict[str, Any]]:
        sqs = self.admin.client("sqs")
        got = sqs.receive_message(QueueUrl=self.inboxes[inbox], MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        for m in messages:
            sqs.delete_message(QueueUrl=self.inboxes[inbox], ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]


def _administrator() -> boto3.Session:
    """An IAM user allowed everything: the test-setup principal once IAM is enforced."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="test-setup")
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName="test-setup", PolicyName="all", PolicyDocument=json.dumps(everything)
    )
    key = iam.create_access_key(UserName="test-setup")["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )


def _inbox(session: boto3.Session, name: str) -> tuple[str, str]:
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, queue_arn


def _provision(world: World) -> dict[str, str]:
    """The stack's resources, by the names the template gives them; inboxes to observe."""
    session = world.admin
    settings = world.settings()
    create_tables(
        session.client("dynamodb"),
        TableNames.from_env(
            {
                "LOADER_CONFIG_TABLE": settings.tables.config,
                "LOADER_BATCHES_TABLE": settings.tables.batches,
                "LOADER_FILES_TABLE": settings.tables.files,
            }
        ),
    )
    s3 = session.client("s3")
    for bucket in (SOURCE_BUCKET, MANIFEST_BUCKET):
        s3.create_bucket(Bucket=bucket)
    sqs, sns = session.client("sqs"), session.client("sns")
    for queue in ("DeadLetterQueue", "NotificationQueue", "FlushQueue"):
        sqs.create_queue(QueueName=world.name(queue, "QueueName"))
    inboxes = {}
    for topic in ("SuccessTopic", "FailureTopic"):
        topic_arn = sns.create_topic(Name=world.name(topic, "TopicName"))["TopicArn"]
        url, queue_arn = _inbox(session, f"{topic.lower()}-inbox")
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        inboxes[topic.removesuffix("Topic").lower()] = url
    url, queue_arn = _inbox(session, "outcome-events")
    events = session.client("events")
    events.put_rule(Name="outcomes", EventPattern=json.dumps({"source": ["s3-redshift-loader"]}))
    events.put_targets(Rule="outcomes", Targets=[{"Id": "inbox", "Arn": queue_arn}])
    inboxes["events"] = url
    session.client("redshift").create_cluster(
        ClusterIdentifier="dw",
        NodeType="ra3.xlplus",
        MasterUsername="admin",
        MasterUserPassword="Passw0rd!",
    )
    return inboxes


@pytest.fixture(scope="module")
def account(postgres: EmbeddedPostgres) -> Iterator[Account]:  # noqa: F811
    admin(
        postgres.dsn,
        f'DO $$ BEGIN CREATE ROLE "{SERVERLESS_USER}" LOGIN SUPERUSER; '
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    with mock_aws():
        administrator = _administrator()
        kms = administrator.client("kms")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"not-a-real-password")["CiphertextBlob"]
        secret_arn = administrator.client("secretsmanager").create_secret(
            Name="warehouse-login",
            SecretString=json.dumps({"username": "postgres", "password": "x"}),
        )["ARN"]
        world = World(
            administrator,
            {
                "SourceBuckets": SOURCE_BUCKET,
                "ManifestBucket": MANIFEST_BUCKET,
                "AfterLoadActions": "tag-and-delete",
                "ArchivePrefixes": ARCHIVE_PREFIX,
                "RedshiftClusterArns": arn("redshift", "cluster:dw"),
                "RedshiftDbUserArns": arn("redshift", "dbuser:dw/loader"),
                "RedshiftDbNameArns": arn("redshift", "dbname:dw/postgres"),
                "RedshiftWorkgroupArns": arn("redshift-serverless", "workgroup/analytics"),
                "SecretArns": secret_arn,
                "KmsKeyArns": arn("kms", f"key/{key_id}"),
            },
        )
        inboxes = _provision(world)
        # Redshift's COPY reads S3 with the cluster's role, not the function's: the stand-in
        # reads as the administrator.
        with (
            standin(postgres, lambda: administrator.client("s3")) as proxy,
            fake_data_api(proxy) as data_api,
            iam_enforced(),
        ):
            yield Account(
                world,
                proxy,
                data_api,
                postgres.dsn,
                secret_arn,
                key_id,
                base64.b64encode(blob).decode(),
                inboxes,
            )
