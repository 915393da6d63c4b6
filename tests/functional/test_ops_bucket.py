"""loader-admin bucket wire/unwire/show and `config delete --unwire`: the bucket's whole
notification configuration after each command, other rules kept, overlaps refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from loader.bucket_wiring import (
    SECTIONS,
    Kind,
    Rule,
    overlaps,
    plan_wire,
    rule_for,
)
from setup_cli.context import Cli
from setup_cli.main import app
from support.aws import BUCKET, Env, make_config

ACCOUNT = "123456789012"
ORIGINAL_ID = "LambdaRedshiftLoaderEventSource-5f0c"


@pytest.fixture
def run(env: Env, s3_reports_eventbridge: None):
    def invoke(*args: str) -> Result:
        obj = Cli(session=env.session, settings=env.settings, clock=env.clock)
        return CliRunner().invoke(app, list(args), obj=obj)

    return invoke


@pytest.fixture
def arns(env: Env) -> dict[str, str]:
    """A loader queue, someone else's queue and topic, and a function ARN."""
    sqs, sns = env.session.client("sqs"), env.session.client("sns")

    def queue(name: str) -> str:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    return {
        "loader": queue("loader-notifications"),
        "audit": queue("audit"),
        "topic": sns.create_topic(Name="thumbnails")["TopicArn"],
        "function": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:LambdaRedshiftLoader",
    }


def _filter(prefix: str = "", suffix: str = "") -> dict[str, Any]:
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    return {"Key": {"FilterRules": rules}}


@pytest.fixture
def existing(env: Env, arns: dict[str, str]) -> dict[str, Any]:
    """The bucket already notifies others: a queue, a topic, the original loader, EventBridge."""
    configuration = {
        "QueueConfigurations": [
            {
                "Id": "audit-trail",
                "QueueArn": arns["audit"],
                "Events": ["s3:ObjectRemoved:*"],
            },
            {
                "Id": "archive",
                "QueueArn": arns["audit"],
                "Events": ["s3:ObjectCreated:*"],
                "Filter": _filter("archive/"),
            },
        ],
        "TopicConfigurations": [
            {
                "Id": "thumbnails",
                "TopicArn": arns["topic"],
                "Events": ["s3:ObjectCreated:Put"],
                "Filter": _filter("images/", ".jpg"),
            }
        ],
        "LambdaFunctionConfigurations": [
            {
                "Id": ORIGINAL_ID,
                "LambdaFunctionArn": arns["function"],
                "Events": ["s3:ObjectCreated:*"],
                "Filter": _filter("sales/"),
            }
        ],
        "EventBridgeConfiguration": {},
    }
    env.session.client("s3").put_bucket_notification_configuration(
        Bucket=BUCKET, NotificationConfiguration=configuration
    )
    return notification(env)


