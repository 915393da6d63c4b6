"""`loader-admin config`: prefix configurations in the configuration table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from config.models import PrefixConfig, normalise_prefix
from loader.admin import split
from loader.errors import ConfigurationError, LoaderError
from loader.models import BatchStatus
from setup_cli import infer_cmd, trial_cmd, wizard
from setup_cli.context import Cli, Format, Output, Yes, cli
from setup_cli.documents import load_configs, read_documents, to_document, to_yaml
from setup_cli.errors import EXIT_ATTENTION, EXIT_ERROR
from setup_cli.explain import explain as explain_object
from setup_cli.original import convert as original
from setup_cli.output import emit_json, err, examples, fields, ok, out, table, warn

app = typer.Typer(help="Prefix configurations (one per watched S3 prefix).", no_args_is_help=True)
target_app = typer.Typer(
    help="Add or remove load targets of a configuration.", no_args_is_help=True
)
app.add_typer(target_app, name="target")
app.command("wizard", epilog="Example: `loader-admin config wizard --file events.yaml`")(
    wizard.wizard
)
app.command(
    "infer",
    epilog=examples(
        "loader-admin config infer orders.csv.gz --table raw.orders -f orders.yaml",
        "loader-admin config infer s3://my-bucket/events/part-0.parquet --ddl events.sql",
    ),
)(infer_cmd.infer_config)
app.command(
    "test",
    epilog=examples(
        "loader-admin config test orders.yaml orders-1.csv.gz orders-2.csv.gz",
        "loader-admin config test events.yaml s3://my-bucket/events/part-0.parquet -o json",
        "loader-admin config test orders.yaml bad.csv --ddl orders.sql",
    ),
)(trial_cmd.test_config)

ConfigFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON configuration file.")
]
Prefix = Annotated[str, typer.Argument(help="Configured prefix: bucket/path or s3://bucket/path.")]


def _stored_prefixes(state: Cli) -> set[str]:
    """Every stored prefix, whether its configuration is valid or not."""
    found = state.deps().configs.current(state.clock())
    return {c.prefix for c in found.valid} | set(found.invalid)


def _store_get(state: Cli, prefix: str) -> PrefixConfig:
    config = state.deps().configs.get(prefix)
    if config is None:
        raise ConfigurationError(f"no configuration for prefix {normalise_prefix(prefix)!r}")
    return config


@app.command(epilog=examples("loader-admin config put config/examples/csv.yaml"))
def put(ctx: typer.Context, file: ConfigFile, output: Output = None) -> None:
    """Validate FILE and store its configuration(s), replacing any with the same prefix."""
    state = cli(ctx)
    configs = load_configs(file)
    store = state.deps().configs
    stored, existing = [], _stored_prefixes(state)
    for config in configs:
        existed = config.prefix in existing
        store.put(config, state.clock())
        stored.append({"prefix": config.prefix, "action": "updated" if existed else "created"})
    if state.fmt(output) is Format.JSON:
        emit_json(stored)
        return
    for item in stored:
        ok(f"{item['action']}  {item['prefix']}")


@app.command(epilog=examples("loader-admin config validate events.yaml"))
def validate(ctx: typer.Context, file: ConfigFile, output: Output = None) -> None:
    """Check FILE without storing it (no AWS access). Exit 1 with each offending field."""
    configs = load_configs(file)
    if cli(ctx).fmt(output) is Format.JSON:
        emit_json([{"prefix": c.prefix, "valid": True} for c in configs])
        return
    for config in configs:
        ok(f"valid  {config.prefix}")


@app.command(epilog=examples("loader-admin config show my-bucket/events", "... -o json"))
def show(ctx: typer.Context, prefix: Prefix, output: Output = None) -> None:
    """Print one configuration (YAML, or JSON with -o json)."""
    config = _store_get(cli(ctx), prefix)
    if cli(ctx).fmt(output) is Format.JSON:
        emit_json(config.model_dump(mode="json"))
    else:
        typer.echo(to_yaml([config]), nl=False)


@app.command(
    "list", epilog=examples("loader-admin config list", "loader-admin config list -o json")
)
def list_configs(ctx: typer.Context, output: Output = None) -> None:
    """Every stored configuration; invalid ones are listed with the reason."""
    state = cli(ctx)
    found = state.deps().configs.current(state.clock())
    valid = sorted(found.valid, key=lambda c: c.prefix)
    if state.fmt(output) is Format.JSON:
        emit_json(
            [
                {"prefix": c.prefix, "valid": True, "config": c.model_dump(mode="json")}
                for c in valid
            ]
            + [{"prefix": p, "valid": False, "error": e} for p, e in sorted(found.invalid.items())]
        )
        return
    rows = [
        (
            c.prefix,
            c.copy_options.format.type,
            ", ".join(f"{t.name} ({t.type})" for t in c.targets),
            _thresholds(c),
            "paused" if c.paused else "active",
        )
        for c in valid
    ]
    rows += [(p, "-", "-", "-", f"INVALID: {e}") for p, e in sorted(found.invalid.items())]
    table(None, ["prefix", "format", "targets", "seal when", "state"], rows)


def _thresholds(config: PrefixConfig) -> str:
    t = config.thresholds
    parts = [
        f"{t.max_files} files" if t.max_files else None,
        f"{t.max_bytes} bytes" if t.max_bytes else None,
        f"{t.max_age_seconds}s old" if t.max_age_seconds else None,
    ]
    return " / ".join(p for p in parts if p)


@app.command(
    epilog=examples(
        "loader-admin config delete my-bucket/events --yes",
        "loader-admin config delete my-bucket/events --unwire --yes",
    )
)
def delete(
    ctx: typer.Context,
    prefix: Prefix,
    yes: Yes = False,
    unwire: Annotated[
        bool, typer.Option("--unwire", help="Also remove its `bucket wire` notification rule.")
    ] = False,
) -> None:
    """Delete a configuration. New files under it are then ignored; batches stay as they are."""
    state = cli(ctx)
    prefix = normalise_prefix(prefix)
    if prefix not in _stored_prefixes(state):  # an invalid configuration can be deleted too
        raise ConfigurationError(f"no configuration for prefix {prefix!r}")
    batch = state.deps().batches.open_batch(prefix)
    if batch is not None and batch.file_count:
        warn(f"its open batch {batch.batch_id} holds {batch.file_count} file(s) that will not load")
    if not yes:
        typer.confirm(f"Delete the configuration of {prefix}?", abort=True)
    state.deps().configs.delete(prefix)
    ok(f"deleted  {prefix}")
    if unwire:
        from setup_cli.bucket_cmd import unwire_after_delete

        unwire_after_delete(state, prefix)


def _set_paused(state: Cli, config: PrefixConfig, paused: bool) -> PrefixConfig:
    document = to_document(config)
    document["paused"] = paused
    updated = PrefixConfig.model_validate(document)
    state.deps().configs.put(updated, state.clock())
    return updated


@app.command(epilog=examples("loader-admin config pause my-bucket/events"))
def pause(ctx: typer.Context, prefix: Prefix) -> None:
    """Hold a prefix: files keep being registered, but no batch is sealed or loaded until
    `config resume` (a batch already sealed finishes). The loader sees the change within
    LOADER_CONFIG_TTL_SECONDS."""
    state = cli(ctx)
    config = _store_get(state, prefix)
    if config.paused:
        warn(f"{config.prefix} is already paused")
        return
    _set_paused(state, config, True)
    ok(f"paused  {config.prefix}  (files are still registered; nothing is sealed or loaded)")


@app.command(epilog=examples("loader-admin config resume my-bucket/events"))
def resume(ctx: typer.Context, prefix: Prefix, output: Output = None) -> None:
    """Resume a paused prefix and continue where it stopped: its open batch is sealed and loaded
    now if a threshold is already met (otherwise its thresholds and the sweep seal it)."""
    from loader.admin import RUN_SECONDS
    from loader.decisions import seal_reason

    state = cli(ctx)
    config = _store_get(state, prefix)
    if config.paused:
        config = _set_paused(state, config, False)
    else:
        warn(f"{config.prefix} was not paused")
    ops = state.ops()
    batch = ops.deps.batches.open_batch(config.prefix)
    now = state.clock()
    reason = seal_reason(batch, config.thresholds, now) if batch is not None else None
    done = (
        ops.service.seal_and_process(config, batch, reason, now + RUN_SECONDS)
        if (batch is not None and reason is not None)
        else None
    )
    if state.fmt(output) is Format.JSON:
        emit_json(
            {
                "prefix": config.prefix,
                "paused": False,
                "sealed": done.batch_id if done else None,
                "reason": reason,
                "status": done.status.value if done else None,
            }
        )
    else:
        ok(f"resumed  {config.prefix}")
        if done is not None:
            ok(f"batch {done.batch_id} was due ({reason}): {done.status}")
    if done is not None and done.status is BatchStatus.ERROR:
        err.print(f"batch {done.batch_id} failed: {done.error}", markup=False)
        raise typer.Exit(EXIT_ERROR)


@app.command(
    epilog=examples("loader-admin config explain s3://my-bucket/events/dt=2026-11-23/a.csv.gz")
)
def explain(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="s3://bucket/key or bucket/key")],
    output: Output = None,
) -> None:
    """Which configuration an object matches (longest prefix, Hive wildcards, filename filter)
    and the exact statements each target would run (secrets masked)."""
    from loader.models import S3Object

    state = cli(ctx)
    bucket, key = split(url)
    configs = state.deps().configs.current(state.clock())
    result = explain_object(configs, S3Object(bucket=bucket, key=key, size=0))
    if state.fmt(output) is Format.JSON:
        emit_json(result.as_dict())
        return
    fields(
        [
            ("object", result.url),
            ("matching prefixes", ", ".join(result.candidates) or None),
            ("chosen", result.chosen),
            ("filename filter", result.filter),
            ("manifest", result.manifest_url),
            ("verdict", result.verdict),
        ]
    )
    for prefix, reason in result.invalid.items():
        err.print(f"invalid configuration {prefix}: {reason}", markup=False)
    for name, statements in result.statements.items():
        out.print(f"\ntarget {name}", style="bold")
        for statement in statements:
            out.print(f"  {statement};", markup=False)


@target_app.command(
    "add", epilog=examples("loader-admin config target add my-bucket/events t.yaml")
)
def target_add(ctx: typer.Context, prefix: Prefix, file: ConfigFile) -> None:
    """Add the target described in FILE (one mapping, with `type` and `name`)."""
    state = cli(ctx)
    config = _store_get(cli(ctx), prefix)
    documents = read_documents(file)
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise ConfigurationError(f"{file}: expected one target (a mapping with type and name)")
    [raw] = documents
    document = to_document(config)
    document["targets"].append(raw)
    updated = PrefixConfig.model_validate(document)
    state.deps().configs.put(updated, state.clock())
    ok(f"target {updated.targets[-1].name} added to {config.prefix}")


@target_app.command(
    "remove", epilog=examples("loader-admin config target remove my-bucket/events old")
)
def target_remove(ctx: typer.Context, prefix: Prefix, name: str, yes: Yes = False) -> None:
    """Remove target NAME. The last target cannot go: delete the configuration instead."""
    state = cli(ctx)
    config = _store_get(cli(ctx), prefix)
    remaining = [t for t in config.targets if t.name != name]
    if len(remaining) == len(config.targets):
        raise LoaderError(f"{config.prefix} has no target {name!r}")
    if not remaining:
        raise LoaderError("a configuration needs a target; `config delete` removes it whole")
    if not yes:
        typer.confirm(f"Remove target {name} from {config.prefix}?", abort=True)
    document = to_document(config)
    document["targets"] = [d for d in document["targets"] if d["name"] != name]
    state.deps().configs.put(PrefixConfig.model_validate(document), state.clock())
    ok(f"target {name} removed from {config.prefix}")


@app.command(
    "import-original",
    epilog=examples(
        "loader-admin config import-original --dry-run",
        "loader-admin config import-original --table LambdaRedshiftBatchLoadConfig",
    ),
)
def import_original(
    ctx: typer.Context,
    table_name: Annotated[
        str, typer.Option("--table", help="The original loader's configuration table.")
    ] = original.ORIGINAL_TABLE,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Convert and show; store nothing.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace configurations already here.")] = False,
    output: Output = None,
) -> None:
    """Convert the original aws-lambda-redshift-loader's configurations and store them. Every
    change of meaning is listed; exit 3 when some item could not be converted."""
    state = cli(ctx)
    store = state.deps().configs
    items = original.read_items(state.aws().client("dynamodb"), table_name)
    report, existing = [], _stored_prefixes(state)
    for conversion in (original.convert_item(item) for item in items):
        action = "failed" if conversion.config is None else "converted"
        if conversion.config is not None and not dry_run:
            if conversion.config.prefix in existing and not overwrite:
                action = "skipped: exists (use --overwrite)"
            else:
                store.put(conversion.config, state.clock())
                action = "imported"
        report.append((conversion, action))
    _report_import(report, state.fmt(output), dry_run)
    if any(c.config is None for c, _ in report):
        raise typer.Exit(EXIT_ATTENTION)


def _report_import(
    report: list[tuple[original.Conversion, str]], fmt: Format, dry_run: bool
) -> None:
    if fmt is Format.JSON:
        emit_json(
            [
                {
                    "prefix": c.prefix,
                    "action": a,
                    "notes": c.notes,
                    "error": c.error,
                    "config": c.config.model_dump(mode="json") if c.config else None,
                }
                for c, a in report
            ]
        )
        return
    for conversion, action in report:
        out.print(Text.assemble((conversion.prefix, "bold"), f": {action}"))
        if conversion.error:
            err.print(f"  cannot convert: {conversion.error}", markup=False)
        for note in conversion.notes:
            out.print(f"  - {note}", markup=False)
        if dry_run and conversion.config is not None:
            out.print(to_yaml([conversion.config]), markup=False)
    if not report:
        warn("the original table holds no configuration")
