"""`loader-admin`: one command for the operator. Sub-commands: config, tables, batch, file,
status, bucket, reconcile, kms (and `local`, when local mode is installed).

Exit codes: 0 ok; 1 error (the message says why; no stack trace for expected failures);
2 usage error; 3 needs attention (`status`, `config import-original` with items left over).
"""

from __future__ import annotations

import importlib.util
import platform
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from setup_cli import (
    batch_cmd,
    bucket_cmd,
    config_cmd,
    file_cmd,
    kms_cmd,
    reconcile_cmd,
    status_cmd,
    tables_cmd,
)
from setup_cli.context import Cli, Format, quiet_loader_logs
from setup_cli.errors import EXIT_ERROR, expected_errors, report
from setup_cli.local.env import DEFAULT_DATA_DIR
from setup_cli.output import examples

HELP = """Operate an s3-redshift-loader: configurations, tables, batches, files, health, bucket
notifications and reconciliation.

AWS access works as in the AWS CLI: --profile, --region, --endpoint-url, else AWS_PROFILE,
AWS_REGION (then AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID..., AWS_ENDPOINT_URL, then the profile.

Against the running local stack (`make local`): `loader-admin --local batch list`.

Exit codes: 0 ok, 1 error, 2 usage error, 3 needs attention.
"""


class _Group(TyperGroup):
    """Expected failures (loader, validation, AWS) end as a message and exit code 1."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except expected_errors() as exc:
            report(exc)
            raise typer.Exit(EXIT_ERROR) from None


app = typer.Typer(
    cls=_Group,
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,
    epilog=examples(
        "loader-admin --region eu-west-1 status",
        "loader-admin --local batch list",
    ),
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("s3-redshift-loader")
        except PackageNotFoundError:  # running from a source tree that was never installed
            number = "unknown"
        typer.echo(f"loader-admin {number} Python/{platform.python_version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option(help="AWS profile (default: AWS_PROFILE).", show_default=False)
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's).",
            show_default=False,
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(help="AWS endpoint (default: AWS_ENDPOINT_URL).", show_default=False),
    ] = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local", help="Talk to the running local stack (`make local`), found by its state."
        ),
    ] = False,
    local_dir: Annotated[
        Path,
        typer.Option(envvar="LOADER_LOCAL_DIR", help="--local: the stack's --data-dir."),
    ] = DEFAULT_DATA_DIR,
    config_table: Annotated[
        str | None, typer.Option(envvar="LOADER_CONFIG_TABLE", help="Configuration table.")
    ] = None,
    batches_table: Annotated[
        str | None, typer.Option(envvar="LOADER_BATCHES_TABLE", help="Batches table.")
    ] = None,
    files_table: Annotated[
        str | None, typer.Option(envvar="LOADER_FILES_TABLE", help="File ledger table.")
    ] = None,
    output: Annotated[
        Format, typer.Option("--output", "-o", help="Default output of every command.")
    ] = Format.TABLE,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show loader logs.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    obj = ctx.ensure_object(Cli)
    obj.profile = profile or obj.profile
    obj.region = region or obj.region
    obj.endpoint_url = endpoint_url or obj.endpoint_url
    if local:
        from setup_cli.local.env import attach

        attach(obj, local_dir)
    if config_table or batches_table or files_table:
        base = obj.table_names()
        obj.tables = type(base)(
            config=config_table or base.config,
            batches=batches_table or base.batches,
            files=files_table or base.files,
        )
    obj.output = output
    quiet_loader_logs(verbose)


app.add_typer(config_cmd.app, name="config")
app.add_typer(tables_cmd.app, name="tables")
app.add_typer(batch_cmd.app, name="batch")
app.add_typer(file_cmd.app, name="file")
status_cmd.register(app)
app.add_typer(bucket_cmd.app, name="bucket")
reconcile_cmd.register(app)
app.add_typer(kms_cmd.app, name="kms")


def _add_local(root_app: typer.Typer) -> None:
    """`loader-admin local ...` comes from setup_cli/local/; until it is installed, a stub."""
    problem = "local mode is not installed (setup_cli/local/cli.py is missing)"
    if importlib.util.find_spec("setup_cli.local") is not None:
        try:
            from setup_cli.local.cli import app as local_app
        except ImportError as exc:
            problem = f"local mode cannot be loaded: {exc}"
        else:
            root_app.add_typer(local_app, name="local")
            return

    @root_app.command(
        "local",
        hidden=True,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def local_unavailable() -> None:
        from loader.errors import LoaderError

        raise LoaderError(problem)


_add_local(app)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=examples("loader-admin worker --queue-url https://sqs.../loader-notifications"),
)
def worker(ctx: typer.Context) -> None:
    """Run the long-lived SQS worker, as `loader-worker` does (options: `loader-worker --help`)."""
    from setup_cli.worker.cli import main as worker_main

    raise typer.Exit(worker_main(list(ctx.args)))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
