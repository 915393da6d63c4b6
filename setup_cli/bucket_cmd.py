"""`loader-admin bucket`: S3 event notifications for configured prefixes (wire, unwire, show).

The decisions (filter, overlap, merge) and the read-decide-write verbs are in
`loader/bucket_wiring.py`; this module parses options and prints."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from config.models import normalise_prefix
from loader.bucket_wiring import (
    DEFAULT_EVENTS,
    Action,
    Change,
    Rule,
    coverage,
    plan_wire,
    rule_for,
    rules_of,
)
from loader.bucket_wiring import (
    unwire as unwire_rule,
)
from loader.bucket_wiring import (
    wire as wire_rule,
)
from loader.errors import ConfigurationError, LoaderError
from setup_cli.context import Cli, Format, Output, cli
from setup_cli.output import emit_json, examples, fields, ok, out, table, warn

app = typer.Typer(
    help="S3 event notifications of configured prefixes: wire, unwire, show.",
    no_args_is_help=True,
)

Prefix = Annotated[str, typer.Argument(help="Configured prefix: bucket/path or s3://bucket/path.")]


def _rule_dict(rule: Rule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {
        "id": rule.id,
        "kind": rule.kind.value,
        "destination": rule.destination,
        "events": list(rule.events),
        "filter_prefix": rule.prefix or None,
        "filter_suffix": rule.suffix or None,
        "loader_prefix": rule.loader_prefix,
    }


def _report(change: Change, prefix: str, fmt: Format, dry_run: bool = False) -> None:
    data = {
        "prefix": prefix,
        "action": change.action,
        "rule": _rule_dict(change.rule),
        "replaced": [r.id for r in change.replaced],
        "note": change.note,
        "dry_run": dry_run,
    }
    if dry_run:
        data["configuration"] = change.configuration
    if fmt is Format.JSON:
        emit_json(data)
        return
    if dry_run and change.configuration is not None:
        out.print(json.dumps(change.configuration, indent=2), markup=False)
    verb = {Action.ADDED: "wired", Action.UPDATED: "rewired", Action.REMOVED: "unwired"}.get(
        change.action
    )
    rule = change.rule
    if verb and rule is not None:
        where = f"prefix {rule.prefix!r}" if rule.prefix else "the whole bucket (no filter)"
        (warn if dry_run else ok)(
            f"{'would be ' if dry_run else ''}{verb}  {prefix}  ({rule.id}: {where})"
        )
    elif change.action is Action.ABSENT:
        warn(f"{prefix} has no loader rule on its bucket; nothing to remove")
    else:
        ok(f"already wired  {prefix}")
    for replaced in change.replaced:
        ok(f"replaced  {replaced.describe()}")
    if change.note:
        warn(change.note)


@app.command(
    epilog=examples(
        "loader-admin bucket wire my-bucket/events "
        "--queue-arn arn:aws:sqs:eu-west-1:123456789012:s3-redshift-loader-notifications",
        "loader-admin bucket wire my-bucket/logs/dt=* --function-arn arn:aws:lambda:...:loader",
        "loader-admin bucket wire my-bucket/events --queue-arn ARN "
        "--replace LambdaRedshiftLoaderEventSource-1234   (switch from the original loader)",
    )
)
def wire(
    ctx: typer.Context,
    prefix: Prefix,
    queue_arn: Annotated[str | None, typer.Option(help="SQS queue (sqs intake).")] = None,
    function_arn: Annotated[
        str | None, typer.Option(help="Lambda function (direct intake).")
    ] = None,
    topic_arn: Annotated[str | None, typer.Option(help="SNS topic (fan-out).")] = None,
    events: Annotated[
        list[str] | None,
        typer.Option("--events", help="Event type; repeat for several.", show_default=False),
    ] = None,
    suffix: Annotated[str, typer.Option(help="Only keys ending so (e.g. .gz).")] = "",
    replace: Annotated[
        list[str] | None,
        typer.Option("--replace", help="Id of a rule to remove in the same write; repeatable."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the configuration; write nothing.")
    ] = False,
    output: Output = None,
) -> None:
    """Add the S3 event notification of a configured prefix to its bucket, keeping every other
    rule. The filter is the prefix's literal part (`logs/dt=*` -> `logs/dt=`; none for a bucket
    root). An overlapping rule is refused and nothing is written; the same rule again is a
    no-op. Default events: s3:ObjectCreated:*."""
    state = cli(ctx)
    destinations = [d for d in (queue_arn, function_arn, topic_arn) if d]
    if len(destinations) != 1:
        raise typer.BadParameter("give exactly one of --queue-arn, --function-arn, --topic-arn")
    config = state.deps().configs.get(prefix)
    if config is None:
        raise ConfigurationError(
            f"no configuration for prefix {normalise_prefix(prefix)!r} (`config put` first)"
        )
    rule = rule_for(config.prefix, destinations[0], events or DEFAULT_EVENTS, suffix)
    adapter = state.deps().bucket_notifications
    if dry_run:
        change = plan_wire(adapter.read(config.bucket), rule, replace or ())
    else:
        change = wire_rule(adapter, config.prefix, rule, replace or ())
    _report(change, config.prefix, state.fmt(output), dry_run)


@app.command(epilog=examples("loader-admin bucket unwire my-bucket/events"))
def unwire(ctx: typer.Context, prefix: Prefix, output: Output = None) -> None:
    """Remove the loader's notification rule of PREFIX (Id `s3-redshift-loader:<prefix>`) from
    its bucket; every other rule stays. Works after the configuration is deleted too."""
    state = cli(ctx)
    prefix = normalise_prefix(prefix)
    change = unwire_rule(state.deps().bucket_notifications, prefix)
    _report(change, prefix, state.fmt(output))


@app.command(epilog=examples("loader-admin bucket show my-bucket", "... -o json"))
def show(
    ctx: typer.Context,
    bucket: Annotated[str, typer.Argument(help="Bucket name (or s3://bucket).")],
    output: Output = None,
) -> None:
    """Every notification rule of BUCKET, and how each configured prefix in it is wired."""
    state = cli(ctx)
    bucket = normalise_prefix(bucket).split("/", 1)[0]
    configuration = state.deps().bucket_notifications.read(bucket)
    rules = rules_of(configuration)
    eventbridge = "EventBridgeConfiguration" in configuration
    configs = state.deps().configs.current(state.clock()).valid
    wired = [
        (c.prefix, *coverage(c.prefix, rules)) for c in sorted(configs, key=lambda c: c.prefix)
    ]
    wired = [w for w in wired if w[0].split("/", 1)[0] == bucket]
    if state.fmt(output) is Format.JSON:
        emit_json(
            {
                "bucket": bucket,
                "eventbridge": eventbridge,
                "rules": [_rule_dict(r) for r in rules],
                "prefixes": [
                    {"prefix": p, "state": s, "rules": [r.id for r in found]}
                    for p, s, found in wired
                ],
            }
        )
        return
    table(
        f"notification rules of {bucket}",
        ["id", "kind", "destination", "events", "prefix", "suffix"],
        [
            (r.id, r.kind, r.destination, ", ".join(r.events), r.prefix or None, r.suffix or None)
            for r in rules
        ],
    )
    fields([("EventBridge", "on" if eventbridge else "off")])
    if wired:
        table(
            "configured prefixes",
            ["prefix", "notifications", "rules"],
            [(p, s, ", ".join(str(r.id) for r in found) or None) for p, s, found in wired],
        )


def unwire_after_delete(state: Cli, prefix: str) -> None:
    """`config delete --unwire`: remove the prefix's rule, saying what happened."""
    try:
        change = unwire_rule(state.deps().bucket_notifications, prefix)
    except LoaderError as exc:
        warn(f"configuration deleted, but its notification rule was not removed: {exc}")
        raise
    _report(change, prefix, Format.TABLE)