@pytest.fixture
def s3_reports_eventbridge(env: Env) -> None:
    """Real S3 returns `EventBridgeConfiguration: {}` when EventBridge is on; moto's GET leaves it
    out (its backend keeps it). Add it back the way S3 answers, for every client of the session."""

    def add(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        bucket = context.get("input_params", {}).get("Bucket") or BUCKET
        if eventbridge_on(bucket):
            parsed["EventBridgeConfiguration"] = {}

    env.session.events.register("after-call.s3.GetBucketNotificationConfiguration", add)


def notification(env: Env, bucket: str = BUCKET) -> dict[str, Any]:
    found = env.session.client("s3").get_bucket_notification_configuration(Bucket=bucket)
    return {
        k: v for k, v in found.items() if k not in ("ResponseMetadata", "EventBridgeConfiguration")
    }


def rule_ids(configuration: dict[str, Any]) -> set[str]:
    return {r["Id"] for section in SECTIONS for r in configuration.get(section, [])}


def eventbridge_on(bucket: str = BUCKET) -> bool:
    # moto's GET leaves EventBridgeConfiguration out; its backend keeps it.
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[bucket].notification_configuration
    return stored is not None and stored.event_bridge is not None


def ours(configuration: dict[str, Any], prefix: str) -> dict[str, Any]:
    wanted = f"s3-redshift-loader:{prefix}"
    [rule] = [
        r for section in SECTIONS for r in configuration.get(section, []) if r["Id"] == wanted
    ]
    return rule


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- wire / unwire against the bucket ---------------------------------------------------------


def test_wire_appends_the_loader_rule_and_keeps_every_other_rule(env: Env, run, arns, existing):
    env.put_config(make_config(f"{BUCKET}/events"))

    result = as_json(
        run("bucket", "wire", f"s3://{BUCKET}/events/", "--queue-arn", arns["loader"], "-o", "json")
    )

    after = notification(env)
    assert result["action"] == "added"
    assert rule_ids(after) == rule_ids(existing) | {f"s3-redshift-loader:{BUCKET}/events"}
    for section in ("TopicConfigurations", "LambdaFunctionConfigurations"):
        assert after[section] == existing[section]  # untouched, as read
    rule = ours(after, f"{BUCKET}/events")
    others = [r for r in after["QueueConfigurations"] if r["Id"] != rule["Id"]]
    assert others == existing["QueueConfigurations"]
    assert rule["QueueArn"] == arns["loader"] and rule["Events"] == ["s3:ObjectCreated:*"]
    assert rule["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "events/"}]
    assert eventbridge_on()


def test_wire_twice_is_a_no_op(env: Env, run, arns, existing) -> None:
    env.put_config(make_config(f"{BUCKET}/events"))
    run("bucket", "wire", f"{BUCKET}/events", "--queue-arn", arns["loader"])
    first = notification(env)

    again = as_json(
        run("bucket", "wire", f"{BUCKET}/events", "--queue-arn", arns["loader"], "-o", "json")
    )

    assert again["action"] == "unchanged" and notification(env) == first


def test_overlapping_rule_is_refused_with_the_rule_named_and_nothing_written(
    env: Env, run, arns, existing
) -> None:
    env.put_config(make_config(f"{BUCKET}/archive/2026"))  # inside the "archive" rule's prefix
    env.put_config(make_config(f"{BUCKET}/sales"))  # the original loader's prefix

    nested = run("bucket", "wire", f"{BUCKET}/archive/2026", "--queue-arn", arns["loader"])
    same = run("bucket", "wire", f"{BUCKET}/sales", "--function-arn", arns["function"] + "2")

    for refused, rule in ((nested, "archive"), (same, ORIGINAL_ID)):
        assert refused.exit_code == 1
        assert "overlaps" in refused.stderr and f"rule {rule}" in refused.stderr
        assert "--replace" in refused.stderr
    assert notification(env) == existing


def test_replace_switches_a_prefix_from_the_original_loader_in_one_write(
    env: Env, run, arns, existing
) -> None:
    env.put_config(make_config(f"{BUCKET}/sales"))

    result = as_json(
        run(
            "bucket",
            "wire",
            f"{BUCKET}/sales",
            "--queue-arn",
            arns["loader"],
            "--replace",
            ORIGINAL_ID,
            "-o",
            "json",
        )
    )

    after = notification(env)
    assert result["replaced"] == [ORIGINAL_ID]
    assert "LambdaFunctionConfigurations" not in after
    assert ours(after, f"{BUCKET}/sales")["QueueArn"] == arns["loader"]
    assert rule_ids(after) == rule_ids(existing) - {ORIGINAL_ID} | {
        f"s3-redshift-loader:{BUCKET}/sales"
    }


def test_hive_wildcard_prefix_is_filtered_on_its_literal_part(env: Env, run, arns) -> None:
    env.put_config(make_config(f"{BUCKET}/clicks/dt=*"))
    env.put_config(make_config(f"{BUCKET}/events/dt=*/country=*/raw"))

    run("bucket", "wire", f"{BUCKET}/clicks/dt=*", "--queue-arn", arns["loader"])
    run("bucket", "wire", f"{BUCKET}/events/dt=*/country=*/raw", "--topic-arn", arns["topic"])

    after = notification(env)
    clicks = ours(after, f"{BUCKET}/clicks/dt=*")["Filter"]["Key"]["FilterRules"]
    events = ours(after, f"{BUCKET}/events/dt=*/country=*/raw")["Filter"]["Key"]["FilterRules"]
    assert clicks == [{"Name": "prefix", "Value": "clicks/dt="}]
    assert events == [{"Name": "prefix", "Value": "events/dt="}]
    values = [
        f["Value"]
        for r in after["QueueConfigurations"] + after["TopicConfigurations"]
        for f in r["Filter"]["Key"]["FilterRules"]
    ]
    assert not [v for v in values if "*" in v]


def test_bucket_root_configuration_gets_no_prefix_filter(env: Env, run, arns) -> None:
    env.session.client("s3").create_bucket(Bucket="whole-bucket")
    env.put_config(make_config("whole-bucket"))

    run("bucket", "wire", "whole-bucket", "--function-arn", arns["function"])
    with_suffix = run(
        "bucket", "wire", "whole-bucket", "--function-arn", arns["function"], "--suffix", ".gz"
    )

    rule = ours(notification(env, "whole-bucket"), "whole-bucket")
    assert with_suffix.exit_code == 0, with_suffix.output
    assert rule["Filter"]["Key"]["FilterRules"] == [{"Name": "suffix", "Value": ".gz"}]
    run("bucket", "unwire", "whole-bucket")
    run("bucket", "wire", "whole-bucket", "--function-arn", arns["function"])
    assert "Filter" not in ours(notification(env, "whole-bucket"), "whole-bucket")


def test_unwire_removes_only_the_loader_rule(env: Env, run, arns, existing) -> None:
    env.put_config(make_config(f"{BUCKET}/events"))
    env.put_config(make_config(f"{BUCKET}/orders"))
    run("bucket", "wire", f"{BUCKET}/events", "--queue-arn", arns["loader"])
    run("bucket", "wire", f"{BUCKET}/orders", "--queue-arn", arns["loader"])

    removed = as_json(run("bucket", "unwire", f"{BUCKET}/events", "-o", "json"))
    absent = as_json(run("bucket", "unwire", f"{BUCKET}/events", "-o", "json"))

    after = notification(env)
    assert (removed["action"], absent["action"]) == ("removed", "absent")
    assert rule_ids(after) == rule_ids(existing) | {f"s3-redshift-loader:{BUCKET}/orders"}
    assert eventbridge_on()


def test_config_delete_unwire_removes_the_configuration_and_its_rule(
    env: Env, run, arns, existing
) -> None:
    env.put_config(make_config(f"{BUCKET}/events"))
    run("bucket", "wire", f"{BUCKET}/events", "--queue-arn", arns["loader"])

    result = run("config", "delete", f"{BUCKET}/events", "--unwire", "--yes")

    assert result.exit_code == 0, result.output
    assert env.deps.configs.get(f"{BUCKET}/events") is None
    assert rule_ids(notification(env)) == rule_ids(existing)


def test_wire_refuses_unknown_prefixes_and_bad_destinations(env: Env, run, arns) -> None:
    env.put_config(make_config(f"{BUCKET}/events"))

    unknown = run("bucket", "wire", f"{BUCKET}/nothing", "--queue-arn", arns["loader"])
    not_a_queue = run("bucket", "wire", f"{BUCKET}/events", "--queue-arn", "arn:aws:s3:::x")
    two = run(
        "bucket",
        "wire",
        f"{BUCKET}/events",
        "--queue-arn",
        arns["loader"],
        "--topic-arn",
        arns["topic"],
    )

    assert unknown.exit_code == 1 and "no configuration" in unknown.stderr
    assert not_a_queue.exit_code == 1 and "not an SQS queue" in not_a_queue.stderr
    assert two.exit_code == 2
    assert notification(env) == {}


def test_bucket_show_lists_rules_and_how_each_prefix_is_wired(
    env: Env, run, arns, existing
) -> None:
    env.put_config(make_config(f"{BUCKET}/events"))
    env.put_config(make_config(f"{BUCKET}/sales"))
    env.put_config(make_config(f"{BUCKET}/images"))
    env.put_config(make_config(f"{BUCKET}/pending"))
    run("bucket", "wire", f"{BUCKET}/events", "--queue-arn", arns["loader"])

    shown = as_json(run("bucket", "show", BUCKET, "-o", "json"))

    assert {r["id"] for r in shown["rules"]} == rule_ids(notification(env))
    states = {p["prefix"]: (p["state"], p["rules"]) for p in shown["prefixes"]}
    assert states == {
        f"{BUCKET}/events": ("wired", [f"s3-redshift-loader:{BUCKET}/events"]),
        f"{BUCKET}/sales": ("wired", [ORIGINAL_ID]),
        f"{BUCKET}/images": ("partial", ["thumbnails"]),  # Put only, and a .jpg suffix
        f"{BUCKET}/pending": ("not wired", []),
    }
    assert run("bucket", "show", BUCKET).exit_code == 0


# --- the pure decisions -----------------------------------------------------------------------


def _rule(prefix: str = "", suffix: str = "", events: tuple[str, ...] = ("s3:ObjectCreated:*",)):
    return Rule(Kind.QUEUE, "arn:aws:sqs:us-east-1:1:q", events, prefix, suffix, "x")


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (_rule("a/"), _rule("a/b/"), True),  # nested prefixes
        (_rule("a/"), _rule("b/"), False),
        (_rule(""), _rule("b/"), True),  # no filter covers everything
        (_rule("a/", ".gz"), _rule("a/", ".csv"), False),  # distinct suffixes
        (_rule("a/", ".gz"), _rule("", "gz"), True),  # one suffix ends the other
        (_rule("a/"), _rule("a/", events=("s3:ObjectCreated:Put",)), True),  # * covers Put
        (_rule("a/"), _rule("a/", events=("s3:ObjectRemoved:*",)), False),
    ],
)
def test_overlap_is_same_events_with_overlapping_prefix_and_suffix(a, b, overlap) -> None:
    assert overlaps(a, b) is overlap and overlaps(b, a) is overlap


def test_merge_keeps_eventbridge_and_unknown_sections_and_drops_response_metadata() -> None:
    current = {
        "ResponseMetadata": {"HTTPStatusCode": 200},
        "EventBridgeConfiguration": {},
        "QueueConfigurations": [
            {"Id": "q", "QueueArn": "arn:aws:sqs:us-east-1:1:q", "Events": ["s3:ObjectRemoved:*"]}
        ],
    }
    rule = rule_for("b/events/dt=*", "arn:aws:sqs:us-east-1:1:loader")

    change = plan_wire(current, rule)

    assert change.action == "added" and change.configuration is not None
    assert change.configuration["EventBridgeConfiguration"] == {}
    assert "ResponseMetadata" not in change.configuration
    assert [r["Id"] for r in change.configuration["QueueConfigurations"]] == [
        "q",
        "s3-redshift-loader:b/events/dt=*",
    ]
    assert rule.prefix == "events/dt="
