"""template.yaml as a specification: what the stack creates, wires and allows.

No AWS involved: cfn-lint checks the template (including the SAM transform), samtranslator
transforms it offline, and a small evaluator instantiates Conditions / Fn::If for given parameter
values, so each test reads "given these parameters, the stack has/grants exactly this".
"""

from __future__ import annotations

import ast
import copy
import json
import re
from typing import Any

import cfnlint.api
import pytest

from loader.tables import TABLE_DEFINITIONS
from support.template import ROOT, TEMPLATE, Stack, all_statements, as_list, source, transformed

TABLES = {"config": "ConfigTable", "batches": "BatchesTable", "files": "FilesTable"}

# The only statements allowed Resource "*", and why nothing narrower exists.
STAR_RESOURCE_ALLOWED = {
    # redshift-data Describe/GetStatementResult/CancelStatement have no resource type; the
    # statement-owner condition restricts them to this role's own statements.
    "DataApiOwnStatements",
    # ec2:DescribeNetworkInterfaces / DescribeSubnets support no resource-level permissions.
    "DescribeNetwork",
    # loader-admin's `tables create`: dynamodb:ListTables supports no resource-level permission.
    "TablesListing",
}

# Optional ARN-list parameter -> the statement it (alone) enables.
OPTIONAL_GRANTS = {
    "RedshiftClusterArns": (
        "DataApiOnClusters",
        "arn:aws:redshift:us-east-1:123456789012:cluster:dw",
    ),
    "RedshiftDbUserArns": (
        "ClusterCredentialsForUsers",
        "arn:aws:redshift:us-east-1:123456789012:dbuser:dw/loader",
    ),
    "RedshiftDbNameArns": (
        "ClusterCredentialsForDatabases",
        "arn:aws:redshift:us-east-1:123456789012:dbname:dw/dev",
    ),
    "RedshiftWorkgroupArns": (
        "ServerlessCredentials",
        "arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/wg-1",
    ),
    "SecretArns": (
        "ReadDatabaseSecrets",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:dw-AbCdEf",
    ),
    "KmsKeyArns": ("UseKmsKeys", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab"),
    "ExtraTopicArns": ("PublishConfiguredTopics", "arn:aws:sns:us-east-1:123456789012:team-alerts"),
}
OPTIONAL_SIDS = {sid for sid, _ in OPTIONAL_GRANTS.values()} | {
    "DataApiOnWorkgroups",
    "DataApiOwnStatements",
    "CreateFunctionEnis",
    "ManageFunctionEnis",
    "DescribeNetwork",
}


# --------------------------------------------------------------------------------------------------
# Loading and transforming
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def sam() -> dict[str, Any]:
    return copy.deepcopy(transformed())


# --------------------------------------------------------------------------------------------------
# Lint and transform
# --------------------------------------------------------------------------------------------------
def test_cfn_lint_reports_nothing_not_even_informational() -> None:
    config = cfnlint.api.ManualArgs(include_checks=["I"])
    matches = cfnlint.api.lint(TEMPLATE.read_text(), config=config)
    assert [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches] == []


def test_cfn_lint_in_use_still_catches_bad_getatt_and_schedule() -> None:
    # Given a copy with an alarm action pointing at a non-existent topic and a bad rate
    broken = (
        TEMPLATE.read_text()
        .replace(
            "AlarmActions: [!Ref FailureTopic]",
            "AlarmActions: [!GetAtt FailureTopicX.TopicName]",
            1,
        )
        .replace("rate(1 minute)", "rate(1 minutes)")
    )
    assert broken != TEMPLATE.read_text()
    # then the pinned cfn-lint (which still runs the SAM transform) reports both
    rule_ids = {m.rule.id for m in cfnlint.api.lint(broken)}
    assert "E3027" in rule_ids
    assert rule_ids & {"E1010", "E1019"}


def test_template_transforms_offline_into_an_arm64_python312_function(sam: dict[str, Any]) -> None:
    function = sam["Resources"]["LoaderFunction"]
    assert function["Type"] == "AWS::Lambda::Function"
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "loader.handler.handler"
    assert props["Timeout"] == {"Ref": "FunctionTimeout"}
    assert props["Role"] == {"Fn::GetAtt": ["LoaderRole", "Arn"]}
    assert not [r for r in sam["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]


def test_function_is_built_by_the_makefile_target_in_build_mk() -> None:
    function = source()["Resources"]["LoaderFunction"]
    assert function["Metadata"] == {"BuildMethod": "makefile"}
    assert function["Properties"]["CodeUri"] == "."
    build_mk = (ROOT / "build.mk").read_text()
    assert re.search(r"^build-LoaderFunction:", build_mk, re.MULTILINE)
    assert re.search(r"^package:", build_mk, re.MULTILINE)
    assert "$(ARTIFACTS_DIR)" in build_mk


# --------------------------------------------------------------------------------------------------
# What exists
# --------------------------------------------------------------------------------------------------
def test_every_resource_the_loader_needs_exists_in_sqs_mode(sam: dict[str, Any]) -> None:
    resources = Stack(sam).resources()
    expected = {
        "ConfigTable": "AWS::DynamoDB::Table",
        "BatchesTable": "AWS::DynamoDB::Table",
        "FilesTable": "AWS::DynamoDB::Table",
        "NotificationQueue": "AWS::SQS::Queue",
        "NotificationQueuePolicy": "AWS::SQS::QueuePolicy",
        "FlushQueue": "AWS::SQS::Queue",
        "DeadLetterQueue": "AWS::SQS::Queue",
        "NotificationQueueMapping": "AWS::Lambda::EventSourceMapping",
        "FlushQueueMapping": "AWS::Lambda::EventSourceMapping",
        "SuccessTopic": "AWS::SNS::Topic",
        "FailureTopic": "AWS::SNS::Topic",
        "LoaderLogGroup": "AWS::Logs::LogGroup",
        "LoaderRole": "AWS::IAM::Role",
        "LoaderFunction": "AWS::Lambda::Function",
        "LoaderFunctionSweep": "AWS::Events::Rule",
        "LoaderFunctionSweepPermission": "AWS::Lambda::Permission",
        "LoaderFunctionEventInvokeConfig": "AWS::Lambda::EventInvokeConfig",
        "FunctionErrorsAlarm": "AWS::CloudWatch::Alarm",
        "DeadLetterQueueAlarm": "AWS::CloudWatch::Alarm",
        "OldestOpenBatchAgeAlarm": "AWS::CloudWatch::Alarm",
    }
    assert {k: resources[k]["Type"] for k in expected if k in resources} == expected
    # and nothing of the other intake modes, nor the optional extras, by default
    for absent in ("ObjectCreatedRule", "DirectInvokeBucket1", "FailureEmailSubscription"):
        assert absent not in resources


def test_function_environment_names_the_tables_queue_and_topics(sam: dict[str, Any]) -> None:
    env = sam["Resources"]["LoaderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["LOADER_CONFIG_TABLE"] == {"Ref": "ConfigTable"}
    assert env["LOADER_BATCHES_TABLE"] == {"Ref": "BatchesTable"}
    assert env["LOADER_FILES_TABLE"] == {"Ref": "FilesTable"}
    assert env["LOADER_FLUSH_QUEUE_URL"] == {"Ref": "FlushQueue"}  # Ref of a queue is its URL
    assert env["LOADER_SUCCESS_TOPIC_ARN"] == {"Ref": "SuccessTopic"}
    assert env["LOADER_FAILURE_TOPIC_ARN"] == {"Ref": "FailureTopic"}
    assert set(env) >= {
        "LOADER_LEASE_SECONDS",
        "LOADER_CONFIG_TTL_SECONDS",
        "LOADER_EVENT_BUS_NAME",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "LOG_LEVEL",
    }
    assert env["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # cold start: no plugin scan
    resolved = Stack(sam).resolve(env)
    assert resolved["POWERTOOLS_METRICS_NAMESPACE"] == "S3RedshiftLoader"
    assert resolved["LOADER_EVENT_BUS_NAME"] == "default"


# --------------------------------------------------------------------------------------------------
# Tables agree with loader/tables.py
# --------------------------------------------------------------------------------------------------
def _normalised(definition: dict[str, Any]) -> dict[str, Any]:
    ttl = definition.get("TimeToLiveAttribute")
    if ttl is None and "TimeToLiveSpecification" in definition:
        spec = definition["TimeToLiveSpecification"]
        ttl = spec["AttributeName"] if spec.get("Enabled") else None
    return {
        "KeySchema": definition["KeySchema"],  # order matters: HASH then RANGE
        "AttributeDefinitions": sorted(
            definition["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        ),
        "GlobalSecondaryIndexes": sorted(
            (
                {k: gsi[k] for k in ("IndexName", "KeySchema", "Projection")}
                for gsi in definition.get("GlobalSecondaryIndexes", [])
            ),
            key=lambda g: g["IndexName"],
        ),
        "TimeToLiveAttribute": ttl,
    }


@pytest.mark.parametrize("logical", sorted(TABLES))
def test_table_matches_loader_table_definitions(sam: dict[str, Any], logical: str) -> None:
    declared = sam["Resources"][TABLES[logical]]["Properties"]
    assert _normalised(declared) == _normalised(TABLE_DEFINITIONS[logical])


@pytest.mark.parametrize("logical", sorted(TABLES))
def test_table_is_on_demand_recoverable_encrypted_and_retained(
    sam: dict[str, Any], logical: str
) -> None:
    table = Stack(sam).resources()[TABLES[logical]]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["TableName"] == f"s3-redshift-loader-{logical}"
    assert (
        Stack(sam, LoaderName="orders").resources()[TABLES[logical]]["Properties"]["TableName"]
        == f"orders-{logical}"
    )


# --------------------------------------------------------------------------------------------------
# Least privilege
# --------------------------------------------------------------------------------------------------
def test_no_policy_statement_has_a_wildcard_action(sam: dict[str, Any]) -> None:
    statements = all_statements(sam)
    assert len(statements) > 20  # sanity: the walk really found the policies
    for statement in statements:
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"{statement.get('Sid')}: {action}"
            assert action != "iam:PassRole", statement.get("Sid")


def test_resource_star_only_where_aws_offers_nothing_narrower(sam: dict[str, Any]) -> None:
    star = {s.get("Sid") for s in all_statements(sam) if "*" in as_list(s.get("Resource"))}
    assert star == STAR_RESOURCE_ALLOWED
    # and the Data API one is confined to statements this role submitted
    everything = {**OPTIONAL_GRANTS}
    params = {name: value for name, (_, value) in everything.items()}
    statements = Stack(sam, **params, SubnetIds="subnet-1").statements()
    owner = statements["DataApiOwnStatements"]
    assert owner["Condition"] == {
        "StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}
    }
    assert set(statements["DescribeNetwork"]["Action"]) == {
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
    }


def test_role_attaches_only_the_stacks_own_access_policy(sam: dict[str, Any]) -> None:
    # No AWS managed policy: the one attached is the stack's LoaderAccessPolicy, which the
    # worker and loader-admin attach too (one source for the three principals).
    role = sam["Resources"]["LoaderRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [{"Ref": "LoaderAccessPolicy"}]
    assert sam["Resources"]["LoaderAccessPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"
    assert "ManagedPolicyName" not in sam["Resources"]["LoaderAccessPolicy"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]


def test_only_required_parameters_grant_no_optional_permission(sam: dict[str, Any]) -> None:
    statements = Stack(sam).statements()
    assert not OPTIONAL_SIDS & set(statements)
    for sid, statement in statements.items():
        assert "" not in as_list(statement["Resource"]), sid


@pytest.mark.parametrize(("parameter", "grant"), sorted(OPTIONAL_GRANTS.items()))
def test_optional_arn_parameter_enables_its_statement_on_exactly_those_arns(
    sam: dict[str, Any], parameter: str, grant: tuple[str, str]
) -> None:
    sid, arn = grant
    other = "arn:aws:example:us-east-1:123456789012:other"
    statements = Stack(sam, **{parameter: f"{arn},{other}"}).statements()
    assert statements[sid]["Resource"] == [arn, other]
    assert statements[sid]["Effect"] == "Allow"


def test_data_api_statements_follow_clusters_and_workgroups(sam: dict[str, Any]) -> None:
    workgroup = OPTIONAL_GRANTS["RedshiftWorkgroupArns"][1]
    statements = Stack(sam, RedshiftWorkgroupArns=workgroup).statements()
    assert statements["DataApiOnWorkgroups"]["Resource"] == [workgroup]
    assert set(statements["DataApiOnWorkgroups"]["Action"]) == {
        "redshift-data:ExecuteStatement",
        "redshift-data:BatchExecuteStatement",
    }
    assert "DataApiOwnStatements" in statements
    assert "DataApiOnClusters" not in statements


def test_state_access_is_limited_to_the_stack_tables_and_indexes(sam: dict[str, Any]) -> None:
    statements = Stack(sam).statements()
    assert statements["ReadConfigurations"]["Resource"] == {"Fn::GetAtt": ["ConfigTable", "Arn"]}
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & set(
        statements["ReadConfigurations"]["Action"]
    )
    assert statements["ReadWriteBatchesAndLedger"]["Resource"] == [
        {"Fn::GetAtt": ["BatchesTable", "Arn"]},
        {"Fn::GetAtt": ["FilesTable", "Arn"]},
    ]
    assert statements["QueryBatchIndexes"] == {
        "Sid": "QueryBatchIndexes",
        "Effect": "Allow",
        "Action": "dynamodb:Query",
        "Resource": {"Fn::Sub": "${BatchesTable.Arn}/index/*"},
    }


def test_queue_sns_events_and_logs_access_names_the_stack_resources(sam: dict[str, Any]) -> None:
    statements = Stack(sam).statements()
    assert statements["ConsumeQueues"]["Resource"] == [
        {"Fn::GetAtt": ["FlushQueue", "Arn"]},
        {"Fn::GetAtt": ["NotificationQueue", "Arn"]},
    ]
    assert statements["SendFlushTimers"]["Resource"] == {"Fn::GetAtt": ["FlushQueue", "Arn"]}
    assert statements["SendFailedInvocations"]["Resource"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    assert statements["PublishStackTopics"]["Resource"] == [
        {"Ref": "SuccessTopic"},
        {"Ref": "FailureTopic"},
    ]
    assert statements["PutOutcomeEvents"]["Resource"] == (
        "arn:aws:events:us-east-1:123456789012:event-bus/default"
    )
    assert statements["WriteOwnLogs"]["Resource"] == {
        "Fn::Sub": "arn:aws:logs:us-east-1:123456789012:log-group:${LoaderLogGroup}:*"
    }
    # In direct mode there is no notification queue to consume.
    direct = Stack(sam, IntakeMode="direct").statements()
    assert direct["ConsumeQueues"]["Resource"] == [{"Fn::GetAtt": ["FlushQueue", "Arn"]}]


def test_source_reads_are_scoped_to_the_buckets_or_the_given_prefixes(sam: dict[str, Any]) -> None:
    whole = Stack(sam).statements()["ReadSourceObjects"]
    assert whole["Action"] == "s3:GetObject"
    assert whole["Resource"] == ["arn:*:s3:::raw-a/*", "arn:*:s3:::raw-b/*"]
    scoped = Stack(sam, SourcePrefixes="raw-a/orders,raw-b/events/eu").statements()
    assert scoped["ReadSourceObjects"]["Resource"] == [
        "arn:*:s3:::raw-a/orders/*",
        "arn:*:s3:::raw-b/events/eu/*",
    ]


def test_manifest_access_is_scoped_to_the_two_manifest_prefixes(sam: dict[str, Any]) -> None:
    statement = Stack(sam, ManifestPrefix="loader/m").statements()["ReadWriteManifests"]
    assert sorted(statement["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert statement["Resource"] == [
        "arn:aws:s3:::manifests-bucket/loader/m/*",
        "arn:aws:s3:::manifests-bucket/failed-manifests/*",
    ]


def test_vpc_access_exists_only_with_subnets_and_is_account_region_scoped(
    sam: dict[str, Any],
) -> None:
    assert "VpcConfig" not in Stack(sam).resources()["LoaderFunction"]["Properties"]
    stack = Stack(sam, SubnetIds="subnet-1,subnet-2", SecurityGroupIds="sg-1")
    assert stack.resources()["LoaderFunction"]["Properties"]["VpcConfig"] == {
        "SubnetIds": ["subnet-1", "subnet-2"],
        "SecurityGroupIds": ["sg-1"],
    }
    statements = stack.statements()
    for sid in ("CreateFunctionEnis", "ManageFunctionEnis"):
        for arn in as_list(statements[sid]["Resource"]):
            assert arn.startswith("arn:aws:ec2:us-east-1:123456789012:"), arn


# --------------------------------------------------------------------------------------------------
# Intake modes
# --------------------------------------------------------------------------------------------------
def test_sqs_intake_lets_only_s3_of_the_configured_buckets_send(sam: dict[str, Any]) -> None:
    resources = Stack(sam, IntakeMode="sqs").resources()
    (statement,) = resources["NotificationQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": ["NotificationQueue", "Arn"]}
    assert statement["Condition"] == {
        "ArnLike": {"aws:SourceArn": ["arn:*:s3:::raw-a", "arn:*:s3:::raw-b"]},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    queue = resources["NotificationQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": "5",
    }
    mapping = resources["NotificationQueueMapping"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["NotificationQueue", "Arn"]}
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == ("100", "5")


def test_eventbridge_intake_routes_object_created_of_the_buckets_to_the_queue(
    sam: dict[str, Any],
) -> None:
    resources = Stack(sam, IntakeMode="eventbridge").resources()
    rule = resources["ObjectCreatedRule"]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["raw-a", "raw-b"]}},
    }
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["NotificationQueue", "Arn"]}
    (statement,) = resources["NotificationQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ObjectCreatedRule", "Arn"]}}
    }
    assert "NotificationQueueMapping" in resources


def test_direct_intake_has_one_scoped_invoke_permission_per_bucket_and_no_queue(
    sam: dict[str, Any],
) -> None:
    resources = Stack(sam, IntakeMode="direct", SourceBuckets="raw-a,raw-b,raw-c").resources()
    permissions = {k: v["Properties"] for k, v in resources.items() if k.startswith("DirectInvoke")}
    assert sorted(permissions) == [f"DirectInvokeBucket{i}" for i in (1, 2, 3)]
    assert [p["SourceArn"] for p in permissions.values()] == [
        "arn:aws:s3:::raw-a",
        "arn:aws:s3:::raw-b",
        "arn:aws:s3:::raw-c",
    ]
    for permission in permissions.values():
        assert permission["Principal"] == "s3.amazonaws.com"
        assert permission["SourceAccount"] == "123456789012"
        assert permission["Action"] == "lambda:InvokeFunction"
    for absent in ("NotificationQueue", "NotificationQueuePolicy", "NotificationQueueMapping"):
        assert absent not in resources
    # Failed asynchronous invocations are kept, not dropped.
    invoke = resources["LoaderFunctionEventInvokeConfig"]["Properties"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }


# --------------------------------------------------------------------------------------------------
# Event sources, timing, alarms, outputs
# --------------------------------------------------------------------------------------------------
def test_event_source_mappings_report_batch_item_failures(sam: dict[str, Any]) -> None:
    mappings = {
        k: r["Properties"]
        for k, r in sam["Resources"].items()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert set(mappings) == {"NotificationQueueMapping", "FlushQueueMapping"}
    for mapping in mappings.values():
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["FunctionName"] == {"Ref": "LoaderFunction"}
    flush = mappings["FlushQueueMapping"]
    assert flush["EventSourceArn"] == {"Fn::GetAtt": ["FlushQueue", "Arn"]}
    assert (flush["BatchSize"], flush["MaximumBatchingWindowInSeconds"]) == (10, 0)


def test_queue_visibility_and_batch_lease_cover_every_allowed_timeout(sam: dict[str, Any]) -> None:
    table = sam["Mappings"]["TimeoutDerived"]
    allowed = sam["Parameters"]["FunctionTimeout"]["AllowedValues"]
    assert sorted(table, key=int) == [str(t) for t in allowed]
    for timeout, derived in table.items():
        assert derived["QueueVisibility"] >= 6 * int(timeout) + 300  # 6x + max batching window
        assert derived["LeaseSeconds"] >= int(timeout)
    for queue in ("NotificationQueue", "FlushQueue"):
        assert sam["Resources"][queue]["Properties"]["VisibilityTimeout"] == {
            "Fn::FindInMap": ["TimeoutDerived", {"Ref": "FunctionTimeout"}, "QueueVisibility"]
        }


def test_flush_timer_self_loop_is_not_cut_by_recursive_loop_detection(sam: dict[str, Any]) -> None:
    # The function re-arms its own delayed flush messages; Lambda would stop that after 16 hops.
    assert sam["Resources"]["LoaderFunction"]["Properties"]["RecursiveLoop"] == "Allow"


def test_sweep_runs_every_minute_with_the_sweep_input(sam: dict[str, Any]) -> None:
    rule = sam["Resources"]["LoaderFunctionSweep"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["LoaderFunction", "Arn"]}
    assert json.loads(target["Input"]) == {"loader": "sweep"}


def test_reconcile_runs_every_15_minutes_with_the_reconcile_input(sam: dict[str, Any]) -> None:
    resources = Stack(sam).resources()
    assert resources["LoaderFunctionReconcile"]["Type"] == "AWS::Events::Rule"
    assert resources["LoaderFunctionReconcilePermission"]["Type"] == "AWS::Lambda::Permission"
    rule = resources["LoaderFunctionReconcile"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["LoaderFunction", "Arn"]}
    assert json.loads(target["Input"]) == {"loader": "reconcile"}
    # the look-back window reaches the function, and the schedule is a parameter
    env = resources["LoaderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["LOADER_RECONCILE_LOOKBACK_SECONDS"] == "3600"
    hourly = Stack(sam, ReconcileSchedule="rate(1 hour)", ReconcileLookbackSeconds="10800")
    assert hourly.resources()["LoaderFunctionReconcile"]["Properties"]["ScheduleExpression"] == (
        "rate(1 hour)"
    )
    variables = hourly.resources()["LoaderFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["LOADER_RECONCILE_LOOKBACK_SECONDS"] == "10800"


def test_reconcile_may_list_the_source_buckets_and_nothing_else(sam: dict[str, Any]) -> None:
    statement = Stack(sam).statements()["ListSourceBuckets"]
    assert statement["Action"] == "s3:ListBucket"
    assert statement["Resource"] == ["arn:*:s3:::raw-a", "arn:*:s3:::raw-b"]
    assert "Condition" not in statement
    # no other statement lists anything, and prefixes narrow reads, not the listing's buckets
    listing = [
        s for s in all_statements(sam["Resources"]) if "s3:ListBucket" in as_list(s["Action"])
    ]
    assert [s["Sid"] for s in listing] == ["ListSourceBuckets"]
    scoped = Stack(sam, SourcePrefixes="raw-a/orders").statements()["ListSourceBuckets"]
    assert scoped["Resource"] == ["arn:*:s3:::raw-a", "arn:*:s3:::raw-b"]


@pytest.mark.parametrize(
    ("alarm", "namespace", "metric", "dimension"),
    [
        (
            "FunctionErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            {"Name": "FunctionName", "Value": {"Ref": "LoaderFunction"}},
        ),
        (
            "DeadLetterQueueAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}},
        ),
        (
            "OldestOpenBatchAgeAlarm",
            {"Ref": "MetricsNamespace"},
            "OldestOpenBatchAgeSeconds",
            {"Name": "service", "Value": {"Ref": "LoaderName"}},
        ),
    ],
)
def test_alarm_watches_its_metric_and_notifies_the_failure_topic(
    sam: dict[str, Any], alarm: str, namespace: Any, metric: str, dimension: dict[str, Any]
) -> None:
    props = sam["Resources"][alarm]["Properties"]
    assert props["AlarmActions"] == [{"Ref": "FailureTopic"}]
    assert (props["Namespace"], props["MetricName"], props["Dimensions"]) == (
        namespace,
        metric,
        [dimension],
    )
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    expected_threshold = (
        {"Ref": "OldestOpenBatchAgeAlarmSeconds"} if alarm == "OldestOpenBatchAgeAlarm" else 0
    )
    assert props["Threshold"] == expected_threshold
    # The "service" dimension is what Powertools stamps on EMF metrics: the service name.
    env = sam["Resources"]["LoaderFunction"]["Properties"]["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == {"Ref": "LoaderName"}
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}


def test_email_subscription_exists_only_with_an_address(sam: dict[str, Any]) -> None:
    assert "FailureEmailSubscription" not in Stack(sam).resources()
    subscription = Stack(sam, AlertEmail="ops@example.com").resources()["FailureEmailSubscription"]
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "FailureTopic"},
        "Protocol": "email",
        "Endpoint": "ops@example.com",
    }


def test_reserved_concurrency_is_set_only_when_asked(sam: dict[str, Any]) -> None:
    default = Stack(sam).resources()["LoaderFunction"]["Properties"]
    assert "ReservedConcurrentExecutions" not in default
    props = Stack(sam, ReservedConcurrency="4").resources()["LoaderFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == "4"


def test_outputs_expose_tables_queues_topics_and_function(sam: dict[str, Any]) -> None:
    assert set(sam["Outputs"]) >= {
        "ConfigTableName",
        "BatchesTableName",
        "FilesTableName",
        "NotificationQueueUrl",
        "NotificationQueueArn",
        "FlushQueueUrl",
        "FlushQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "SuccessTopicArn",
        "FailureTopicArn",
        "FunctionName",
        "FunctionArn",
    }
    assert sam["Outputs"]["ConfigTableName"]["Value"] == {"Ref": "ConfigTable"}
    assert sam["Outputs"]["FlushQueueUrl"]["Value"] == {"Ref": "FlushQueue"}


def test_every_policy_statement_is_explained_by_a_comment() -> None:
    # Each "Sid:" is preceded (above any `- !If` / condition-name lines) by a YAML comment.
    lines = TEMPLATE.read_text().splitlines()
    scaffolding = re.compile(r"^\s*-\s*(!If|[A-Z][A-Za-z0-9]*)\s*$")
    for number, line in enumerate(lines):
        if "Sid:" not in line:
            continue
        above = number - 1
        while above >= 0 and scaffolding.match(lines[above]):
            above -= 1
        assert lines[above].strip().startswith("#"), f"line {number + 1}: {line.strip()}"


# --------------------------------------------------------------------------------------------------
# Parameters as a first-time deployer meets them
# --------------------------------------------------------------------------------------------------
def test_required_parameters_come_first_and_the_groups_follow_the_template_order() -> None:
    # `sam deploy --guided` prompts in the order of Parameters (it ignores ParameterGroups).
    parameters = source()["Parameters"]
    names = list(parameters)
    required = [n for n in names if "Default" not in parameters[n]]
    assert names[: len(required)] == required == ["SourceBuckets", "ManifestBucket"]
    groups = source()["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert [n for g in groups for n in g["Parameters"]] == names


@pytest.mark.parametrize("value", ["", "raw-a,", "Raw_A", "ab"])
def test_source_buckets_refuses_empty_and_malformed_names(value: str) -> None:
    pattern = source()["Parameters"]["SourceBuckets"]["AllowedPattern"]
    # CloudFormation matches a CommaDelimitedList's pattern against each of its values.
    assert not all(re.fullmatch(pattern, v) for v in value.split(","))
    assert all(re.fullmatch(pattern, v) for v in ["raw-a", "raw.b-2"])


def test_after_load_grants_exist_only_when_asked_and_only_on_source_objects(
    sam: dict[str, Any],
) -> None:
    default = Stack(sam).statements()
    assert "AfterLoadOnSourceObjects" not in default and "WriteArchivedObjects" not in default
    tag = Stack(sam, AfterLoadActions="tag").statements()["AfterLoadOnSourceObjects"]
    assert tag["Action"] == ["s3:GetObjectTagging", "s3:PutObjectTagging"]
    assert tag["Resource"] == ["arn:*:s3:::raw-a/*", "arn:*:s3:::raw-b/*"]
    archive = Stack(sam, ArchivePrefixes="raw-a/done,cold/archive", SourcePrefixes="raw-a/in")
    statements = archive.statements()
    assert statements["AfterLoadOnSourceObjects"]["Action"] == ["s3:DeleteObject"]
    assert statements["AfterLoadOnSourceObjects"]["Resource"] == ["arn:*:s3:::raw-a/in/*"]
    assert statements["WriteArchivedObjects"]["Resource"] == [
        "arn:*:s3:::raw-a/done/*",
        "arn:*:s3:::cold/archive/*",
    ]


def test_worker_and_operator_policies_are_the_stacks_managed_policies(sam: dict[str, Any]) -> None:
    resources = Stack(sam).resources()
    operator = Stack(sam).statements("OperatorPolicy")
    assert set(operator) == {
        "TablesCommands",
        "TablesListing",
        "ConfigCommands",
        "ImportOriginalCommand",
        "BatchCommands",
        "BucketCommands",
    }
    assert sam["Outputs"]["LoaderAccessPolicyArn"]["Value"] == {"Ref": "LoaderAccessPolicy"}
    assert sam["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}
    assert resources["OperatorPolicy"]["Type"] == "AWS::IAM::ManagedPolicy"


def test_no_arn_hard_codes_the_aws_partition(sam: dict[str, Any]) -> None:
    # Given the stack in the China partition, every ARN it builds is of that partition (or
    # matches any partition, where Fn::Join's literal delimiter cannot hold ${AWS::Partition}).
    stack = Stack(sam, **{"AWS::Partition": "aws-cn"})
    rendered = json.dumps(stack.resources())
    assert "arn:aws:" not in rendered
    assert "arn:aws-cn:s3:::manifests-bucket/manifests/*" in rendered
    assert "arn:*:s3:::raw-a/*" in rendered


@pytest.mark.parametrize(
    ("policy", "page"),
    [("LoaderAccessPolicy", "docs/worker.md"), ("OperatorPolicy", "docs/operations.md")],
)
def test_every_statement_of_a_principals_policy_is_documented(
    sam: dict[str, Any], policy: str, page: str
) -> None:
    everything = {name: value for name, (_, value) in OPTIONAL_GRANTS.items()}
    statements = Stack(
        sam, **everything, AfterLoadActions="tag", ArchivePrefixes="raw-a/done"
    ).statements(policy)
    text = (ROOT / page).read_text()
    assert [sid for sid in statements if f"`{sid}`" not in text] == []


def test_the_deploy_guide_lists_the_parameters_in_the_template_order() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    documented = re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)
    names = list(source()["Parameters"])
    assert [n for n in documented if n in names] == names


# --------------------------------------------------------------------------------------------------
# The operator's dashboard
# --------------------------------------------------------------------------------------------------
_METRIC_CALL = ("count", "gauge", "milliseconds")


def emitted_metrics() -> dict[str, bool]:
    """Every metric the loader code emits (`metrics.count/gauge/milliseconds("Name", ...)`),
    found by scanning loader/, with whether it carries a per-prefix dimension."""
    found: dict[str, bool] = {}
    for path in (ROOT / "loader").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _METRIC_CALL
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "metrics"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                continue
            per_prefix = any(k.arg == "prefix" for k in node.keywords)
            found[node.args[0].value] = found.get(node.args[0].value, False) or per_prefix
    return found


def dashboard(sam: dict[str, Any]) -> list[dict[str, Any]]:
    """The dashboard's widgets, its body resolved for the default parameters."""
    body = Stack(sam).resources()["OperationsDashboard"]["Properties"]["DashboardBody"]
    text = body["Fn::Sub"] if isinstance(body, dict) else body
    # What is left are references to resources: name them by their logical ids.
    text = re.sub(r"\$\{([A-Za-z]+)(?:\.[A-Za-z]+)?\}", r"\1", text)
    return json.loads(text)["widgets"]


def shown_metrics(sam: dict[str, Any]) -> list[list[Any]]:
    return [m for w in dashboard(sam) for m in w["properties"]["metrics"]]


def test_every_loader_metric_on_the_dashboard_is_one_the_loader_emits(
    sam: dict[str, Any],
) -> None:
    emitted = emitted_metrics()
    assert {"FilesRegistered", "BatchesLoaded", "LoadDuration"} <= set(emitted)  # the scan works
    namespace = Stack(sam).params["MetricsNamespace"]
    ours = [m for m in shown_metrics(sam) if m[0] == namespace]
    assert ours
    assert sorted({m[1] for m in ours} - set(emitted)) == []
    # Shown with the `service` dimension alone: so emitted, not per prefix
    service = Stack(sam).params["LoaderName"]
    assert [m[1] for m in ours if m[2:4] != ["service", service] or emitted[m[1]]] == []


def test_the_dashboard_shows_what_an_operator_watches(sam: dict[str, Any]) -> None:
    names = {(m[0], m[1]) for m in shown_metrics(sam)}
    namespace = Stack(sam).params["MetricsNamespace"]
    wanted = [
        "FilesRegistered",
        "BatchesLoaded",
        "BatchesFailed",
        "LoadDuration",
        "OldestOpenBatchAgeSeconds",
        "TargetRetries",
        "BatchRetriesScheduled",
    ]
    assert [w for w in wanted if (namespace, w) not in names] == []
    [dlq] = [m for m in shown_metrics(sam) if m[0] == "AWS/SQS"]
    assert dlq[1:4] == ["ApproximateNumberOfMessagesVisible", "QueueName", "DeadLetterQueue"]
    lambda_metrics = [m for m in shown_metrics(sam) if m[0] == "AWS/Lambda"]
    assert {m[3] for m in lambda_metrics} == {"LoaderFunction"}
    # The function's metrics carry the dimension the dashboard filters on
    environment = Stack(sam).resources()["LoaderFunction"]["Properties"]["Environment"]
    assert environment["Variables"]["POWERTOOLS_SERVICE_NAME"] == Stack(sam).params["LoaderName"]


def test_the_oldest_batch_widget_marks_the_alarm_threshold(sam: dict[str, Any]) -> None:
    [widget] = [w for w in dashboard(sam) if "OldestOpenBatchAgeSeconds" in str(w)]
    [line] = widget["properties"]["annotations"]["horizontal"]
    assert line["value"] == int(Stack(sam).params["OldestOpenBatchAgeAlarmSeconds"])


def test_the_stack_outputs_a_link_to_its_dashboard(sam: dict[str, Any]) -> None:
    url = sam["Outputs"]["DashboardUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home")
    assert url.endswith("#dashboards:name=${OperationsDashboard}")
    name = Stack(sam).resources()["OperationsDashboard"]["Properties"]["DashboardName"]
    assert name == f"{Stack(sam).params['LoaderName']}-operations"
